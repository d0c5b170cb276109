// run_command (actors/kinds/slurm/slurm_command.hpp), which runs every
// Slurm command of the kind: output, exit codes, deadlines. No Slurm needed.
#include "actors/kinds/slurm/slurm_command.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now() - since)
    .count();
}

} // namespace

TEST(SlurmCommand, OutputAndExitCode) {
  auto res = jobd::run_command(
    {"sh", "-c", "echo to-out; echo to-err >&2; exit 3"}, 5000);
  EXPECT_EQ(res.rc, 3);
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(res.out, "to-out\n");
  EXPECT_EQ(res.err, "to-err\n");
  auto fine = jobd::run_command({"printf", "%s", "a b"}, 5000);
  EXPECT_TRUE(fine.ok());
  EXPECT_EQ(fine.out, "a b");
}

TEST(SlurmCommand, DeadlineKillsIt) {
  auto t0 = std::chrono::steady_clock::now();
  auto res = jobd::run_command({"sleep", "10"}, 300);
  EXPECT_TRUE(res.timed_out);
  EXPECT_FALSE(res.ok());
  EXPECT_LT(elapsed_ms(t0), 3000);
}

TEST(SlurmCommand, MissingProgram) {
  auto res = jobd::run_command({"jobd-no-such-program-xyz"}, 1000);
  EXPECT_TRUE(res.not_started);
  EXPECT_FALSE(res.ok());
}

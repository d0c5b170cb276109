// Which limit stopped a job, from what its tree's end left (the pure rule
// the reactor applies before it sends `usage`).
#include "actors/kinds/process/job_confinement.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace jobd::test {
namespace {

int32_t exited_with(int code) {
  return code << 8;
}

int32_t killed_by(int sig) {
  return sig;
}

TEST(judge_limits, names_the_limit_from_the_evidence) {
  resource_limits l;
  l.cpu_seconds = 2;
  l.memory_bytes = 1 << 20;
  l.max_processes = 10;
  l.file_size_bytes = 4096;
  limit_evidence e;
  e.status = killed_by(SIGXCPU);
  EXPECT_EQ(judge_limits(l, e), limit_names::cpu_seconds);
  e.status = exited_with(128 + SIGXCPU);
  EXPECT_EQ(judge_limits(l, e), limit_names::cpu_seconds);
  e.status = killed_by(SIGXFSZ);
  EXPECT_EQ(judge_limits(l, e), limit_names::file_size_bytes);
  e.status = exited_with(128 + SIGXFSZ);
  EXPECT_EQ(judge_limits(l, e), limit_names::file_size_bytes);
  e.status = killed_by(SIGKILL);
  e.oom_kills = 1;
  EXPECT_EQ(judge_limits(l, e), limit_names::memory_bytes);
  e.oom_kills = 0;
  e.leader_cpu_ms = 2100;
  EXPECT_EQ(judge_limits(l, e), limit_names::cpu_seconds);
  e.leader_cpu_ms = 100;
  EXPECT_EQ(judge_limits(l, e), "");
  e.forks_refused = 3;
  EXPECT_EQ(judge_limits(l, e), limit_names::max_processes);
  e.status = exited_with(0); // whatever it met did not stop it
  e.oom_kills = 2;
  EXPECT_EQ(judge_limits(l, e), "");
  e.status = exited_with(1);
  e.oom_kills = -1; // unknown: a SIGKILL at the peak says memory
  e.forks_refused = -1;
  EXPECT_EQ(judge_limits(l, e), "");
  e.status = killed_by(SIGKILL);
  e.memory_peak = 1 << 20;
  EXPECT_EQ(judge_limits(l, e), limit_names::memory_bytes);
  // A limit not in force is never named.
  resource_limits none;
  e.status = killed_by(SIGXCPU);
  EXPECT_EQ(judge_limits(none, e), "");
}

} // namespace
} // namespace jobd::test

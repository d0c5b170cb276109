// Runs one Slurm client command (sbatch, squeue, scontrol, scancel) as an
// argv vector through posix_spawnp, with a deadline: never a shell, never
// on an actor thread (the slurm kind's worker calls it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace jobd {

struct command_result {
  /// The exit code; -1 if it did not exit normally, -2 if its status was
  /// taken by another reaper (jobd's subreaper): judge by the output then.
  int rc = -1;
  /// It did not finish in time and was killed (by its pid).
  bool timed_out = false;
  /// It could not be started (errno text in `err`).
  bool not_started = false;
  std::string out;
  std::string err;
  /// Started, finished in time, rc 0 (or unknown and nothing on stderr).
  bool ok() const {
    return !timed_out && !not_started && (rc == 0 || (rc == -2 && err.empty()));
  }
};

/// Runs argv[0] (searched in the server's PATH) with `argv`, stdin
/// /dev/null, the environment `env` (null: the server's), default signal
/// dispositions and an empty mask; collects at most 4 MiB of each stream;
/// SIGKILLs it after `timeout_ms`.
command_result run_command(const std::vector<std::string>& argv,
                           int64_t timeout_ms,
                           const std::vector<std::string>* env = nullptr);

} // namespace jobd

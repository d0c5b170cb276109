// How a local-process JOB starts and signals its child. The real launcher is
// the process reactor; tests substitute a fake to drive a job without
// processes.
#pragma once

#include "actors/actors.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace jobd {

/// What to execve, as resolved by the process job kind.
struct launch_spec {
  /// Absolute path of the executable (argv[0] is `argv.front()`).
  std::string executable;
  /// The full argument vector, argv[0] included.
  std::vector<std::string> argv;
  /// Empty: inherit the server's.
  std::string working_directory;
  /// Overrides of the server's environment.
  std::map<std::string, std::string> environment;
  /// Bytes sent to the job but not yet taken by it; reading pauses while
  /// this is above `max_in_flight`, so a fast writer cannot fill the job's
  /// mailbox.
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  int64_t max_in_flight = 4 * 1024 * 1024;
};

class process_launcher {
public:
  virtual ~process_launcher() = default;

  /// Starts the child as leader of its own process group, stdin from
  /// /dev/null, stdout and stderr on pipes. Reports to `job`: spawned (or
  /// spawn_failed), data and eof for each pipe, exited once reaped.
  virtual void launch(launch_spec spec, process_job_actor job) = 0;

  /// Sends `sig` to every process of group `pgid`; false if none is left.
  virtual bool signal_group(int64_t pgid, int sig) = 0;

  /// True while any process of group `pgid` exists.
  virtual bool group_alive(int64_t pgid) = 0;
};

using launcher_ptr = std::shared_ptr<process_launcher>;

} // namespace jobd

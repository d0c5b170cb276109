// Starting one job's leader: argv, environment, working directory, stdio on
// pipes; in its cgroup with clone3 (clone_into), else with Boost.Process
// v2's vfork launcher and the child_setup hooks.
#pragma once

#include "actors/kinds/process/process_launcher.hpp"

#include <boost/asio/readable_pipe.hpp>

#include <optional>
#include <string>

#include <sys/types.h>

namespace jobd {

class cgroup_tree;

struct spawn_outcome {
  /// The leader's pid; <= 0 if it did not start.
  pid_t pid = -1;
  /// Why it did not start: a code of protocol/model.hpp and a message.
  const char* code = nullptr;
  std::string message;
  /// With a cgroup: 0 if the child entered it, else the errno of the write.
  int cgroup_error = 0;
};

/// Why `dir` cannot be a working directory, if it cannot.
std::optional<std::string> directory_problem(const std::string& dir);

/// Starts `spec` (vfork + execve) with stdin on /dev/null and stdout and
/// stderr on new pipes whose read ends become `out` and `err`. With a
/// `cgroup`, the child starts in it (clone3 with CLONE_INTO_CGROUP, see
/// clone_into.hpp) while `use_clone` is true; if clone3 cannot do that
/// here, `use_clone` becomes false. Else the child enters the cgroup before
/// anything else (it writes cgroup.procs; `cgroup_error` tells whether that
/// worked). A child whose exec failed is reaped here. Call it
/// with the lock that keeps reap_adopted() from a fresh child held until
/// the pid is registered; `owner` is the reactor's pid (an exception thrown
/// in the child must not unwind the parent's stack).
spawn_outcome spawn_child(const launch_spec& spec,
                          boost::asio::readable_pipe& out,
                          boost::asio::readable_pipe& err, cgroup_tree* cgroup,
                          bool& use_clone, pid_t owner);

} // namespace jobd

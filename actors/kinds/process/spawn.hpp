// Starting one job's leader: argv, environment, working directory, stdio on
// pipes; in its cgroup with clone3 (clone_into), else with Boost.Process
// v2's vfork launcher and the child_setup hooks.
#pragma once

#include "actors/kinds/process/child_setup.hpp"
#include "actors/kinds/process/process_launcher.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

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
  /// The child could not apply its confinement (code SPAWN_FAILED; the
  /// caller, which knows what each step was, words the message).
  confine_failure confine_failed;
};

/// Why `dir` cannot be a working directory, if it cannot.
std::optional<std::string> directory_problem(const std::string& dir);

/// Moves `fd` above 0-2 (a descriptor made while jobd's own stdio was
/// closed would be overwritten by the child's dup2s); keeps O_CLOEXEC.
/// Closes `fd` and answers -1 if it cannot.
int above_stdio(int fd);

/// The parent's ends of a child's stdio, set once the child started.
struct spawn_stdio {
  spawn_stdio(boost::asio::posix::stream_descriptor& in,
              boost::asio::posix::stream_descriptor& out,
              boost::asio::posix::stream_descriptor& err)
    : in(in), out(out), err(err) {}

  /// stdin_mode::pipe: the pipe's write end; tty: a descriptor of the
  /// terminal's master for writing (closing it leaves the master open).
  /// Not opened with stdin_mode::null.
  boost::asio::posix::stream_descriptor& in;
  /// stdout's pipe, or (tty) the terminal's master.
  boost::asio::posix::stream_descriptor& out;
  /// stderr's pipe; not opened for a tty.
  boost::asio::posix::stream_descriptor& err;
  /// tty: one more descriptor of the master (O_CLOEXEC), for TIOCSWINSZ;
  /// the caller closes it. -1 otherwise.
  int control = -1;
};

/// Starts `spec` (vfork + execve) with stdin on /dev/null, a pipe or a new
/// terminal (`spec.input`), and stdout and stderr on new pipes or that
/// terminal; the parent's ends go to `io`. With a
/// `cgroup`, the child starts in it (clone3 with CLONE_INTO_CGROUP, see
/// clone_into.hpp) while `use_clone` is true; if clone3 cannot do that
/// here, `use_clone` becomes false. Else the child enters the cgroup before
/// anything else (it writes cgroup.procs; `cgroup_error` tells whether that
/// worked). A terminal job leads its own session (pgid == pid still) with
/// the terminal as its controlling terminal. A child whose exec failed is
/// reaped here. Call it
/// with the lock that keeps reap_adopted() from a fresh child held until
/// the pid is registered; `owner` is the reactor's pid (an exception thrown
/// in the child must not unwind the parent's stack). The child applies
/// `confine` before it execs (see confine_in_child); a step that fails
/// fails the launch.
spawn_outcome spawn_child(const launch_spec& spec, spawn_stdio& io,
                          cgroup_tree* cgroup, bool& use_clone, pid_t owner,
                          const child_confinement& confine);

} // namespace jobd

// How a local-process job starts and signals its process tree. The real
// launcher is the process reactor; tests substitute a fake to drive a job
// without processes.
#pragma once

#include "actors/actors.hpp"
#include "actors/job_factory.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

namespace jobd {

/// An open descriptor of a job's working directory (O_PATH|O_DIRECTORY),
/// closed with the last copy of the launch_spec that holds it.
struct directory_handle {
  int fd = -1;
  directory_handle() = default;
  explicit directory_handle(int descriptor) : fd(descriptor) {
    // nop
  }
  directory_handle(const directory_handle&) = delete;
  directory_handle& operator=(const directory_handle&) = delete;
  ~directory_handle() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// What to execve, as resolved by the process job kind.
struct launch_spec {
  /// Absolute path of the executable (argv[0] is `argv.front()`).
  std::string executable;
  /// The full argument vector, argv[0] included.
  std::vector<std::string> argv;
  /// Empty: inherit the server's.
  std::string working_directory;
  /// Set: the child fchdirs to this directory (checked against
  /// --allow-dir when the job started) instead of chdir to the path, so a
  /// symlink swapped after that check cannot steer it elsewhere.
  std::shared_ptr<const directory_handle> working_directory_fd;
  /// Overrides of the server's environment...
  std::map<std::string, std::string> environment;
  /// ...or, with `replace_environment`, the job's whole environment as
  /// NAME=VALUE entries (the kind applied --env-policy to it).
  bool replace_environment = false;
  std::vector<std::string> environment_entries;
  /// The controls it runs under: `security.limits` (rlimits in the child;
  /// memory and pids cgroups), and with `security.sandboxed` a Landlock
  /// ruleset of `writable` and `readable` (empty: read everywhere) that
  /// the child restricts itself to right before execve. A control that
  /// cannot be applied fails the launch (SPAWN_FAILED): a job never runs
  /// with less confinement than its status shows.
  job_security security;
  /// Names the job's cgroup (a job id: letters, digits and '-').
  std::string name;
  /// Bytes sent to the job but not yet taken by it; reading pauses while
  /// this is above `max_in_flight`, so a fast writer cannot fill the job's
  /// mailbox.
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  int64_t max_in_flight = 4 * 1024 * 1024;
  /// stdin: /dev/null, a pipe (write_input), or a pseudo-terminal that is
  /// stdin, stdout and stderr (the job's session leader has it as its
  /// controlling terminal; its output arrives as stream `out`, and `err`
  /// ends at once).
  stdin_mode input = stdin_mode::null;
  /// The terminal's size with stdin_mode::tty.
  int32_t cols = 80;
  int32_t rows = 24;
  /// Bytes the stdin queue holds at most.
  uint64_t max_stdin_bytes = 1024 * 1024;
};

/// Starts jobs' process trees and signals them. A tree is named by its
/// leader's pid (the `started` value) and is tracked as a cgroup where one
/// can be made, else as the leader's process group.
///
/// Events, to the sink given to `launch`, in this order: `spawned(pid,
/// tracking)` or `spawn_failed(code, message)`; `data`* and one `eof` per
/// stream; last `exited(raw wait status of the leader)`, sent only once the
/// leader was reaped, the rest of its tree killed and gone, and both streams
/// ended (a stream still held open by a process that left the tree is
/// closed after a short drain). After `exited` the tree is forgotten: no
/// signal ever reaches a pid that is no longer the job's.
class process_launcher {
public:
  virtual ~process_launcher() = default;

  /// Starts the leader: own process group (and cgroup), stdin /dev/null,
  /// stdout and stderr on pipes.
  virtual void launch(launch_spec spec, backend_events sink) = 0;

  /// Sends `sig` to every process of the tree of `pid` (whole_tree) or to
  /// the leader only; false if the tree is unknown or empty.
  virtual bool signal(int64_t pid, int sig, bool whole_tree = true) = 0;

  /// SIGKILLs every process of the tree of `pid` (cgroup.kill where the
  /// tree is a cgroup, so setsid cannot escape it).
  virtual void kill_tree(int64_t pid) = 0;

  /// Queues bytes for the stdin (pipe or terminal) of the tree of `pid`,
  /// closing it after them if `close`; `queued`: bytes not yet written.
  /// Written in order on the reactor thread as the job reads; the sink gets
  /// `input, eof` once stdin is closed (after a close, or when the job
  /// closed its end: later writes answer `closed`).
  virtual input_outcome write_input(int64_t pid, std::string bytes, bool close,
                                    uint64_t& queued) {
    (void) pid;
    (void) bytes;
    (void) close;
    queued = 0;
    return input_outcome::not_open;
  }

  /// Freezes (cgroup.freeze, or SIGSTOP to the group) or thaws (SIGCONT)
  /// the tree of `pid`; false if it is not a running tree of ours.
  virtual bool freeze(int64_t pid, bool frozen) {
    (void) pid;
    (void) frozen;
    return false;
  }

  /// TIOCSWINSZ on the terminal of `pid`'s tree (the kernel sends SIGWINCH
  /// to its foreground group); false without a terminal.
  virtual bool resize(int64_t pid, int32_t cols, int32_t rows) {
    (void) pid;
    (void) cols;
    (void) rows;
    return false;
  }
};

using launcher_ptr = std::shared_ptr<process_launcher>;

} // namespace jobd

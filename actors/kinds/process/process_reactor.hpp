// The real process_launcher: one asio thread that starts children with
// Boost.Process v2, reads their pipes, reaps them and tracks their process
// trees, reporting everything to each job's sink with anon_send.
#pragma once

#include "actors/kinds/process/process_launcher.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace jobd {

/// How the reactor tracks a job's process tree.
enum class tree_tracking : uint8_t {
  /// A cgroup v2 per job wherever the reactor can make one (see
  /// cgroup_tree.hpp), else the process group.
  automatic,
  /// Always the process group, with jobd as child subreaper.
  pgroup,
};

struct reactor_options {
  tree_tracking tracking = tree_tracking::automatic;
  /// After a leader ended and its tree was SIGKILLed: how long the reactor
  /// waits at most for the tree to be empty (a process stuck in the kernel,
  /// or a zombie whose parent left the group, could keep it forever).
  std::chrono::milliseconds settle_bound{2000};
  /// After the tree is empty: how long a stream may stay open. A stream
  /// whose pipe a process outside the tree still holds (one that escaped a
  /// process group with setsid) is then closed by the reactor; one that no
  /// process holds is read to its end.
  std::chrono::milliseconds drain_bound{500};
  /// With cgroup tracking: start each child inside its cgroup with clone3
  /// (CLONE_INTO_CGROUP). False, or where clone3 cannot, the vforked child
  /// enters it by writing cgroup.procs (slower: a migration per job).
  bool clone_into_cgroup = true;
  /// With cgroup tracking: how many emptied job cgroups are kept for later
  /// jobs (cgroup_parent::recycle) instead of being removed.
  size_t max_free_cgroups = 128;

  /// The defaults, with `tracking` from JOBD_TRACKING: "pgroup" forces the
  /// process group; "cgroup", "auto" or unset mean automatic. And
  /// `max_free_cgroups` from JOBD_KEPT_CGROUPS (0 to 100000), if set.
  static reactor_options from_environment();
};

/// The process reactor: owns one `boost::asio::io_context` and the thread
/// that runs it. Every child is launched, read and reaped on that thread;
/// the sinks only ever see backend_events, and `signal` / `kill_tree` may
/// be called from any thread.
///
/// Children:
/// - exec `launch_spec::executable` with exactly `launch_spec::argv` (argv[0]
///   included, as given);
/// - lead their own process group (pgid == pid == the `spawned` value), and
///   with cgroup tracking start inside a cgroup of their own
///   `<parent>/tree-N`, labelled `user.jobd.job` = `launch_spec::name` (a
///   new one or one an earlier job left as new; entered between vfork and
///   execve, so nothing of the job ever runs outside it);
/// - get stdin from /dev/null or a pipe, stdout and stderr on pipes (or a
///   new terminal as stdin, stdout and stderr, as their controlling
///   terminal: they then lead their own session), no other
///   descriptor, the server's environment with `launch_spec::environment`
///   applied on top, default signal dispositions and an empty signal mask.
///
/// Events, per launch: `spawned(pid, "cgroup" | "pgroup")` or one
/// `spawn_failed` with COMMAND_NOT_FOUND (ENOENT, ENOTDIR),
/// PERMISSION_DENIED (EACCES, EPERM), INVALID_WORKING_DIRECTORY, or
/// SPAWN_FAILED (anything else); then `data`* and one `eof` per stream;
/// `input, eof` once a stdin pipe or terminal closed (at the latest when the
/// leader ended); `usage` (when known); last `exited(raw wait status of the
/// leader)`.
///
/// The end of a tree: when the leader exits, the rest of its tree is
/// SIGKILLed at once (cgroup.kill, or kill(-pgid) while the unreaped leader
/// still pins the group id), the leader is reaped, and the tree is watched
/// until empty (cgroup.events `populated 0` through inotify; for a group,
/// kill(-pgid, 0) every 10 ms after reaping the zombies jobd adopted), at
/// most `settle_bound`. Then each stream gets `drain_bound` to end; see
/// reactor_options. Then `exited`, and the tree is forgotten: its cgroup is
/// removed, and no signal ever reaches its pid or group again.
///
/// A process group cannot hold a process that calls setsid: with pgroup
/// tracking such an escapee survives the job (the job still ends, after the
/// drain). A cgroup holds it: cgroup.kill ends it with the rest.
///
/// Flow control: each `data` adds its size to `launch_spec::in_flight`
/// before it is sent; the job subtracts what it took. While the counter is
/// above `max_in_flight` the pipe is not read (rechecked every millisecond),
/// so a fast writer blocks on its full pipe instead of filling the mailbox.
///
/// If the sink terminates while the tree runs, nobody can manage it any
/// more: the reactor SIGKILLs the tree and discards its output.
class process_reactor : public process_launcher {
public:
  /// Starts the reactor thread, which first (with automatic tracking)
  /// makes the cgroup parent `jobd-<pid>` (see cgroup_parent::create);
  /// calls that depend on it wait until it is done.
  explicit process_reactor(reactor_options options
                           = reactor_options::from_environment());

  /// Calls `stop()`: bounded, never hangs.
  ~process_reactor() override;

  process_reactor(const process_reactor&) = delete;
  process_reactor& operator=(const process_reactor&) = delete;

  /// Queues the launch on the reactor thread (Boost.Process forks there).
  /// After `stop()` began, answers `spawn_failed` (SPAWN_FAILED) at once.
  void launch(launch_spec spec, backend_events sink) override;

  /// Sends `sig` to the tree whose leader is `pid` (every process of its
  /// cgroup, or its process group; only the leader if `whole_tree` is
  /// false). False, sending nothing, if the pid is not a leader this reactor
  /// started that is still running (once a leader ended, the rest of its
  /// tree was SIGKILLed already), if `sig` is invalid, or if no process
  /// took the signal.
  bool signal(int64_t pid, int sig, bool whole_tree = true) override;

  /// SIGKILLs the whole tree of the running leader `pid` (cgroup.kill, or
  /// the process group); does nothing for any other pid.
  void kill_tree(int64_t pid) override;

  /// Queues bytes for the stdin of the running leader `pid`'s tree (see
  /// process_launcher): `not_open` without a pipe or terminal (or for a pid
  /// that is not a running leader of ours), `closed` once stdin closed or a
  /// close was asked for, `full` if the queue would hold more than
  /// launch_spec::max_stdin_bytes (nothing is queued then). On a terminal,
  /// a close writes its VEOF character (^D) after the queue and leaves the
  /// master open (it is the output too). Any thread.
  input_outcome write_input(int64_t pid, std::string bytes, bool close,
                            uint64_t& queued) override;

  /// cgroup.freeze of the running leader `pid`'s cgroup, or SIGSTOP /
  /// SIGCONT to its process group; false for any other pid or on failure.
  /// kill_tree still ends a frozen tree (and thaws it).
  bool freeze(int64_t pid, bool frozen) override;

  /// TIOCSWINSZ on the terminal of the running leader `pid`; false without
  /// one or for sizes outside 1..65535.
  bool resize(int64_t pid, int32_t cols, int32_t rows) override;

  /// "cgroup" if new jobs get a cgroup, else "pgroup".
  std::string tracking_mode() const;

  /// The directory below which jobs get their cgroups (a job's is
  /// `<it>/<job id>`); empty in pgroup mode.
  std::string cgroup_parent_path() const;

  /// How this reactor gives a job options.limits.memoryBytes and
  /// maxProcesses: "cgroup-v2" (memory.max, pids.max in the job's cgroup),
  /// "cgroup-v1" (a cgroup per job in the v1 memory or pids hierarchy), or
  /// "" where neither can be made (reactor_limits.cpp).
  std::string memory_limit_support() const;
  std::string pids_limit_support() const;

  /// Leaders launched and not yet reaped.
  size_t live_children() const;

  /// Trees not yet ended (`exited` not yet sent).
  size_t live_trees() const;

  /// Sends `sig` to every tree still owned: running leaders' trees, and the
  /// cgroups of ending trees (SIGKILL only). Last resort at shutdown.
  void kill_all(int sig);

  /// Reaps zombies adopted from jobs' process trees (jobd is a child
  /// subreaper, see app/main.cpp), never a leader the reactor waits for;
  /// returns how many. Cheap: a few waitid calls.
  size_t reap_adopted();

  /// Refuses new launches, waits up to `grace` for every tree to end, then
  /// SIGKILLs every tree still owned and waits up to one more second, then
  /// ends what is left (eof and exited to live sinks; leaders not reaped by
  /// then are left to reap_adopted()), stops and joins the reactor thread,
  /// and removes the cgroups. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{1000});

private:
  struct impl; // reactor_impl.hpp
  std::shared_ptr<impl> impl_;
};

} // namespace jobd

// The process reactor's state, shared by its source files:
// process_reactor.cpp (the public calls, launching, orphans, stop),
// reactor_streams.cpp (reading the pipes, the drain) and reactor_trees.cpp
// (a tree's end: the leader's exit, the settle, forgetting the tree) and
// reactor_input.cpp (stdin, terminals, freezing, resource usage) and
// reactor_limits.cpp (limits: their cgroups, which one stopped a job).
// Private to actors/kinds/process.
#pragma once

#include "actors/kinds/process/cgroup_tree.hpp"
#include "actors/kinds/process/job_confinement.hpp"
#include "actors/kinds/process/process_reactor.hpp"
#include "actors/kinds/process/reaping.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

namespace jobd {

/// Every stream is read into the reactor's one buffer (impl::read_buf):
/// a stream waits until it is readable, then reads at most this much at
/// once (a pipe holds 256 KiB). A job holds no buffer of its own, so a
/// thousand silent jobs hold nothing.
inline constexpr size_t read_buffer_size = 128 * 1024;

/// One of a tree's output pipes and its read loop's state.
struct pipe_reader {
  pipe_reader(boost::asio::io_context& io, stream_kind kind)
    : pipe(io), pause(io), kind(kind) {}

  /// Non-blocking (read only once it is readable).
  boost::asio::posix::stream_descriptor pipe;
  /// Flow control: the next read waits on this while the sink is behind.
  boost::asio::steady_timer pause;
  stream_kind kind;
  /// The stream ended (its eof was sent): nothing more is read or sent.
  bool ended = false;
};

/// One job's process tree: its leader, its cgroup or process group, its
/// pipes. Lives on the reactor thread, owned by its handlers; other threads
/// reach it only through impl::leaders and impl::ending, under impl::mtx.
struct job_tree {
  job_tree(boost::asio::io_context& io, backend_events sink,
           const launch_spec& spec)
    : sink(std::move(sink)), in_flight(spec.in_flight),
      max_in_flight(spec.max_in_flight), input(spec.input),
      max_stdin_bytes(spec.max_stdin_bytes), out(io, stream_kind::out),
      err(io, stream_kind::err), in(io), exit_poll(io), settle_timer(io),
      drain_timer(io) {}

  pipe_reader& reader(stream_kind kind) {
    return kind == stream_kind::out ? out : err;
  }

  backend_events sink;
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  int64_t max_in_flight;
  /// The leader's pid, which is also its process group's id.
  pid_t pid = 0;
  /// Null if the tree is tracked as the process group `pid`. Used under
  /// impl::mtx while the tree is in impl::leaders or impl::ending.
  std::unique_ptr<cgroup_tree> cgroup;
  /// Its limits (and their v1 cgroups): reactor thread only.
  std::unique_ptr<job_confinement> confinement;

  /// What its stdin is; with a terminal, `out` reads the master and `err`
  /// ends at once.
  const stdin_mode input;
  const uint64_t max_stdin_bytes;

  pipe_reader out;
  pipe_reader err;
  /// stdin's pipe (write end), or a descriptor of the terminal's master
  /// for writing. Reactor thread only.
  boost::asio::posix::stream_descriptor in;
  /// Bytes for stdin not yet written, in order; the write in flight is a
  /// copy of its front (`in_chunk`). Under impl::mtx.
  std::string in_queue;
  /// A close was asked for (after the queued bytes). Under impl::mtx.
  bool in_close_asked = false;
  /// stdin is closed: later writes answer `closed`. Under impl::mtx.
  bool in_closed = false;
  /// The terminal's master for TIOCSWINSZ; -1 without one. Closed under
  /// impl::mtx.
  int tty_control = -1;
  /// Frozen by freeze(). Under impl::mtx.
  bool frozen = false;
  // Reactor thread only:
  std::string in_chunk;
  bool in_writing = false;
  /// The terminal's VEOF was queued after the close was asked for.
  bool veof_queued = false;
  /// `input, eof` was sent (or there is no stdin to end).
  bool in_ended = false;
  /// The leader's rusage from wait4, if it was reaped by us.
  struct rusage rusage {};
  bool rusage_known = false;

  /// The leader's pidfd, readable once it exited.
  std::optional<boost::asio::posix::stream_descriptor> exit_fd;
  /// The waitpid fallback when no pidfd could be opened.
  boost::asio::steady_timer exit_poll;
  /// Rechecks emptiness after the leader ended, and ends the settle.
  boost::asio::steady_timer settle_timer;
  /// Bounds the streams once the tree is empty.
  boost::asio::steady_timer drain_timer;
  std::chrono::steady_clock::time_point settle_deadline;
  /// The leader's raw wait status, once reaped.
  int32_t status = lost_status;
  /// The inotify watch on cgroup.events; -1 if none.
  int watch = -1;
  /// The leader was reaped (or found reaped behind our back).
  bool leader_done = false;
  /// The tree is empty, or settle_bound passed.
  bool settled = false;
  /// The tree was found empty (not merely given up on).
  bool empty = false;
  /// `exited` was sent, or the reactor stopped: the tree is forgotten.
  bool finished = false;
  /// The sink terminated: nothing is sent, output is discarded.
  bool orphaned = false;
};

using tree_ptr = std::shared_ptr<job_tree>;

struct process_reactor::impl : std::enable_shared_from_this<impl> {
  explicit impl(reactor_options opts);

  const reactor_options options;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
    io.get_executor()};
  /// Only this process runs the reactor; a forked child must never.
  const pid_t owner = ::getpid();
  std::thread thread;
  /// Where every stream is read to (read_buffer_size; made by the first
  /// read). Reactor thread only.
  std::unique_ptr<char[]> read_buf;
  // -- shared with other threads, guarded by mtx -----------------------------
  mutable std::mutex mtx;
  /// Where job cgroups are made; null with process-group tracking. Shared
  /// with launch() calls in flight when stop() drops it. Set by set_up().
  std::shared_ptr<cgroup_parent> cgroups;
  /// False once a child could not enter its cgroup: later jobs then get
  /// no cgroup either. Set by set_up().
  std::atomic<bool> use_cgroups{false};
  /// Children are started in their cgroup by clone3; false once that
  /// failed for lack of support (spawn_child then uses the vfork launcher).
  /// Reactor thread only.
  bool clone_into = true;
  /// set_up() is done (`changed` is notified).
  bool ready = false;
  /// wait_ready() saw `ready`: later calls skip the lock.
  mutable std::atomic<bool> ready_seen{false};
  /// Held from fork until the new leader is in `leaders`, and by every reap
  /// of adopted zombies, so that none takes a fresh leader's status. Taken
  /// before `mtx`.
  std::mutex spawn_mtx;
  /// Notified when a leader was reaped or a tree ended, and by set_up().
  mutable std::condition_variable changed;
  /// Trees whose leader is not reaped yet, by leader pid. An unreaped
  /// child's pid cannot be reused, and neither can the id of a group it is
  /// in: these are the only pids and groups any signal is sent to.
  std::unordered_map<pid_t, tree_ptr> leaders;
  /// Trees whose leader was reaped, until `exited` was sent: only their
  /// cgroups may still be killed.
  std::unordered_set<tree_ptr> ending;
  /// Cgroups of ended trees that a process stayed in (settle_bound
  /// passed): still ours, killed and removed at stop().
  std::vector<std::unique_ptr<cgroup_tree>> lingering;
  /// The same for the v1 cgroups that held ended trees' limits.
  std::vector<std::unique_ptr<v1_cgroup>> lingering_limits;
  /// Where memory and pids limits go; set by set_up(), dropped by stop().
  std::shared_ptr<const limit_support> limits;
  bool stopping = false;

  /// Serializes stop().
  std::mutex stop_mtx;
  bool stopped = false;

  // -- the janitor: keeps or removes the cgroups of ended trees, off the
  // reactor thread (the checks of a kept one and an rmdir in cgroupfs cost
  // tens of microseconds) ----------------------------------------------------
  std::thread janitor;
  std::mutex janitor_mtx;
  std::condition_variable janitor_cv;
  std::vector<std::unique_ptr<cgroup_tree>> to_remove;
  std::vector<std::unique_ptr<v1_cgroup>> limits_to_remove;
  bool janitor_stop = false;

  // -- reactor thread only ---------------------------------------------------
  /// One inotify instance for every cgroup.events watched.
  std::optional<boost::asio::posix::stream_descriptor> inotify;
  std::unordered_map<int, std::weak_ptr<job_tree>> watches;
  /// Reaps zombies that appear just after their tree was found empty.
  boost::asio::steady_timer late_reap{io};
  bool late_reap_armed = false;

  /// First thing on the reactor thread: with automatic tracking, makes
  /// the cgroup parent and the inotify instance; then `ready`.
  void set_up();
  /// Blocks until set_up() is done; any thread.
  void wait_ready() const;
  void run();

  // -- process_reactor.cpp ---------------------------------------------------
  /// `cgroup` and `confinement`: made by launch() on the caller's
  /// thread (`cgroup` may be null).
  void do_launch(launch_spec& spec, backend_events& sink,
                 std::unique_ptr<cgroup_tree> cgroup,
                 std::unique_ptr<job_confinement> confinement);
  void watch_sink(const tree_ptr& t);
  void orphan(const std::weak_ptr<job_tree>& weak);
  /// With mtx held and `t` in `leaders`.
  bool signal_locked(job_tree& t, int sig, bool whole_tree);
  /// SIGKILLs `t`'s whole tree; with mtx held and `t` in `leaders`.
  void kill_locked(job_tree& t);
  void kill_all_locked(int sig);
  /// Reaps adopted zombies; with spawn_mtx and mtx held.
  size_t reap_locked();
  /// At stop, on the reactor thread: ends every tree left at once.
  void end_all();

  // -- reactor_streams.cpp ---------------------------------------------------
  void read_next(const tree_ptr& t, stream_kind kind);
  /// Closes the stream and sends its eof (once).
  void end_stream(const tree_ptr& t, stream_kind kind);
  void on_drain_timeout(const tree_ptr& t);

  // -- reactor_input.cpp -----------------------------------------------------
  /// Ends stdin as soon as the job closed its pipe's read end (POLLERR),
  /// even with nothing queued.
  void watch_input(const tree_ptr& t);
  /// Writes what `t`'s stdin queue holds, then closes it if asked.
  void pump_input(const tree_ptr& t);
  /// stdin is closed (asked for, the job closed its end, or the tree
  /// ended): drops the queue, closes the write end, sends `input, eof`.
  void end_input(const tree_ptr& t);
  /// Thaws `t` if frozen; with mtx held.
  void thaw_locked(job_tree& t);
  /// `usage` right before `exited`: cpu.stat and memory.peak of the
  /// cgroup (read before it is removed), else the leader's rusage.
  void send_usage(const tree_ptr& t);

  // -- reactor_trees.cpp -----------------------------------------------------
  void wait_exit(const tree_ptr& t);
  void poll_exit(const tree_ptr& t);
  /// `ours`: the leader is our unreaped zombie (else reaped behind our back).
  void leader_ended(const tree_ptr& t, bool ours);
  /// `empty_cgroup`: the caller just found the tree's cgroup empty.
  void check_tree(const tree_ptr& t, bool empty_cgroup = false);
  void settle(const tree_ptr& t);
  void maybe_finish(const tree_ptr& t);
  void finish(const tree_ptr& t);
  void start_inotify();
  void wait_inotify();
  void watch_events(const tree_ptr& t);
  void unwatch(const tree_ptr& t);
  void arm_late_reap();
  /// Hands an empty cgroup to the janitor.
  void retire(std::unique_ptr<cgroup_tree> cgroup);
  void run_janitor();

  // -- reactor_limits.cpp ----------------------------------------------------
  /// Decides where memory and pids limits go; in set_up().
  void set_up_limits(cgroup_parent* v2);
  /// The usage's limit_exceeded (and a v1 memory peak), before the tree's
  /// cgroups go.
  void judge_usage(const job_tree& t, resource_usage& u) const;
  /// The tree's v1 cgroups to the janitor (`empty`: the tree was found
  /// empty), or to lingering_limits.
  void release_limits(job_tree& t, bool empty);
  /// Removes what the janitor was given; lingering ones on failure.
  void remove_limits(std::vector<std::unique_ptr<v1_cgroup>> batch);
  /// At stop, the reactor thread joined: kills what stayed in lingering
  /// v1 cgroups, removes them, drops `limits`.
  void end_limits();
};

} // namespace jobd

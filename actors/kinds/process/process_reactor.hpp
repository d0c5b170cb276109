// The real process_launcher: one asio thread that starts children with
// Boost.Process v2, reads their pipes and reaps them, reporting everything to
// the owning JOB actor with anon_send.
#pragma once

#include "actors/kinds/process/process_launcher.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace jobd {

/// The process reactor: owns one `boost::asio::io_context` and the thread
/// that runs it. Every child is launched, read and reaped on that thread;
/// the JOB actors only ever see messages (spawned / spawn_failed, data, eof,
/// exited) and call `signal_group` / `group_alive` from their own threads.
///
/// Children:
/// - exec `launch_spec::executable` with exactly `launch_spec::argv` (argv[0]
///   included, as given: the launcher is handed a ready `const char**`);
/// - lead their own process group (pgid == pid == the `spawned` value);
/// - get stdin from /dev/null, stdout and stderr on pipes, no other
///   descriptor, the server's environment with `launch_spec::environment`
///   applied on top, default signal dispositions and an empty signal mask.
///
/// Reports to the job, in this order per stream: `spawned` before any
/// `data`; `data`* then `eof` for each pipe; `exited` (raw wait status, test
/// it with WIFEXITED / WIFSIGNALED) once the child was reaped, which may come
/// before or after the `eof`s. Failures to start are one `spawn_failed` with
/// COMMAND_NOT_FOUND (ENOENT, ENOTDIR), PERMISSION_DENIED (EACCES, EPERM),
/// INVALID_WORKING_DIRECTORY, or SPAWN_FAILED (anything else).
///
/// Flow control: each `data` adds its size to `launch_spec::in_flight`
/// before it is sent; the job subtracts what it took. While the counter is
/// above `max_in_flight` the pipe is not read (rechecked every millisecond),
/// so a fast writer blocks on its full pipe instead of filling the mailbox.
///
/// If the job actor terminates while its child still runs, nobody can manage
/// the child any more: the reactor SIGKILLs the group and discards output.
///
/// Only groups this reactor started can be signalled. A group stays known
/// until its leader was reaped and no process of it is left.
class process_reactor : public process_launcher {
public:
  /// Starts the reactor thread.
  process_reactor();

  /// Calls `stop()`: bounded, never hangs.
  ~process_reactor() override;

  process_reactor(const process_reactor&) = delete;
  process_reactor& operator=(const process_reactor&) = delete;

  /// Queues the launch on the reactor thread (Boost.Process forks there).
  /// After `stop()` began, answers `spawn_failed` (SPAWN_FAILED) at once.
  void launch(launch_spec spec, backend_events job) override;

  /// `kill(-pgid, sig)` for a group this reactor started; false if the
  /// group is unknown, empty (ESRCH) or `sig` is invalid.
  bool signal(int64_t pgid, int sig, bool whole_tree) override;

  void kill_tree(int64_t pgid) override;

  /// True while a known group has any process left.
  bool group_alive(int64_t pgid);

  /// Children launched and not yet reaped.
  size_t live_children() const;

  /// Sends `sig` to every known group (last resort at shutdown).
  void kill_all(int sig);

  /// Reaps zombies adopted from jobs' process trees (jobd is a child
  /// subreaper, see app/main.cpp); returns how many.
  size_t reap_adopted();

  /// Refuses new launches, waits up to `grace` for every child to be
  /// reaped, then SIGKILLs every known group and waits up to one more
  /// second, then stops and joins the reactor thread. Children still not
  /// reaped are detached (never waited for). Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{1000});

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace jobd

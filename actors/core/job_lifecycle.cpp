// The JOB core's lifecycle: waiters answered as output arrives, output and
// rows for the STORE, events for SCHEDULER, the end of a job (whatever the
// reason) and the stop of one (SIGTERM, SIGKILL after the grace).
#include "actors/core/job_core_detail.hpp"

#include "actors/core/timing.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>
#include <csignal>
#include <sys/wait.h>

namespace jobd::core_detail {

namespace {

// How often the STORE gets the output of a job that outruns its window.
constexpr auto firehose_store_delay = std::chrono::seconds(1);

} // namespace

// -- waiters
// ----------------------------------------------------------------------

// Answers the waiters whose condition holds: the job ended, or (for
// until=output) new output after their cursor matches.
void notify_waiters(self_ptr self) {
  auto& st = self->state;
  bool ended = finished(self);
  for (auto i = st.waiters.begin(); i != st.waiters.end();) {
    auto& w = i->second;
    auto reason
      = wait_reason(*st.buffer, w.query, w.scanned, w.compiled, ended);
    w.scanned = st.buffer->last_sequence();
    if (reason != nullptr) {
      w.promise.deliver(wait_answer(st.info, *st.buffer, w.query, reason));
      i = st.waiters.erase(i);
    } else {
      ++i;
    }
  }
}

// -- lifecycle
// ----------------------------------------------------------------------

// Sends the STORE the output it has not seen yet (chunks already dropped
// from the window are not sent: the store keeps what memory keeps). One
// message at a time: while the store has not taken the last one, new
// output waits here (where the window bounds it) and goes, all of it that
// is still kept, once the store took the previous one. `force` sends
// anyway (the job ended: its last output goes before its last row).
void persist_output(self_ptr self, bool force) {
  auto& st = self->state;
  if (!st.ctx.store || st.buffer->last_sequence() <= st.stored_sequence)
    return;
  if (!force && st.storing)
    return;
  auto now = self->clock().now();
  if (!force && now < st.store_again_at) {
    // A job whose output outruns its window is stored once a second.
    if (!st.store_retry_scheduled) {
      st.store_retry_scheduled = true;
      self->delayed_send(self, st.store_again_at - now, atom::progress_v);
    }
    return;
  }
  // Chunks dropped before they were ever sent: the window churns faster
  // than it is stored; writing it every 100 ms would mostly write what is
  // deleted again, at the cost of the drain.
  auto outran = st.buffer->first_kept() > st.stored_sequence + 1;
  st.store_again_at = outran ? now + firehose_store_delay : now;
  stored_output out{st.info.id,
                    st.info.serial,
                    {},
                    st.buffer->first_kept(),
                    st.buffer->stats()};
  st.buffer->for_each_after(st.stored_sequence, [&](const output_chunk& c) {
    out.chunks.push_back(c);
  });
  st.stored_sequence = st.buffer->last_sequence();
  st.storing = true;
  self->request(st.ctx.store, caf::infinite, atom::output_v, std::move(out))
    .then(
      [self](bool) {
        self->state.storing = false;
        persist_output(self);
      },
      [self](caf::error&) { self->state.storing = false; });
}

void emit(self_ptr self, transition what, job_status previous) {
  auto& st = self->state;
  job_event ev{what, previous, current_info(self), nullptr};
  // The store hears it first (same sender: output before the row), so a
  // reader that learns of the event from SCHEDULER finds it stored.
  if (st.ctx.store) {
    persist_output(self, what == transition::finished);
    self->send(st.ctx.store, atom::event_v, ev.job);
  }
  if (what == transition::finished)
    ev.output = st.buffer;
  self->send(st.ctx.scheduler, atom::event_v, std::move(ev));
}

void emit_update(self_ptr self) {
  emit(self, transition::updated, self->state.info.status);
}

// Tells SCHEDULER the job runs, once: when its pid is known, or right before
// it reports that it could not start.
void announce_start(self_ptr self) {
  auto& st = self->state;
  if (st.announced)
    return;
  st.announced = true;
  emit(self, transition::started, job_status::pending);
}

// Answers status requests that waited for the launch to settle.
void answer_pid_waiters(self_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.pid_waiters)
    rp.deliver(current_info(self));
  st.pid_waiters.clear();
}

namespace {

// The job ended (whatever the reason): record it, answer everyone waiting,
// hand status and output to SCHEDULER. The actor then only answers from
// its final state until SCHEDULER retires it.
void conclude(self_ptr self, job_status previous) {
  auto& st = self->state;
  auto& info = st.info;
  info.finished_at = now_ms();
  if (st.started_steady_ms > 0)
    info.run_ms = steady_ms() - st.started_steady_ms;
  st.timeout_at.reset();
  st.escalate_at.reset();
  thaw(self);
  read_progress(self);
  st.early_input.clear();
  st.release_at.reset();
  info.pending_reason.clear();
  info.waiting_for.clear();
  info.next_attempt_at = 0;
  record_final_attempt(self);
  // A finished job needs no spec (environment, arguments) any more: its
  // share goes (SCHEDULER's entry keeps one for console_restart_job).
  static const auto no_spec = std::make_shared<job_spec>();
  st.ctx.spec = no_spec;
  emit(self, transition::finished, previous);
  for (auto& rp : st.cancellers)
    rp.deliver(cancel_result{info.id, info.status,
                             info.status == job_status::cancelled
                               ? "Job cancelled successfully"
                               : "Job ended before the cancel took effect"});
  st.cancellers.clear();
  for (auto& rp : st.stoppers)
    rp.deliver(true);
  st.stoppers.clear();
  answer_pid_waiters(self);
  notify_waiters(self);
}

} // namespace

namespace {

// " (N unit)" for the limit named `name`, "" for an unknown name.
std::string limit_value(const resource_limits& limits,
                        const std::string& name) {
  const std::pair<const char*, std::pair<int64_t, const char*>> all[] = {
    {limit_names::cpu_seconds, {limits.cpu_seconds, "s of CPU"}},
    {limit_names::memory_bytes, {limits.memory_bytes, "bytes"}},
    {limit_names::max_processes, {limits.max_processes, "processes"}},
    {limit_names::open_files, {limits.open_files, "open files"}},
    {limit_names::file_size_bytes, {limits.file_size_bytes, "bytes"}},
  };
  for (auto& [n, v] : all)
    if (name == n)
      return " (" + std::to_string(v.first) + " " + v.second + ")";
  return "";
}

} // namespace

// Ends the job once the backend's work exited and both streams ended.
void maybe_finish(self_ptr self) {
  auto& st = self->state;
  if (finished(self) || !st.exited || !st.eof[0] || !st.eof[1])
    return;
  auto previous = st.info.status;
  auto& info = st.info;
  st.buffer->flush(now_ms());
  auto ws = st.wait_status;
  if (WIFEXITED(ws))
    info.exit_code = WEXITSTATUS(ws);
  else if (WIFSIGNALED(ws))
    info.signal = WTERMSIG(ws);
  switch (st.stopping) {
    case stop_reason::cancel:
    case stop_reason::shutdown:
      info.status = job_status::cancelled;
      info.error_code = codes::cancelled;
      info.error = "Cancelled";
      break;
    case stop_reason::timeout:
      info.status = job_status::failed;
      info.error_code = codes::timeout;
      info.error = "Timed out after " + std::to_string(info.timeout_ms) + " ms";
      break;
    case stop_reason::none:
      if (!info.error_code.empty()) {
        info.status = job_status::failed; // could not start
      } else if (info.exit_code == 0) {
        info.status = job_status::completed;
      } else if (!info.usage.limit_exceeded.empty()) {
        // The backend saw one of options.limits stop it (an OOM kill in
        // its memory cgroup, SIGXCPU, SIGXFSZ, refused forks).
        info.status = job_status::failed;
        info.error_code = codes::limit_exceeded;
        info.error
          = "Stopped by its limit " + info.usage.limit_exceeded
            + limit_value(info.security.limits, info.usage.limit_exceeded);
      } else if (info.exit_code > 0) {
        info.status = job_status::failed;
        info.error = "Exited with code " + std::to_string(info.exit_code);
      } else {
        info.status = job_status::failed;
        info.error = "Killed by signal " + std::to_string(info.signal);
      }
      break;
  }
  if (st.backend)
    st.backend->describe(info);
  if (maybe_retry(self, previous))
    return;
  conclude(self, previous);
}

// Ends a job that never ran (cancelled while pending, shutdown, or a
// dependency failed: `code`).
void finish_unstarted(self_ptr self, std::string message, const char* code) {
  auto& info = self->state.info;
  auto previous = info.status;
  info.status = job_status::cancelled;
  info.error_code = code;
  info.error = std::move(message);
  conclude(self, previous);
}

// SIGTERM to the tree, SIGKILL after the grace (at once for grace 0).
void terminate(self_ptr self, stop_reason why, int64_t grace_ms) {
  auto& st = self->state;
  // A second stop never lengthens the grace of the first.
  st.grace_ms = st.stopping == stop_reason::none
                  ? grace_ms
                  : std::min(st.grace_ms, grace_ms);
  if (st.stopping == stop_reason::none)
    st.stopping = why;
  if (!st.spawned)
    return; // not spawned yet: `spawned` applies the stop
  // A paused tree would not act on SIGTERM (nor, frozen, on anything but
  // SIGKILL): it runs again for its grace.
  thaw(self);
  if (grace_ms <= 0) {
    st.backend->kill();
  } else {
    st.backend->signal(SIGTERM, true);
    auto at = deadline_after(self->clock().now(), grace_ms);
    if (!st.escalate_at || at < *st.escalate_at)
      st.escalate_at = at;
    arm(self);
  }
}

} // namespace jobd::core_detail

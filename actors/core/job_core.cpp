#include "actors/core/job_core.hpp"

#include "actors/core/job_core_detail.hpp"

#include "actors/core/timing.hpp"
#include "actors/store/instances.hpp"
#include "actors/unexpected.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include <csignal>
#include <exception>
#include <limits>
#include <sys/wait.h>

namespace jobd {

namespace core_detail {

job_info current_info(self_ptr self) {
  auto info = self->state.info;
  info.output = self->state.buffer->stats();
  if (self->state.backend)
    self->state.backend->describe(info);
  return info;
}

bool finished(self_ptr self) {
  return is_terminal(self->state.info.status);
}

} // namespace core_detail

namespace {

using namespace core_detail;
using stop_reason = job_core_state::stop_reason;
using time_point = job_core_state::time_point;

constexpr auto flush_delay = std::chrono::milliseconds(50);
// How long a status request may wait for a launching job's pid.
constexpr auto pid_wait = std::chrono::milliseconds(50);
// Output events are coalesced: a chatty job tells at most 10 per second.
constexpr auto progress_delay = std::chrono::milliseconds(100);

int index_of(stream_kind s) {
  return s == stream_kind::out ? 0 : 1;
}

} // namespace

// -- deadlines
// ------------------------------------------------------------------

// Arms one tick for the earliest deadline (at most max_tick ahead), unless
// an armed tick comes first anyway.
void core_detail::arm(self_ptr self) {
  auto& st = self->state;
  std::optional<time_point> next;
  auto consider = [&](const std::optional<time_point>& t) {
    if (t && (!next || *t < *next))
      next = t;
  };
  consider(st.timeout_at);
  consider(st.escalate_at);
  consider(st.release_at);
  for (auto& [id, w] : st.waiters)
    consider(w.expires);
  if (!next || (st.tick_at && *st.tick_at <= *next))
    return;
  auto now = self->clock().now();
  auto delay = std::max(*next - now, time_point::duration::zero());
  delay = std::min<time_point::duration>(delay, max_tick);
  st.tick_at = now + delay;
  self->delayed_send(self, delay, atom::tick_v, ++st.tick_generation);
}

namespace {

void start(self_ptr self) {
  auto& st = self->state;
  if (st.info.status != job_status::pending)
    return;
  // Work that ran on while jobd was down (a Slurm job): its attempt goes
  // on, and its timeout counts from when it started.
  bool reattach = !st.ctx.reattach.empty();
  begin_attempt(self);
  st.info.status = job_status::running;
  auto now = now_ms();
  auto ran = reattach && st.ctx.started_at > 0 && st.ctx.started_at < now
               ? now - st.ctx.started_at
               : 0;
  st.info.started_at = now - ran;
  st.started_steady_ms = steady_ms() - ran;
  if (st.info.timeout_ms > 0) {
    st.timeout_at = deadline_after(
      self->clock().now(), std::max<int64_t>(st.info.timeout_ms - ran, 1));
    arm(self);
  }
  // The store hears it runs at once (the pid follows with `started`): a
  // crash in between leaves a job recorded running, whose leftovers the next
  // instance looks for, and the store's figures agree with status replies.
  if (st.ctx.store)
    self->send(st.ctx.store, atom::event_v, current_info(self));
  st.backend->start(backend_events{self}, st.in_flight);
  st.ctx.reattach.clear(); // a later attempt starts afresh
}

// Deadlines that are due: the timeout, the kill escalation, waiters.
void on_tick(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (st.timeout_at && *st.timeout_at <= now) {
    st.timeout_at.reset();
    if (st.info.status == job_status::running
        && st.stopping == stop_reason::none)
      terminate(self, stop_reason::timeout, st.ctx.spec->kill_grace_ms);
  }
  if (st.escalate_at && *st.escalate_at <= now) {
    st.escalate_at.reset();
    if (!finished(self) && st.backend)
      st.backend->kill();
  }
  if (st.release_at && *st.release_at <= now) {
    st.release_at.reset();
    release_due(self);
  }
  for (auto i = st.waiters.begin(); i != st.waiters.end();) {
    if (i->second.expires <= now) {
      auto& w = i->second;
      w.promise.deliver(
        wait_answer(current_info(self), *st.buffer, w.query, "timeout"));
      i = st.waiters.erase(i);
    } else {
      ++i;
    }
  }
  arm(self);
}

caf::result<wait_result> add_waiter(self_ptr self, wait_query& q) {
  auto& st = self->state;
  job_core_state::waiter w;
  std::string why;
  if (q.until == wait_until::output
      && !pattern::compile(q.pattern, w.compiled, why))
    return make_tool_error(codes::invalid_arguments,
                           "pattern is not a valid regular expression: " + why,
                           {{"field", json_quote("pattern")}});
  auto cap = st.ctx.defaults.max_wait_ms;
  auto timeout = q.timeout_ms < 0 ? cap : std::min(q.timeout_ms, cap);
  if (auto reason = wait_reason(*st.buffer, q, 0, w.compiled, finished(self)))
    return wait_answer(current_info(self), *st.buffer, q, reason);
  w.scanned = st.buffer->last_sequence();
  w.expires = deadline_after(self->clock().now(), timeout);
  w.query = std::move(q);
  w.promise = self->make_response_promise<wait_result>();
  auto rp = w.promise;
  st.waiters.emplace(st.next_waiter++, std::move(w));
  arm(self);
  return rp;
}

// A bug in a handler (of the core or of a backend) must not leave anyone
// waiting: every promise is answered, the work is killed, and SCHEDULER
// (which monitors us) records the job as failed with INTERNAL.
caf::error on_exception(self_ptr self, std::exception_ptr& eptr) {
  auto& st = self->state;
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  auto err = make_tool_error(
    codes::internal, "Job " + st.info.id + " failed internally: " + what,
    {{"jobId", json_quote(st.info.id)}});
  if (st.backend && st.spawned && !st.exited) {
    try {
      st.backend->kill();
    } catch (...) {
      // Nothing more we can do; the reactor kills orphaned trees itself.
    }
  }
  for (auto& rp : st.cancellers)
    rp.deliver(err);
  st.cancellers.clear();
  for (auto& rp : st.stoppers)
    rp.deliver(true);
  st.stoppers.clear();
  for (auto& rp : st.pid_waiters)
    rp.deliver(err);
  st.pid_waiters.clear();
  for (auto& [id, w] : st.waiters)
    w.promise.deliver(err);
  st.waiters.clear();
  return err;
}

// A job taken over between attempts (a restart of jobd during its
// backoff): its earlier attempts' output comes back from the STORE before
// the job is admitted, so readers see all of it and numbering continues.
caf::result<job_info> resume_output(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<job_info>();
  output_query all;
  all.max_bytes = std::numeric_limits<uint64_t>::max();
  self->request(st.ctx.store, caf::infinite, atom::output_v, st.info.id, all)
    .then(
      [self, rp](output_page& page) mutable {
        auto& st = self->state;
        auto limits = st.buffer->limits();
        *st.buffer = output_buffer::restore(std::move(page.chunks),
                                            st.ctx.output, limits);
        st.buffer->set_attempt(st.ctx.attempt);
        st.stored_sequence = st.buffer->last_sequence();
        st.announced_sequence = st.stored_sequence;
        rp.deliver(st.info);
      },
      // Unreadable: the job runs on; what is lost counts as dropped.
      [self, rp](caf::error&) mutable { rp.deliver(self->state.info); });
  return rp;
}

} // namespace

job_core_actor::behavior_type
job_core(job_core_actor::stateful_pointer<job_core_state> self,
         job_context ctx) {
  self->set_default_handler(log_and_drop);
  auto& st = self->state;
  st.info = initial_info(ctx);
  auto limits = ctx.defaults.output;
  // A job may lower its output cap, never raise it above the server's.
  if (ctx.spec->output_byte_limit > 0)
    limits.max_bytes = std::min(
      limits.max_bytes, static_cast<uint64_t>(ctx.spec->output_byte_limit));
  st.buffer = std::make_shared<output_buffer>(limits);
  st.grace_ms = ctx.spec->kill_grace_ms;
  if (!ctx.spec->progress_pattern.empty()) {
    // Checked by the protocol layer; a pattern that fails here (a spec
    // from an older store) leaves the heuristic in charge.
    std::string why;
    progress_pattern::compile(ctx.spec->progress_pattern, st.progress_re, why);
  }
  st.ctx = std::move(ctx);
  self->set_exception_handler(
    [self](std::exception_ptr& eptr) { return on_exception(self, eptr); });
  return {
    // Checks the spec through the kind (the backend is made when the work
    // starts: begin_attempt).
    [self](atom::submit) -> caf::result<job_info> {
      auto& st = self->state;
      if (auto err = st.ctx.kind->validate(*st.ctx.spec))
        return make_tool_error(err->code.c_str(), err->message, err->details);
      st.info = initial_info(st.ctx);
      if ((st.ctx.attempt > 0 || !st.ctx.reattach.empty()) && st.ctx.store)
        return resume_output(self);
      return st.info;
    },
    // Admitted: start the work and arm the timeout.
    [self](atom::start) { start(self); },
    // Status with the buffer's counters; a job being launched answers once
    // its pid is known, so "running" always comes with a pid.
    [self](atom::status) -> caf::result<job_info> {
      auto& st = self->state;
      if (st.info.status != job_status::running || st.spawned)
        return current_info(self);
      // Wait briefly: a launch queued behind many others must not hold up
      // status replies for long (the pid is then reported as null).
      if (st.pid_waiters.empty())
        self->delayed_send(self, pid_wait, atom::settle_v);
      st.pid_waiters.push_back(self->make_response_promise<job_info>());
      return st.pid_waiters.back();
    },
    // A page of output.
    [self](atom::output, const output_query& q) {
      return read_output(self->state.info, *self->state.buffer, q);
    },
    // Cancel; answered once nothing of the job runs.
    [self](atom::cancel, int64_t grace_ms) -> caf::result<cancel_result> {
      auto& st = self->state;
      auto& info = st.info;
      if (info.status == job_status::pending) {
        // Between attempts no more follow.
        bool between = info.attempt > 0;
        finish_unstarted(self, between ? "Cancelled between attempts"
                                       : "Cancelled before it started");
        return cancel_result{info.id, info.status,
                             between ? "Job cancelled between attempts"
                                     : "Job cancelled before it started"};
      }
      if (is_terminal(info.status)) {
        return make_tool_error(codes::job_already_finished,
                               "Job " + info.id + " already finished ("
                                 + to_string(info.status) + ")",
                               {{"status", json_quote(to_string(info.status))},
                                {"jobId", json_quote(info.id)}});
      }
      auto rp = self->make_response_promise<cancel_result>();
      st.cancellers.push_back(rp);
      terminate(self, stop_reason::cancel,
                grace_ms >= 0 ? grace_ms : st.ctx.spec->kill_grace_ms);
      return rp;
    },
    // Long-poll: answered now if the condition holds, else later.
    [self](atom::wait, wait_query& q) { return add_waiter(self, q); },
    // Server shutdown: kill at once, answer once nothing of it runs.
    [self](atom::shutdown) -> caf::result<bool> {
      auto& st = self->state;
      if (st.info.status == job_status::pending) {
        // A job held for a time, its dependencies or a retry's backoff
        // stays pending in the STORE: the next jobd takes it over (see
        // job_store::recover) and waits out the rest. A job that only
        // waited for a slot ends with the session that queued it.
        if (st.info.pending_reason.empty()
            || st.info.pending_reason == pending_reasons::queued)
          finish_unstarted(self, "Server shut down before the job started");
        return true;
      }
      if (finished(self))
        return true;
      if (st.backend && st.spawned && !st.exited && st.backend->detach()) {
        // Left running where it runs (a Slurm job): its row stays running
        // with what the kind knows of it, and the next jobd re-attaches.
        emit_update(self);
        return true;
      }
      auto rp = self->make_response_promise<bool>();
      st.stoppers.push_back(rp);
      st.stopping = stop_reason::shutdown;
      terminate(self, stop_reason::shutdown, 0);
      return rp;
    },
    // SCHEDULER's word on why we wait, or that we never start.
    [self](atom::hold, job_hold& hold) { apply_hold(self, hold); },
    // SCHEDULER keeps our record now.
    [self](atom::retire) { self->quit(); },
    // -- working with the running job (job_control.cpp) ------------------
    [self](atom::input, std::string& bytes, bool close) {
      return take_input(self, bytes, close);
    },
    [self](atom::signal, int32_t sig, bool whole_tree) {
      return signal_job(self, sig, whole_tree);
    },
    [self](atom::pause, bool pause) { return pause_job(self, pause); },
    [self](atom::resize, int32_t cols, int32_t rows) {
      return resize_job(self, cols, rows);
    },
    // -- backend events ---------------------------------------------------
    // The work runs; a stop asked for meanwhile applies now.
    [self](atom::spawned, int64_t pid, std::string& tracking) {
      auto& st = self->state;
      if (st.spawned || st.exited)
        return;
      st.spawned = true;
      st.info.pid = pid;
      // What a later instance checks before it kills leftovers of this job
      // by its process group (read at once: a leader that exited and was
      // reaped in the moment before has no entry, and then nothing is ever
      // killed by its pid). A job in a cgroup is found by the cgroup's
      // label instead, and other kinds' work is not a local process.
      if (tracking == "pgroup")
        st.info.process_start = process_start(pid);
      st.info.tracking = std::move(tracking);
      st.backend->spawned(pid);
      follow_queue_clock(self);
      announce_start(self);
      answer_pid_waiters(self);
      if (st.stopping == stop_reason::none)
        hand_early_input(self);
      if (st.stopping != stop_reason::none)
        terminate(self, st.stopping, st.grace_ms);
    },
    // What the kind knows of the work changed: listeners hear of it.
    [self](atom::changed) {
      if (finished(self))
        return;
      follow_queue_clock(self);
      emit_update(self);
    },
    // The work could not start.
    [self](atom::spawn_failed, std::string& code, std::string& message) {
      auto& st = self->state;
      if (st.exited)
        return;
      announce_start(self);
      st.info.error_code = std::move(code);
      st.info.error = std::move(message);
      st.exited = true;
      st.eof[0] = st.eof[1] = true;
      st.wait_status = 127 << 8;
      maybe_finish(self);
    },
    // Output.
    [self](atom::data, stream_kind s, const std::string& bytes) {
      auto& st = self->state;
      st.in_flight->fetch_sub(static_cast<int64_t>(bytes.size()));
      if (st.eof[index_of(s)] || finished(self))
        return; // nothing follows a stream's end
      st.buffer->append(s, bytes, now_ms());
      note_output(self, s, bytes);
      if (st.buffer->has_partial() && !st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, flush_delay, atom::flush_v);
      }
      if (!st.waiters.empty())
        notify_waiters(self);
      if (!st.progress_scheduled) {
        st.progress_scheduled = true;
        self->delayed_send(self, progress_delay, atom::progress_v);
      }
    },
    // A stream ended.
    [self](atom::eof, stream_kind s) {
      auto& st = self->state;
      if (st.eof[index_of(s)])
        return;
      st.eof[index_of(s)] = true;
      st.buffer->close(s, now_ms());
      if (!st.waiters.empty())
        notify_waiters(self);
      maybe_finish(self);
    },
    // What the work used (right before `exited`).
    [self](atom::usage, const resource_usage& usage) {
      self->state.info.usage = usage;
    },
    // Its stdin closed.
    [self](atom::input, atom::eof) { stdin_closed(self); },
    // The work ended: the backend's last event.
    [self](atom::exited, int32_t status) {
      auto& st = self->state;
      if (st.exited)
        return;
      st.exited = true;
      st.wait_status = status;
      maybe_finish(self);
    },
    // -- timers -----------------------------------------------------------
    [self](atom::tick, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.tick_generation)
        return; // superseded by an earlier tick
      st.tick_at.reset();
      on_tick(self);
    },
    // Emit a held-back partial line.
    [self](atom::flush) {
      auto& st = self->state;
      st.flush_scheduled = false;
      if (finished(self))
        return; // the record's output is final
      st.buffer->flush(now_ms());
      if (!st.waiters.empty())
        notify_waiters(self);
    },
    // Tell listeners the output grew (unless the job ended meanwhile: the
    // finished event says so).
    [self](atom::progress) {
      auto& st = self->state;
      st.progress_scheduled = false;
      st.store_retry_scheduled = false;
      persist_output(self);
      auto last = st.buffer->last_sequence();
      if (last > st.announced_sequence && !finished(self)) {
        st.announced_sequence = last;
        read_progress(self);
        self->send(st.ctx.scheduler, atom::output_v,
                   output_news{st.info.id, st.info.session_id,
                               st.buffer->stats(), st.info.progress});
      }
    },
    // The launch takes long: answer waiting status requests without a pid.
    [self](atom::settle) { answer_pid_waiters(self); },
  };
}

} // namespace jobd

// The JOB core's part in workflows: attempts of a job with options.retry
// (record the one that ended, back off, start the next on a new backend)
// and SCHEDULER's holds (why a pending job waits; a start time or backoff
// it waits out on its own timer and then reports due).
#include "actors/core/job_core_detail.hpp"

#include "actors/core/timing.hpp"
#include "protocol/retry.hpp"

#include <caf/event_based_actor.hpp>

#include <random>

namespace jobd::core_detail {

namespace {

attempt_record record_of(const job_info& info) {
  attempt_record r;
  r.attempt = info.attempt;
  r.started_at = info.started_at;
  r.finished_at = info.finished_at;
  r.status = to_string(info.status);
  r.exit_code = info.exit_code;
  r.signal = info.signal;
  r.error_code = info.error_code;
  return r;
}

// A uniform draw from [0, 1) with 53 random bits of splitmix64 (the same on
// every platform, unlike std::uniform_real_distribution). Only a job that
// retries with jitter pays for the seed.
double draw(job_core_state& st) {
  if (!st.jitter_seeded) {
    auto seed = st.ctx.defaults.retry_seed;
    if (seed == 0) {
      std::random_device rd;
      seed = (uint64_t{rd()} << 32) ^ rd();
    }
    st.jitter_state = seed;
    st.jitter_seeded = true;
  }
  auto z = (st.jitter_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Arms the release deadline for the wall-clock time `target`; due at once
// (reported now) if it passed.
void arm_release(self_ptr self, timestamp_ms target) {
  auto& st = self->state;
  st.release_target = target;
  auto left = target - now_ms();
  if (left <= 0) {
    st.release_at.reset();
    release_due(self);
    return;
  }
  st.release_saturated = left > max_delay_ms;
  st.release_at = deadline_after(self->clock().now(), left);
  arm(self);
}

} // namespace

bool maybe_retry(self_ptr self, job_status previous) {
  auto& st = self->state;
  auto& info = st.info;
  // A stop asked for (cancel, shutdown) ends the job; so does anyone
  // waiting for it to stop.
  if (st.stopping == stop_reason::cancel || st.stopping == stop_reason::shutdown
      || !st.cancellers.empty() || !st.stoppers.empty())
    return false;
  if (info.attempt >= info.max_attempts || info.attempt < 1)
    return false;
  const auto& policy = st.ctx.spec->retry;
  auto now = now_ms();
  info.finished_at = now;
  if (st.started_steady_ms > 0)
    info.run_ms = steady_ms() - st.started_steady_ms;
  if (!should_retry(policy, info))
    return false;
  info.attempts.push_back(record_of(info));
  auto delay
    = retry_delay_ms(policy, info.attempt, policy.jitter ? draw(st) : 0.0);
  // delay <= max_backoff_ms <= 2^53: no overflow past the wall clock.
  info.next_attempt_at = now + delay;
  info.status = job_status::pending;
  info.pending_reason = pending_reasons::backoff;
  info.waiting_for.clear();
  // The job's own fields describe the attempt to come; `attempts` keeps
  // what the ended one did.
  info.started_at = 0;
  info.finished_at = 0;
  info.run_ms = 0;
  info.exit_code = -1;
  info.signal = 0;
  info.error_code.clear();
  info.error.clear();
  info.pid = 0;
  info.process_start.clear();
  info.tracking.clear();
  info.usage = resource_usage{};
  info.paused = false;
  info.paused_at = 0;
  info.stdin_open = info.input != stdin_mode::null;
  // Per-attempt state: the next backend starts from scratch.
  st.backend.reset();
  st.spawned = false;
  st.exited = false;
  st.wait_status = 0;
  st.eof[0] = st.eof[1] = false;
  st.announced = false;
  st.stopping = stop_reason::none;
  st.grace_ms = st.ctx.spec->kill_grace_ms;
  st.started_steady_ms = 0;
  st.timeout_at.reset();
  st.escalate_at.reset();
  st.timeout_left.reset();
  st.paused_steady_ms = 0;
  st.early_input.clear();
  st.early_close = false;
  st.tail[0].clear();
  st.tail[1].clear();
  st.progress_dirty = false;
  answer_pid_waiters(self);
  emit(self, transition::retrying, previous);
  // Waiters stay (a wait until exit answers on the final end); those for
  // output go on with the next attempt's.
  st.release_target = info.next_attempt_at;
  st.release_saturated = false;
  if (delay <= 0) {
    release_due(self);
  } else {
    st.release_at = deadline_after(self->clock().now(), delay);
    arm(self);
  }
  return true;
}

void record_final_attempt(self_ptr self) {
  auto& info = self->state.info;
  if (info.max_attempts <= 1 || info.attempt < 1 || info.started_at == 0)
    return; // no retry policy, or no attempt ran (cancelled while waiting)
  info.attempts.push_back(record_of(info));
}

void begin_attempt(self_ptr self) {
  auto& st = self->state;
  if (!st.backend)
    st.backend = st.ctx.kind->make_backend(st.ctx);
  // A re-attached job goes on with the attempt it had.
  if (st.ctx.reattach.empty() || st.info.attempt == 0)
    st.info.attempt += 1;
  st.buffer->set_attempt(st.info.attempt);
  st.info.pending_reason.clear();
  st.info.waiting_for.clear();
  st.info.next_attempt_at = 0;
  st.release_at.reset();
}

void apply_hold(self_ptr self, job_hold& hold) {
  auto& st = self->state;
  auto& info = st.info;
  if (info.status != job_status::pending)
    return; // started or ended meanwhile
  if (!hold.fail_code.empty()) {
    st.release_at.reset();
    info.pending_reason.clear();
    info.waiting_for = std::move(hold.waiting_for);
    finish_unstarted(self, std::move(hold.fail_message),
                     hold.fail_code.c_str());
    return;
  }
  // SCHEDULER leaves the dependencies to the kind (a Slurm job's
  // --dependency): the backend sees it in the context.
  if (hold.reason == pending_reasons::cluster)
    st.ctx.kind_dependencies = true;
  bool changed = hold.reason != info.pending_reason
                 || hold.waiting_for != info.waiting_for;
  info.pending_reason = std::move(hold.reason);
  info.waiting_for = std::move(hold.waiting_for);
  timestamp_ms target = 0;
  if (info.pending_reason == pending_reasons::scheduled)
    target = info.scheduled_for;
  else if (info.pending_reason == pending_reasons::backoff)
    target = info.next_attempt_at;
  if (target == 0) {
    st.release_at.reset();
  } else if (!st.release_at || st.release_target != target) {
    // An armed deadline for the same time stays (measured once).
    if (changed)
      emit_update(self);
    arm_release(self, target);
    return;
  }
  if (changed)
    emit_update(self);
}

void release_due(self_ptr self) {
  auto& st = self->state;
  auto& info = st.info;
  if (info.status != job_status::pending)
    return;
  if (st.release_saturated) {
    // A century passed on a deadline further away: measure the rest.
    st.release_saturated = false;
    arm_release(self, st.release_target);
    return;
  }
  st.release_at.reset();
  // SCHEDULER takes `queued` from a job it holds for a time as "due".
  info.pending_reason = pending_reasons::queued;
  emit_update(self);
}

} // namespace jobd::core_detail

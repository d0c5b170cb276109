// Working with a running job: its stdin, signals, pause and resume, its
// terminal's size, and the progress its output tells. The checks of what a
// job's state allows are here once; the backend does the work.
#include "actors/core/job_core_detail.hpp"

#include "actors/core/timing.hpp"

#include <caf/event_based_actor.hpp>

namespace jobd::core_detail {

namespace {

caf::error not_running(const job_info& info, const char* what) {
  if (is_terminal(info.status))
    return make_tool_error(codes::job_already_finished,
                           "Job " + info.id + " already finished ("
                             + to_string(info.status) + "): cannot " + what,
                           {{"status", json_quote(to_string(info.status))},
                            {"jobId", json_quote(info.id)}});
  return make_tool_error(codes::job_not_running,
                         "Job " + info.id + " is " + to_string(info.status)
                           + ", not running: cannot " + what,
                         {{"status", json_quote(to_string(info.status))},
                          {"jobId", json_quote(info.id)}});
}

caf::error not_supported(const job_info& info, std::string message) {
  return make_tool_error(
    codes::not_supported, std::move(message),
    {{"jobId", json_quote(info.id)}, {"kind", json_quote(info.kind)}});
}

// True once the backend runs the work and it has not ended.
bool live(self_ptr self) {
  auto& st = self->state;
  return st.info.status == job_status::running && st.spawned && !st.exited;
}

} // namespace

caf::result<input_result> take_input(self_ptr self, std::string& bytes,
                                     bool close) {
  auto& st = self->state;
  auto& info = st.info;
  if (is_terminal(info.status))
    return not_running(info, "send input");
  if (info.input == stdin_mode::null)
    return make_tool_error(
      codes::stdin_not_open,
      "Job " + info.id
        + " has no stdin to write to: start it with options.stdin \"pipe\" "
          "or options.tty true",
      {{"jobId", json_quote(info.id)}});
  if (!info.stdin_open)
    return make_tool_error(codes::stdin_closed,
                           "The stdin of job " + info.id + " is closed",
                           {{"jobId", json_quote(info.id)}});
  auto limit = st.ctx.defaults.max_stdin_bytes;
  input_result result{info.id, bytes.size(), 0, close};
  if (!st.spawned) {
    // Pending, or being launched: held here, in order, within the limit.
    if (st.early_input.size() + bytes.size() > limit)
      return make_tool_error(
        codes::stdin_full,
        "The stdin queue of job " + info.id + " is full ("
          + std::to_string(limit) + " bytes, --max-stdin-bytes)",
        {{"jobId", json_quote(info.id)}, {"limit", std::to_string(limit)}});
    st.early_input += bytes;
    st.early_close = st.early_close || close;
    result.queued = st.early_input.size();
  } else {
    uint64_t queued = 0;
    switch (st.backend->write_input(std::move(bytes), close, queued)) {
      case input_outcome::ok:
        break;
      case input_outcome::full:
        return make_tool_error(
          codes::stdin_full,
          "The stdin queue of job " + info.id + " is full ("
            + std::to_string(limit)
            + " bytes, --max-stdin-bytes): wait until the job read some",
          {{"jobId", json_quote(info.id)},
           {"limit", std::to_string(limit)},
           {"queued", std::to_string(queued)}});
      case input_outcome::closed:
        stdin_closed(self);
        return make_tool_error(codes::stdin_closed,
                               "The stdin of job " + info.id + " is closed",
                               {{"jobId", json_quote(info.id)}});
      case input_outcome::not_open:
        return make_tool_error(codes::stdin_not_open,
                               "Job " + info.id + " has no stdin to write to",
                               {{"jobId", json_quote(info.id)}});
    }
    result.queued = queued;
  }
  if (close) {
    // No more input is taken, whatever is still queued.
    info.stdin_open = false;
    emit_update(self);
  }
  return result;
}

void hand_early_input(self_ptr self) {
  auto& st = self->state;
  if (st.early_input.empty() && !st.early_close)
    return;
  uint64_t queued = 0;
  auto outcome = st.backend->write_input(std::move(st.early_input),
                                         st.early_close, queued);
  st.early_input.clear();
  st.early_close = false;
  if (outcome == input_outcome::closed)
    stdin_closed(self);
}

void stdin_closed(self_ptr self) {
  auto& info = self->state.info;
  if (!info.stdin_open)
    return;
  info.stdin_open = false;
  if (!finished(self))
    emit_update(self);
}

caf::result<signal_result> signal_job(self_ptr self, int32_t sig,
                                      bool whole_tree) {
  auto& st = self->state;
  if (!live(self))
    return not_running(st.info, "signal it");
  signal_result result{st.info.id, sig, whole_tree, false};
  result.delivered = st.backend->signal(sig, whole_tree);
  return result;
}

caf::result<job_info> pause_job(self_ptr self, bool pause) {
  auto& st = self->state;
  auto& info = st.info;
  if (!live(self))
    return not_running(info, pause ? "pause it" : "resume it");
  if (info.paused == pause)
    return current_info(self);
  if (!st.backend->freeze(pause))
    return not_supported(info, "Jobs of kind " + info.kind + " cannot be "
                                 + (pause ? "paused" : "resumed"));
  auto now = self->clock().now();
  if (pause) {
    info.paused = true;
    info.paused_at = now_ms();
    st.paused_steady_ms = steady_ms();
    // The timeout clock stops while paused.
    if (st.timeout_at) {
      st.timeout_left = std::max(*st.timeout_at - now,
                                 job_core_state::time_point::duration::zero());
      st.timeout_at.reset();
    }
  } else {
    info.paused = false;
    info.paused_at = 0;
    info.paused_ms += steady_ms() - st.paused_steady_ms;
    if (st.timeout_left) {
      st.timeout_at = now + *st.timeout_left;
      st.timeout_left.reset();
      arm(self);
    }
  }
  emit_update(self);
  return current_info(self);
}

void follow_queue_clock(self_ptr self) {
  auto& st = self->state;
  // Only a kind without slots presents a started job as queued.
  if (st.ctx.kind->takes_slot() || finished(self) || st.info.paused)
    return;
  auto now = self->clock().now();
  auto queued = current_info(self).status == job_status::pending;
  if (queued && st.timeout_at) {
    st.timeout_left = std::max(*st.timeout_at - now,
                               job_core_state::time_point::duration::zero());
    st.timeout_at.reset();
  } else if (!queued && st.timeout_left) {
    st.timeout_at = now + *st.timeout_left;
    st.timeout_left.reset();
    arm(self);
  }
}

void thaw(self_ptr self) {
  auto& st = self->state;
  auto& info = st.info;
  if (!info.paused)
    return;
  if (live(self))
    st.backend->freeze(false);
  info.paused = false;
  info.paused_at = 0;
  info.paused_ms += steady_ms() - st.paused_steady_ms;
  // A stopped job has no timeout to run out any more.
  st.timeout_left.reset();
}

caf::result<job_info> resize_job(self_ptr self, int32_t cols, int32_t rows) {
  auto& st = self->state;
  auto& info = st.info;
  if (info.input != stdin_mode::tty)
    return not_supported(info, "Job " + info.id
                                 + " has no terminal: start it with "
                                   "options.tty true");
  if (!live(self))
    return not_running(info, "resize its terminal");
  if (!st.backend->resize(cols, rows))
    return not_supported(info, "The terminal of job " + info.id
                                 + " could not be resized");
  info.cols = cols;
  info.rows = rows;
  emit_update(self);
  return current_info(self);
}

void note_output(self_ptr self, stream_kind s, const std::string& bytes) {
  auto& st = self->state;
  // Twice a line's worth: the last line may end in the bytes before.
  constexpr size_t keep = 2 * max_progress_line;
  st.last_tail = s == stream_kind::out ? 0 : 1;
  auto& tail = st.tail[st.last_tail];
  if (bytes.size() >= keep) {
    tail.assign(bytes, bytes.size() - keep, keep);
  } else {
    tail += bytes;
    if (tail.size() > keep)
      tail.erase(0, tail.size() - keep);
  }
  st.progress_dirty = true;
}

bool read_progress(self_ptr self) {
  auto& st = self->state;
  if (!st.progress_dirty)
    return false;
  st.progress_dirty = false;
  // Whichever stream shows progress (tqdm writes to stderr), the one that
  // wrote last first.
  job_progress found;
  bool any = false;
  for (int i : {st.last_tail, 1 - st.last_tail}) {
    auto& tail = st.tail[i];
    if (tail.empty())
      continue;
    auto line = last_progress_line(tail);
    job_progress p;
    bool ok = st.progress_re.empty() ? parse_progress(line, p)
                                     : st.progress_re.read(line, p);
    if (ok) {
      found = std::move(p);
      any = true;
      break;
    }
  }
  if (!any)
    return false;
  auto& old = st.info.progress;
  if (old.known && old.percent == found.percent && old.current == found.current
      && old.total == found.total)
    return false;
  found.known = true;
  found.at = now_ms();
  old = std::move(found);
  return true;
}

} // namespace jobd::core_detail

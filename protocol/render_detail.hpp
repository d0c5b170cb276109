// Internal to render.cpp, render_control.cpp and render_workflows.cpp: the
// small field writers and the writers of the results added for issue 11
// (stdin, signals, pause, restart, waiting on many, run and wait, progress,
// usage) and issue 12 (workflows).
#pragma once

#include "protocol/json.hpp"
#include "protocol/model.hpp"

#include <string_view>

namespace jobd::protocol::render_detail {

inline void write_uint(json_writer& w, const char* key, uint64_t x) {
  write_key(w, key);
  w.Uint64(x);
}

inline void write_int(json_writer& w, const char* key, int64_t x) {
  write_key(w, key);
  w.Int64(x);
}

inline void write_bool(json_writer& w, const char* key, bool x) {
  write_key(w, key);
  w.Bool(x);
}

inline void write_str(json_writer& w, const char* key, std::string_view x) {
  write_key(w, key);
  write_string(w, x);
}

/// Empty strings mean "none" in the model.
inline void write_nstr(json_writer& w, const char* key, std::string_view x) {
  write_key(w, key);
  if (x.empty())
    w.Null();
  else
    write_string(w, x);
}

inline void write_time(json_writer& w, const char* key, timestamp_ms ts) {
  write_key(w, key);
  write_timestamp(w, ts);
}

inline void write_status(json_writer& w, job_status st) {
  write_key(w, "status");
  w.String(to_string(st));
}

inline void write_success(json_writer& w) {
  w.StartObject();
  write_bool(w, "success", true);
}

/// A job's status object (render.cpp).
void write_job(json_writer& w, const job_info& job, timestamp_ms now);

/// The exit fields of a job as its status shows them: exitCode, signal,
/// error, errorCode, durationMs (render.cpp).
void write_exit_fields(json_writer& w, const job_info& job, timestamp_ms now);

/// The issue-11 fields of a job's status: stdin, stdinOpen, terminal,
/// paused, pausedAt, pausedMs, restartOf, idempotencyKey, progress, usage;
/// and issue 13's security (render_control.cpp).
void write_job_controls(json_writer& w, const job_info& job);

/// The same for a list item: paused, restartOf, progress, usage.
void write_list_controls(json_writer& w, const job_info& job);

/// `usage` of metrics (per session and overall).
void write_usage_totals(json_writer& w, const usage_totals& u);

/// jobId, status, queuePosition, deduplicated and restartOf of a submit.
void write_submit_fields(json_writer& w, const submit_result& x);

void write_submit_reply(json_writer& w, const submit_reply& x,
                        timestamp_ms now);
void write_wait_many(json_writer& w, const wait_many_result& x,
                     timestamp_ms now);
void write_input_result(json_writer& w, const input_result& x);
void write_signal_result(json_writer& w, const signal_result& x);

/// The workflow fields of a job, status and list item alike
/// (render_workflows.cpp): pendingReason, dependsOn, dependencyCondition,
/// waitingFor, scheduledFor, scheduleId, template, attempt, maxAttempts,
/// nextAttemptAt, attempts; each only when it says something.
void write_job_workflow(json_writer& w, const job_info& job);

/// `workflows` of metrics.
void write_workflow_metrics(json_writer& w, const metrics_snapshot& x);

void write_schedule_result(json_writer& w, const schedule_info& x);
void write_schedule_list(json_writer& w, const schedule_list& x);
void write_template_result(json_writer& w, const job_template& x);
void write_template_list(json_writer& w, const template_list& x);
void write_delete_result(json_writer& w, const delete_result& x);

} // namespace jobd::protocol::render_detail

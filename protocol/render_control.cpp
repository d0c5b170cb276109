// Rendering of the issue-11 results and job fields: run-and-wait submits,
// waiting on many jobs, stdin, signals, progress, resource usage.
#include "protocol/render_detail.hpp"

#include <cmath>

namespace jobd::protocol::render_detail {

namespace {

// A progress number: null when unknown (negative in the model); a whole
// number (a count, mostly) as an integer.
void write_known(json_writer& w, const char* key, double x) {
  write_key(w, key);
  if (x < 0)
    w.Null();
  else if (x == std::floor(x) && x < 9007199254740992.0)
    w.Int64(static_cast<int64_t>(x));
  else
    write_double(w, x);
}

void write_progress(json_writer& w, const job_progress& p) {
  if (!p.known)
    return;
  write_key(w, "progress");
  w.StartObject();
  write_known(w, "percent", p.percent);
  write_known(w, "current", p.current);
  write_known(w, "total", p.total);
  write_str(w, "text", p.text);
  write_time(w, "at", p.at);
  w.EndObject();
}

// The figures when known; limitExceeded whenever a limit stopped the job.
void write_usage(json_writer& w, const resource_usage& u) {
  if (!u.known && u.limit_exceeded.empty())
    return;
  write_key(w, "usage");
  w.StartObject();
  if (u.known) {
    write_int(w, "cpuUserMs", u.cpu_user_ms);
    write_int(w, "cpuSystemMs", u.cpu_system_ms);
    write_int(w, "maxRssKb", u.max_rss_kb);
  }
  if (!u.limit_exceeded.empty())
    write_str(w, "limitExceeded", u.limit_exceeded);
  w.EndObject();
}

void write_dirs(json_writer& w, const char* key,
                const std::vector<std::string>& dirs) {
  write_key(w, key);
  w.StartArray();
  for (auto& d : dirs)
    write_string(w, d);
  w.EndArray();
}

// `security`, always: an agent must see that a job runs unconfined too.
// limits: those in force, each with what enforces it.
void write_security(json_writer& w, const job_security& s) {
  write_key(w, "security");
  w.StartObject();
  write_key(w, "limits");
  w.StartObject();
  const std::pair<const char*, int64_t> limits[] = {
    {limit_names::cpu_seconds, s.limits.cpu_seconds},
    {limit_names::memory_bytes, s.limits.memory_bytes},
    {limit_names::max_processes, s.limits.max_processes},
    {limit_names::open_files, s.limits.open_files},
    {limit_names::file_size_bytes, s.limits.file_size_bytes},
  };
  for (auto& [name, value] : limits) {
    if (value <= 0)
      continue;
    write_key(w, name);
    w.StartObject();
    write_int(w, "value", value);
    auto by = s.enforced_by.find(name);
    write_str(w, "enforcedBy",
              by == s.enforced_by.end() ? std::string_view("rlimit")
                                        : std::string_view(by->second));
    w.EndObject();
  }
  w.EndObject();
  write_key(w, "sandbox");
  w.StartObject();
  write_bool(w, "enabled", s.sandboxed);
  if (s.sandboxed) {
    write_int(w, "landlockAbi", s.landlock_abi);
    write_dirs(w, "writable", s.writable);
    if (s.readable.empty())
      write_str(w, "readable", "all");
    else
      write_dirs(w, "readable", s.readable);
  }
  w.EndObject();
  write_str(w, "environment",
            s.env_policy.empty() ? std::string_view("inherit")
                                 : std::string_view(s.env_policy));
  w.EndObject();
}

// x / n, or null without jobs (or run time) to divide by.
void write_ratio(json_writer& w, const char* key, double x, double n) {
  write_key(w, key);
  if (n <= 0)
    w.Null();
  else
    write_double(w, x / n);
}

} // namespace

void write_job_controls(json_writer& w, const job_info& job) {
  write_key(w, "stdin");
  w.String(to_string(job.input));
  write_bool(w, "stdinOpen", job.stdin_open);
  if (job.input == stdin_mode::tty) {
    write_key(w, "terminal");
    w.StartObject();
    write_int(w, "cols", job.cols);
    write_int(w, "rows", job.rows);
    w.EndObject();
  }
  write_bool(w, "paused", job.paused);
  write_time(w, "pausedAt", job.paused ? job.paused_at : 0);
  write_int(w, "pausedMs", job.paused_ms);
  if (!job.restart_of.empty())
    write_str(w, "restartOf", job.restart_of);
  if (!job.idempotency_key.empty())
    write_str(w, "idempotencyKey", job.idempotency_key);
  write_progress(w, job.progress);
  write_usage(w, job.usage);
  write_security(w, job.security);
}

// Lists stay lean: paused only when it is.
void write_list_controls(json_writer& w, const job_info& job) {
  if (job.paused)
    write_bool(w, "paused", true);
  if (!job.restart_of.empty())
    write_str(w, "restartOf", job.restart_of);
  write_progress(w, job.progress);
  write_usage(w, job.usage);
}

void write_usage_totals(json_writer& w, const usage_totals& u) {
  write_key(w, "usage");
  w.StartObject();
  auto cpu = u.cpu_user_ms + u.cpu_system_ms;
  auto jobs = static_cast<double>(u.jobs);
  write_uint(w, "jobs", u.jobs);
  write_int(w, "cpuUserMs", u.cpu_user_ms);
  write_int(w, "cpuSystemMs", u.cpu_system_ms);
  write_int(w, "cpuMs", cpu);
  write_int(w, "runMs", u.run_ms);
  write_int(w, "maxRssKb", u.max_rss_kb);
  write_ratio(w, "avgCpuMs", static_cast<double>(cpu), jobs);
  write_ratio(w, "avgMaxRssKb", static_cast<double>(u.max_rss_kb_sum), jobs);
  // CPU seconds per second of run time: about the cores a job kept busy.
  write_ratio(w, "cpuPerRunSecond", static_cast<double>(cpu),
              static_cast<double>(u.run_ms));
  w.EndObject();
}

void write_submit_fields(json_writer& w, const submit_result& x) {
  write_str(w, "jobId", x.job_id);
  write_status(w, x.status);
  if (x.queue_position != 0)
    write_uint(w, "queuePosition", x.queue_position);
  if (x.status == job_status::pending && !x.pending_reason.empty())
    write_str(w, "pendingReason", x.pending_reason);
  if (x.deduplicated)
    write_bool(w, "deduplicated", true);
  if (!x.restart_of.empty())
    write_str(w, "restartOf", x.restart_of);
}

void write_submit_reply(json_writer& w, const submit_reply& x,
                        timestamp_ms now) {
  write_success(w);
  write_submit_fields(w, x.result);
  if (x.waited) {
    bool finished = is_terminal(x.job.status);
    write_bool(w, "finished", finished);
    write_exit_fields(w, x.job, now);
    write_key(w, "output");
    w.StartObject();
    write_str(w, "tail", x.output.tail);
    write_bool(w, "truncated", x.output.truncated);
    write_uint(w, "nextSince", x.output.next_since);
    w.EndObject();
    if (!finished)
      write_str(w, "message",
                "The job is still running after waitMs; it keeps running. "
                "Follow it with console_wait_job or console_get_job_output "
                "and its jobId.");
    write_key(w, "job");
    write_job(w, x.job, now);
  }
  w.EndObject();
}

void write_wait_many(json_writer& w, const wait_many_result& x,
                     timestamp_ms now) {
  write_success(w);
  write_str(w, "mode", x.all ? "all" : "any");
  write_str(w, "reason", x.reason);
  write_key(w, "ended");
  w.StartArray();
  for (auto& id : x.ended)
    write_string(w, id);
  w.EndArray();
  write_key(w, "jobs");
  w.StartArray();
  for (auto& job : x.jobs)
    write_job(w, job, now);
  w.EndArray();
  write_bool(w, "allEnded", !x.jobs.empty() && x.ended.size() >= x.jobs.size());
  write_bool(w, "anyEnded", !x.ended.empty());
  w.EndObject();
}

void write_input_result(json_writer& w, const input_result& x) {
  write_success(w);
  write_str(w, "jobId", x.job_id);
  write_uint(w, "bytes", x.bytes);
  write_uint(w, "queued", x.queued);
  write_bool(w, "closed", x.closed);
  w.EndObject();
}

void write_signal_result(json_writer& w, const signal_result& x) {
  write_success(w);
  write_str(w, "jobId", x.job_id);
  write_str(w, "signal", signal_name(x.signal));
  write_str(w, "target", x.whole_tree ? "tree" : "leader");
  write_bool(w, "delivered", x.delivered);
  w.EndObject();
}

} // namespace jobd::protocol::render_detail

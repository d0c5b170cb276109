// Rendering of the workflow fields and results (issue 12): a job's
// dependencies, start time, schedule, template and attempts; schedules,
// templates and their deletion; the workflow counters of metrics.
#include "protocol/render_detail.hpp"

namespace jobd::protocol::render_detail {

namespace {

void write_strings(json_writer& w, const char* key,
                   const std::vector<std::string>& items) {
  write_key(w, key);
  w.StartArray();
  for (auto& x : items)
    write_string(w, x);
  w.EndArray();
}

void write_attempt(json_writer& w, const attempt_record& a) {
  w.StartObject();
  write_int(w, "attempt", a.attempt);
  write_time(w, "startedAt", a.started_at);
  write_time(w, "finishedAt", a.finished_at);
  write_str(w, "status", a.status);
  write_key(w, "exitCode");
  if (a.exit_code == -1)
    w.Null();
  else
    w.Int(a.exit_code);
  write_key(w, "signal");
  if (a.signal == 0)
    w.Null();
  else
    write_string(w, signal_name(a.signal));
  write_nstr(w, "errorCode", a.error_code);
  w.EndObject();
}

// The JSON object text a schedule or template keeps for its job, as
// command, args and options fields (options {} when it has none).
void write_job_object(json_writer& w, const std::string& job) {
  rapidjson::Document doc;
  doc.Parse(job.data(), job.size());
  static const rapidjson::Value none;
  auto field = [&](const char* name) -> const rapidjson::Value& {
    auto v = member(doc, name);
    return v != nullptr ? *v : none;
  };
  auto& command = field("command");
  write_str(w, "command", command.IsString() ? str(command) : "");
  write_key(w, "args");
  auto& args = field("args");
  w.StartArray();
  if (args.IsArray())
    for (auto& a : args.GetArray())
      if (a.IsString())
        write_string(w, str(a));
  w.EndArray();
  write_key(w, "options");
  auto& options = field("options");
  if (options.IsObject()) {
    options.Accept(w);
  } else {
    w.StartObject();
    w.EndObject();
  }
}

void write_schedule(json_writer& w, const schedule_info& x) {
  auto& s = x.spec;
  w.StartObject();
  write_str(w, "scheduleId", s.id);
  if (!s.name.empty())
    write_str(w, "name", s.name);
  write_str(w, "cron", s.cron);
  write_str(w, "timezone", s.timezone);
  write_job_object(w, s.job);
  write_str(w, "overlap", to_string(s.overlap));
  write_bool(w, "catchUp", s.catch_up);
  write_bool(w, "enabled", s.enabled);
  write_time(w, "createdAt", s.created_at);
  write_time(w, "updatedAt", s.updated_at);
  write_time(w, "lastFiredAt", s.last_fired_at);
  if (!s.last_job_id.empty())
    write_str(w, "lastJobId", s.last_job_id);
  write_uint(w, "fired", s.fired);
  write_uint(w, "skipped", s.skipped);
  write_uint(w, "missed", s.missed);
  if (!s.last_error.empty())
    write_str(w, "lastError", s.last_error);
  write_key(w, "nextFirings");
  w.StartArray();
  for (auto t : x.next_firings)
    write_timestamp(w, t);
  w.EndArray();
  w.EndObject();
}

void write_template(json_writer& w, const job_template& t) {
  w.StartObject();
  write_str(w, "name", t.name);
  if (!t.description.empty())
    write_str(w, "description", t.description);
  write_job_object(w, t.job);
  write_key(w, "parameters");
  w.StartObject();
  for (auto& [name, p] : t.parameters) {
    write_string(w, name);
    w.StartObject();
    if (!p.description.empty())
      write_str(w, "description", p.description);
    if (p.has_default)
      write_str(w, "default", p.default_value);
    if (!p.pattern.empty())
      write_str(w, "pattern", p.pattern);
    w.EndObject();
  }
  w.EndObject();
  write_time(w, "createdAt", t.created_at);
  write_time(w, "updatedAt", t.updated_at);
  w.EndObject();
}

} // namespace

void write_job_workflow(json_writer& w, const job_info& job) {
  bool pending = job.status == job_status::pending;
  if (pending && !job.pending_reason.empty())
    write_str(w, "pendingReason", job.pending_reason);
  if (!job.depends_on.empty()) {
    write_strings(w, "dependsOn", job.depends_on);
    write_str(w, "dependencyCondition", to_string(job.condition));
    if (pending)
      write_strings(w, "waitingFor", job.waiting_for);
  }
  if (job.scheduled_for != 0)
    write_time(w, "scheduledFor", job.scheduled_for);
  if (!job.schedule_id.empty())
    write_str(w, "scheduleId", job.schedule_id);
  if (!job.template_name.empty())
    write_str(w, "template", job.template_name);
  if (job.max_attempts > 1) {
    write_int(w, "attempt", job.attempt);
    write_int(w, "maxAttempts", job.max_attempts);
    if (pending && job.next_attempt_at != 0)
      write_time(w, "nextAttemptAt", job.next_attempt_at);
    write_key(w, "attempts");
    w.StartArray();
    for (auto& a : job.attempts)
      write_attempt(w, a);
    w.EndArray();
  }
}

void write_workflow_metrics(json_writer& w, const metrics_snapshot& x) {
  write_key(w, "workflows");
  w.StartObject();
  write_uint(w, "retries", x.retries);
  write_uint(w, "dependencyFailures", x.dependency_failures);
  write_uint(w, "scheduleFirings", x.schedule_firings);
  write_uint(w, "scheduleSkips", x.schedule_skips);
  write_uint(w, "scheduleMisses", x.schedule_misses);
  w.EndObject();
}

void write_schedule_result(json_writer& w, const schedule_info& x) {
  write_success(w);
  write_key(w, "schedule");
  write_schedule(w, x);
  w.EndObject();
}

void write_schedule_list(json_writer& w, const schedule_list& x) {
  write_success(w);
  write_key(w, "schedules");
  w.StartArray();
  for (auto& s : x.schedules)
    write_schedule(w, s);
  w.EndArray();
  write_uint(w, "total", x.schedules.size());
  w.EndObject();
}

void write_template_result(json_writer& w, const job_template& x) {
  write_success(w);
  write_key(w, "template");
  write_template(w, x);
  w.EndObject();
}

void write_template_list(json_writer& w, const template_list& x) {
  write_success(w);
  write_key(w, "templates");
  w.StartArray();
  for (auto& t : x.templates)
    write_template(w, t);
  w.EndArray();
  write_uint(w, "total", x.templates.size());
  w.EndObject();
}

void write_delete_result(json_writer& w, const delete_result& x) {
  write_success(w);
  write_str(w, x.schedule ? "scheduleId" : "name", x.id);
  write_bool(w, "deleted", x.deleted);
  w.EndObject();
}

} // namespace jobd::protocol::render_detail

// Parsing the workflow arguments (issue 12): the dependsOn, retry, startAt
// and delayMs options of a job, console_execute_async with a template, and
// the tools of schedules and templates. Runs after validate.cpp and
// validate_workflows.cpp checked them.
#include "protocol/arguments_detail.hpp"
#include "protocol/iso8601.hpp"
#include "protocol/templates.hpp"
#include "protocol/validate.hpp"

#include <algorithm>

namespace jobd::protocol::arguments_detail {

namespace {

void parse_retry(const Value& retry, retry_policy& out) {
  out.max_attempts = static_cast<int32_t>(int_or(&retry, "maxAttempts", 1));
  out.backoff_ms = int_or(&retry, "backoffMs", out.backoff_ms);
  if (auto f = member(retry, "backoffFactor"); f != nullptr && f->IsNumber())
    out.backoff_factor = f->GetDouble();
  out.max_backoff_ms = int_or(&retry, "maxBackoffMs", out.max_backoff_ms);
  out.jitter = bool_or(&retry, "jitter", true);
  if (auto on = member(retry, "on"); on != nullptr && on->IsArray()) {
    out.on_failure = out.on_timeout = false;
    for (auto& x : on->GetArray()) {
      if (x.IsString() && str(x) == "failure")
        out.on_failure = true;
      else if (x.IsString() && str(x) == "timeout")
        out.on_timeout = true;
    }
  }
  if (auto codes = member(retry, "exitCodes");
      codes != nullptr && codes->IsArray())
    for (auto& x : codes->GetArray())
      if (x.IsInt())
        out.exit_codes.push_back(x.GetInt());
}

// {command, args, options} of a schedule's or a template's arguments, as
// the JSON object text they keep (the fields absent stay absent).
std::string job_text(const Value& args) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  for (auto name : {"command", "args", "options"}) {
    if (auto v = member(args, name)) {
      write_key(w, name);
      v->Accept(w);
    }
  }
  w.EndObject();
  return std::string(view(sb));
}

overlap_policy overlap_of(const Value& args) {
  overlap_policy out = overlap_policy::skip;
  if (auto v = member(args, "overlap"); v != nullptr && v->IsString())
    from_string(str(*v), out);
  return out;
}

bool parse_create(const tool_catalog& catalog, const Value& args,
                  tool_request& out, tool_error& err) {
  schedule_spec spec;
  spec.name = string_or(&args, "name", "");
  spec.cron = string_or(&args, "cron", "");
  spec.timezone = string_or(&args, "timezone", "UTC");
  spec.job = job_text(args);
  spec.overlap = overlap_of(args);
  spec.catch_up = bool_or(&args, "catchUp", false);
  spec.enabled = bool_or(&args, "enabled", true);
  job_spec job;
  if (!parse_job_object(catalog, spec.job, job, err))
    return false;
  out = std::move(spec);
  return true;
}

bool parse_update(const tool_catalog& catalog, const Value& args,
                  tool_request& out, tool_error& err) {
  schedule_update up;
  up.id = str(args["scheduleId"]);
  auto& v = up.values;
  v.id = up.id;
  if ((up.has_name = args.HasMember("name")))
    v.name = string_or(&args, "name", "");
  if ((up.has_cron = args.HasMember("cron")))
    v.cron = string_or(&args, "cron", "");
  if ((up.has_timezone = args.HasMember("timezone")))
    v.timezone = string_or(&args, "timezone", "UTC");
  if ((up.has_overlap = args.HasMember("overlap")))
    v.overlap = overlap_of(args);
  if ((up.has_catch_up = args.HasMember("catchUp")))
    v.catch_up = bool_or(&args, "catchUp", false);
  if ((up.has_enabled = args.HasMember("enabled")))
    v.enabled = bool_or(&args, "enabled", true);
  // Validation made sure command comes with args and options.
  if ((up.has_job = args.HasMember("command"))) {
    v.job = job_text(args);
    job_spec job;
    if (!parse_job_object(catalog, v.job, job, err))
      return false;
  }
  out = std::move(up);
  return true;
}

bool parse_save(const tool_catalog& catalog, const Value& args,
                tool_request& out, tool_error& err) {
  job_template tpl;
  tpl.name = str(args["name"]);
  tpl.description = string_or(&args, "description", "");
  tpl.job = job_text(args);
  if (auto params = member(args, "parameters")) {
    for (auto& m : params->GetObject()) {
      template_parameter p;
      p.description = string_or(&m.value, "description", "");
      if (auto d = member(m.value, "default")) {
        p.has_default = true;
        p.default_value = scalar_text(*d);
      }
      p.pattern = string_or(&m.value, "pattern", "");
      tpl.parameters.emplace(std::string(str(m.name)), std::move(p));
    }
  }
  if (!check_template(catalog, tpl, err))
    return false;
  out = std::move(tpl);
  return true;
}

} // namespace

void parse_workflow_options(const Value& options, timestamp_ms now,
                            job_spec& spec) {
  if (auto deps = member(options, "dependsOn");
      deps != nullptr && deps->IsArray()) {
    spec.depends_on.reserve(deps->Size());
    for (auto& x : deps->GetArray())
      if (x.IsString())
        spec.depends_on.emplace_back(str(x));
  }
  if (auto c = member(options, "dependencyCondition");
      c != nullptr && c->IsString())
    from_string(str(*c), spec.condition);
  if (auto retry = member(options, "retry");
      retry != nullptr && retry->IsObject())
    parse_retry(*retry, spec.retry);
  if (auto at = member(options, "startAt"); at != nullptr && at->IsString()) {
    timestamp_ms ts = 0;
    if (parse_iso8601(str(*at), ts))
      spec.start_at = ts;
  }
  // 0 is "at once": no start time to wait for.
  if (auto delay = int_or(&options, "delayMs", 0); delay > 0)
    spec.start_at = now + std::min(delay, limits::max_delay_ms);
}

template_call parse_template_call(const Value& args) {
  template_call call;
  call.name = str(args["template"]);
  if (auto params = member(args, "params"))
    for (auto& m : params->GetObject())
      call.params[std::string(str(m.name))] = scalar_text(m.value);
  auto options = member(args, "options");
  call.options = options != nullptr ? json_text(*options) : "{}";
  return call;
}

bool parse_workflow_tool(const tool_catalog& catalog, tool_id id,
                         const Value& args, tool_request& out,
                         tool_error& err) {
  switch (id) {
    case tool_id::create_schedule:
      return parse_create(catalog, args, out, err);
    case tool_id::update_schedule:
      return parse_update(catalog, args, out, err);
    case tool_id::list_schedules:
      out = list_schedules_call{};
      return true;
    case tool_id::delete_schedule:
      out = delete_schedule_call{std::string(str(args["scheduleId"]))};
      return true;
    case tool_id::save_template:
      return parse_save(catalog, args, out, err);
    case tool_id::list_templates:
      out = list_templates_call{};
      return true;
    case tool_id::delete_template:
      out = delete_template_call{std::string(str(args["name"]))};
      return true;
    default:
      invalid_argument(err, "name", "unknown tool");
      return false;
  }
}

} // namespace jobd::protocol::arguments_detail

// libFuzzer target: one input is one line for an mcp_session (the built-in
// configuration, and one with a second job kind and its kindOptions schema).
// Replies and the rendering of dummy results must always be single-line
// valid JSON; a dispatched call's pattern must compile.
#include "check_line.hpp"
#include "protocol/mcp_session.hpp"
#include "protocol/pattern.hpp"
#include "protocol/progress.hpp"
#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace jobd;
using namespace jobd::protocol;

using jobd::fuzz::check_line;

namespace {

job_info job_from(const std::string& id) {
  job_info j;
  j.id = id;
  j.kind = "process";
  j.command = id;
  j.args = {id, "x"};
  j.session_id = id;
  j.created_at = 1;
  j.started_at = static_cast<timestamp_ms>(id.size()) * 1000;
  j.exit_code = static_cast<int32_t>(id.size()) - 1;
  j.signal = static_cast<int32_t>(id.size() % 70);
  j.error = id;
  j.tags = {{"t", "\"" + id + "\""}, {id, "12"}};
  return j;
}

output_page page_from(const std::string& id) {
  output_page p;
  p.job_id = id;
  p.chunks = {{1, 5, stream_kind::out, id}, {2, 6, stream_kind::err, id + id}};
  p.next_since = 2;
  p.has_tail = !id.empty();
  p.tail = id;
  return p;
}

// A plausible result for each kind of request, built from its own fields.
tool_result dummy_result(const tool_request& req) {
  switch (req.index()) {
    case 0: {
      auto& spec = std::get<job_spec>(req);
      auto j = job_from(spec.command);
      j.args = spec.args;
      j.tags = spec.tags;
      j.session_id = spec.session_id;
      j.working_directory = spec.working_directory;
      j.kind = spec.kind;
      j.tracking = spec.kind == "process" ? "pgroup" : "";
      // Validation compiled the progress pattern: so must the job core.
      if (!spec.progress_pattern.empty()) {
        progress_pattern p;
        std::string why;
        if (!progress_pattern::compile(spec.progress_pattern, p, why))
          std::abort();
      }
      // kindOptions arrive as JSON text: an object, or nothing.
      if (!spec.kind_options.empty()) {
        rapidjson::Document d;
        d.Parse(spec.kind_options.data(), spec.kind_options.size());
        if (d.HasParseError() || !d.IsObject())
          std::abort();
      }
      return j;
    }
    case 1:
      return job_from(std::get<std::string>(req));
    case 2:
      return page_from(std::get<output_call>(req).job_id);
    case 3:
      return cancel_result{std::get<cancel_call>(req).job_id,
                           job_status::cancelled, ""};
    case 4: {
      list_page page;
      auto& q = std::get<list_query>(req);
      page.jobs = {job_from(q.session_id), job_from(q.cursor)};
      page.jobs[0].tags = q.tags;
      page.next_cursor = q.cursor;
      return page;
    }
    case 5:
      return metrics_snapshot{};
    case 6:
      return cleanup_result{1, 2};
    case 8: {
      wait_many_result w;
      for (auto& id : std::get<wait_many_query>(req).job_ids)
        w.jobs.push_back(job_from(id));
      w.reason = "timeout";
      return w;
    }
    case 9: {
      auto& in = std::get<input_request>(req);
      return input_result{in.job_id, in.text.size(), in.text.size(), in.close};
    }
    case 10: {
      auto& sig = std::get<signal_request>(req);
      return signal_result{sig.job_id, sig.signal, sig.whole_tree, true};
    }
    case 11:
      return job_from(std::get<pause_request>(req).job_id);
    case 12:
      return job_from(std::get<resize_request>(req).job_id);
    case 13: {
      submit_result r;
      r.job_id = "new";
      r.restart_of = std::get<restart_request>(req).job_id;
      return r;
    }
    case 14: {
      // A template with a placeholder for each parameter the call gives:
      // instantiating it must answer, never crash.
      auto& call = std::get<template_call>(req);
      job_template tpl;
      tpl.name = call.name;
      std::string args;
      for (auto& [name, value] : call.params) {
        tpl.parameters[name].pattern = value.size() % 2 ? "" : ".*";
        args += (args.empty() ? "\"{{" : ",\"{{") + name + "}}\"";
      }
      tpl.job = R"({"command":"x","args":[)" + args + "]}";
      job_spec spec;
      tool_error err;
      if (instantiate(*default_catalog(), tpl, call, spec, err))
        return job_from(spec.template_name);
      return job_from(err.message);
    }
    case 15: {
      // Validation parsed the schedule's job: so must SCHEDULES.
      auto& spec = std::get<schedule_spec>(req);
      job_spec job;
      tool_error err;
      if (!parse_job_object(*default_catalog(), spec.job, job, err))
        std::abort();
      return schedule_info{spec, {1, 2}};
    }
    case 16: {
      auto& up = std::get<schedule_update>(req);
      job_spec job;
      tool_error err;
      if (up.has_job
          && !parse_job_object(*default_catalog(), up.values.job, job, err))
        std::abort();
      return schedule_info{up.values, {}};
    }
    case 17:
      return schedule_list{};
    case 18:
      return delete_result{std::get<delete_schedule_call>(req).id, true, true};
    case 19: {
      auto& tpl = std::get<job_template>(req);
      tool_error err;
      if (!check_template(*default_catalog(), tpl, err))
        std::abort();
      return tpl;
    }
    case 20:
      return template_list{};
    case 21:
      return delete_result{std::get<delete_template_call>(req).name, true,
                           false};
    default: {
      auto& q = std::get<wait_query>(req);
      // Validation compiled it: so must the job core.
      pattern p;
      std::string why;
      if (!pattern::compile(q.pattern, p, why))
        std::abort();
      p.search(q.job_id);
      wait_result w;
      w.job = job_from(q.job_id);
      w.output = page_from(q.pattern);
      w.reason = "timeout";
      return w;
    }
  }
}

void drive(mcp_session& session, std::string_view line) {
  std::vector<std::string> replies;
  auto act = session.handle_line(line, replies);
  for (auto& r : replies)
    check_line(r);
  if (auto call = std::get_if<dispatch_call>(&act)) {
    if (replies.size() != 0)
      std::abort();
    check_line(session.render_result(call->id, dummy_result(call->request)));
    tool_error err{codes::job_not_found,
                   std::string(line.substr(0, 64)),
                   {{"jobId", call->id}}};
    check_line(session.render_error(call->id, err));
    if (!call->progress_token.empty())
      check_line(render_progress(call->progress_token, 1, 2, line));
  } else if (auto cancel = std::get_if<cancel_request>(&act)) {
    check_line(render_rpc_error(cancel->id, -32800, "cancelled"));
  }
}

// A second kind whose options have every kind of constraint.
std::shared_ptr<const tool_catalog> two_kinds() {
  server_options o;
  o.kinds["scripted"] = R"({"type": "object", "additionalProperties": false,
    "required": ["steps"], "properties": {
      "steps": {"type": "array", "maxItems": 8, "items": {"type": "string",
        "maxLength": 64}},
      "exitCode": {"type": "integer", "minimum": 0, "maximum": 255},
      "mode": {"type": "string", "enum": ["fast", "slow"]}}})";
  o.output_byte_cap = 4096;
  o.max_wait_ms = 10;
  return std::make_shared<const tool_catalog>(std::move(o));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mcp_session persistent;
  static const auto catalog = two_kinds();
  static mcp_session configured{catalog};
  std::string_view line(reinterpret_cast<const char*>(data), size);
  mcp_session fresh;
  drive(fresh, line);
  drive(persistent, line);
  drive(configured, line);
  return 0;
}

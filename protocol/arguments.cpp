// Parsing checked tool arguments into the typed requests of model.hpp.
#include "protocol/json.hpp"
#include "protocol/tools.hpp"
#include "protocol/validate.hpp"

namespace jobd::protocol {

namespace {

using rapidjson::Value;

// Compact JSON text of a value (a tag's scalar, the kindOptions object).
std::string json_text(const Value& v) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  v.Accept(w);
  return std::string(view(sb));
}

void parse_tags(const Value* tags, std::map<std::string, std::string>& out) {
  if (tags == nullptr)
    return;
  for (auto& m : tags->GetObject())
    out[std::string(str(m.name))] = json_text(m.value);
}

// The schemas guarantee types and ranges; the checks keep a schema edit from
// turning into an assertion or a wrapped number.
int64_t int_or(const Value* options, const char* name, int64_t fallback) {
  auto v = member(options, name);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : fallback;
}

uint64_t uint_or(const Value* options, const char* name, uint64_t fallback) {
  auto v = member(options, name);
  return v != nullptr && v->IsUint64() ? v->GetUint64() : fallback;
}

bool bool_or(const Value* options, const char* name, bool fallback) {
  auto v = member(options, name);
  return v != nullptr && v->IsBool() ? v->GetBool() : fallback;
}

std::string string_or(const Value* obj, const char* name,
                      std::string fallback) {
  auto v = member(obj, name);
  return v != nullptr && v->IsString() ? std::string(str(*v)) : fallback;
}

void parse_statuses(const Value* v, std::vector<job_status>& out) {
  if (v == nullptr)
    return;
  job_status st;
  if (v->IsString()) {
    if (from_string(str(*v), st))
      out.push_back(st);
    return;
  }
  if (!v->IsArray())
    return;
  for (auto& x : v->GetArray())
    if (x.IsString() && from_string(str(x), st))
      out.push_back(st);
}

job_spec parse_execute(const server_options& server, const Value& args) {
  job_spec spec;
  spec.command = str(args["command"]);
  spec.kind = string_or(&args, "kind", server.default_kind);
  if (auto kind_options = member(args, "kindOptions"))
    spec.kind_options = json_text(*kind_options);
  if (auto a = member(args, "args")) {
    spec.args.reserve(a->Size());
    for (auto& x : a->GetArray())
      spec.args.emplace_back(str(x));
  }
  auto options = member(args, "options");
  if (options == nullptr)
    return spec;
  spec.session_id = string_or(options, "sessionId", "default");
  spec.working_directory = string_or(options, "workingDirectory", "");
  if (auto env = member(*options, "environment"))
    for (auto& m : env->GetObject())
      spec.environment[std::string(str(m.name))] = str(m.value);
  spec.timeout_ms = int_or(options, "timeout", use_default);
  spec.priority = static_cast<int32_t>(int_or(options, "priority", 5));
  parse_tags(member(*options, "tags"), spec.tags);
  spec.shell = bool_or(options, "shell", false);
  spec.kill_grace_ms = int_or(options, "killGraceMs", use_default);
  spec.output_byte_limit = int_or(options, "outputByteLimit", use_default);
  return spec;
}

output_call parse_output(const server_options& server, const Value& args) {
  output_call call;
  call.job_id = str(args["jobId"]);
  auto options = member(args, "options");
  auto& q = call.query;
  q.since = uint_or(options, "since", 0);
  q.latest = bool_or(options, "latest", false);
  q.limit = uint_or(options, "limit", 0);
  q.max_bytes = uint_or(options, "maxBytes", server.default_read_bytes);
  auto stream = string_or(options, "stream", "both");
  q.streams = stream == "stdout"   ? stream_filter::out
              : stream == "stderr" ? stream_filter::err
                                   : stream_filter::both;
  q.tail_lines = uint_or(options, "tail", 0);
  return call;
}

list_query parse_list(const Value& args) {
  list_query q;
  auto options = member(args, "options");
  if (options == nullptr) {
    q.limit = 100;
    return q;
  }
  parse_statuses(member(*options, "status"), q.statuses);
  q.session_id = string_or(options, "sessionId", "");
  parse_tags(member(*options, "tags"), q.tags);
  q.limit = uint_or(options, "limit", 100);
  q.cursor = string_or(options, "cursor", "");
  return q;
}

cleanup_query parse_cleanup(const Value& args) {
  cleanup_query q;
  auto options = member(args, "options");
  q.max_age_ms = int_or(options, "maxAge", 0);
  q.keep_count = uint_or(options, "keepCount", 0);
  parse_statuses(options ? member(*options, "statuses") : nullptr, q.statuses);
  q.session_id = string_or(options, "sessionId", "");
  return q;
}

wait_query parse_wait(const Value& args) {
  wait_query q;
  q.job_id = str(args["jobId"]);
  q.timeout_ms = int_or(&args, "timeoutMs", use_default);
  q.until = string_or(&args, "until", "exit") == "output" ? wait_until::output
                                                          : wait_until::exit;
  q.pattern = string_or(&args, "pattern", "");
  q.since = uint_or(&args, "since", 0);
  return q;
}

} // namespace

bool tool_catalog::parse_arguments(tool_id id, const Value& args,
                                   tool_request& out, tool_error& err) const {
  if (!validate_arguments(*this, id, args, err))
    return false;
  auto& server = options();
  switch (id) {
    case tool_id::execute:
      out = parse_execute(server, args);
      return true;
    case tool_id::status:
      out = std::string(str(args["jobId"]));
      return true;
    case tool_id::output:
      out = parse_output(server, args);
      return true;
    case tool_id::cancel: {
      cancel_call call;
      call.job_id = str(args["jobId"]);
      call.grace_ms = int_or(member(args, "options"), "graceMs", use_default);
      out = std::move(call);
      return true;
    }
    case tool_id::list:
      out = parse_list(args);
      return true;
    case tool_id::metrics:
      out = metrics_call{};
      return true;
    case tool_id::cleanup:
      out = parse_cleanup(args);
      return true;
    case tool_id::wait:
      out = parse_wait(args);
      return true;
  }
  invalid_argument(err, "name", "unknown tool");
  return false;
}

} // namespace jobd::protocol

// Parsing checked tool arguments into the typed requests of model.hpp.
#include "protocol/arguments_detail.hpp"
#include "protocol/json.hpp"
#include "protocol/tools.hpp"
#include "protocol/validate.hpp"

#include <csignal>

namespace jobd::protocol {

namespace {

using rapidjson::Value;
using namespace arguments_detail;

void parse_tags(const Value* tags, std::map<std::string, std::string>& out) {
  if (tags == nullptr)
    return;
  for (auto& m : tags->GetObject())
    out[std::string(str(m.name))] = json_text(m.value);
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

// options.limits (each validated to be 1 to its maximum); absent = 0.
void parse_limits(const Value* limits, resource_limits& out) {
  if (limits == nullptr)
    return;
  out.cpu_seconds = int_or(limits, limit_names::cpu_seconds, 0);
  out.memory_bytes = int_or(limits, limit_names::memory_bytes, 0);
  out.max_processes = int_or(limits, limit_names::max_processes, 0);
  out.open_files = int_or(limits, limit_names::open_files, 0);
  out.file_size_bytes = int_or(limits, limit_names::file_size_bytes, 0);
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
  // tty wins over stdin: the terminal is the job's stdin. cols and rows
  // are kept without tty, where nothing reads them.
  spec.input = string_or(options, "stdin", "null") == "pipe" ? stdin_mode::pipe
                                                             : stdin_mode::null;
  if (bool_or(options, "tty", false))
    spec.input = stdin_mode::tty;
  spec.cols = static_cast<int32_t>(int_or(options, "cols", 80));
  spec.rows = static_cast<int32_t>(int_or(options, "rows", 24));
  spec.idempotency_key = string_or(options, "idempotencyKey", "");
  spec.progress_pattern = string_or(options, "progressPattern", "");
  spec.wait_ms = int_or(options, "waitMs", 0);
  auto wait_output = member(*options, "waitOutput");
  spec.wait_tail_lines = uint_or(wait_output, "tail", 50);
  spec.wait_max_bytes = uint_or(wait_output, "maxBytes", 16 * 1024);
  parse_limits(member(*options, "limits"), spec.limits);
  spec.sandbox = bool_or(options, "sandbox", false);
  parse_workflow_options(*options, now_ms(), spec);
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
  q.depends_on = string_or(options, "dependsOn", "");
  q.schedule_id = string_or(options, "scheduleId", "");
  q.template_name = string_or(options, "template", "");
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

// jobIds (validated unique, 1-1000) or the single jobId.
tool_request parse_wait(const Value& args) {
  if (auto ids = member(args, "jobIds")) {
    wait_many_query many;
    many.job_ids.reserve(ids->Size());
    for (auto& id : ids->GetArray())
      many.job_ids.emplace_back(str(id));
    many.all = string_or(&args, "mode", "any") == "all";
    many.timeout_ms = int_or(&args, "timeoutMs", use_default);
    return many;
  }
  wait_query q;
  q.job_id = str(args["jobId"]);
  q.timeout_ms = int_or(&args, "timeoutMs", use_default);
  q.until = string_or(&args, "until", "exit") == "output" ? wait_until::output
                                                          : wait_until::exit;
  q.pattern = string_or(&args, "pattern", "");
  q.since = uint_or(&args, "since", 0);
  return q;
}

// The schema's spellings (with or without SIG) to signal numbers; 0 for
// anything else.
int32_t signal_number(std::string_view name) {
  struct entry {
    const char* name;
    int32_t number;
  };
  static constexpr entry table[] = {
    {"INT", SIGINT},   {"TERM", SIGTERM},   {"HUP", SIGHUP},
    {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},   {"USR2", SIGUSR2},
    {"KILL", SIGKILL}, {"WINCH", SIGWINCH},
  };
  if (name.substr(0, 3) == "SIG")
    name.remove_prefix(3);
  for (auto& e : table)
    if (name == e.name)
      return e.number;
  return 0;
}

input_request parse_input(const Value& args) {
  input_request r;
  r.job_id = str(args["jobId"]);
  r.text = str(args["text"]);
  if (bool_or(&args, "appendNewline", false))
    r.text += '\n';
  r.close = bool_or(&args, "closeStdin", false);
  return r;
}

signal_request parse_signal(const Value& args) {
  signal_request r;
  r.job_id = str(args["jobId"]);
  r.signal = signal_number(string_or(&args, "signal", ""));
  r.whole_tree = string_or(&args, "target", "tree") != "leader";
  return r;
}

resize_request parse_resize(const Value& args) {
  resize_request r;
  r.job_id = str(args["jobId"]);
  r.cols = static_cast<int32_t>(int_or(&args, "cols", 80));
  r.rows = static_cast<int32_t>(int_or(&args, "rows", 24));
  return r;
}

} // namespace

bool tool_catalog::parse_arguments(tool_id id, const Value& args,
                                   tool_request& out, tool_error& err) const {
  if (!validate_arguments(*this, id, args, err))
    return false;
  auto& server = options();
  switch (id) {
    case tool_id::execute:
      if (args.HasMember("template"))
        out = parse_template_call(args);
      else
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
    case tool_id::send_input:
      out = parse_input(args);
      return true;
    case tool_id::signal: {
      auto r = parse_signal(args);
      if (r.signal == 0)
        break;
      out = std::move(r);
      return true;
    }
    case tool_id::pause:
    case tool_id::resume:
      out
        = pause_request{std::string(str(args["jobId"])), id == tool_id::pause};
      return true;
    case tool_id::resize:
      out = parse_resize(args);
      return true;
    case tool_id::restart:
      out = restart_request{std::string(str(args["jobId"])),
                            bool_or(&args, "replace", false)};
      return true;
    case tool_id::create_schedule:
    case tool_id::list_schedules:
    case tool_id::update_schedule:
    case tool_id::delete_schedule:
    case tool_id::save_template:
    case tool_id::list_templates:
    case tool_id::delete_template:
      return parse_workflow_tool(*this, id, args, out, err);
  }
  if (id == tool_id::signal) {
    invalid_argument(err, "signal", "signal is not one jobd can send");
    return false;
  }
  invalid_argument(err, "name", "unknown tool");
  return false;
}

} // namespace jobd::protocol

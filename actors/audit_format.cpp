#include "actors/audit_format.hpp"

#include "protocol/json.hpp"
#include "protocol/jsonrpc.hpp"

#include <rapidjson/document.h>

#include <cstdlib>
#include <cstring>

namespace jobd::audit_format {

namespace {

using protocol::json_writer;
using protocol::member;
using protocol::write_key;
using rapidjson::Value;

// U+2026, the ellipsis that marks a shortened text.
constexpr const char* ellipsis = "\xE2\x80\xA6";

void write_text(json_writer& w, std::string_view text) {
  protocol::write_string(w, shorten(text));
}

void write_str(json_writer& w, const char* key, std::string_view text) {
  write_key(w, key);
  write_text(w, text);
}

void write_int(json_writer& w, const char* key, int64_t x) {
  write_key(w, key);
  w.Int64(x);
}

void open_entry(json_writer& w, timestamp_ms now, const char* type) {
  w.StartObject();
  write_key(w, "time");
  protocol::write_timestamp(w, now);
  write_str(w, "type", type);
}

std::string finish(rapidjson::StringBuffer& sb, json_writer& w) {
  w.EndObject();
  std::string line{protocol::view(sb)};
  line += '\n';
  return line;
}

// A parsed value written back with environment values redacted (the
// members of an `environment` object keep their names, their values are
// never written; an environment that is no object is replaced whole) and
// long strings shortened.
void write_value(json_writer& w, const Value& v, int depth) {
  if (depth > max_depth) {
    w.String("\xE2\x80\xA6(nested too deep)");
    return;
  }
  if (v.IsString()) {
    write_text(w, protocol::str(v));
  } else if (v.IsObject()) {
    w.StartObject();
    for (auto& m : v.GetObject()) {
      auto name = protocol::str(m.name);
      write_key(w, shorten(name));
      if (name == "environment") {
        if (!m.value.IsObject()) {
          w.String(redacted);
          continue;
        }
        w.StartObject();
        for (auto& var : m.value.GetObject()) {
          write_key(w, shorten(protocol::str(var.name)));
          w.String(redacted);
        }
        w.EndObject();
        continue;
      }
      write_value(w, m.value, depth + 1);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (auto& x : v.GetArray())
      write_value(w, x, depth + 1);
    w.EndArray();
  } else {
    // Numbers, booleans and null: short, and written as they were read.
    v.Accept(w);
  }
}

// The line parsed with the protocol layer's flags (no recursion, UTF-8
// checked); false if it is no JSON object.
bool parse_object(std::string_view text, rapidjson::Document& doc) {
  doc.Parse<protocol::parse_flags>(text.data(), text.size());
  return !doc.HasParseError() && doc.IsObject();
}

std::string to_json(const Value& v) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  v.Accept(w);
  return std::string{protocol::view(sb)};
}

std::string string_of(const Value* v) {
  return v != nullptr && v->IsString() ? std::string{protocol::str(*v)}
                                       : std::string{};
}

// True for an optional '-' and 1 to 10 digits.
bool is_integer(std::string_view text) {
  size_t i = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() <= i || text.size() - i > 10)
    return false;
  for (; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9')
      return false;
  return true;
}

const char* event_name(const job_event& ev) {
  switch (ev.what) {
    case transition::created:
      return ev.job.schedule_id.empty() ? "created" : "schedule.fired";
    case transition::started:
      return "started";
    case transition::finished:
      return ev.job.status == job_status::cancelled ? "cancelled" : "finished";
    case transition::retrying:
      return "retrying";
    case transition::removed:
      return "removed";
    case transition::updated:
      break;
  }
  return nullptr;
}

} // namespace

std::string shorten(std::string_view text) {
  if (text.size() <= max_string_bytes)
    return std::string{text};
  auto keep = protocol::complete_utf8_prefix(text.substr(0, kept_prefix));
  std::string out{text.substr(0, keep)};
  out += ellipsis;
  out += "(" + std::to_string(text.size()) + " bytes)";
  return out;
}

bool read_request(std::string_view line, request_view& out) {
  // Cheap filter first: most lines are neither.
  if (line.find("tools/call") == std::string_view::npos
      && line.find("initialize") == std::string_view::npos)
    return false;
  rapidjson::Document doc;
  if (!parse_object(line, doc))
    return false;
  auto method = string_of(member(doc, "method"));
  if (method != "tools/call" && method != "initialize")
    return false;
  request_view r;
  r.method = std::move(method);
  if (auto id = member(doc, "id"); id != nullptr)
    r.id = to_json(*id);
  auto params = member(doc, "params");
  if (r.method == "tools/call") {
    r.tool = string_of(member(params, "name"));
    auto args = member(params, "arguments");
    r.arguments = args != nullptr ? to_json(*args) : "{}";
  } else {
    auto info = member(params, "clientInfo");
    r.client_name = string_of(member(info, "name"));
    r.client_version = string_of(member(info, "version"));
  }
  out = std::move(r);
  return true;
}

std::string reply_error_code(std::string_view reply) {
  rapidjson::Document doc;
  if (!parse_object(reply, doc))
    return {};
  if (auto err = member(doc, "error"); err != nullptr) {
    auto code = member(err, "code");
    return code != nullptr && code->IsInt() ? std::to_string(code->GetInt())
                                            : std::string{"error"};
  }
  auto result = member(doc, "result");
  auto is_error = member(result, "isError");
  if (is_error == nullptr || !is_error->IsBool() || !is_error->GetBool())
    return {};
  auto code = string_of(member(member(result, "structuredContent"), "code"));
  return code.empty() ? std::string{"error"} : code;
}

std::string arguments_json(std::string_view arguments,
                           std::string* job_session) {
  rapidjson::Document doc;
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  doc.Parse<protocol::parse_flags>(arguments.data(), arguments.size());
  if (doc.HasParseError()) {
    // Not JSON (never from ENDPOINT): logged as a string, which cannot
    // carry a readable environment either.
    write_text(w, arguments);
    return std::string{protocol::view(sb)};
  }
  if (job_session != nullptr) {
    // Named at the top (sessionId) or in the options (a submit's, a
    // list's or cleanup's filter).
    *job_session = string_of(member(doc, "sessionId"));
    if (job_session->empty())
      *job_session = string_of(member(member(doc, "options"), "sessionId"));
  }
  write_value(w, doc, 0);
  if (sb.GetSize() <= max_arguments_bytes)
    return std::string{protocol::view(sb)};
  // Too large as a whole: a string of its (already redacted) prefix.
  std::string logged{protocol::view(sb)};
  rapidjson::StringBuffer small;
  json_writer ws(small);
  write_text(ws, logged);
  return std::string{protocol::view(small)};
}

std::string tool_call_line(timestamp_ms now, std::string_view session,
                           std::string_view tool, std::string_view arguments,
                           std::string_view error_code, int64_t duration_ms) {
  std::string job_session;
  auto args = arguments_json(arguments, &job_session);
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  open_entry(w, now, "tool_call");
  write_str(w, "session", session);
  if (!job_session.empty())
    write_str(w, "jobSession", job_session);
  write_str(w, "tool", tool);
  write_key(w, "arguments");
  protocol::write_raw(w, args);
  write_str(w, "outcome", error_code.empty() ? "ok" : "error");
  if (!error_code.empty()) {
    write_key(w, "errorCode");
    if (is_integer(error_code))
      w.Int64(std::strtoll(std::string{error_code}.c_str(), nullptr, 10));
    else
      write_text(w, error_code);
  }
  write_int(w, "durationMs", duration_ms);
  return finish(sb, w);
}

std::string initialize_line(timestamp_ms now, std::string_view session,
                            std::string_view client_name,
                            std::string_view client_version) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  open_entry(w, now, "session");
  write_str(w, "event", "initialize");
  write_str(w, "session", session);
  write_key(w, "client");
  w.StartObject();
  write_str(w, "name", client_name);
  write_str(w, "version", client_version);
  w.EndObject();
  return finish(sb, w);
}

std::string server_line(timestamp_ms now, std::string_view event, int64_t pid,
                        std::string_view version) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  open_entry(w, now, "server");
  write_str(w, "event", event);
  write_int(w, "pid", pid);
  write_str(w, "version", version);
  return finish(sb, w);
}

std::string job_line(timestamp_ms now, const job_event& ev) {
  auto name = event_name(ev);
  if (name == nullptr)
    return {};
  auto& job = ev.job;
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  open_entry(w, now, "job");
  write_str(w, "event", name);
  write_str(w, "jobId", job.id);
  write_str(w, "sessionId", job.session_id);
  write_str(w, "status", to_string(job.status));
  write_str(w, "command", job.command);
  write_key(w, "args");
  w.StartArray();
  for (auto& a : job.args)
    write_text(w, a);
  w.EndArray();
  if (job.shell) {
    write_key(w, "shell");
    w.Bool(true);
  }
  if (!job.working_directory.empty())
    write_str(w, "workingDirectory", job.working_directory);
  if (!job.schedule_id.empty())
    write_str(w, "scheduleId", job.schedule_id);
  if (!job.template_name.empty())
    write_str(w, "template", job.template_name);
  if (!job.restart_of.empty())
    write_str(w, "restartOf", job.restart_of);
  switch (ev.what) {
    case transition::started:
      write_int(w, "pid", job.pid);
      write_int(w, "attempt", job.attempt);
      break;
    case transition::finished:
      write_int(w, "exitCode", job.exit_code);
      write_int(w, "signal", job.signal);
      if (!job.error_code.empty())
        write_str(w, "errorCode", job.error_code);
      if (!job.usage.limit_exceeded.empty())
        write_str(w, "limitExceeded", job.usage.limit_exceeded);
      write_int(w, "runMs", job.run_ms);
      break;
    case transition::retrying:
      write_int(w, "attempt", job.attempt);
      write_int(w, "maxAttempts", job.max_attempts);
      write_key(w, "nextAttemptAt");
      protocol::write_timestamp(w, job.next_attempt_at);
      if (!job.error_code.empty())
        write_str(w, "errorCode", job.error_code);
      break;
    default:
      break;
  }
  return finish(sb, w);
}

} // namespace jobd::audit_format

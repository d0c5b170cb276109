// The rules beyond the schemas for the workflow arguments (issue 12):
// exclusive options, strict start times, names, and a schedule's job given
// whole. (The options a schedule's job cannot have are left out of its
// schema: tools.cpp.) Messages name the field as the client wrote it.
#include "protocol/iso8601.hpp"
#include "protocol/json.hpp"
#include "protocol/validate.hpp"

#include <algorithm>

namespace jobd::protocol {

namespace {

using rapidjson::Value;

// True, with `err` naming the second, if `obj` has both `a` and `b`.
bool both(const Value* obj, const char* a, const char* b,
          const std::string& prefix, tool_error& err) {
  if (member(obj, a) == nullptr || member(obj, b) == nullptr)
    return false;
  invalid_argument(err, prefix + b,
                   "give either " + prefix + a + " or " + prefix + b
                     + ", not both");
  return true;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool check_template_name(const Value& args, const char* field,
                         tool_error& err) {
  auto v = member(args, field);
  if (v == nullptr || !v->IsString())
    return true;
  auto name = str(*v);
  if (std::all_of(name.begin(), name.end(), name_char))
    return true;
  invalid_argument(err, field,
                   std::string(field)
                     + " must consist of A-Z, a-z, 0-9, '.', '_' and '-'");
  return false;
}

// Cron expressions are printable ASCII; the SCHEDULES actor reads them.
bool check_cron(const Value& args, tool_error& err) {
  auto v = member(args, "cron");
  if (v == nullptr)
    return true;
  auto text = str(*v);
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return c >= 0x20 && c < 0x7f; }))
    return true;
  invalid_argument(err, "cron", "cron must be printable ASCII");
  return false;
}

// A zone name becomes a path below the zoneinfo directory: only the
// characters of IANA names, no absolute path, no "..".
bool check_timezone(const Value& args, tool_error& err) {
  auto v = member(args, "timezone");
  if (v == nullptr)
    return true;
  auto name = str(*v);
  bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return name_char(c) || c == '/' || c == '+';
  });
  if (chars_ok && name.front() != '/' && name.front() != '.'
      && name.find("..") == std::string_view::npos
      && name.find("//") == std::string_view::npos && name.back() != '/')
    return true;
  invalid_argument(err, "timezone",
                   "timezone must be an IANA time zone name such as "
                   "Europe/Berlin or UTC");
  return false;
}

bool check_schedule(const Value& args, bool update, tool_error& err) {
  if (!check_cron(args, err) || !check_timezone(args, err))
    return false;
  if (update && !args.HasMember("command")) {
    for (auto name : {"args", "options"}) {
      if (args.HasMember(name)) {
        invalid_argument(err, "command",
                         std::string("command is required with ") + name
                           + ": command, args and options replace the "
                             "schedule's job as a whole");
        return false;
      }
    }
  }
  return true;
}

} // namespace

bool check_execute_form(const Value& args, bool& with_template,
                        tool_error& err) {
  with_template = args.HasMember("template");
  if (!with_template) {
    if (!args.HasMember("command")) {
      invalid_argument(err, "command",
                       "command is required (or template, to run a saved "
                       "template)");
      return false;
    }
    if (args.HasMember("params")) {
      invalid_argument(err, "params", "params is only allowed with template");
      return false;
    }
    return true;
  }
  for (auto name : {"command", "args", "kind", "kindOptions"}) {
    if (args.HasMember(name)) {
      invalid_argument(err, name,
                       std::string(name)
                         + " is not allowed with template (the template "
                           "has its own)");
      return false;
    }
  }
  return check_template_name(args, "template", err);
}

bool check_workflow_options(const Value* options, timestamp_ms now,
                            tool_error& err) {
  if (options == nullptr)
    return true;
  if (both(options, "startAt", "delayMs", "options.", err))
    return false;
  if (both(member(options, "retry"), "on", "exitCodes", "options.retry.", err))
    return false;
  auto at = member(options, "startAt");
  if (at == nullptr)
    return true;
  timestamp_ms ts = 0;
  if (!parse_iso8601(str(*at), ts)) {
    invalid_argument(err, "options.startAt",
                     "options.startAt must be an ISO-8601 time with seconds "
                     "and Z or an offset, such as 2026-12-01T18:00:00Z");
    return false;
  }
  if (ts <= 0) {
    invalid_argument(err, "options.startAt",
                     "options.startAt must be after 1970-01-01T00:00:00Z");
    return false;
  }
  if (ts - now > limits::max_delay_ms) {
    invalid_argument(err, "options.startAt",
                     "options.startAt must be at most 366 days ahead");
    return false;
  }
  return true;
}

bool validate_workflow_tool(tool_id id, const Value& args, tool_error& err) {
  switch (id) {
    case tool_id::create_schedule:
      return check_schedule(args, false, err);
    case tool_id::update_schedule:
      return check_schedule(args, true, err);
    case tool_id::save_template:
    case tool_id::delete_template:
      return check_template_name(args, "name", err);
    default:
      return true;
  }
}

} // namespace jobd::protocol

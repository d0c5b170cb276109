// Internal to protocol/: the small readers of checked arguments shared by
// arguments.cpp, arguments_workflows.cpp and templates.cpp. The schemas
// guarantee types and ranges; the checks keep a schema edit from turning
// into an assertion or a wrapped number.
#pragma once

#include "protocol/json.hpp"
#include "protocol/tools.hpp"

#include <map>
#include <string>

namespace jobd::protocol::arguments_detail {

using rapidjson::Value;

/// Compact JSON text of a value (a tag's scalar, an options object).
inline std::string json_text(const Value& v) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  v.Accept(w);
  return std::string(view(sb));
}

inline int64_t int_or(const Value* obj, const char* name, int64_t fallback) {
  auto v = member(obj, name);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : fallback;
}

inline uint64_t uint_or(const Value* obj, const char* name, uint64_t fallback) {
  auto v = member(obj, name);
  return v != nullptr && v->IsUint64() ? v->GetUint64() : fallback;
}

inline bool bool_or(const Value* obj, const char* name, bool fallback) {
  auto v = member(obj, name);
  return v != nullptr && v->IsBool() ? v->GetBool() : fallback;
}

inline std::string string_or(const Value* obj, const char* name,
                             std::string fallback) {
  auto v = member(obj, name);
  return v != nullptr && v->IsString() ? std::string(str(*v)) : fallback;
}

/// A scalar argument (string, number, boolean) as the text a template
/// inserts: a string as it is, anything else as its JSON text.
inline std::string scalar_text(const Value& v) {
  return v.IsString() ? std::string(str(v)) : json_text(v);
}

/// The workflow options of console_execute_async (dependsOn,
/// dependencyCondition, retry, startAt, delayMs) into `spec`; `now` is
/// the time delayMs counts from (arguments_workflows.cpp).
void parse_workflow_options(const Value& options, timestamp_ms now,
                            job_spec& spec);

/// console_execute_async with `template` (arguments_workflows.cpp).
template_call parse_template_call(const Value& args);

/// The tools of schedules and templates; false with `err` filled if the
/// job they carry does not parse (arguments_workflows.cpp).
bool parse_workflow_tool(const tool_catalog& catalog, tool_id id,
                         const Value& args, tool_request& out, tool_error& err);

} // namespace jobd::protocol::arguments_detail

// Checking tool arguments: the input schema first, then the rules a schema
// cannot say. Messages name the field the way a model wrote it.
#include "protocol/validate.hpp"

#include "protocol/validate_detail.hpp"

#include "protocol/json.hpp"
#include "protocol/pattern.hpp"
#include "protocol/progress.hpp"
#include "protocol/security.hpp"

#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>

#include <algorithm>

namespace jobd::protocol {

namespace {

using detail::append_field;
using detail::check_kind_options;
using detail::check_schema;
using rapidjson::Value;

void invalid(tool_error& err, std::string field, std::string message) {
  err.code = codes::invalid_arguments;
  err.message = std::move(message);
  err.details.clear();
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  write_string(w, field);
  err.details.emplace("field", std::string(view(sb)));
}

// -- rules beyond the schema -------------------------------------------------

bool has_nul(const Value& v) {
  return str(v).find('\0') != std::string_view::npos;
}

// Every string and object key must be free of NUL bytes: they cannot reach
// execve, and C APIs would silently cut them.
bool check_nul(const Value& v, std::string& path, tool_error& err) {
  if (v.IsString()) {
    if (!has_nul(v))
      return true;
    invalid(err, path, path + " must not contain NUL bytes");
    return false;
  }
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      if (has_nul(m.name)) {
        auto field = path.empty() ? std::string("arguments") : path;
        invalid(err, field, field + " has a name with a NUL byte");
        return false;
      }
      auto size = path.size();
      append_field(path, str(m.name));
      if (!check_nul(m.value, path, err))
        return false;
      path.resize(size);
    }
  } else if (v.IsArray()) {
    rapidjson::SizeType i = 0;
    for (auto& x : v.GetArray()) {
      auto size = path.size();
      path += '[';
      path += std::to_string(i++);
      path += ']';
      if (!check_nul(x, path, err))
        return false;
      path.resize(size);
    }
  }
  return true;
}

bool check_tag_names(const Value* tags, const char* field, tool_error& err) {
  if (tags == nullptr)
    return true;
  for (auto& m : tags->GetObject()) {
    if (m.name.GetStringLength() == 0
        || m.name.GetStringLength() > limits::max_tag_name) {
      invalid(err, field,
              std::string(field) + " names must have 1 to 256 bytes");
      return false;
    }
  }
  return true;
}

// One NAME=VALUE of options.environment, in bytes: Linux's MAX_ARG_STRLEN
// (131072) less the NUL that ends it; execve refuses a longer one (E2BIG).
constexpr size_t max_env_entry = 131071;

// options.environment beyond its schema (which bounds the count and each
// value's characters): valid names, each NAME=VALUE within what execve
// takes (NUL bytes were refused before). Adds the bytes of the entries
// (with '=' and NUL) to `bytes`.
bool check_environment(const Value* env, size_t& bytes, tool_error& err) {
  if (env == nullptr)
    return true;
  for (auto& m : env->GetObject()) {
    auto name = str(m.name);
    std::string field = "options.environment";
    if (!name.empty())
      append_field(field, name);
    if (!valid_env_name(name)) {
      invalid(err, field,
              field
                + ": a variable name must have 1 to 255 bytes and no '=' "
                  "or NUL");
      return false;
    }
    auto entry = name.size() + 1 + m.value.GetStringLength();
    if (entry > max_env_entry) {
      invalid(err, field,
              field + ": NAME=VALUE must have at most "
                + std::to_string(max_env_entry)
                + " bytes (Linux's MAX_ARG_STRLEN, with its NUL)");
      return false;
    }
    bytes += entry + 1;
  }
  return true;
}

bool check_execute(const tool_catalog& tools, const Value& args,
                   tool_error& err) {
  if (!check_kind_options(tools, args, err))
    return false;
  auto options = member(args, "options");
  size_t command_bytes = str(args["command"]).size();
  if (auto a = member(args, "args"))
    for (auto& x : a->GetArray())
      command_bytes += x.GetStringLength() + 1;
  size_t env_bytes = 0;
  if (!check_environment(member(options, "environment"), env_bytes, err))
    return false;
  if (command_bytes + env_bytes > limits::max_exec_bytes) {
    // Named after the larger part, the one to cut.
    invalid(err, env_bytes > command_bytes ? "options.environment" : "args",
            "command, args and options.environment (each NAME=VALUE with "
            "its NUL) must have at most "
              + std::to_string(limits::max_exec_bytes) + " bytes together");
    return false;
  }
  if (!check_tag_names(options ? member(*options, "tags") : nullptr,
                       "options.tags", err))
    return false;
  // Compiled here so that a bad pattern is the caller's error, not the job's.
  if (auto text = member(options, "progressPattern")) {
    progress_pattern compiled;
    std::string why;
    if (!progress_pattern::compile(str(*text), compiled, why)) {
      invalid(err, "options.progressPattern",
              "options.progressPattern is not usable: " + why);
      return false;
    }
  }
  return true;
}

bool check_pattern(const Value& args, tool_error& err) {
  auto text = member(args, "pattern");
  if (text == nullptr)
    return true;
  pattern compiled;
  std::string why;
  if (!pattern::compile(str(*text), compiled, why)) {
    invalid(err, "pattern",
            "pattern is not a valid RE2 regular expression: " + why);
    return false;
  }
  return true;
}

// Exactly one of jobId and jobIds; what only a single job's wait can do
// needs jobId. `mode` with jobId is harmless (any and all agree) and allowed.
bool check_wait(const Value& args, tool_error& err) {
  bool single = args.HasMember("jobId");
  if (!args.HasMember("jobIds")) {
    if (single)
      return check_pattern(args, err);
    invalid(err, "jobId",
            "jobId is required (or jobIds, to wait for several jobs)");
    return false;
  }
  if (single) {
    invalid(err, "jobIds", "give either jobId or jobIds, not both");
    return false;
  }
  for (auto name : {"pattern", "since"}) {
    if (args.HasMember(name)) {
      invalid(err, name,
              std::string(name) + " is only allowed with jobId, not jobIds");
      return false;
    }
  }
  auto until = member(args, "until");
  if (until != nullptr && str(*until) == "output") {
    invalid(err, "until",
            "until output is only allowed with jobId, not jobIds");
    return false;
  }
  return true;
}

// Empty text is a no-op unless it closes stdin or presses Enter.
bool check_input(const Value& args, tool_error& err) {
  auto flag = [&](const char* name) {
    auto v = member(args, name);
    return v != nullptr && v->IsBool() && v->GetBool();
  };
  if (args["text"].GetStringLength() == 0 && !flag("closeStdin")
      && !flag("appendNewline")) {
    invalid(err, "text",
            "text must not be empty unless closeStdin or appendNewline is "
            "true");
    return false;
  }
  return true;
}

} // namespace

void invalid_argument(tool_error& err, std::string field, std::string message) {
  invalid(err, std::move(field), std::move(message));
}

bool validate_arguments(const tool_catalog& tools, tool_id id,
                        const Value& args, tool_error& err) {
  if (!args.IsObject()) {
    invalid(err, "arguments", "arguments must be an object");
    return false;
  }
  if (!check_schema(tools, id, args, err))
    return false;
  std::string path;
  if (!check_nul(args, path, err))
    return false;
  switch (id) {
    case tool_id::execute: {
      // With a template, the call's options are checked once they are
      // merged into the template's (protocol/templates.hpp).
      bool with_template = false;
      if (!check_execute_form(args, with_template, err))
        return false;
      if (with_template)
        return true;
      return check_execute(tools, args, err)
             && check_workflow_options(member(args, "options"), now_ms(), err);
    }
    case tool_id::list:
      return check_tag_names(member(member(args, "options"), "tags"),
                             "options.tags", err);
    case tool_id::wait:
      return check_wait(args, err);
    case tool_id::send_input:
      return check_input(args, err);
    default:
      return validate_workflow_tool(id, args, err);
  }
}

} // namespace jobd::protocol

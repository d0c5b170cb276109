// Checking tool arguments: the input schema first, then the rules a schema
// cannot say. Messages name the field the way a model wrote it.
#include "protocol/validate.hpp"

#include "protocol/json.hpp"
#include "protocol/pattern.hpp"
#include "protocol/progress.hpp"
#include "protocol/security.hpp"

#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>

#include <algorithm>

namespace jobd::protocol {

namespace {

using rapidjson::Value;

// -- schema validation -------------------------------------------------------

// Field names in messages are user input: keep them short.
void append_field(std::string& path, std::string_view name) {
  if (!path.empty())
    path += '.';
  path += shorten(name, 64);
}

// `options.args[3]` style path of a validator's document pointer, after
// `prefix` (the path of `root` itself; empty for the arguments).
std::string field_path(const rapidjson::Pointer& ptr, const Value& root,
                       std::string_view prefix) {
  std::string path(prefix);
  const Value* cur = &root;
  auto tokens = ptr.GetTokens();
  for (size_t i = 0; i < ptr.GetTokenCount(); ++i) {
    auto& tok = tokens[i];
    if (cur != nullptr && cur->IsArray()
        && tok.index != rapidjson::kPointerInvalidIndex) {
      path += '[';
      path += std::to_string(tok.index);
      path += ']';
      cur = tok.index < cur->Size() ? &(*cur)[tok.index] : nullptr;
      continue;
    }
    std::string_view name(tok.name, tok.length);
    append_field(path, name);
    const Value* next = nullptr;
    if (cur != nullptr && cur->IsObject()) {
      Value key(rapidjson::StringRef(tok.name, tok.length));
      auto m = cur->FindMember(key);
      if (m != cur->MemberEnd())
        next = &m->value;
    }
    cur = next;
  }
  return path;
}

std::string number_text(const Value* v) {
  if (v == nullptr || !v->IsNumber())
    return "?";
  if (v->IsInt64())
    return std::to_string(v->GetInt64());
  if (v->IsUint64())
    return std::to_string(v->GetUint64());
  return std::to_string(v->GetDouble());
}

const char* type_phrase(std::string_view type) {
  if (type == "string")
    return "a string";
  if (type == "integer")
    return "an integer";
  if (type == "number")
    return "a number";
  if (type == "boolean")
    return "a boolean";
  if (type == "object")
    return "an object";
  if (type == "array")
    return "an array";
  return "null";
}

std::string expected_types(const Value* type) {
  if (type == nullptr)
    return "valid";
  if (type->IsString())
    return type_phrase(str(*type));
  std::string out;
  if (!type->IsArray())
    return "valid";
  for (rapidjson::SizeType i = 0; i < type->Size(); ++i) {
    if (i > 0)
      out += i + 1 == type->Size() ? " or " : ", ";
    out += (*type)[i].IsString() ? type_phrase(str((*type)[i])) : "?";
  }
  return out;
}

std::string enum_list(const Value* values) {
  std::string out;
  if (values == nullptr || !values->IsArray())
    return out;
  for (rapidjson::SizeType i = 0; i < values->Size(); ++i) {
    if (i > 0)
      out += ", ";
    if ((*values)[i].IsString())
      out += str((*values)[i]);
  }
  return out;
}

void invalid(tool_error& err, std::string field, std::string message) {
  err.code = codes::invalid_arguments;
  err.message = std::move(message);
  err.details.clear();
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  write_string(w, field);
  err.details.emplace("field", std::string(view(sb)));
}

// Turns the validator's first failure into "options.priority must be ...";
// `prefix` is the path of `args` (empty for the whole arguments).
void describe(const rapidjson::SchemaValidator& v, const Value& schema_root,
              const Value& args, std::string_view prefix, tool_error& err) {
  std::string_view keyword = v.GetInvalidSchemaKeyword();
  auto doc_ptr = v.GetInvalidDocumentPointer();
  auto path = field_path(doc_ptr, args, prefix);
  const Value* schema = v.GetInvalidSchemaPointer().Get(schema_root);
  const Value* value = doc_ptr.Get(args);
  auto field = [&] { return path.empty() ? std::string("arguments") : path; };
  if (keyword == "required") {
    auto req = member(*schema, "required");
    if (req != nullptr && req->IsArray() && value != nullptr
        && value->IsObject()) {
      for (auto& name : req->GetArray()) {
        if (name.IsString() && !value->HasMember(name)) {
          auto missing = path;
          append_field(missing, str(name));
          return invalid(err, missing, missing + " is required");
        }
      }
    }
    return invalid(err, field(), field() + " lacks a required field");
  }
  if (keyword == "additionalProperties")
    return invalid(err, field(), "unknown field " + field());
  if (keyword == "type")
    return invalid(err, field(),
                   field() + " must be "
                     + expected_types(member(*schema, "type")));
  if (keyword == "minimum")
    return invalid(err, field(),
                   field() + " must be at least "
                     + number_text(member(*schema, "minimum")));
  if (keyword == "maximum")
    return invalid(err, field(),
                   field() + " must be at most "
                     + number_text(member(*schema, "maximum")));
  if (keyword == "minLength") {
    auto n = number_text(member(*schema, "minLength"));
    return invalid(err, field(),
                   n == "1"
                     ? field() + " must not be empty"
                     : field() + " must have at least " + n + " characters");
  }
  if (keyword == "maxLength")
    return invalid(err, field(),
                   field() + " must have at most "
                     + number_text(member(*schema, "maxLength"))
                     + " characters");
  if (keyword == "maxItems")
    return invalid(err, field(),
                   field() + " must have at most "
                     + number_text(member(*schema, "maxItems")) + " items");
  if (keyword == "uniqueItems")
    return invalid(err, field(),
                   field() + " repeats an earlier item (items must differ)");
  if (keyword == "minItems")
    return invalid(err, field(),
                   field() + " must have at least "
                     + number_text(member(*schema, "minItems")) + " items");
  if (keyword == "maxProperties")
    return invalid(err, field(),
                   field() + " must have at most "
                     + number_text(member(*schema, "maxProperties"))
                     + " entries");
  if (keyword == "enum")
    return invalid(err, field(),
                   field() + " must be one of "
                     + enum_list(member(*schema, "enum")));
  if (keyword == "anyOf") {
    // Either alternatives of types (tag values) or a status enum and an
    // array of it (list_jobs' status).
    auto any = member(*schema, "anyOf");
    if (any == nullptr || !any->IsArray() || any->Empty())
      return invalid(err, field(), field() + " is invalid");
    if (auto values = member((*any)[0], "enum"))
      return invalid(err, field(),
                     field() + " must be one of " + enum_list(values)
                       + ", or an array of them");
    std::string types;
    for (auto& alt : any->GetArray()) {
      auto max = member(alt, "maxLength");
      if (value != nullptr && value->IsString() && max != nullptr)
        return invalid(err, field(),
                       field() + " must have at most " + number_text(max)
                         + " characters");
    }
    for (rapidjson::SizeType i = 0; i < any->Size(); ++i) {
      if (i > 0)
        types += i + 1 == any->Size() ? " or " : ", ";
      types += expected_types(member((*any)[i], "type"));
    }
    return invalid(err, field(), field() + " must be " + types);
  }
  invalid(err, field(), field() + " is invalid");
}

// The validator recurses with the document: bound the depth first.
bool nesting_ok(const Value& v, int depth) {
  if (depth > limits::max_depth)
    return false;
  if (v.IsObject()) {
    for (auto& m : v.GetObject())
      if (!nesting_ok(m.value, depth + 1))
        return false;
  } else if (v.IsArray()) {
    for (auto& x : v.GetArray())
      if (!nesting_ok(x, depth + 1))
        return false;
  }
  return true;
}

bool check_schema(const tool_catalog& tools, tool_id id, const Value& args,
                  tool_error& err) {
  if (!nesting_ok(args, 0)) {
    invalid(err, "arguments", "arguments are nested too deeply");
    return false;
  }
  rapidjson::SchemaValidator validator(tools.compiled_input(id));
  if (args.Accept(validator))
    return true;
  describe(validator, tools.input_schema(id), args, {}, err);
  return false;
}

// After the main schema: kindOptions (absent = {}) against the chosen kind's
// own schema.
bool check_kind_options(const tool_catalog& tools, const Value& args,
                        tool_error& err) {
  auto kind = member(args, "kind");
  std::string_view name
    = kind != nullptr ? str(*kind) : tools.options().default_kind;
  auto compiled = tools.compiled_kind(name);
  auto schema = tools.kind_schema(name);
  if (compiled == nullptr || schema == nullptr) {
    invalid(err, "kind", "kind " + shorten(name, 64) + " is not known");
    return false;
  }
  static const Value empty_object(rapidjson::kObjectType);
  auto options = member(args, "kindOptions");
  const Value& value = options != nullptr ? *options : empty_object;
  rapidjson::SchemaValidator validator(*compiled);
  if (value.Accept(validator))
    return true;
  describe(validator, *schema, value, "kindOptions", err);
  return false;
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

// Checking tool arguments against their input schema (RapidJSON's
// validator), with messages that name the field the way a model wrote it.
#include "protocol/validate_detail.hpp"

#include "protocol/json.hpp"

#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>

#include <algorithm>

namespace jobd::protocol::detail {

namespace {

using rapidjson::Value;

void invalid(tool_error& err, std::string field, std::string message) {
  invalid_argument(err, std::move(field), std::move(message));
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
} // namespace

void append_field(std::string& path, std::string_view name) {
  if (!path.empty())
    path += '.';
  path += shorten(name, 64);
}

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

} // namespace jobd::protocol::detail

// Job templates: {{name}} placeholders in args, environment values and the
// working directory, replaced in one left-to-right pass per string (a value
// is inserted literally and never scanned again, so a value holding
// "{{other}}", "$(...)" or ";" stays that text), sizes bounded while
// substituting, then the whole job parsed as console_execute_async's
// arguments.
#include "protocol/templates.hpp"

#include "protocol/json.hpp"
#include "protocol/pattern.hpp"
#include "protocol/tools.hpp"
#include "protocol/validate.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace jobd::protocol {

namespace {

using rapidjson::Document;
using rapidjson::Value;

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool ident_char(char c) {
  return ident_start(c) || (c >= '0' && c <= '9');
}

bool valid_parameter_name(std::string_view name) {
  return !name.empty() && name.size() <= limits::max_placeholder
         && ident_start(name[0])
         && std::all_of(name.begin(), name.end(), ident_char);
}

// The placeholder at `at` ("{{name}}"): its name and length, or false if
// the braces there do not form one (then they are literal text). Only a
// name's length is looked at for the closing braces, so a string of many
// "{{" costs time linear in its length.
bool placeholder_at(std::string_view text, size_t at, std::string_view& name,
                    size_t& length) {
  if (text.compare(at, 2, "{{") != 0)
    return false;
  auto window = text.substr(at + 2, limits::max_placeholder + 2);
  auto close = window.find("}}");
  if (close == std::string_view::npos)
    return false;
  name = window.substr(0, close);
  length = close + 4;
  return valid_parameter_name(name);
}

/// Calls `f(name)` for every placeholder of `text`; stops at false.
template <class F> bool each_placeholder(std::string_view text, F f) {
  for (auto at = text.find("{{"); at != std::string_view::npos;) {
    std::string_view name;
    size_t length = 0;
    if (placeholder_at(text, at, name, length)) {
      if (!f(name))
        return false;
      at = text.find("{{", at + length);
    } else {
      at = text.find("{{", at + 1);
    }
  }
  return true;
}

using value_map = std::map<std::string, std::string, std::less<>>;

// `text` with its placeholders replaced; false if the result would pass
// `max` bytes (checked before it is built, so that a string of many
// placeholders for a long value cannot blow up memory).
bool substitute(std::string_view text, const value_map& values, size_t max,
                std::string& out) {
  out.clear();
  size_t pos = 0;
  for (auto at = text.find("{{"); at != std::string_view::npos;) {
    std::string_view name;
    size_t length = 0;
    auto hit = values.end();
    if (placeholder_at(text, at, name, length))
      hit = values.find(name);
    if (hit == values.end()) {
      at = text.find("{{", at + 1);
      continue;
    }
    if (out.size() + (at - pos) + hit->second.size() > max)
      return false;
    out.append(text.substr(pos, at - pos));
    out += hit->second;
    pos = at + length;
    at = text.find("{{", pos);
  }
  if (out.size() + (text.size() - pos) > max)
    return false;
  out.append(text.substr(pos));
  return true;
}

std::string quoted(std::string_view text) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  write_string(w, text);
  return std::string(view(sb));
}

bool parse_object(std::string_view text, const char* field, Document& doc,
                  tool_error& err) {
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (!doc.HasParseError() && doc.IsObject())
    return true;
  invalid_argument(err, field,
                   std::string(field) + " is not a JSON object"
                     + (doc.HasParseError()
                          ? std::string(": ")
                              + rapidjson::GetParseError_En(doc.GetParseError())
                          : std::string()));
  return false;
}

std::string to_text(const Value& v) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  v.Accept(w);
  return std::string(view(sb));
}

/// A string of the job where placeholders may stand, with its field name.
struct slot {
  Value* value;
  std::string field;
};

std::vector<slot> placeholder_slots(Document& job) {
  std::vector<slot> out;
  if (auto args = job.FindMember("args");
      args != job.MemberEnd() && args->value.IsArray()) {
    rapidjson::SizeType i = 0;
    for (auto& x : args->value.GetArray()) {
      if (x.IsString())
        out.push_back({&x, "args[" + std::to_string(i) + "]"});
      ++i;
    }
  }
  auto options = job.FindMember("options");
  if (options == job.MemberEnd() || !options->value.IsObject())
    return out;
  auto& o = options->value;
  if (auto env = o.FindMember("environment");
      env != o.MemberEnd() && env->value.IsObject())
    for (auto& m : env->value.GetObject())
      if (m.value.IsString())
        out.push_back(
          {&m.value, "options.environment." + shorten(str(m.name), 64)});
  if (auto wd = o.FindMember("workingDirectory");
      wd != o.MemberEnd() && wd->value.IsString())
    out.push_back({&wd->value, "options.workingDirectory"});
  return out;
}

// Replaces the placeholders of every slot; the sizes stay within what
// console_execute_async takes (each string, and all of them together).
bool substitute_job(Document& job, const value_map& values, tool_error& err) {
  size_t total = 0;
  std::string text;
  for (auto& s : placeholder_slots(job)) {
    if (!substitute(str(*s.value), values, limits::max_string, text)) {
      invalid_argument(err, s.field,
                       s.field + " would have more than "
                         + std::to_string(limits::max_string)
                         + " bytes with these parameter values");
      return false;
    }
    total += text.size();
    if (total > limits::max_exec_bytes + limits::max_path) {
      invalid_argument(err, "params",
                       "the job would have more than "
                         + std::to_string(limits::max_exec_bytes)
                         + " bytes of arguments and environment with these "
                           "parameter values");
      return false;
    }
    s.value->SetString(text.data(),
                       static_cast<rapidjson::SizeType>(text.size()),
                       job.GetAllocator());
  }
  return true;
}

// The call's options over the template's: top-level keys replace, but
// environment and tags are merged key by key (the call's entries win).
void merge_options(Document& job, const Value& call) {
  auto& alloc = job.GetAllocator();
  auto it = job.FindMember("options");
  if (it == job.MemberEnd()) {
    job.AddMember("options", Value(rapidjson::kObjectType), alloc);
    it = job.FindMember("options");
  }
  auto& options = it->value;
  for (auto& m : call.GetObject()) {
    auto name = str(m.name);
    auto mine = options.FindMember(m.name);
    bool merge = (name == "environment" || name == "tags")
                 && mine != options.MemberEnd() && mine->value.IsObject()
                 && m.value.IsObject();
    if (merge) {
      for (auto& entry : m.value.GetObject()) {
        auto old = mine->value.FindMember(entry.name);
        if (old != mine->value.MemberEnd())
          old->value.CopyFrom(entry.value, alloc);
        else
          mine->value.AddMember(Value(entry.name, alloc),
                                Value(entry.value, alloc), alloc);
      }
    } else if (mine != options.MemberEnd()) {
      mine->value.CopyFrom(m.value, alloc);
    } else {
      options.AddMember(Value(m.name, alloc), Value(m.value, alloc), alloc);
    }
  }
}

bool compile_full(const std::string& name, const template_parameter& p,
                  pattern& out, tool_error& err) {
  std::string why;
  if (pattern::compile(p.pattern, out, why))
    return true;
  auto field = "parameters." + shorten(name, 64) + ".pattern";
  invalid_argument(err, field,
                   field + " is not a valid RE2 regular expression: " + why);
  return false;
}

} // namespace

bool parse_job_object(const tool_catalog& catalog, std::string_view job_json,
                      job_spec& out, tool_error& err) {
  Document doc;
  if (!parse_object(job_json, "job", doc, err))
    return false;
  tool_request req;
  if (!catalog.parse_arguments(tool_id::execute, doc, req, err))
    return false;
  auto spec = std::get_if<job_spec>(&req);
  if (spec == nullptr) {
    invalid_argument(err, "template",
                     "a job kept by a schedule or template cannot name a "
                     "template");
    return false;
  }
  out = std::move(*spec);
  return true;
}

bool check_template(const tool_catalog& catalog, const job_template& tpl,
                    tool_error& err) {
  if (tpl.parameters.size() > limits::max_template_params) {
    invalid_argument(err, "parameters",
                     "parameters must have at most "
                       + std::to_string(limits::max_template_params)
                       + " entries");
    return false;
  }
  value_map samples;
  for (auto& [name, p] : tpl.parameters) {
    auto field = "parameters." + shorten(name, 64);
    if (!valid_parameter_name(name)) {
      invalid_argument(err, field,
                       field
                         + ": a parameter name is a letter or _, then "
                           "letters, digits and _, at most 64 characters");
      return false;
    }
    pattern re;
    if (!compile_full(name, p, re, err))
      return false;
    if (p.has_default && !re.full_match(p.default_value)) {
      invalid_argument(err, field + ".default",
                       field + ".default does not match its pattern");
      return false;
    }
    // Stands for any value while the job is checked: the default, or a
    // value the schema takes wherever a placeholder may be.
    samples.emplace(name, p.has_default ? p.default_value : "x");
  }
  Document job;
  if (!parse_object(tpl.job, "job", job, err))
    return false;
  if (auto cmd = job.FindMember("command");
      cmd != job.MemberEnd() && cmd->value.IsString()) {
    bool none = each_placeholder(str(cmd->value),
                                 [](std::string_view) { return false; });
    if (!none) {
      invalid_argument(err, "command",
                       "command takes no {{...}} placeholders (put them in "
                       "args, environment values or the working directory)");
      return false;
    }
  }
  for (auto& s : placeholder_slots(job)) {
    std::string unknown;
    each_placeholder(str(*s.value), [&](std::string_view name) {
      if (tpl.parameters.count(std::string(name)) != 0)
        return true;
      unknown = name;
      return false;
    });
    if (!unknown.empty()) {
      invalid_argument(err, s.field,
                       s.field + " uses {{" + unknown
                         + "}}, which names no parameter");
      return false;
    }
  }
  if (!substitute_job(job, samples, err))
    return false;
  job_spec spec;
  return parse_job_object(catalog, to_text(job), spec, err);
}

bool instantiate(const tool_catalog& catalog, const job_template& tpl,
                 const template_call& call, job_spec& out, tool_error& err) {
  for (auto& [name, value] : call.params) {
    if (tpl.parameters.count(name) == 0) {
      auto field = "params." + shorten(name, 64);
      invalid_argument(err, field,
                       field + " is not a parameter of template "
                         + shorten(tpl.name, 128));
      return false;
    }
  }
  if (call.params.size() > limits::max_template_params) {
    invalid_argument(err, "params", "params has too many entries");
    return false;
  }
  value_map values;
  for (auto& [name, p] : tpl.parameters) {
    auto field = "params." + shorten(name, 64);
    auto given = call.params.find(name);
    if (given == call.params.end() && !p.has_default) {
      invalid_argument(err, field, field + " is required");
      return false;
    }
    auto& value = given != call.params.end() ? given->second : p.default_value;
    pattern re;
    if (!compile_full(name, p, re, err))
      return false;
    if (!re.full_match(value)) {
      invalid_argument(err, field,
                       field + " does not match the parameter's pattern "
                         + shorten(p.pattern, 200));
      err.details["pattern"] = quoted(p.pattern);
      return false;
    }
    values.emplace(name, value);
  }
  Document job;
  if (!parse_object(tpl.job, "job", job, err))
    return false;
  if (!substitute_job(job, values, err))
    return false;
  Document options;
  if (!parse_object(call.options.empty() ? "{}" : call.options, "options",
                    options, err))
    return false;
  merge_options(job, options);
  if (!parse_job_object(catalog, to_text(job), out, err))
    return false;
  out.template_name = tpl.name;
  return true;
}

} // namespace jobd::protocol

// The tool catalog: the schema texts of tool_schemas.cpp filled in from one
// server configuration, parsed, compiled and rendered as the tools/list
// result, each once, when first needed.
#include "protocol/tools.hpp"

#include "protocol/json.hpp"
#include "protocol/tool_schemas.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

namespace jobd::protocol {

namespace {

constexpr size_t max_kind_name = 64;

bool valid_kind_name(std::string_view name) {
  if (name.empty() || name.size() > max_kind_name)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// Keeps every number the schemas show inside what the schemas allow.
int64_t clamp_int(int64_t x, int64_t lo) {
  return std::clamp<int64_t>(x, lo, max_json_int);
}

int64_t clamp_uint(uint64_t x, int64_t lo) {
  return x > static_cast<uint64_t>(max_json_int)
           ? max_json_int
           : std::max<int64_t>(static_cast<int64_t>(x), lo);
}

// The largest value of each options.limits field that means anything (the
// bounds of app/config.cpp's --limit-... flags): a year of CPU, 1 EiB,
// 2^31 processes or files.
constexpr int64_t max_cpu_seconds = 366 * 86400;
constexpr int64_t max_limit_bytes = int64_t{1} << 60;
constexpr int64_t max_limit_count = int64_t{1} << 31;

// The schema's maximum of one limit: the server's, else the absolute one.
std::string limit_maximum(int64_t server_max, int64_t absolute) {
  return std::to_string(server_max > 0 ? std::min(server_max, absolute)
                                       : absolute);
}

// options.sandbox's description for this server.
std::string sandbox_text(const server_options& o) {
  std::string text
    = "Confine the job with Landlock: it may write only under the server's "
      "allowed directories (with none configured, the job's working "
      "directory) and the temporary directories (/tmp, /var/tmp, /dev/shm, "
      "$TMPDIR), and read everywhere or only where the server allows; "
      "status shows it as security.sandbox.";
  if (o.sandbox_forced)
    text += " This server confines every job anyway (--sandbox-fs).";
  else if (!o.sandbox_available)
    text += " Unavailable on this server (its kernel has no Landlock): true "
            "is refused with NOT_SUPPORTED.";
  return text;
}

// `text` as the inside of a JSON string literal.
std::string json_escaped(std::string_view text) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  write_string(w, text);
  auto quoted = view(sb);
  return std::string(quoted.substr(1, quoted.size() - 2));
}

void parse_schema(const std::string& text, rapidjson::Document& doc,
                  const std::string& what) {
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError())
    throw std::invalid_argument(
      what + " is not valid JSON: "
      + rapidjson::GetParseError_En(doc.GetParseError()) + " at offset "
      + std::to_string(doc.GetErrorOffset()));
  if (!doc.IsObject())
    throw std::invalid_argument(what + " is not a JSON object");
}

// "process: none; scripted: steps, delayMs" from the kinds' schemas.
std::string kind_options_text(
  const std::map<std::string, std::unique_ptr<rapidjson::Document>>& kinds) {
  std::string text = "Options by kind: ";
  bool first_kind = true;
  for (auto& [name, doc] : kinds) {
    if (!first_kind)
      text += "; ";
    first_kind = false;
    text += name + ": ";
    auto props = member(*doc, "properties");
    if (props == nullptr || !props->IsObject() || props->ObjectEmpty()) {
      text += "none";
      continue;
    }
    bool first = true;
    for (auto& m : props->GetObject()) {
      if (!first)
        text += ", ";
      first = false;
      text += shorten(str(m.name), 64);
    }
  }
  return text + ".";
}

// Fills in the values of one configuration in a single left-to-right scan,
// so nothing a value contains is ever taken for a placeholder.
std::string fill(const std::string& text, const placeholder_values& values) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    auto at = text.find('@', pos);
    if (at == std::string::npos)
      break;
    out.append(text, pos, at - pos);
    auto hit
      = std::find_if(values.begin(), values.end(), [&](const auto& value) {
          return text.compare(at, value.first.size(), value.first) == 0;
        });
    if (hit == values.end()) {
      out += '@';
      pos = at + 1;
    } else {
      out += hit->second;
      pos = at + hit->first.size();
    }
  }
  out.append(text, pos, std::string::npos);
  return out;
}

// A schedule's job takes console_execute_async's options but those that
// only make sense for one submission: each firing submits the job anew, at
// its firing time, and nobody waits for its reply. Left out of the schema,
// they are refused as unknown fields, named.
void drop_schedule_options(rapidjson::Document& schema) {
  rapidjson::Value* cur = &schema;
  for (auto name : {"properties", "options", "properties"}) {
    auto it = cur->FindMember(name);
    if (it == cur->MemberEnd() || !it->value.IsObject())
      return;
    cur = &it->value;
  }
  for (auto name : {"waitMs", "waitOutput", "idempotencyKey", "startAt",
                    "delayMs", "dependsOn", "dependencyCondition"})
    cur->RemoveMember(name);
}

} // namespace

// The kinds and the placeholder values are made by the constructor (a bad
// kind must fail at start); the tools' documents, their compiled forms and
// the tools/list text only when first asked for: compiling the tools' schemas
// and rendering tools/list took about half of jobd's start-up CPU before
// the initialize reply, which needs none of it. The tool schemas are
// built-in texts whose placeholders are numbers and kind names checked by
// build_kinds, so they always parse once the constructor returned.
struct tool_catalog::impl {
  server_options options;
  placeholder_values values;
  rapidjson::Document inputs[tool_count];
  rapidjson::Document outputs[tool_count];
  std::unique_ptr<rapidjson::SchemaDocument> compiled[tool_count];
  std::once_flag input_once[tool_count];
  std::once_flag output_once[tool_count];
  std::once_flag list_once;
  std::map<std::string, std::unique_ptr<rapidjson::Document>> kind_docs;
  std::map<std::string, std::unique_ptr<rapidjson::SchemaDocument>, std::less<>>
    kind_compiled;
  std::string list_result;

  void build_kinds();
  void build_values();
  /// Each once, on first use; thread-safe (sessions share the catalog).
  void need_input(size_t i);
  void need_output(size_t i);
  void need_list();

  std::string expand(const char* text) const {
    return fill(expand_schema_text(text), values);
  }
};

void tool_catalog::impl::build_kinds() {
  if (options.kinds.empty())
    throw std::invalid_argument("the server has no job kinds");
  for (auto& [name, schema] : options.kinds) {
    if (!valid_kind_name(name))
      throw std::invalid_argument("job kind name '" + shorten(name, 80)
                                  + "' is not 1-64 of [A-Za-z0-9_.-]");
    auto doc = std::make_unique<rapidjson::Document>();
    parse_schema(schema, *doc, "the kindOptions schema of kind " + name);
    kind_compiled.emplace(name,
                          std::make_unique<rapidjson::SchemaDocument>(*doc));
    kind_docs.emplace(name, std::move(doc));
  }
  if (options.kinds.count(options.default_kind) == 0)
    throw std::invalid_argument("the default job kind '"
                                + shorten(options.default_kind, 80)
                                + "' is not one of the server's kinds");
}

void tool_catalog::impl::build_values() {
  auto& o = options;
  auto cap = clamp_uint(o.output_byte_cap, 1);
  std::string kind_enum = "[";
  std::string kind_names;
  for (auto& [name, schema] : o.kinds) {
    if (kind_enum.size() > 1) {
      kind_enum += ", ";
      kind_names += ", ";
    }
    kind_enum += '"' + name + '"';
    kind_names += name;
  }
  kind_enum += ']';
  values = {
    {"@DEFAULT_TIMEOUT@", std::to_string(clamp_int(o.default_timeout_ms, 0))},
    {"@KILL_GRACE@", std::to_string(clamp_int(o.default_kill_grace_ms, 0))},
    {"@OUTPUT_CAP@", std::to_string(cap)},
    {"@OUTPUT_MIN@", std::to_string(std::min<int64_t>(1024, cap))},
    {"@MAX_WAIT@", std::to_string(clamp_int(o.max_wait_ms, 0))},
    {"@MAX_STDIN@", std::to_string(clamp_uint(o.max_stdin_bytes, 0))},
    {"@READ_BYTES@", std::to_string(clamp_uint(o.default_read_bytes, 1))},
    // Kind names are checked to need no escaping.
    {"@KIND_ENUM@", kind_enum},
    {"@DEFAULT_KIND@", '"' + o.default_kind + '"'},
    {"@DEFAULT_KIND_TEXT@", o.default_kind},
    {"@KIND_NAMES@", kind_names},
    {"@KIND_OPTIONS_TEXT@", json_escaped(kind_options_text(kind_docs))},
    {"@LIMIT_MAX_CPU_SECONDS@",
     limit_maximum(o.limit_maxima.cpu_seconds, max_cpu_seconds)},
    {"@LIMIT_MAX_MEMORY_BYTES@",
     limit_maximum(o.limit_maxima.memory_bytes, max_limit_bytes)},
    {"@LIMIT_MAX_MAX_PROCESSES@",
     limit_maximum(o.limit_maxima.max_processes, max_limit_count)},
    {"@LIMIT_MAX_OPEN_FILES@",
     limit_maximum(o.limit_maxima.open_files, max_limit_count)},
    {"@LIMIT_MAX_FILE_SIZE_BYTES@",
     limit_maximum(o.limit_maxima.file_size_bytes, max_limit_bytes)},
    {"@SANDBOX_TEXT@", json_escaped(sandbox_text(o))},
  };
}

void tool_catalog::impl::need_input(size_t i) {
  std::call_once(input_once[i], [this, i] {
    auto& def = tool_definition(static_cast<tool_id>(i));
    parse_schema(expand(def.input), inputs[i],
                 std::string{"input schema of "} + def.name);
    auto id = static_cast<tool_id>(i);
    if (id == tool_id::create_schedule || id == tool_id::update_schedule)
      drop_schedule_options(inputs[i]);
    compiled[i] = std::make_unique<rapidjson::SchemaDocument>(inputs[i]);
  });
}

void tool_catalog::impl::need_output(size_t i) {
  std::call_once(output_once[i], [this, i] {
    auto& def = tool_definition(static_cast<tool_id>(i));
    parse_schema(expand(with_error_shape(def.output).c_str()), outputs[i],
                 std::string{"output schema of "} + def.name);
  });
}

void tool_catalog::impl::need_list() {
  std::call_once(list_once, [this] {
    rapidjson::StringBuffer sb;
    json_writer w(sb);
    w.StartObject();
    write_key(w, "tools");
    w.StartArray();
    for (size_t i = 0; i < tool_count; ++i) {
      auto& def = tool_definition(static_cast<tool_id>(i));
      need_input(i);
      need_output(i);
      w.StartObject();
      write_key(w, "name");
      w.String(def.name);
      write_key(w, "title");
      w.String(def.title);
      write_key(w, "description");
      write_string(w, expand(def.description));
      write_key(w, "inputSchema");
      inputs[i].Accept(w);
      write_key(w, "outputSchema");
      outputs[i].Accept(w);
      write_key(w, "annotations");
      w.StartObject();
      write_key(w, "title");
      w.String(def.title);
      write_key(w, "readOnlyHint");
      w.Bool(def.read_only);
      write_key(w, "destructiveHint");
      w.Bool(def.destructive);
      write_key(w, "idempotentHint");
      w.Bool(def.idempotent);
      write_key(w, "openWorldHint");
      w.Bool(def.open_world);
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    list_result.assign(sb.GetString(), sb.GetSize());
  });
}

tool_catalog::tool_catalog(server_options options)
  : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->build_kinds();
  impl_->build_values();
}

tool_catalog::~tool_catalog() = default;

const server_options& tool_catalog::options() const {
  return impl_->options;
}

const std::string& tool_catalog::list_result() const {
  impl_->need_list();
  return impl_->list_result;
}

const rapidjson::Document& tool_catalog::input_schema(tool_id id) const {
  impl_->need_input(static_cast<size_t>(id));
  return impl_->inputs[static_cast<size_t>(id)];
}

const rapidjson::Document& tool_catalog::output_schema(tool_id id) const {
  impl_->need_output(static_cast<size_t>(id));
  return impl_->outputs[static_cast<size_t>(id)];
}

const rapidjson::SchemaDocument&
tool_catalog::compiled_input(tool_id id) const {
  impl_->need_input(static_cast<size_t>(id));
  return *impl_->compiled[static_cast<size_t>(id)];
}

const rapidjson::Document*
tool_catalog::kind_schema(std::string_view kind) const {
  auto i = impl_->kind_docs.find(std::string{kind});
  return i == impl_->kind_docs.end() ? nullptr : i->second.get();
}

const rapidjson::SchemaDocument*
tool_catalog::compiled_kind(std::string_view kind) const {
  auto i = impl_->kind_compiled.find(kind);
  return i == impl_->kind_compiled.end() ? nullptr : i->second.get();
}

const std::shared_ptr<const tool_catalog>& default_catalog() {
  static const std::shared_ptr<const tool_catalog> instance
    = std::make_shared<const tool_catalog>(server_options{});
  return instance;
}

const char* tool_name(tool_id id) {
  return tool_definition(id).name;
}

bool find_tool(std::string_view name, tool_id& out) {
  for (size_t i = 0; i < tool_count; ++i) {
    if (name == tool_definition(static_cast<tool_id>(i)).name) {
      out = static_cast<tool_id>(i);
      return true;
    }
  }
  return false;
}

} // namespace jobd::protocol

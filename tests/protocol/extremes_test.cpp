// Numbers at their extremes: every integer field of every tool's input
// schema has a minimum and a maximum; its minimum and maximum are accepted
// and parsed exactly, one below and one above are refused with
// INVALID_ARGUMENTS naming the field.
#include "test_util.hpp"

#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

#include <functional>
#include <set>
#include <string>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

constexpr int64_t max_int = 9007199254740991; // 2^53 - 1

struct numeric_field {
  tool_id tool;
  /// Dotted path in the arguments ("options.timeout", "timeoutMs").
  std::string path;
  int64_t min;
  int64_t max;
  /// Reads the parsed value back out of the typed request.
  std::function<int64_t(const tool_request&)> parsed;
  /// How far the parsed value may be off (delayMs counts from now).
  int64_t slack = 0;
};

// The job a schedule or template keeps, parsed as console_execute_async's.
tool_request kept_job(const tool_request& r) {
  std::string text;
  if (auto s = std::get_if<schedule_spec>(&r))
    text = s->job;
  else if (auto u = std::get_if<schedule_update>(&r))
    text = u->values.job;
  else if (auto t = std::get_if<job_template>(&r))
    text = t->job;
  job_spec spec;
  tool_error err;
  EXPECT_TRUE(parse_job_object(*default_catalog(), text, spec, err))
    << text << ": " << err.message;
  return spec;
}

int64_t u(uint64_t x) {
  return static_cast<int64_t>(x);
}

// Every integer field there is, with the range the schemas must give it
// (the server's output cap is 8 MiB with the built-in options).
std::vector<numeric_field> all_fields() {
  constexpr int64_t output_cap = 8 * 1024 * 1024;
  auto spec = [](const tool_request& r) { return std::get<job_spec>(r); };
  auto out = [](const tool_request& r) { return std::get<output_call>(r); };
  auto wait = [](const tool_request& r) { return std::get<wait_query>(r); };
  auto cleanup
    = [](const tool_request& r) { return std::get<cleanup_query>(r); };
  auto resize
    = [](const tool_request& r) { return std::get<resize_request>(r); };
  constexpr int64_t max_wait = 60000; // the built-in MAX_WAIT_MS
  std::vector<numeric_field> fields{
    {tool_id::execute, "options.timeout", 0, max_int,
     [=](auto& r) { return spec(r).timeout_ms; }},
    {tool_id::execute, "options.priority", 1, 10,
     [=](auto& r) { return int64_t{spec(r).priority}; }},
    {tool_id::execute, "options.killGraceMs", 0, max_int,
     [=](auto& r) { return spec(r).kill_grace_ms; }},
    {tool_id::execute, "options.outputByteLimit", 1024, output_cap,
     [=](auto& r) { return spec(r).output_byte_limit; }},
    {tool_id::output, "options.since", 0, max_int,
     [=](auto& r) { return u(out(r).query.since); }},
    {tool_id::output, "options.limit", 1, max_int,
     [=](auto& r) { return u(out(r).query.limit); }},
    {tool_id::output, "options.maxBytes", 1, max_int,
     [=](auto& r) { return u(out(r).query.max_bytes); }},
    {tool_id::output, "options.tail", 1, max_int,
     [=](auto& r) { return u(out(r).query.tail_lines); }},
    {tool_id::cancel, "options.graceMs", 0, max_int,
     [](auto& r) { return std::get<cancel_call>(r).grace_ms; }},
    {tool_id::list, "options.limit", 1, 1000,
     [](auto& r) { return u(std::get<list_query>(r).limit); }},
    {tool_id::cleanup, "options.maxAge", 0, max_int,
     [=](auto& r) { return cleanup(r).max_age_ms; }},
    {tool_id::cleanup, "options.keepCount", 0, max_int,
     [=](auto& r) { return u(cleanup(r).keep_count); }},
    {tool_id::wait, "timeoutMs", 0, max_int,
     [=](auto& r) { return wait(r).timeout_ms; }},
    {tool_id::wait, "since", 0, max_int,
     [=](auto& r) { return u(wait(r).since); }},
    {tool_id::execute, "options.cols", 1, 1000,
     [=](auto& r) { return int64_t{spec(r).cols}; }},
    {tool_id::execute, "options.rows", 1, 1000,
     [=](auto& r) { return int64_t{spec(r).rows}; }},
    {tool_id::execute, "options.waitMs", 0, max_wait,
     [=](auto& r) { return spec(r).wait_ms; }},
    {tool_id::execute, "options.waitOutput.tail", 1, 10000,
     [=](auto& r) { return u(spec(r).wait_tail_lines); }},
    {tool_id::execute, "options.waitOutput.maxBytes", 1, max_int,
     [=](auto& r) { return u(spec(r).wait_max_bytes); }},
    {tool_id::resize, "cols", 1, 1000,
     [=](auto& r) { return int64_t{resize(r).cols}; }},
    {tool_id::resize, "rows", 1, 1000,
     [=](auto& r) { return int64_t{resize(r).rows}; }},
    {tool_id::execute, "options.delayMs", 0, 31622400000,
     [=](auto& r) {
       auto at = spec(r).start_at;
       return at == 0 ? 0 : at - now_ms();
     },
     2000},
    {tool_id::execute, "options.retry.maxAttempts", 1, 100,
     [=](auto& r) { return int64_t{spec(r).retry.max_attempts}; }},
    {tool_id::execute, "options.retry.backoffMs", 0, 86400000,
     [=](auto& r) { return spec(r).retry.backoff_ms; }},
    {tool_id::execute, "options.retry.maxBackoffMs", 0, 86400000,
     [=](auto& r) { return spec(r).retry.max_backoff_ms; }},
    // Without server maxima, the absolute ones of the --limit-... flags.
    {tool_id::execute, "options.limits.cpuSeconds", 1, 366 * 86400,
     [=](auto& r) { return spec(r).limits.cpu_seconds; }},
    {tool_id::execute, "options.limits.memoryBytes", 1, int64_t{1} << 60,
     [=](auto& r) { return spec(r).limits.memory_bytes; }},
    {tool_id::execute, "options.limits.maxProcesses", 1, int64_t{1} << 31,
     [=](auto& r) { return spec(r).limits.max_processes; }},
    {tool_id::execute, "options.limits.openFiles", 1, int64_t{1} << 31,
     [=](auto& r) { return spec(r).limits.open_files; }},
    {tool_id::execute, "options.limits.fileSizeBytes", 1, int64_t{1} << 60,
     [=](auto& r) { return spec(r).limits.file_size_bytes; }},
  };
  // A schedule's and a template's job takes the same options, but a
  // schedule none of those that only make sense for one submission.
  auto all = fields;
  for (auto& f : all) {
    if (f.tool != tool_id::execute)
      continue;
    auto in_job = f;
    in_job.parsed = [p = f.parsed](auto& r) { return p(kept_job(r)); };
    in_job.tool = tool_id::save_template;
    fields.push_back(in_job);
    if (f.path.rfind("options.wait", 0) == 0 || f.path == "options.delayMs")
      continue;
    in_job.tool = tool_id::create_schedule;
    fields.push_back(in_job);
    in_job.tool = tool_id::update_schedule;
    fields.push_back(in_job);
  }
  return fields;
}

// The arguments with `path` set to the JSON number `value` (and whatever the
// tool requires).
std::string args_with(tool_id tool, const std::string& path,
                      const std::string& value) {
  std::string base;
  switch (tool) {
    case tool_id::execute:
      base = R"("command":"x")";
      break;
    case tool_id::status:
    case tool_id::output:
    case tool_id::cancel:
    case tool_id::wait:
      base = R"("jobId":"j")";
      break;
    case tool_id::create_schedule:
      base = R"("cron":"* * * * *","command":"x")";
      break;
    case tool_id::update_schedule:
      base = R"("scheduleId":"s","command":"x")";
      break;
    case tool_id::save_template:
      base = R"("name":"t","command":"x")";
      break;
    case tool_id::resize:
      // The other of cols and rows (both are required).
      base = path == "cols" ? R"("jobId":"j","rows":24)"
                            : R"("jobId":"j","cols":80)";
      break;
    default:
      break;
  }
  // "a.b.c" -> "a":{"b":{"c":value}}
  std::string field;
  std::string closing;
  size_t pos = 0;
  for (auto dot = path.find('.'); dot != std::string::npos;
       pos = dot + 1, dot = path.find('.', pos)) {
    field += "\"" + path.substr(pos, dot - pos) + "\":{";
    closing += "}";
  }
  // options.retry needs its maxAttempts.
  auto extra = path.rfind("options.retry.", 0) == 0
                   && path != "options.retry.maxAttempts"
                 ? std::string(R"(,"maxAttempts":2)")
                 : std::string();
  field += "\"" + path.substr(pos) + "\":" + value + extra + closing;
  return "{" + base + (base.empty() ? "" : ",") + field + "}";
}

// Every property with type integer in a schema, as dotted paths.
void integer_paths(const rapidjson::Value& schema, const std::string& at,
                   std::set<std::string>& out) {
  auto props = schema.FindMember("properties");
  if (props == schema.MemberEnd() || !props->value.IsObject())
    return;
  for (auto& m : props->value.GetObject()) {
    std::string path = at.empty() ? std::string(m.name.GetString())
                                  : at + "." + m.name.GetString();
    auto type = m.value.FindMember("type");
    if (type != m.value.MemberEnd() && type->value.IsString()
        && std::string(type->value.GetString()) == "integer")
      out.insert(path);
    integer_paths(m.value, path, out);
  }
}

const rapidjson::Value& property(const rapidjson::Value& schema,
                                 const std::string& path) {
  const rapidjson::Value* cur = &schema;
  size_t pos = 0;
  while (true) {
    auto dot = path.find('.', pos);
    auto name = path.substr(pos, dot - pos);
    cur = &(*cur)["properties"][name.c_str()];
    if (dot == std::string::npos)
      return *cur;
    pos = dot + 1;
  }
}

std::string tool_str(tool_id id) {
  return tool_name(id);
}

} // namespace

TEST(extremes, the_table_covers_every_integer_field) {
  std::set<std::string> in_schemas;
  std::set<std::string> in_table;
  for (size_t i = 0; i < tool_count; ++i) {
    auto id = static_cast<tool_id>(i);
    std::set<std::string> paths;
    integer_paths(default_catalog()->input_schema(id), "", paths);
    for (auto& p : paths)
      in_schemas.insert(tool_str(id) + " " + p);
  }
  for (auto& f : all_fields())
    in_table.insert(tool_str(f.tool) + " " + f.path);
  EXPECT_EQ(in_schemas, in_table);
}

TEST(extremes, every_integer_field_has_its_minimum_and_maximum) {
  for (auto& f : all_fields()) {
    SCOPED_TRACE(tool_str(f.tool) + " " + f.path);
    auto& prop = property(default_catalog()->input_schema(f.tool), f.path);
    ASSERT_TRUE(prop.HasMember("minimum"));
    ASSERT_TRUE(prop.HasMember("maximum"));
    EXPECT_EQ(prop["minimum"].GetInt64(), f.min);
    EXPECT_EQ(prop["maximum"].GetInt64(), f.max);
    if (prop.HasMember("default")) {
      EXPECT_GE(prop["default"].GetInt64(), f.min);
      EXPECT_LE(prop["default"].GetInt64(), f.max);
    }
  }
}

TEST(extremes, minimum_and_maximum_are_accepted_and_parsed_exactly) {
  for (auto& f : all_fields()) {
    for (auto value : {f.min, f.max}) {
      auto args = args_with(f.tool, f.path, std::to_string(value));
      SCOPED_TRACE(tool_str(f.tool) + " " + args);
      auto request = dispatched(tool_str(f.tool), args);
      EXPECT_NEAR(f.parsed(request), value, f.slack);
    }
  }
}

TEST(extremes, one_past_either_end_is_refused_naming_the_field) {
  for (auto& f : all_fields()) {
    SCOPED_TRACE(tool_str(f.tool) + " " + f.path);
    std::string field;
    auto below
      = rejected(tool_str(f.tool),
                 args_with(f.tool, f.path, std::to_string(f.min - 1)), &field);
    EXPECT_EQ(below, f.path + " must be at least " + std::to_string(f.min));
    EXPECT_EQ(field, f.path);
    field.clear();
    auto above
      = rejected(tool_str(f.tool),
                 args_with(f.tool, f.path, std::to_string(f.max + 1)), &field);
    EXPECT_EQ(above, f.path + " must be at most " + std::to_string(f.max));
    EXPECT_EQ(field, f.path);
  }
}

TEST(extremes, beyond_64_bits_and_fractions_are_refused) {
  for (auto& f : all_fields()) {
    SCOPED_TRACE(tool_str(f.tool) + " " + f.path);
    for (auto value : {"18446744073709551616", "1e300", "-1e300", "1.5"}) {
      std::string field;
      auto msg
        = rejected(tool_str(f.tool), args_with(f.tool, f.path, value), &field);
      EXPECT_EQ(field, f.path) << value << ": " << msg;
    }
  }
}

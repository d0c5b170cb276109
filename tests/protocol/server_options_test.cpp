// What the protocol layer takes from the running server: version, the
// defaults and caps the schemas show and enforce, and the job kinds with
// their kindOptions schemas (a fake second kind stands in for a real one).
#include "test_util.hpp"

#include "protocol/tools.hpp"

#include <stdexcept>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

constexpr const char* fake_kind = R"({"type": "object",
  "additionalProperties": false, "required": ["steps"],
  "properties": {
    "steps": {"type": "array", "maxItems": 3, "items": {"type": "string"},
      "description": "What the fake job prints."},
    "delayMs": {"type": "integer", "minimum": 0, "maximum": 1000}}})";

server_options with_fake_kind() {
  server_options o;
  o.kinds["fake"] = fake_kind;
  return o;
}

server_options custom_defaults() {
  server_options o;
  o.info.name = "jobd-test";
  o.info.version = "9.8.7";
  o.default_timeout_ms = 1234;
  o.default_kill_grace_ms = 77;
  o.output_byte_cap = 4096;
  o.max_wait_ms = 999;
  o.default_read_bytes = 1000;
  return o;
}

// The tool object of `name` in the session's tools/list reply.
rapidjson::Document tool_of(mcp_session& s, const std::string& name) {
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  for (auto& t : doc["result"]["tools"].GetArray())
    if (name == t["name"].GetString())
      return parse(to_json(t));
  ADD_FAILURE() << name << " not in tools/list";
  return parse("{}");
}

const rapidjson::Value& prop(const rapidjson::Value& tool,
                             const std::string& options_field) {
  return tool["inputSchema"]["properties"]["options"]["properties"]
             [options_field.c_str()];
}

std::string description(const rapidjson::Value& tool) {
  return tool["description"].GetString();
}

} // namespace

// -- serverInfo ---------------------------------------------------------------

TEST(server_options, server_info_version_is_jobd_version) {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"initialize",)"
                      R"("params":{"protocolVersion":"2025-11-25"}})");
  auto& info = doc["result"]["serverInfo"];
  EXPECT_STREQ(info["name"].GetString(), "jobd");
  EXPECT_STREQ(info["version"].GetString(), JOBD_VERSION);
  mcp_session custom{custom_defaults()};
  auto doc2 = reply(custom, R"({"jsonrpc":"2.0","id":1,"method":"initialize",)"
                            R"("params":{"protocolVersion":"2025-11-25"}})");
  EXPECT_STREQ(doc2["result"]["serverInfo"]["name"].GetString(), "jobd-test");
  EXPECT_STREQ(doc2["result"]["serverInfo"]["version"].GetString(), "9.8.7");
}

// -- defaults and caps --------------------------------------------------------

TEST(server_options, built_in_defaults_in_tools_list) {
  mcp_session s;
  auto exec = tool_of(s, t_exec);
  EXPECT_EQ(prop(exec, "timeout")["default"].GetInt64(), 300000);
  EXPECT_EQ(prop(exec, "killGraceMs")["default"].GetInt64(), 5000);
  EXPECT_EQ(prop(exec, "outputByteLimit")["default"].GetInt64(), 8388608);
  EXPECT_EQ(prop(exec, "outputByteLimit")["maximum"].GetInt64(), 8388608);
  auto out = tool_of(s, "console_get_job_output");
  EXPECT_EQ(prop(out, "maxBytes")["default"].GetInt64(), 65536);
  auto wait = tool_of(s, "console_wait_job");
  EXPECT_EQ(
    wait["inputSchema"]["properties"]["timeoutMs"]["default"].GetInt64(),
    60000);
}

TEST(server_options, defaults_in_tools_list_come_from_the_configuration) {
  mcp_session s{custom_defaults()};
  auto exec = tool_of(s, t_exec);
  EXPECT_EQ(prop(exec, "timeout")["default"].GetInt64(), 1234);
  EXPECT_EQ(prop(exec, "killGraceMs")["default"].GetInt64(), 77);
  EXPECT_EQ(prop(exec, "outputByteLimit")["default"].GetInt64(), 4096);
  EXPECT_NE(description(exec).find("Default timeout 1234 ms"),
            std::string::npos)
    << description(exec);
  auto out = tool_of(s, "console_get_job_output");
  EXPECT_EQ(prop(out, "maxBytes")["default"].GetInt64(), 1000);
  EXPECT_NE(description(out).find("1000 bytes"), std::string::npos);
  auto cancel = tool_of(s, "console_cancel_job");
  EXPECT_NE(description(cancel).find("default 77 ms"), std::string::npos)
    << description(cancel);
  EXPECT_NE(
    std::string(prop(cancel, "graceMs")["description"].GetString()).find("77"),
    std::string::npos);
  auto wait = tool_of(s, "console_wait_job");
  auto& timeout = wait["inputSchema"]["properties"]["timeoutMs"];
  EXPECT_EQ(timeout["default"].GetInt64(), 999);
  EXPECT_EQ(timeout["maximum"].GetInt64(), 9007199254740991);
  EXPECT_NE(std::string(timeout["description"].GetString()).find("(999)"),
            std::string::npos);
  EXPECT_NE(description(wait).find("default and cap 999 ms"),
            std::string::npos);
  // Nothing of the built-in values is left in the texts.
  auto list = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  auto text = to_json(list);
  // options.retry.maxBackoffMs has a fixed default that equals the
  // built-in timeout.
  for (std::string fixed = R"("default":300000,"description":"Cap on any)";
       text.find(fixed) != std::string::npos;)
    text.erase(text.find(fixed), fixed.size());
  for (auto old : {"300000", "5000 ms", "60000", "65536", "8388608", "64 KiB"})
    EXPECT_EQ(text.find(old), std::string::npos) << old;
  // The cron shorthands of console_create_schedule are the only '@' words.
  for (auto shorthand : {"@yearly", "@monthly", "@weekly", "@daily", "@hourly"})
    for (auto at = text.find(shorthand); at != std::string::npos;
         at = text.find(shorthand))
      text.erase(at, 1);
  EXPECT_EQ(text.find('@'), std::string::npos) << "a placeholder was left";
}

TEST(server_options, parsed_defaults_follow_the_configuration) {
  mcp_session s{custom_defaults()};
  auto call = std::get<output_call>(
    dispatched(s, "console_get_job_output", R"({"jobId":"j"})"));
  EXPECT_EQ(call.query.max_bytes, 1000u);
  // Defaults left to the runtime stay use_default.
  auto spec = std::get<job_spec>(dispatched(s, t_exec, R"({"command":"x"})"));
  EXPECT_EQ(spec.timeout_ms, use_default);
  EXPECT_EQ(spec.kill_grace_ms, use_default);
  EXPECT_EQ(spec.output_byte_limit, use_default);
}

TEST(server_options, output_byte_limit_cannot_exceed_the_server_cap) {
  mcp_session s{custom_defaults()};
  auto exec = tool_of(s, t_exec);
  auto& limit = prop(exec, "outputByteLimit");
  EXPECT_EQ(limit["maximum"].GetInt64(), 4096);
  EXPECT_NE(
    std::string(limit["description"].GetString()).find("never raise it"),
    std::string::npos);
  auto spec = std::get<job_spec>(dispatched(
    s, t_exec, R"({"command":"x","options":{"outputByteLimit":4096}})"));
  EXPECT_EQ(spec.output_byte_limit, 4096);
  spec = std::get<job_spec>(dispatched(
    s, t_exec, R"({"command":"x","options":{"outputByteLimit":1024}})"));
  EXPECT_EQ(spec.output_byte_limit, 1024);
  std::string field;
  EXPECT_EQ(rejected(s, t_exec,
                     R"({"command":"x","options":{"outputByteLimit":4097}})",
                     &field),
            "options.outputByteLimit must be at most 4096");
  EXPECT_EQ(field, "options.outputByteLimit");
}

TEST(server_options, a_cap_below_the_usual_minimum_keeps_the_schema_sane) {
  server_options o;
  o.output_byte_cap = 100;
  mcp_session s{o};
  auto exec = tool_of(s, t_exec);
  auto& limit = prop(exec, "outputByteLimit");
  EXPECT_EQ(limit["minimum"].GetInt64(), 100);
  EXPECT_EQ(limit["maximum"].GetInt64(), 100);
  EXPECT_TRUE(std::holds_alternative<job_spec>(dispatched(
    s, t_exec, R"({"command":"x","options":{"outputByteLimit":100}})")));
}

TEST(server_options, values_beyond_the_schema_range_are_clamped) {
  server_options o;
  o.default_timeout_ms = -5;
  o.max_wait_ms = INT64_MAX;
  o.output_byte_cap = UINT64_MAX;
  mcp_session s{o};
  auto exec = tool_of(s, t_exec);
  EXPECT_EQ(prop(exec, "timeout")["default"].GetInt64(), 0);
  EXPECT_EQ(prop(exec, "outputByteLimit")["maximum"].GetInt64(),
            9007199254740991);
  auto wait = tool_of(s, "console_wait_job");
  EXPECT_EQ(
    wait["inputSchema"]["properties"]["timeoutMs"]["default"].GetInt64(),
    9007199254740991);
}

TEST(server_options, sessions_can_share_one_catalog) {
  auto tools = std::make_shared<const tool_catalog>(custom_defaults());
  mcp_session a{tools};
  mcp_session b{tools};
  EXPECT_EQ(&a.tools(), &b.tools());
  EXPECT_EQ(tools->options().max_wait_ms, 999);
  mcp_session plain;
  EXPECT_EQ(&plain.tools(), default_catalog().get());
}

// -- kinds --------------------------------------------------------------------

TEST(kinds, built_in_server_has_the_process_kind) {
  mcp_session s;
  auto exec = tool_of(s, t_exec);
  auto& kind = exec["inputSchema"]["properties"]["kind"];
  EXPECT_EQ(to_json(kind["enum"]), R"(["process"])");
  EXPECT_STREQ(kind["default"].GetString(), "process");
  auto& options = exec["inputSchema"]["properties"]["kindOptions"];
  EXPECT_STREQ(options["type"].GetString(), "object");
  auto spec = std::get<job_spec>(dispatched(t_exec, R"({"command":"x"})"));
  EXPECT_EQ(spec.kind, "process");
  EXPECT_EQ(spec.kind_options, "");
  spec = std::get<job_spec>(
    dispatched(t_exec, R"({"command":"x","kind":"process","kindOptions":{}})"));
  EXPECT_EQ(spec.kind, "process");
  EXPECT_EQ(spec.kind_options, "{}");
  std::string field;
  EXPECT_EQ(rejected(t_exec,
                     R"({"command":"x","kindOptions":{"cgroup":false}})",
                     &field),
            "unknown field kindOptions.cgroup");
  EXPECT_EQ(field, "kindOptions.cgroup");
}

TEST(kinds, the_enum_lists_every_kind) {
  mcp_session s{with_fake_kind()};
  auto exec = tool_of(s, t_exec);
  auto& kind = exec["inputSchema"]["properties"]["kind"];
  EXPECT_EQ(to_json(kind["enum"]), R"(["fake","process"])");
  EXPECT_STREQ(kind["default"].GetString(), "process");
  std::string text
    = exec["inputSchema"]["properties"]["kindOptions"]["description"]
        .GetString();
  EXPECT_NE(text.find("fake: steps, delayMs"), std::string::npos) << text;
  EXPECT_NE(text.find("process: none"), std::string::npos) << text;
}

TEST(kinds, options_of_the_chosen_kind_are_parsed_as_json_text) {
  mcp_session s{with_fake_kind()};
  auto spec = std::get<job_spec>(dispatched(s, t_exec, R"({"command":"x",
    "kind":"fake","kindOptions":{"steps":["a","b"],"delayMs":1000}})"));
  EXPECT_EQ(spec.kind, "fake");
  EXPECT_EQ(spec.kind_options, R"({"steps":["a","b"],"delayMs":1000})");
  EXPECT_EQ(spec.command, "x");
}

TEST(kinds, unknown_kind_names_kind) {
  mcp_session s{with_fake_kind()};
  std::string field;
  EXPECT_EQ(rejected(s, t_exec, R"({"command":"x","kind":"docker"})", &field),
            "kind must be one of fake, process");
  EXPECT_EQ(field, "kind");
  EXPECT_EQ(rejected(s, t_exec, R"({"command":"x","kind":5})", &field),
            "kind must be a string");
  EXPECT_EQ(field, "kind");
}

TEST(kinds, errors_name_kind_options_fields) {
  mcp_session s{with_fake_kind()};
  struct bad {
    const char* options;
    const char* message;
    const char* field;
  };
  const bad cases[] = {
    {"", "kindOptions.steps is required", "kindOptions.steps"},
    {R"(,"kindOptions":{})", "kindOptions.steps is required",
     "kindOptions.steps"},
    {R"(,"kindOptions":{"steps":[],"delayMs":1001})",
     "kindOptions.delayMs must be at most 1000", "kindOptions.delayMs"},
    {R"(,"kindOptions":{"steps":[],"delayMs":-1})",
     "kindOptions.delayMs must be at least 0", "kindOptions.delayMs"},
    {R"(,"kindOptions":{"steps":[1]})", "kindOptions.steps[0] must be a string",
     "kindOptions.steps[0]"},
    {R"(,"kindOptions":{"steps":["a","b","c","d"]})",
     "kindOptions.steps must have at most 3 items", "kindOptions.steps"},
    {R"(,"kindOptions":{"steps":[],"extra":true})",
     "unknown field kindOptions.extra", "kindOptions.extra"},
    {R"(,"kindOptions":{"steps":["a\u0000"]})",
     "kindOptions.steps[0] must not contain NUL bytes", "kindOptions.steps[0]"},
    {R"(,"kindOptions":[])", "kindOptions must be an object", "kindOptions"},
  };
  for (auto& c : cases) {
    auto args
      = std::string(R"({"command":"x","kind":"fake")") + c.options + "}";
    SCOPED_TRACE(args);
    std::string field;
    EXPECT_EQ(rejected(s, t_exec, args, &field), c.message);
    EXPECT_EQ(field, c.field);
  }
  // The process kind of the same server still takes none.
  std::string field;
  EXPECT_EQ(rejected(s, t_exec, R"({"command":"x","kindOptions":{"steps":[]}})",
                     &field),
            "unknown field kindOptions.steps");
}

TEST(kinds, a_different_default_kind) {
  auto o = with_fake_kind();
  o.default_kind = "fake";
  mcp_session s{o};
  auto exec = tool_of(s, t_exec);
  EXPECT_STREQ(exec["inputSchema"]["properties"]["kind"]["default"].GetString(),
               "fake");
  auto spec = std::get<job_spec>(
    dispatched(s, t_exec, R"({"command":"x","kindOptions":{"steps":[]}})"));
  EXPECT_EQ(spec.kind, "fake");
  EXPECT_EQ(rejected(s, t_exec, R"({"command":"x"})"),
            "kindOptions.steps is required");
}

TEST(kinds, unusable_configurations_are_refused_at_construction) {
  auto expect_throw = [](server_options o, const std::string& needle) {
    try {
      tool_catalog c{std::move(o)};
      ADD_FAILURE() << "no exception for " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << e.what();
    }
  };
  auto o = with_fake_kind();
  o.kinds["fake"] = "{not json";
  expect_throw(o, "fake");
  o.kinds["fake"] = "[1]";
  expect_throw(o, "not a JSON object");
  o = server_options{};
  o.kinds["bad name"] = no_kind_options;
  expect_throw(o, "bad name");
  o = server_options{};
  o.default_kind = "missing";
  expect_throw(o, "missing");
  o = server_options{};
  o.kinds.clear();
  expect_throw(o, "no job kinds");
}

// tools/list, argument validation and parsing into the model.
#include "test_util.hpp"

#include "protocol/tools.hpp"

#include <rapidjson/schema.h>

#include <set>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

const std::string t_status = "console_get_job_status";
const std::string t_output = "console_get_job_output";
const std::string t_cancel = "console_cancel_job";
const std::string t_list = "console_list_jobs";
const std::string t_metrics = "console_get_job_metrics";
const std::string t_cleanup = "console_cleanup_jobs";
const std::string t_wait = "console_wait_job";
const std::string t_input = "console_send_input";
const std::string t_signal = "console_signal_job";
const std::string t_pause = "console_pause_job";
const std::string t_resume = "console_resume_job";
const std::string t_resize = "console_resize_terminal";
const std::string t_restart = "console_restart_job";
const std::string t_create_schedule = "console_create_schedule";
const std::string t_list_schedules = "console_list_schedules";
const std::string t_update_schedule = "console_update_schedule";
const std::string t_delete_schedule = "console_delete_schedule";
const std::string t_save_template = "console_save_template";
const std::string t_list_templates = "console_list_templates";
const std::string t_delete_template = "console_delete_template";

rapidjson::Document tools_list() {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  return doc;
}

// Every property, at any depth, has a description.
void expect_descriptions(const rapidjson::Value& schema,
                         const std::string& at) {
  if (!schema.IsObject() || !schema.HasMember("properties"))
    return;
  for (auto& m : schema["properties"].GetObject()) {
    auto where = at + "." + m.name.GetString();
    EXPECT_TRUE(m.value.HasMember("description")) << where;
    expect_descriptions(m.value, where);
  }
}

bool has_keyword(const rapidjson::Value& v, const char* keyword) {
  if (v.IsObject()) {
    for (auto& m : v.GetObject())
      if (m.name == keyword || has_keyword(m.value, keyword))
        return true;
  } else if (v.IsArray()) {
    for (auto& x : v.GetArray())
      if (has_keyword(x, keyword))
        return true;
  }
  return false;
}

} // namespace

TEST(tools_list, has_twenty_one_complete_tools) {
  auto doc = tools_list();
  auto& tools = doc["result"]["tools"];
  ASSERT_EQ(tools.Size(), 21u);
  std::set<std::string> names;
  for (auto& t : tools.GetArray()) {
    std::string name = t["name"].GetString();
    names.insert(name);
    EXPECT_GT(std::string(t["title"].GetString()).size(), 3u) << name;
    EXPECT_GT(std::string(t["description"].GetString()).size(), 80u) << name;
    auto& in = t["inputSchema"];
    EXPECT_STREQ(in["type"].GetString(), "object") << name;
    EXPECT_FALSE(in["additionalProperties"].GetBool()) << name;
    if (in["properties"].HasMember("options")) {
      auto& opts = in["properties"]["options"];
      EXPECT_FALSE(opts["additionalProperties"].GetBool()) << name;
    }
    EXPECT_FALSE(has_keyword(in, "$schema")) << name;
    EXPECT_FALSE(has_keyword(in, "exclusiveMinimum")) << name;
    EXPECT_FALSE(has_keyword(in, "exclusiveMaximum")) << name;
    expect_descriptions(in, name);
    auto& out = t["outputSchema"];
    EXPECT_STREQ(out["type"].GetString(), "object") << name;
    EXPECT_FALSE(out.HasMember("additionalProperties")) << name;
    // Either the tool's result (success: true) or the seed's error shape.
    ASSERT_TRUE(out["anyOf"].IsArray()) << name;
    ASSERT_EQ(out["anyOf"].Size(), 2u) << name;
    auto& ok = out["anyOf"][0];
    auto& failed = out["anyOf"][1];
    EXPECT_TRUE(ok["properties"]["success"]["enum"][0].GetBool()) << name;
    EXPECT_FALSE(failed["properties"]["success"]["enum"][0].GetBool()) << name;
    EXPECT_STREQ(failed["required"][1].GetString(), "error") << name;
    // Both schemas compile.
    rapidjson::SchemaDocument in_doc(in);
    rapidjson::SchemaDocument out_doc(out);
    auto& a = t["annotations"];
    bool ro = a["readOnlyHint"].GetBool();
    if (name == t_exec) {
      EXPECT_FALSE(ro);
      EXPECT_FALSE(a["destructiveHint"].GetBool());
      EXPECT_TRUE(a["openWorldHint"].GetBool());
    } else if (name == t_cancel || name == t_cleanup || name == t_signal
               || name == t_restart || name == t_delete_schedule
               || name == t_delete_template) {
      EXPECT_FALSE(ro) << name;
      EXPECT_TRUE(a["destructiveHint"].GetBool()) << name;
    } else if (name == t_input || name == t_pause || name == t_resume
               || name == t_resize || name == t_create_schedule
               || name == t_update_schedule || name == t_save_template) {
      EXPECT_FALSE(ro) << name;
      EXPECT_FALSE(a["destructiveHint"].GetBool()) << name;
    } else {
      EXPECT_TRUE(ro) << name;
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{t_exec,
                                          t_status,
                                          t_output,
                                          t_cancel,
                                          t_list,
                                          t_metrics,
                                          t_cleanup,
                                          t_wait,
                                          t_input,
                                          t_signal,
                                          t_pause,
                                          t_resume,
                                          t_resize,
                                          t_restart,
                                          t_create_schedule,
                                          t_list_schedules,
                                          t_update_schedule,
                                          t_delete_schedule,
                                          t_save_template,
                                          t_list_templates,
                                          t_delete_template}));
}

TEST(tools_list, priority_range_and_required) {
  auto doc = tools_list();
  for (auto& t : doc["result"]["tools"].GetArray()) {
    if (std::string(t["name"].GetString()) != t_exec)
      continue;
    auto& in = t["inputSchema"];
    auto& prio = in["properties"]["options"]["properties"]["priority"];
    EXPECT_EQ(prio["minimum"].GetInt(), 1);
    EXPECT_EQ(prio["maximum"].GetInt(), 10);
    EXPECT_EQ(prio["default"].GetInt(), 5);
    // command or template: validate_workflows.cpp says which is missing.
    EXPECT_FALSE(in.HasMember("required"));
  }
}

TEST(tools_list, cursor) {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list",)"
                      R"("params":{"cursor":"abc"}})");
  EXPECT_EQ(doc["result"]["tools"].Size(), 21u);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list",)"
                          R"("params":{"cursor":5}})"),
            -32602);
}

TEST(tools_list, output_schemas_accept_rendered_results) {
  // Spot check: the example shapes of docs/tools.md validate.
  rapidjson::SchemaDocument sd(
    default_catalog()->output_schema(tool_id::execute));
  auto doc = parse(R"({"success":true,"jobId":"j","status":"pending",)"
                   R"("queuePosition":1})");
  rapidjson::SchemaValidator v(sd);
  EXPECT_TRUE(doc.Accept(v));
}

// -- validation ---------------------------------------------------------------

TEST(validation, messages_name_the_field) {
  std::string field;
  EXPECT_EQ(rejected(t_exec, "{}", &field),
            "command is required (or template, to run a saved template)");
  EXPECT_EQ(field, "command");
  EXPECT_EQ(
    rejected(t_exec, R"({"command":"x","options":{"priority":11}})", &field),
    "options.priority must be at most 10");
  EXPECT_EQ(field, "options.priority");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"priority":0}})"),
            "options.priority must be at least 1");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"timeout":1.5}})"),
            "options.timeout must be an integer");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"timeout":-1}})"),
            "options.timeout must be at least 0");
  EXPECT_EQ(
    rejected(t_exec, R"({"command":"x","options":{"timeOut":1}})", &field),
    "unknown field options.timeOut");
  EXPECT_EQ(field, "options.timeOut");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","extra":1})"),
            "unknown field extra");
  EXPECT_EQ(rejected(t_exec, R"({"command":""})"), "command must not be empty");
  EXPECT_EQ(rejected(t_exec, R"({"command":5})"), "command must be a string");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","args":"a b"})"),
            "args must be an array");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","args":["a",3]})", &field),
            "args[1] must be a string");
  EXPECT_EQ(field, "args[1]");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":5})"),
            "options must be an object");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"shell":"yes"}})"),
            "options.shell must be a boolean");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"environment":{"A":1}}})"),
            "options.environment.A must be a string");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"outputByteLimit":10}})"),
            "options.outputByteLimit must be at least 1024");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"priority":99999999999999999999}})"),
            "options.priority must be an integer");
  EXPECT_EQ(rejected(t_status, "{}"), "jobId is required");
  EXPECT_EQ(rejected(t_status, R"({"jobId":""})"), "jobId must not be empty");
  EXPECT_EQ(rejected(t_status, R"({"jobId":null})"), "jobId must be a string");
  EXPECT_EQ(rejected(t_metrics, R"({"x":1})"), "unknown field x");
}

TEST(validation, nul_bytes) {
  std::string field;
  EXPECT_EQ(rejected(t_exec, R"({"command":"a\u0000b"})", &field),
            "command must not contain NUL bytes");
  EXPECT_EQ(field, "command");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","args":["ok","\u0000"]})"),
            "args[1] must not contain NUL bytes");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"environment":{"A":"\u0000"}}})"),
            "options.environment.A must not contain NUL bytes");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"environment":{"A\u0000":"v"}}})"),
            "options.environment has a name with a NUL byte");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"workingDirectory":"/t\u0000"}})"),
            "options.workingDirectory must not contain NUL bytes");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"sessionId":"s\u0000"}})"),
            "options.sessionId must not contain NUL bytes");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":)"
                             R"({"tags":{"t":"\u0000"}}})"),
            "options.tags.t must not contain NUL bytes");
  EXPECT_EQ(rejected(t_wait, R"({"jobId":"j","pattern":"a\u0000"})"),
            "pattern must not contain NUL bytes");
  EXPECT_EQ(rejected(t_status, R"({"jobId":"j\u0000"})"),
            "jobId must not contain NUL bytes");
}

TEST(validation, environment_names) {
  std::string field;
  EXPECT_EQ(rejected(t_exec,
                     R"({"command":"x","options":)"
                     R"({"environment":{"":"v"}}})",
                     &field),
            "options.environment: a variable name must have 1 to 255 bytes "
            "and no '=' or NUL");
  EXPECT_EQ(field, "options.environment");
  EXPECT_EQ(rejected(t_exec,
                     R"({"command":"x","options":)"
                     R"({"environment":{"A=B":"v"}}})",
                     &field),
            "options.environment.A=B: a variable name must have 1 to 255 "
            "bytes and no '=' or NUL");
  EXPECT_EQ(field, "options.environment.A=B");
}

TEST(validation, sizes) {
  std::string args = "[";
  for (int i = 0; i < 4097; ++i)
    args += i ? ",\"a\"" : "\"a\"";
  args += "]";
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","args":)" + args + "}"),
            "args must have at most 4096 items");
  std::string big(100000, 'a');
  std::string many = "[";
  for (int i = 0; i < 11; ++i)
    many += (i ? ",\"" : "\"") + big + "\"";
  many += "]";
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","args":)" + many + "}"),
            "command, args and options.environment (each NAME=VALUE with its "
            "NUL) must have at most 1048576 bytes together");
  EXPECT_EQ(
    rejected(t_exec, R"({"command":")" + std::string(131073, 'a') + R"("})"),
    "command must have at most 131072 characters");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"tags":{"":1}}})"),
            "options.tags names must have 1 to 256 bytes");
}

TEST(validation, pattern) {
  std::string field;
  auto msg = rejected(t_wait, R"({"jobId":"j","pattern":"(unclosed"})", &field);
  EXPECT_EQ(msg.rfind("pattern is not a valid RE2 regular expression: ", 0), 0u)
    << msg;
  EXPECT_EQ(field, "pattern");
  EXPECT_TRUE(std::holds_alternative<wait_query>(
    dispatched(t_wait, R"({"jobId":"j","pattern":"x{2,3} \\{9999 (?i)ok"})")));
  EXPECT_EQ(rejected(t_wait, R"({"jobId":"j","until":"forever"})"),
            "until must be one of exit, output");
}

TEST(validation, statuses_and_tags) {
  EXPECT_EQ(rejected(t_list, R"({"options":{"status":"done"}})"),
            "options.status must be one of pending, running, completed, "
            "failed, cancelled, or an array of them");
  EXPECT_EQ(rejected(t_list, R"({"options":{"status":["running","done"]}})"),
            "options.status must be one of pending, running, completed, "
            "failed, cancelled, or an array of them");
  EXPECT_EQ(rejected(t_list, R"({"options":{"limit":1001}})"),
            "options.limit must be at most 1000");
  EXPECT_EQ(rejected(t_cleanup, R"({"options":{"statuses":["running"]}})"),
            "options.statuses[0] must be one of completed, failed, cancelled");
  EXPECT_EQ(rejected(t_cleanup, R"({"options":{"statuses":"failed"}})"),
            "options.statuses must be an array");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"tags":{"a":{}}}})"),
            "options.tags.a must be a string, a number or a boolean");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"tags":{"a":[1]}}})"),
            "options.tags.a must be a string, a number or a boolean");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"tags":{"a":")"
                               + std::string(1025, 'v') + R"("}}})"),
            "options.tags.a must have at most 1024 characters");
  EXPECT_EQ(rejected(t_list, R"({"options":{"tags":{"a":null}}})"),
            "options.tags.a must be a string, a number or a boolean");
  EXPECT_EQ(rejected(t_output, R"({"jobId":"j","options":{"stream":"x"}})"),
            "options.stream must be one of stdout, stderr, both");
  EXPECT_EQ(rejected(t_output, R"({"jobId":"j","options":{"limit":0}})"),
            "options.limit must be at least 1");
  EXPECT_EQ(rejected(t_cancel, R"({"jobId":"j","options":{"graceMs":-5}})"),
            "options.graceMs must be at least 0");
}

TEST(validation, deep_arguments) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  EXPECT_EQ(rejected(t_list, R"({"options":{"status":)" + deep + "}}"),
            "arguments are nested too deeply");
  EXPECT_EQ(rejected(t_exec, R"({"command":)" + deep + "}"),
            "arguments are nested too deeply");
}

// -- parsing ------------------------------------------------------------------

TEST(parsing, execute_defaults) {
  auto spec = std::get<job_spec>(dispatched(t_exec, R"({"command":"ls"})"));
  EXPECT_EQ(spec.command, "ls");
  EXPECT_TRUE(spec.args.empty());
  EXPECT_FALSE(spec.shell);
  EXPECT_EQ(spec.session_id, "default");
  EXPECT_EQ(spec.working_directory, "");
  EXPECT_TRUE(spec.environment.empty());
  EXPECT_EQ(spec.timeout_ms, use_default);
  EXPECT_EQ(spec.priority, 5);
  EXPECT_TRUE(spec.tags.empty());
  EXPECT_EQ(spec.kill_grace_ms, use_default);
  EXPECT_EQ(spec.output_byte_limit, use_default);
  EXPECT_EQ(spec.kind, "process");
}

TEST(parsing, execute_full) {
  auto spec = std::get<job_spec>(dispatched(t_exec, R"({
    "command": "python", "args": ["train.py", "--epochs", "100"],
    "options": {"sessionId": "ml", "workingDirectory": "/srv",
      "environment": {"A": "1", "B": ""}, "timeout": 0, "priority": 8,
      "tags": {"model": "nlp", "n": 3, "ok": true, "q": "a\"b"},
      "shell": true, "killGraceMs": 100, "outputByteLimit": 4096}})"));
  EXPECT_EQ(spec.command, "python");
  EXPECT_EQ(spec.args,
            (std::vector<std::string>{"train.py", "--epochs", "100"}));
  EXPECT_EQ(spec.session_id, "ml");
  EXPECT_EQ(spec.working_directory, "/srv");
  EXPECT_EQ(spec.environment.at("A"), "1");
  EXPECT_EQ(spec.environment.at("B"), "");
  EXPECT_EQ(spec.timeout_ms, 0);
  EXPECT_EQ(spec.priority, 8);
  EXPECT_EQ(spec.tags.at("model"), "\"nlp\"");
  EXPECT_EQ(spec.tags.at("n"), "3");
  EXPECT_EQ(spec.tags.at("ok"), "true");
  EXPECT_EQ(spec.tags.at("q"), R"("a\"b")");
  EXPECT_TRUE(spec.shell);
  EXPECT_EQ(spec.kill_grace_ms, 100);
  EXPECT_EQ(spec.output_byte_limit, 4096);
}

TEST(parsing, t_status) {
  EXPECT_EQ(std::get<std::string>(dispatched(t_status, R"({"jobId":"job-1"})")),
            "job-1");
}

TEST(parsing, t_output) {
  auto call = std::get<output_call>(dispatched(t_output, R"({"jobId":"j"})"));
  EXPECT_EQ(call.job_id, "j");
  EXPECT_EQ(call.query.since, 0u);
  EXPECT_FALSE(call.query.latest);
  EXPECT_EQ(call.query.limit, 0u);
  EXPECT_EQ(call.query.max_bytes, 65536u);
  EXPECT_EQ(call.query.streams, stream_filter::both);
  EXPECT_EQ(call.query.tail_lines, 0u);
  call = std::get<output_call>(dispatched(t_output, R"({"jobId":"j","options":{
    "since":9007199254740991,"latest":true,"limit":5,"maxBytes":10,
    "stream":"stderr","tail":3}})"));
  EXPECT_EQ(call.query.since, 9007199254740991u);
  EXPECT_TRUE(call.query.latest);
  EXPECT_EQ(call.query.limit, 5u);
  EXPECT_EQ(call.query.max_bytes, 10u);
  EXPECT_EQ(call.query.streams, stream_filter::err);
  EXPECT_EQ(call.query.tail_lines, 3u);
  call = std::get<output_call>(
    dispatched(t_output, R"({"jobId":"j","options":{"stream":"stdout"}})"));
  EXPECT_EQ(call.query.streams, stream_filter::out);
}

TEST(parsing, t_cancel) {
  auto call = std::get<cancel_call>(dispatched(t_cancel, R"({"jobId":"j"})"));
  EXPECT_EQ(call.job_id, "j");
  EXPECT_EQ(call.grace_ms, use_default);
  call = std::get<cancel_call>(
    dispatched(t_cancel, R"({"jobId":"j","options":{"graceMs":0}})"));
  EXPECT_EQ(call.grace_ms, 0);
}

TEST(parsing, t_list) {
  auto q = std::get<list_query>(dispatched(t_list, "{}"));
  EXPECT_TRUE(q.statuses.empty());
  EXPECT_EQ(q.session_id, "");
  EXPECT_TRUE(q.tags.empty());
  EXPECT_EQ(q.limit, 100u);
  EXPECT_EQ(q.cursor, "");
  q = std::get<list_query>(dispatched(t_list, R"({"options":{"status":"failed",
    "sessionId":"s","tags":{"a":"x","b":2},"limit":7,"cursor":"c2"}})"));
  EXPECT_EQ(q.statuses, std::vector<job_status>{job_status::failed});
  EXPECT_EQ(q.session_id, "s");
  EXPECT_EQ(q.tags.at("a"), "\"x\"");
  EXPECT_EQ(q.tags.at("b"), "2");
  EXPECT_EQ(q.limit, 7u);
  EXPECT_EQ(q.cursor, "c2");
  q = std::get<list_query>(
    dispatched(t_list, R"({"options":{"status":["pending","running"]}})"));
  EXPECT_EQ(q.statuses, (std::vector<job_status>{job_status::pending,
                                                 job_status::running}));
}

TEST(parsing, t_metrics) {
  EXPECT_TRUE(
    std::holds_alternative<metrics_call>(dispatched(t_metrics, "{}")));
}

TEST(parsing, t_cleanup) {
  auto q = std::get<cleanup_query>(dispatched(t_cleanup, "{}"));
  EXPECT_EQ(q.max_age_ms, 0);
  EXPECT_EQ(q.keep_count, 0u);
  EXPECT_TRUE(q.statuses.empty());
  EXPECT_EQ(q.session_id, "");
  q = std::get<cleanup_query>(dispatched(t_cleanup, R"({"options":{
    "maxAge":3600000,"keepCount":2,"statuses":["failed","cancelled"],
    "sessionId":"s"}})"));
  EXPECT_EQ(q.max_age_ms, 3600000);
  EXPECT_EQ(q.keep_count, 2u);
  EXPECT_EQ(q.statuses, (std::vector<job_status>{job_status::failed,
                                                 job_status::cancelled}));
  EXPECT_EQ(q.session_id, "s");
}

TEST(parsing, t_wait) {
  auto q = std::get<wait_query>(dispatched(t_wait, R"({"jobId":"j"})"));
  EXPECT_EQ(q.job_id, "j");
  EXPECT_EQ(q.timeout_ms, use_default);
  EXPECT_EQ(q.until, wait_until::exit);
  EXPECT_EQ(q.pattern, "");
  EXPECT_EQ(q.since, 0u);
  q = std::get<wait_query>(dispatched(t_wait, R"({"jobId":"j","timeoutMs":500,
    "until":"output","pattern":"Epoch \\d+","since":4})"));
  EXPECT_EQ(q.timeout_ms, 500);
  EXPECT_EQ(q.until, wait_until::output);
  EXPECT_EQ(q.pattern, "Epoch \\d+");
  EXPECT_EQ(q.since, 4u);
}

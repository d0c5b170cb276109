// Issue 13 on the protocol side: options.limits and options.sandbox (schema,
// maxima from the server's configuration, parsing, in schedules and
// templates too), the bounds of options.environment, and the rendering of
// a job's `security` and `usage.limitExceeded`.
#include "test_util.hpp"

#include "protocol/render.hpp"
#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/schema.h>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

struct limit_case {
  const char* name;
  int64_t resource_limits::*field;
  int64_t absolute_max;
};

const limit_case limit_cases[] = {
  {"cpuSeconds", &resource_limits::cpu_seconds, 366 * 86400},
  {"memoryBytes", &resource_limits::memory_bytes, int64_t{1} << 60},
  {"maxProcesses", &resource_limits::max_processes, int64_t{1} << 31},
  {"openFiles", &resource_limits::open_files, int64_t{1} << 31},
  {"fileSizeBytes", &resource_limits::file_size_bytes, int64_t{1} << 60},
};

const rapidjson::Value& exec_option(const tool_catalog& c, const char* name) {
  return c.input_schema(
    tool_id::execute)["properties"]["options"]["properties"][name];
}

std::string limit_args(const char* name, int64_t value) {
  return R"({"command":"x","options":{"limits":{")" + std::string(name)
         + "\":" + std::to_string(value) + "}}}";
}

server_options with_maxima() {
  server_options o;
  o.limit_maxima.cpu_seconds = 60;
  o.limit_maxima.memory_bytes = 512 * 1024 * 1024;
  o.limit_maxima.max_processes = 64;
  o.limit_maxima.open_files = 256;
  o.limit_maxima.file_size_bytes = 1 << 20;
  return o;
}

job_spec executed(mcp_session& s, const std::string& args) {
  auto r = dispatched(s, t_exec, args);
  auto spec = std::get_if<job_spec>(&r);
  EXPECT_NE(spec, nullptr) << args;
  return spec != nullptr ? *spec : job_spec{};
}

// The status reply of `job`, validated against the status output schema;
// returns its `job`.
rapidjson::Document status_of(const job_info& job) {
  mcp_session s;
  auto doc = parse(s.render_result("1", tool_result{job}));
  auto& sc = doc["result"]["structuredContent"];
  rapidjson::SchemaDocument sd(
    default_catalog()->output_schema(tool_id::status));
  rapidjson::SchemaValidator v(sd);
  EXPECT_TRUE(sc.Accept(v)) << to_json(sc);
  return parse(to_json(sc["job"]));
}

job_info finished_job() {
  job_info j;
  j.id = "job-1";
  j.kind = "process";
  j.command = "x";
  j.status = job_status::failed;
  j.session_id = "default";
  j.created_at = 1795861800000;
  j.started_at = j.created_at + 1;
  j.finished_at = j.created_at + 100;
  return j;
}

} // namespace

TEST(limits_schema, absolute_maxima_without_server_maxima) {
  auto& limits = exec_option(*default_catalog(), "limits");
  EXPECT_FALSE(limits["additionalProperties"].GetBool());
  for (auto& c : limit_cases) {
    SCOPED_TRACE(c.name);
    auto& p = limits["properties"][c.name];
    EXPECT_STREQ(p["type"].GetString(), "integer");
    EXPECT_EQ(p["minimum"].GetInt64(), 1);
    EXPECT_EQ(p["maximum"].GetInt64(), c.absolute_max);
  }
}

TEST(limits_schema, server_maxima_are_the_schema_maxima) {
  auto options = with_maxima();
  tool_catalog catalog(options);
  auto& props = exec_option(catalog, "limits")["properties"];
  for (auto& c : limit_cases)
    EXPECT_EQ(props[c.name]["maximum"].GetInt64(),
              options.limit_maxima.*c.field)
      << c.name;
  // One maximum set: the others keep the absolute ones.
  server_options one;
  one.limit_maxima.open_files = 100;
  tool_catalog partial(one);
  auto& p2 = exec_option(partial, "limits")["properties"];
  EXPECT_EQ(p2["openFiles"]["maximum"].GetInt64(), 100);
  EXPECT_EQ(p2["cpuSeconds"]["maximum"].GetInt64(), 366 * 86400);
}

TEST(limits_options, each_at_one_and_at_its_server_maximum) {
  auto options = with_maxima();
  mcp_session s(options);
  for (auto& c : limit_cases) {
    SCOPED_TRACE(c.name);
    for (auto value : {int64_t{1}, options.limit_maxima.*c.field}) {
      auto spec = executed(s, limit_args(c.name, value));
      EXPECT_EQ(spec.limits.*c.field, value);
      // Only that one is set.
      resource_limits only;
      only.*c.field = value;
      EXPECT_EQ(spec.limits.cpu_seconds, only.cpu_seconds);
      EXPECT_EQ(spec.limits.memory_bytes, only.memory_bytes);
      EXPECT_EQ(spec.limits.max_processes, only.max_processes);
      EXPECT_EQ(spec.limits.open_files, only.open_files);
      EXPECT_EQ(spec.limits.file_size_bytes, only.file_size_bytes);
    }
  }
}

TEST(limits_options, zero_and_one_past_the_maximum_are_refused) {
  auto options = with_maxima();
  mcp_session s(options);
  for (auto& c : limit_cases) {
    SCOPED_TRACE(c.name);
    auto path = std::string("options.limits.") + c.name;
    std::string field;
    EXPECT_EQ(rejected(s, t_exec, limit_args(c.name, 0), &field),
              path + " must be at least 1");
    EXPECT_EQ(field, path);
    auto max = options.limit_maxima.*c.field;
    EXPECT_EQ(rejected(s, t_exec, limit_args(c.name, max + 1), &field),
              path + " must be at most " + std::to_string(max));
    EXPECT_EQ(field, path);
  }
}

TEST(limits_options, all_together_unknown_ones_and_wrong_types) {
  auto spec = std::get<job_spec>(dispatched(
    t_exec, R"({"command":"x","options":{"limits":{"cpuSeconds":5,)"
            R"("memoryBytes":1048576,"maxProcesses":10,"openFiles":64,)"
            R"("fileSizeBytes":4096}}})"));
  EXPECT_EQ(spec.limits.cpu_seconds, 5);
  EXPECT_EQ(spec.limits.memory_bytes, 1048576);
  EXPECT_EQ(spec.limits.max_processes, 10);
  EXPECT_EQ(spec.limits.open_files, 64);
  EXPECT_EQ(spec.limits.file_size_bytes, 4096);
  // No limits asked: none parsed.
  auto plain = std::get<job_spec>(dispatched(t_exec, R"({"command":"x"})"));
  EXPECT_FALSE(plain.limits.any());
  EXPECT_FALSE(plain.sandbox);
  std::string field;
  EXPECT_EQ(rejected(t_exec,
                     R"({"command":"x","options":{"limits":{"cores":2}}})",
                     &field),
            "unknown field options.limits.cores");
  EXPECT_EQ(field, "options.limits.cores");
  EXPECT_EQ(
    rejected(t_exec,
             R"({"command":"x","options":{"limits":{"openFiles":"9"}}})",
             &field),
    "options.limits.openFiles must be an integer");
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"limits":5}})"),
            "options.limits must be an object");
}

TEST(limits_options, schedules_and_templates_keep_and_check_them) {
  auto options = with_maxima();
  auto catalog = std::make_shared<const tool_catalog>(options);
  mcp_session s(catalog);
  const std::string job
    = R"("command":"x","options":{"limits":{"cpuSeconds":60},)"
      R"("sandbox":true})";
  for (auto& [tool, base] :
       {std::pair<std::string, std::string>{"console_create_schedule",
                                            R"("cron":"* * * * *",)"},
        {"console_update_schedule", R"("scheduleId":"s",)"},
        {"console_save_template", R"("name":"t",)"}}) {
    SCOPED_TRACE(tool);
    auto r = dispatched(s, tool, "{" + base + job + "}");
    std::string text;
    if (auto x = std::get_if<schedule_spec>(&r))
      text = x->job;
    else if (auto u = std::get_if<schedule_update>(&r))
      text = u->values.job;
    else if (auto t = std::get_if<job_template>(&r))
      text = t->job;
    job_spec spec;
    tool_error err;
    ASSERT_TRUE(parse_job_object(*catalog, text, spec, err)) << err.message;
    EXPECT_EQ(spec.limits.cpu_seconds, 60);
    EXPECT_TRUE(spec.sandbox);
    // Over the server's maximum: refused as for console_execute_async.
    std::string field;
    auto over = R"("command":"x","options":{"limits":{"cpuSeconds":61}})";
    EXPECT_EQ(rejected(s, tool, "{" + base + over + "}", &field),
              "options.limits.cpuSeconds must be at most 60");
    EXPECT_EQ(field, "options.limits.cpuSeconds");
  }
  // A template's call may set them too (merged, then checked).
  job_template tpl;
  tpl.name = "t";
  tpl.job = R"({"command":"x","options":{"limits":{"openFiles":9}}})";
  template_call call;
  call.name = "t";
  call.options = R"({"sandbox":true,"limits":{"cpuSeconds":7}})";
  job_spec spec;
  tool_error err;
  ASSERT_TRUE(instantiate(*catalog, tpl, call, spec, err)) << err.message;
  EXPECT_EQ(spec.limits.cpu_seconds, 7);
  EXPECT_TRUE(spec.sandbox);
  call.options = R"({"limits":{"cpuSeconds":0}})";
  EXPECT_FALSE(instantiate(*catalog, tpl, call, spec, err));
  EXPECT_EQ(err.details["field"], "\"options.limits.cpuSeconds\"");
}

TEST(sandbox_option, parsed_and_described_per_server) {
  auto spec = std::get<job_spec>(
    dispatched(t_exec, R"({"command":"x","options":{"sandbox":true}})"));
  EXPECT_TRUE(spec.sandbox);
  spec = std::get<job_spec>(
    dispatched(t_exec, R"({"command":"x","options":{"sandbox":false}})"));
  EXPECT_FALSE(spec.sandbox);
  EXPECT_EQ(rejected(t_exec, R"({"command":"x","options":{"sandbox":1}})"),
            "options.sandbox must be a boolean");
  auto text = [](const server_options& o) {
    tool_catalog c(o);
    auto& p = exec_option(c, "sandbox");
    EXPECT_STREQ(p["type"].GetString(), "boolean");
    return std::string(p["description"].GetString());
  };
  server_options none;
  auto unavailable = text(none);
  EXPECT_NE(unavailable.find("Landlock"), std::string::npos);
  EXPECT_NE(unavailable.find("working directory"), std::string::npos);
  EXPECT_NE(unavailable.find("NOT_SUPPORTED"), std::string::npos);
  server_options available;
  available.sandbox_available = true;
  auto usable = text(available);
  EXPECT_EQ(usable.find("NOT_SUPPORTED"), std::string::npos);
  EXPECT_EQ(usable.find("every job"), std::string::npos);
  server_options forced = available;
  forced.sandbox_forced = true;
  EXPECT_NE(text(forced).find("confines every job anyway"), std::string::npos);
}

TEST(environment_bounds, names) {
  mcp_session s;
  std::string field;
  auto env = [](const std::string& name, const std::string& value = "v") {
    return R"({"command":"x","options":{"environment":{")" + name + R"(":")"
           + value + R"("}}})";
  };
  auto spec = executed(s, env(std::string(255, 'N')));
  EXPECT_EQ(spec.environment.count(std::string(255, 'N')), 1u);
  auto long_name = std::string(256, 'N');
  EXPECT_EQ(rejected(s, t_exec, env(long_name), &field),
            "options.environment." + std::string(64, 'N')
              + "...: a variable name must have 1 to 255 bytes and no '=' "
                "or NUL");
  EXPECT_EQ(field, "options.environment." + std::string(64, 'N') + "...");
  EXPECT_EQ(rejected(s, t_exec, env("A=B"), &field),
            "options.environment.A=B: a variable name must have 1 to 255 "
            "bytes and no '=' or NUL");
  EXPECT_EQ(field, "options.environment.A=B");
  EXPECT_EQ(rejected(s, t_exec, env(""), &field),
            "options.environment: a variable name must have 1 to 255 bytes "
            "and no '=' or NUL");
  EXPECT_EQ(rejected(s, t_exec, env("A\\u0000B"), &field),
            "options.environment has a name with a NUL byte");
  EXPECT_EQ(field, "options.environment");
  EXPECT_EQ(rejected(s, t_exec, env("A", "x\\u0000y"), &field),
            "options.environment.A must not contain NUL bytes");
  EXPECT_EQ(field, "options.environment.A");
  // Names that are odd but valid for execve.
  spec = executed(s, env("1 weird-name.x"));
  EXPECT_EQ(spec.environment["1 weird-name.x"], "v");
}

TEST(environment_bounds, one_entry_within_max_arg_strlen) {
  mcp_session s;
  std::string field;
  // NAME=VALUE with its NUL at most 131072 bytes: "AB=" + 131068 bytes.
  auto env = [](size_t value_bytes) {
    return R"({"command":"x","options":{"environment":{"AB":")"
           + std::string(value_bytes, 'v') + R"("}}})";
  };
  auto spec = executed(s, env(131068));
  EXPECT_EQ(spec.environment["AB"].size(), 131068u);
  EXPECT_EQ(rejected(s, t_exec, env(131069), &field),
            "options.environment.AB: NAME=VALUE must have at most 131071 "
            "bytes (Linux's MAX_ARG_STRLEN, with its NUL)");
  EXPECT_EQ(field, "options.environment.AB");
  // Bytes, not characters: 43690 three-byte characters are 131070 bytes,
  // well within the schema's 131072 characters, but over with the name.
  std::string euros;
  for (int i = 0; i < 43690; ++i)
    euros += "\xE2\x82\xAC";
  EXPECT_EQ(rejected(s, t_exec,
                     R"({"command":"x","options":{"environment":{"AB":")"
                       + euros + R"("}}})",
                     &field),
            "options.environment.AB: NAME=VALUE must have at most 131071 "
            "bytes (Linux's MAX_ARG_STRLEN, with its NUL)");
}

TEST(environment_bounds, count_and_total) {
  mcp_session s;
  std::string field;
  auto many = [](int n) {
    std::string env = "{";
    for (int i = 0; i < n; ++i)
      env += (i ? ",\"V" : "\"V") + std::to_string(i) + "\":\"1\"";
    return R"({"command":"x","options":{"environment":)" + env + "}}}";
  };
  EXPECT_EQ(executed(s, many(1024)).environment.size(), 1024u);
  EXPECT_EQ(rejected(s, t_exec, many(1025), &field),
            "options.environment must have at most 1024 entries");
  EXPECT_EQ(field, "options.environment");
  // The whole: command "x" (1 byte) and 9 entries "Vn=" + value + NUL,
  // exactly 1048576 bytes, then one more.
  auto total = [](size_t last_value) {
    std::string env;
    for (int i = 0; i < 8; ++i)
      env += "\"V" + std::to_string(i) + "\":\"" + std::string(131000, 'a')
             + "\",";
    env += "\"V8\":\"" + std::string(last_value, 'a') + "\"";
    return R"({"command":"x","options":{"environment":{)" + env + "}}}";
  };
  // 1 + 8 * (3 + 131000 + 1) + (3 + v + 1) = 1048576.
  size_t last = 1048576 - 1 - 8 * 131004 - 4;
  EXPECT_EQ(executed(s, total(last)).environment.size(), 9u);
  EXPECT_EQ(rejected(s, t_exec, total(last + 1), &field),
            "command, args and options.environment (each NAME=VALUE with its "
            "NUL) must have at most 1048576 bytes together");
  EXPECT_EQ(field, "options.environment");
}

TEST(security_render, an_unconfined_job_says_so) {
  auto job = status_of(finished_job());
  EXPECT_EQ(to_json(job["security"]),
            R"({"limits":{},"sandbox":{"enabled":false},)"
            R"("environment":"inherit"})");
  EXPECT_FALSE(job.HasMember("usage"));
}

TEST(security_render, limits_in_force_sandbox_and_policy) {
  auto j = finished_job();
  auto& sec = j.security;
  sec.limits.cpu_seconds = 10;
  sec.limits.memory_bytes = 268435456;
  sec.limits.max_processes = 32;
  sec.enforced_by = {{"cpuSeconds", "rlimit"},
                     {"memoryBytes", "cgroup-v1"},
                     {"maxProcesses", "cgroup-v1"}};
  sec.sandboxed = true;
  sec.landlock_abi = 7;
  sec.writable = {"/srv/work", "/tmp"};
  sec.env_policy = "clean";
  auto job = status_of(j);
  EXPECT_EQ(to_json(job["security"]),
            R"({"limits":{"cpuSeconds":{"value":10,"enforcedBy":"rlimit"},)"
            R"("memoryBytes":{"value":268435456,"enforcedBy":"cgroup-v1"},)"
            R"("maxProcesses":{"value":32,"enforcedBy":"cgroup-v1"}},)"
            R"("sandbox":{"enabled":true,"landlockAbi":7,)"
            R"("writable":["/srv/work","/tmp"],"readable":"all"},)"
            R"("environment":"clean"})");
  sec.readable = {"/srv", "/usr"};
  job = status_of(j);
  EXPECT_EQ(to_json(job["security"]["sandbox"]["readable"]),
            R"(["/srv","/usr"])");
}

TEST(security_render, limit_exceeded_in_usage_with_its_error_code) {
  auto j = finished_job();
  j.security.limits.memory_bytes = 1048576;
  j.security.enforced_by = {{"memoryBytes", "cgroup-v2"}};
  j.usage.known = true;
  j.usage.cpu_user_ms = 12;
  j.usage.max_rss_kb = 1024;
  j.usage.limit_exceeded = "memoryBytes";
  j.exit_code = -1;
  j.signal = 9;
  j.error_code = codes::limit_exceeded;
  j.error = "Stopped by its limit memoryBytes (1048576)";
  auto job = status_of(j);
  EXPECT_STREQ(job["usage"]["limitExceeded"].GetString(), "memoryBytes");
  EXPECT_EQ(job["usage"]["cpuUserMs"].GetInt64(), 12);
  EXPECT_STREQ(job["errorCode"].GetString(), "LIMIT_EXCEEDED");
  EXPECT_STREQ(job["status"].GetString(), "failed");
  // Without usage figures the limit is still shown.
  j.usage.known = false;
  job = status_of(j);
  EXPECT_EQ(to_json(job["usage"]), R"({"limitExceeded":"memoryBytes"})");
  // A list stays small: usage yes, security no.
  mcp_session s;
  list_page list;
  list.jobs = {j};
  list.total = 1;
  auto doc = parse(s.render_result("1", tool_result{list}));
  auto& item = doc["result"]["structuredContent"]["jobs"][0];
  EXPECT_STREQ(item["usage"]["limitExceeded"].GetString(), "memoryBytes");
  EXPECT_FALSE(item.HasMember("security"));
}

TEST(security_render, submit_replies_with_a_job_show_it) {
  submit_reply reply;
  reply.result = submit_result{"job-1", job_status::failed, 0, false, "", ""};
  reply.waited = true;
  reply.job = finished_job();
  reply.job.security.limits.open_files = 16;
  reply.job.security.enforced_by = {{"openFiles", "rlimit"}};
  mcp_session s;
  auto doc = parse(s.render_result("1", tool_result{reply}));
  auto& sc = doc["result"]["structuredContent"];
  rapidjson::SchemaDocument sd(
    default_catalog()->output_schema(tool_id::execute));
  rapidjson::SchemaValidator v(sd);
  EXPECT_TRUE(sc.Accept(v)) << to_json(sc);
  EXPECT_EQ(to_json(sc["job"]["security"]["limits"]),
            R"({"openFiles":{"value":16,"enforcedBy":"rlimit"}})");
}

// The schedule and template tools' parsing, and templates: checks at save,
// substitution (literal, never re-expanded, bounded), parameter values and
// the call's options over the template's.
#include "test_util.hpp"

#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

job_template saved(const std::string& args) {
  return std::get<job_template>(dispatched("console_save_template", args));
}

// Instantiates `tpl` with `params` (a JSON object) and call options.
bool run(const job_template& tpl, const std::string& params,
         const std::string& options, job_spec& out, tool_error& err) {
  auto call = std::get<template_call>(dispatched(
    "console_execute_async", R"({"template":")" + tpl.name + R"(","params":)"
                               + params + R"(,"options":)" + options + "}"));
  return instantiate(*default_catalog(), tpl, call, out, err);
}

const char* deploy = R"({"name":"deploy","description":"Deploy a build",
  "command":"/usr/bin/deploy",
  "args":["--env={{env}}","{{target}}","--tag","v{{version}}"],
  "options":{"workingDirectory":"/srv/{{env}}","priority":3,
    "environment":{"TARGET":"{{target}}","KEEP":"1"},"tags":{"team":"a"}},
  "parameters":{"env":{"pattern":"prod|staging","default":"staging"},
    "target":{"description":"host"},
    "version":{"pattern":"[0-9]+(\\.[0-9]+)*","default":"1"}}})";

} // namespace

TEST(schedule_tools, create_parses_into_a_schedule_spec) {
  auto spec = std::get<schedule_spec>(dispatched(
    "console_create_schedule",
    R"({"name":"hourly check","cron":"@hourly","command":"check",)"
    R"("args":["--all"],"options":{"priority":9,"retry":{"maxAttempts":3}},)"
    R"("overlap":"queue","catchUp":true,"enabled":false,)"
    R"("timezone":"Europe/Berlin"})"));
  EXPECT_EQ(spec.name, "hourly check");
  EXPECT_EQ(spec.cron, "@hourly");
  EXPECT_EQ(spec.timezone, "Europe/Berlin");
  EXPECT_EQ(spec.overlap, overlap_policy::queue);
  EXPECT_TRUE(spec.catch_up);
  EXPECT_FALSE(spec.enabled);
  EXPECT_EQ(spec.job, R"({"command":"check","args":["--all"],)"
                      R"("options":{"priority":9,"retry":{"maxAttempts":3}}})");
  job_spec job;
  tool_error err;
  ASSERT_TRUE(parse_job_object(*default_catalog(), spec.job, job, err));
  EXPECT_EQ(job.priority, 9);
  EXPECT_EQ(job.retry.max_attempts, 3);
  auto defaults = std::get<schedule_spec>(dispatched(
    "console_create_schedule", R"({"cron":"*/5 * * * *","command":"x"})"));
  EXPECT_EQ(defaults.timezone, "UTC");
  EXPECT_EQ(defaults.overlap, overlap_policy::skip);
  EXPECT_FALSE(defaults.catch_up);
  EXPECT_TRUE(defaults.enabled);
  EXPECT_EQ(defaults.job, R"({"command":"x"})");
}

TEST(schedule_tools, refusals_name_the_field) {
  const std::string t = "console_create_schedule";
  std::string msg;
  for (auto name : {"waitMs", "idempotencyKey", "startAt", "delayMs",
                    "dependsOn", "waitOutput", "dependencyCondition"}) {
    auto value = std::string(name) == "dependsOn"    ? "[\"a\"]"
                 : std::string(name) == "waitOutput" ? "{}"
                 : std::string(name) == "startAt" ? "\"2026-12-01T18:00:00Z\""
                 : std::string(name) == "idempotencyKey"      ? "\"k\""
                 : std::string(name) == "dependencyCondition" ? "\"finish\""
                                                              : "1";
    EXPECT_EQ(refused_field(t,
                            R"({"cron":"* * * * *","command":"x","options":{")"
                              + std::string(name) + "\":" + value + "}}",
                            &msg),
              "options." + std::string(name));
    EXPECT_EQ(msg, "unknown field options." + std::string(name));
  }
  // The job's own rules, named as written.
  EXPECT_EQ(refused_field(t, R"({"cron":"* * * * *","command":"x",)"
                             R"("options":{"priority":11}})"),
            "options.priority");
  EXPECT_EQ(refused_field(t, R"({"cron":"* * * * *","command":"x",)"
                             R"("options":{"environment":{"A=B":"1"}}})"),
            "options.environment.A=B");
  EXPECT_EQ(refused_field(t, R"({"command":"x"})", &msg), "cron");
  EXPECT_EQ(refused_field(t, R"({"cron":"* * * * *"})"), "command");
  EXPECT_EQ(refused_field(t, R"({"cron":"* * * * \u00e9","command":"x"})"),
            "cron");
  EXPECT_EQ(refused_field(t, R"({"cron":")" + std::string(257, '*')
                               + R"(","command":"x"})"),
            "cron");
  for (auto zone : {"../../etc/passwd", "/etc/localtime", "Europe/../UTC",
                    "Europe//Berlin", "Europe/", "Eu rope", ".hidden"})
    EXPECT_EQ(refused_field(t, R"({"cron":"@daily","command":"x",)"
                               R"("timezone":")"
                                 + std::string(zone) + "\"}"),
              "timezone")
      << zone;
  EXPECT_EQ(refused_field(t, R"({"cron":"@daily","command":"x",)"
                             R"("overlap":"never"})"),
            "overlap");
  EXPECT_EQ(refused_field(t, R"({"cron":"@daily","command":"x","name":""})"),
            "name");
}

TEST(schedule_tools, update_sets_only_what_is_given) {
  auto up = std::get<schedule_update>(dispatched(
    "console_update_schedule", R"({"scheduleId":"sched-1","enabled":false})"));
  EXPECT_EQ(up.id, "sched-1");
  EXPECT_TRUE(up.has_enabled);
  EXPECT_FALSE(up.values.enabled);
  EXPECT_FALSE(up.has_name || up.has_cron || up.has_timezone || up.has_job
               || up.has_overlap || up.has_catch_up);
  up = std::get<schedule_update>(dispatched(
    "console_update_schedule",
    R"({"scheduleId":"s","command":"y","args":["1"],"cron":"0 * * * *",)"
    R"("overlap":"cancel_previous","catchUp":true,"timezone":"UTC","name":"n"})"));
  EXPECT_TRUE(up.has_job && up.has_cron && up.has_overlap && up.has_catch_up
              && up.has_timezone && up.has_name);
  EXPECT_EQ(up.values.job, R"({"command":"y","args":["1"]})");
  EXPECT_EQ(up.values.overlap, overlap_policy::cancel_previous);
  std::string msg;
  EXPECT_EQ(refused_field("console_update_schedule",
                          R"({"scheduleId":"s","args":["1"]})", &msg),
            "command");
  EXPECT_EQ(msg, "command is required with args: command, args and options "
                 "replace the schedule's job as a whole");
  EXPECT_EQ(refused_field("console_update_schedule",
                          R"({"scheduleId":"s","options":{}})"),
            "command");
  EXPECT_EQ(refused_field("console_update_schedule", R"({})"), "scheduleId");
  EXPECT_EQ(refused_field("console_update_schedule",
                          R"({"scheduleId":"s","command":"x",)"
                          R"("options":{"waitMs":1}})"),
            "options.waitMs");
}

TEST(schedule_tools, list_and_delete) {
  EXPECT_TRUE(std::holds_alternative<list_schedules_call>(
    dispatched("console_list_schedules", "{}")));
  EXPECT_EQ(std::get<delete_schedule_call>(
              dispatched("console_delete_schedule", R"({"scheduleId":"s1"})"))
              .id,
            "s1");
  EXPECT_EQ(refused_field("console_list_schedules", R"({"x":1})"), "x");
  EXPECT_TRUE(std::holds_alternative<list_templates_call>(
    dispatched("console_list_templates", "{}")));
  EXPECT_EQ(std::get<delete_template_call>(
              dispatched("console_delete_template", R"({"name":"t.1"})"))
              .name,
            "t.1");
  EXPECT_EQ(refused_field("console_delete_template", R"({"name":"a b"})"),
            "name");
}

TEST(template_save, parses_parameters_and_the_job) {
  auto tpl = saved(deploy);
  EXPECT_EQ(tpl.name, "deploy");
  EXPECT_EQ(tpl.description, "Deploy a build");
  ASSERT_EQ(tpl.parameters.size(), 3u);
  EXPECT_TRUE(tpl.parameters.at("env").has_default);
  EXPECT_EQ(tpl.parameters.at("env").default_value, "staging");
  EXPECT_FALSE(tpl.parameters.at("target").has_default);
  EXPECT_EQ(tpl.parameters.at("target").description, "host");
  auto numeric
    = saved(R"({"name":"n","command":"x","args":["{{n}}"],)"
            R"("parameters":{"n":{"default":3},"b":{"default":false}}})");
  EXPECT_EQ(numeric.parameters.at("n").default_value, "3");
  EXPECT_EQ(numeric.parameters.at("b").default_value, "false");
}

TEST(template_save, refusals_name_the_field) {
  const std::string t = "console_save_template";
  std::string msg;
  EXPECT_EQ(refused_field(t,
                          R"({"name":"t","command":"{{p}}",)"
                          R"("parameters":{"p":{}}})",
                          &msg),
            "command");
  EXPECT_EQ(refused_field(
              t, R"({"name":"t","command":"x","args":["a","{{q}}"]})", &msg),
            "args[1]");
  EXPECT_EQ(msg, "args[1] uses {{q}}, which names no parameter");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("options":{"environment":{"A":"{{q}}"}}})"),
            "options.environment.A");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("options":{"workingDirectory":"/{{q}}"}})"),
            "options.workingDirectory");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("parameters":{"1a":{}}})"),
            "parameters.1a");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x","parameters":{")"
                               + std::string(65, 'a') + R"(":{}}})")
              .rfind("parameters.aaaa", 0),
            0u);
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("parameters":{"p":{"pattern":"(a"}}})"),
            "parameters.p.pattern");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("parameters":{"p":{"pattern":"(a)\\1"}}})"),
            "parameters.p.pattern");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("parameters":{"p":{"pattern":"[a-z]+",)"
                             R"("default":"A1"}}})"),
            "parameters.p.default");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("parameters":{"p":{"extra":1}}})"),
            "parameters.p.extra");
  EXPECT_EQ(refused_field(t, R"({"name":"a/b","command":"x"})"), "name");
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("options":{"priority":0}})"),
            "options.priority");
  // A placeholder standing for its sample must still make a valid job.
  EXPECT_EQ(refused_field(t, R"({"name":"t","command":"x",)"
                             R"("options":{"startAt":"{{when}}"},)"
                             R"("parameters":{"when":{}}})"),
            "options.startAt");
}

TEST(template_run, substitutes_literally_and_sets_the_template_name) {
  auto tpl = saved(deploy);
  job_spec spec;
  tool_error err;
  ASSERT_TRUE(
    run(tpl, R"({"target":"web-1","version":"2.10"})", "{}", spec, err))
    << err.message;
  EXPECT_EQ(spec.command, "/usr/bin/deploy");
  EXPECT_EQ(spec.args, (std::vector<std::string>{"--env=staging", "web-1",
                                                 "--tag", "v2.10"}));
  EXPECT_EQ(spec.working_directory, "/srv/staging");
  EXPECT_EQ(spec.environment.at("TARGET"), "web-1");
  EXPECT_EQ(spec.priority, 3);
  EXPECT_EQ(spec.template_name, "deploy");
}

TEST(template_run, injection_attempts_stay_one_literal_value) {
  auto tpl = saved(R"({"name":"echo","command":"echo",)"
                   R"("args":["{{msg}}","{{other}}"],)"
                   R"("parameters":{"msg":{},"other":{"default":"o"}}})");
  for (auto value : {"; rm -rf /", "$(reboot)", "`id`", "a b c", "line1\nline2",
                     "{{other}}", "{{msg}}", "' \" \\", "--flag=1 && true"}) {
    job_spec spec;
    tool_error err;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.String(value);
    ASSERT_TRUE(run(tpl, std::string(R"({"msg":)") + sb.GetString() + "}", "{}",
                    spec, err))
      << value << ": " << err.message;
    ASSERT_EQ(spec.args.size(), 2u) << value;
    EXPECT_EQ(spec.args[0], value);
    EXPECT_EQ(spec.args[1], "o");
    EXPECT_FALSE(spec.shell);
  }
}

TEST(template_run, parameter_values_are_checked) {
  auto tpl = saved(deploy);
  job_spec spec;
  tool_error err;
  EXPECT_FALSE(run(tpl, R"({})", "{}", spec, err));
  EXPECT_EQ(err.code, "INVALID_ARGUMENTS");
  EXPECT_EQ(err.details.at("field"), "\"params.target\"");
  EXPECT_EQ(err.message, "params.target is required");
  EXPECT_FALSE(run(tpl, R"({"target":"t","nope":1})", "{}", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"params.nope\"");
  // The pattern must match the whole value.
  for (auto bad : {"production", "prod;x", "xprod", "prod\\n", ""}) {
    EXPECT_FALSE(run(tpl, std::string(R"({"target":"t","env":")") + bad + "\"}",
                     "{}", spec, err))
      << bad;
    EXPECT_EQ(err.details.at("field"), "\"params.env\"") << bad;
  }
  EXPECT_TRUE(
    run(tpl, R"({"target":"t","env":"prod","version":12})", "{}", spec, err))
    << err.message;
  EXPECT_EQ(spec.args[3], "v12");
  EXPECT_FALSE(run(tpl, R"({"target":"t","version":-1})", "{}", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"params.version\"");
}

TEST(template_run, call_options_override_key_by_key) {
  auto tpl = saved(deploy);
  job_spec spec;
  tool_error err;
  ASSERT_TRUE(run(tpl, R"({"target":"t"})",
                  R"({"priority":8,"environment":{"KEEP":"2","NEW":"{{env}}"},)"
                  R"("tags":{"run":3},"workingDirectory":"/tmp"})",
                  spec, err))
    << err.message;
  EXPECT_EQ(spec.priority, 8);
  EXPECT_EQ(spec.environment.at("KEEP"), "2");
  EXPECT_EQ(spec.environment.at("TARGET"), "t");
  // The call's own values are literal: no placeholders there.
  EXPECT_EQ(spec.environment.at("NEW"), "{{env}}");
  EXPECT_EQ(spec.tags.at("team"), "\"a\"");
  EXPECT_EQ(spec.tags.at("run"), "3");
  EXPECT_EQ(spec.working_directory, "/tmp");
  // What the schema says is checked with the call; the rules across
  // fields once the options are merged, named as written.
  EXPECT_EQ(refused_field("console_execute_async",
                          R"({"template":"deploy","options":{"priority":11}})"),
            "options.priority");
  EXPECT_FALSE(run(tpl, R"({"target":"t"})",
                   R"({"delayMs":1,"startAt":"2026-12-01T18:00:00Z"})", spec,
                   err));
  EXPECT_EQ(err.details.at("field"), "\"options.delayMs\"");
}

TEST(template_run, sizes_stay_bounded) {
  // 4096 arguments of 16 placeholders each with a 100 KiB value would be
  // 6.4 GiB: refused while substituting, naming the first string too big.
  std::string args = "[";
  std::string sixteen;
  for (int i = 0; i < 16; ++i)
    sixteen += "{{v}}";
  for (int i = 0; i < 4096; ++i)
    args += (i > 0 ? ",\"" : "\"") + sixteen + "\"";
  args += "]";
  auto tpl = saved(R"({"name":"big","command":"x","args":)" + args
                   + R"(,"parameters":{"v":{}}})");
  job_spec spec;
  tool_error err;
  EXPECT_FALSE(run(tpl, R"({"v":")" + std::string(100 * 1024, 'a') + "\"}",
                   "{}", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"args[0]\"");
  // Each within bounds, but all together too many bytes.
  EXPECT_FALSE(
    run(tpl, R"({"v":")" + std::string(1024, 'a') + "\"}", "{}", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"params\"");
  ASSERT_TRUE(run(tpl, R"({"v":"ab"})", "{}", spec, err)) << err.message;
  EXPECT_EQ(spec.args[4095].size(), 32u);
}

TEST(template_run, braces_that_form_no_placeholder_are_literal_and_cheap) {
  // Seven arguments of 131072 "{" each: linear to scan, all literal.
  std::string args = "[";
  for (int i = 0; i < 7; ++i)
    args += (i > 0 ? ",\"" : "\"") + std::string(131072, '{') + "\"";
  args += R"(,"{{ p }}","{{p}","{{1p}}","{{p}}}"])";
  auto tpl = saved(R"({"name":"b","command":"x","args":)" + args
                   + R"(,"parameters":{"p":{}}})");
  job_spec spec;
  tool_error err;
  ASSERT_TRUE(run(tpl, R"({"p":"V"})", "{}", spec, err)) << err.message;
  ASSERT_EQ(spec.args.size(), 11u);
  EXPECT_EQ(spec.args[0], std::string(131072, '{'));
  EXPECT_EQ(spec.args[7], "{{ p }}");
  EXPECT_EQ(spec.args[8], "{{p}");
  EXPECT_EQ(spec.args[9], "{{1p}}");
  EXPECT_EQ(spec.args[10], "V}");
}

TEST(template_run, parse_job_object_refuses_what_is_not_a_job) {
  job_spec spec;
  tool_error err;
  EXPECT_FALSE(parse_job_object(*default_catalog(), "[1]", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"job\"");
  EXPECT_FALSE(parse_job_object(*default_catalog(), "{", spec, err));
  EXPECT_FALSE(
    parse_job_object(*default_catalog(), R"({"template":"t"})", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"template\"");
  EXPECT_TRUE(parse_job_object(*default_catalog(),
                               R"({"command":"x","args":["1"]})", spec, err));
  EXPECT_EQ(spec.args, std::vector<std::string>{"1"});
}

TEST(workflow_limits, strings_and_counts_at_their_bounds_and_one_past) {
  struct bound {
    std::string tool;
    std::string before; // arguments before the value
    std::string after;
    size_t max;
    std::string field;
  };
  const std::string cs = "console_create_schedule";
  const std::string st = "console_save_template";
  std::vector<bound> bounds{
    {cs, R"({"command":"x","cron":")", "\"}", 256, "cron"},
    {cs, R"({"command":"x","cron":"@daily","timezone":")", "\"}", 64,
     "timezone"},
    {cs, R"({"command":"x","cron":"@daily","name":")", "\"}", 128, "name"},
    {"console_update_schedule", R"({"scheduleId":")", "\"}", 256, "scheduleId"},
    {"console_delete_schedule", R"({"scheduleId":")", "\"}", 256, "scheduleId"},
    {st, R"({"command":"x","name":")", "\"}", 128, "name"},
    {st, R"({"command":"x","name":"t","description":")", "\"}", 4096,
     "description"},
    {"console_delete_template", R"({"name":")", "\"}", 128, "name"},
    {"console_execute_async", R"({"template":")", "\"}", 128, "template"},
  };
  for (auto& b : bounds) {
    SCOPED_TRACE(b.tool + " " + b.field);
    // Letters only: valid in every one of these fields.
    auto ok = dispatched(b.tool, b.before + std::string(b.max, 'a') + b.after);
    EXPECT_FALSE(std::holds_alternative<std::string>(ok));
    std::string msg;
    EXPECT_EQ(refused_field(
                b.tool, b.before + std::string(b.max + 1, 'a') + b.after, &msg),
              b.field);
    EXPECT_EQ(msg, b.field + " must have at most " + std::to_string(b.max)
                     + " characters");
  }
  // 64 parameters, not 65.
  auto params = [](int n) {
    std::string out = "{";
    for (int i = 0; i < n; ++i)
      out += (i > 0 ? ",\"p" : "\"p") + std::to_string(i) + "\":{}";
    return out + "}";
  };
  EXPECT_EQ(
    saved(R"({"name":"t","command":"x","parameters":)" + params(64) + "}")
      .parameters.size(),
    64u);
  EXPECT_EQ(refused_field(st, R"({"name":"t","command":"x","parameters":)"
                                + params(65) + "}"),
            "parameters");
  // Placeholder names up to 64 characters.
  auto name64 = std::string(64, 'p');
  EXPECT_EQ(saved(R"({"name":"t","command":"x","args":["{{)" + name64
                  + R"(}}"],"parameters":{")" + name64 + R"(":{}}})")
              .parameters.size(),
            1u);
}

TEST(workflow_limits, patterns_are_bounded_and_linear) {
  std::string msg;
  EXPECT_EQ(refused_field(
              "console_save_template",
              R"({"name":"t","command":"x","parameters":)"
              R"({"p":{"pattern":"[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000})"
              R"([a-z]{1000}[a-z]{1000}"}}})",
              &msg),
            "parameters.p.pattern");
  EXPECT_NE(msg.find("too complex"), std::string::npos) << msg;
  EXPECT_EQ(refused_field("console_save_template",
                          R"({"name":"t","command":"x","parameters":)"
                          R"x({"p":{"pattern":"(?=a)"}}})x"),
            "parameters.p.pattern");
  // A catastrophic pattern for a backtracking engine against a long value
  // that almost matches: RE2 answers at once.
  auto tpl = saved(R"({"name":"t","command":"x","args":["{{p}}"],)"
                   R"("parameters":{"p":{"pattern":"(a+)+b"}}})");
  job_spec spec;
  tool_error err;
  EXPECT_FALSE(
    run(tpl, R"({"p":")" + std::string(100000, 'a') + "\"}", "{}", spec, err));
  EXPECT_EQ(err.details.at("field"), "\"params.p\"");
  EXPECT_TRUE(
    run(tpl, R"({"p":")" + std::string(100000, 'a') + "b\"}", "{}", spec, err))
    << err.message;
}

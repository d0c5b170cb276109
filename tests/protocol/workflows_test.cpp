// Parsing of the workflow arguments (issue 12): dependsOn, retry, startAt,
// delayMs, execute with a template, the list filters and the schedule and
// template tools; every refusal names its field.
#include "test_util.hpp"

#include "protocol/iso8601.hpp"
#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

const std::string exec = "console_execute_async";

job_spec exec_with(const std::string& options) {
  return std::get<job_spec>(
    dispatched(exec, R"({"command":"x","options":)" + options + "}"));
}

std::string exec_refused(const std::string& options,
                         std::string* message = nullptr) {
  return refused_field(exec, R"({"command":"x","options":)" + options + "}",
                       message);
}

std::string ids(size_t n, bool repeat_last = false) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0)
      out += ",";
    out += "\"job-" + std::to_string(repeat_last && i + 1 == n ? 0 : i) + "\"";
  }
  return out + "]";
}

std::string code_list(size_t n, int first = 0) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i)
    out += (i > 0 ? "," : "") + std::to_string(first + static_cast<int>(i));
  return out + "]";
}

} // namespace

TEST(workflow_options, depends_on_from_one_to_a_hundred_distinct_ids) {
  EXPECT_EQ(exec_with(R"({"dependsOn":)" + ids(1) + "}").depends_on,
            std::vector<std::string>{"job-0"});
  auto spec = exec_with(R"({"dependsOn":)" + ids(100) + "}");
  ASSERT_EQ(spec.depends_on.size(), 100u);
  EXPECT_EQ(spec.depends_on[99], "job-99");
  EXPECT_EQ(spec.condition, dependency_condition::success);
  std::string msg;
  EXPECT_EQ(exec_refused(R"({"dependsOn":[]})", &msg), "options.dependsOn");
  EXPECT_EQ(msg, "options.dependsOn must have at least 1 items");
  EXPECT_EQ(exec_refused(R"({"dependsOn":)" + ids(101) + "}", &msg),
            "options.dependsOn");
  EXPECT_EQ(msg, "options.dependsOn must have at most 100 items");
  // The repeated item is named.
  EXPECT_EQ(exec_refused(R"({"dependsOn":)" + ids(3, true) + "}", &msg),
            "options.dependsOn[2]");
  EXPECT_EQ(msg, "options.dependsOn[2] repeats an earlier item (items must "
                 "differ)");
  EXPECT_EQ(exec_refused(R"({"dependsOn":[""]})"), "options.dependsOn[0]");
  EXPECT_EQ(exec_refused(R"({"dependsOn":[")" + std::string(257, 'a') + "\"]}"),
            "options.dependsOn[0]");
}

TEST(workflow_options, dependency_condition) {
  for (auto [text, value] :
       {std::pair{"success", dependency_condition::success},
        std::pair{"finish", dependency_condition::finish},
        std::pair{"failure", dependency_condition::failure}})
    EXPECT_EQ(exec_with(R"({"dependsOn":["a"],"dependencyCondition":")"
                        + std::string(text) + "\"}")
                .condition,
              value);
  EXPECT_EQ(exec_refused(R"({"dependencyCondition":"always"})"),
            "options.dependencyCondition");
}

TEST(workflow_options, retry_defaults_and_every_field) {
  auto plain = exec_with("{}").retry;
  EXPECT_EQ(plain.max_attempts, 1);
  auto r = exec_with(R"({"retry":{"maxAttempts":3}})").retry;
  EXPECT_EQ(r.max_attempts, 3);
  EXPECT_EQ(r.backoff_ms, 1000);
  EXPECT_EQ(r.backoff_factor, 2);
  EXPECT_EQ(r.max_backoff_ms, 300000);
  EXPECT_TRUE(r.jitter);
  EXPECT_TRUE(r.on_failure);
  EXPECT_TRUE(r.on_timeout);
  EXPECT_TRUE(r.exit_codes.empty());
  r = exec_with(R"({"retry":{"maxAttempts":5,"backoffMs":10,)"
                R"("backoffFactor":1.5,"maxBackoffMs":20,"jitter":false,)"
                R"("on":["timeout"]}})")
        .retry;
  EXPECT_EQ(r.backoff_ms, 10);
  EXPECT_EQ(r.backoff_factor, 1.5);
  EXPECT_EQ(r.max_backoff_ms, 20);
  EXPECT_FALSE(r.jitter);
  EXPECT_FALSE(r.on_failure);
  EXPECT_TRUE(r.on_timeout);
  r = exec_with(R"({"retry":{"maxAttempts":2,"exitCodes":[0,75,255]}})").retry;
  EXPECT_EQ(r.exit_codes, (std::vector<int32_t>{0, 75, 255}));
}

TEST(workflow_options, retry_refusals_name_the_field) {
  std::string msg;
  EXPECT_EQ(exec_refused(R"({"retry":{}})", &msg), "options.retry.maxAttempts");
  EXPECT_EQ(msg, "options.retry.maxAttempts is required");
  EXPECT_EQ(exec_refused(R"({"retry":{"maxAttempts":2,"on":["failure"],)"
                         R"("exitCodes":[1]}})",
                         &msg),
            "options.retry.exitCodes");
  EXPECT_EQ(msg, "give either options.retry.on or options.retry.exitCodes, not "
                 "both");
  EXPECT_EQ(exec_refused(R"({"retry":{"maxAttempts":2,"on":[]}})"),
            "options.retry.on");
  EXPECT_EQ(
    exec_refused(R"({"retry":{"maxAttempts":2,"on":["failure","failure"]}})"),
    "options.retry.on[1]");
  EXPECT_EQ(exec_refused(R"({"retry":{"maxAttempts":2,"on":["crash"]}})"),
            "options.retry.on[0]");
  EXPECT_EQ(exec_refused(R"({"retry":{"maxAttempts":2,"unknown":1}})", &msg),
            "options.retry.unknown");
  EXPECT_EQ(msg, "unknown field options.retry.unknown");
}

TEST(workflow_options, backoff_factor_from_one_to_a_hundred) {
  for (auto ok : {"1", "100", "2.5"})
    EXPECT_EQ(exec_with(std::string(R"({"retry":{"maxAttempts":2,)")
                        + R"("backoffFactor":)" + ok + "}}")
                .retry.backoff_factor,
              std::stod(ok));
  std::string msg;
  for (auto bad : {"0.999", "100.001", "0", "-1", "\"2\""}) {
    EXPECT_EQ(exec_refused(std::string(R"({"retry":{"maxAttempts":2,)")
                             + R"("backoffFactor":)" + bad + "}}",
                           &msg),
              "options.retry.backoffFactor")
      << bad << ": " << msg;
  }
}

TEST(workflow_options, exit_codes_0_to_255_and_1_to_256_distinct) {
  auto prefix = std::string(R"({"retry":{"maxAttempts":2,"exitCodes":)");
  EXPECT_EQ(exec_with(prefix + code_list(256) + "}}").retry.exit_codes.size(),
            256u);
  EXPECT_EQ(exec_with(prefix + "[255]}}").retry.exit_codes,
            std::vector<int32_t>{255});
  EXPECT_EQ(exec_refused(prefix + "[]}}"), "options.retry.exitCodes");
  // 257 entries cannot all be distinct codes 0-255: one of them is refused.
  EXPECT_EQ(exec_refused(prefix + code_list(257) + "}}"),
            "options.retry.exitCodes[256]");
  EXPECT_EQ(exec_refused(prefix + "[256]}}"), "options.retry.exitCodes[0]");
  EXPECT_EQ(exec_refused(prefix + "[-1]}}"), "options.retry.exitCodes[0]");
  EXPECT_EQ(exec_refused(prefix + "[3,3]}}"), "options.retry.exitCodes[1]");
}

TEST(workflow_options, start_at_is_read_strictly) {
  EXPECT_EQ(exec_with(R"({"startAt":"2026-12-01T18:00:00Z"})").start_at,
            1796148000000);
  EXPECT_EQ(exec_with(R"({"startAt":"2026-12-01T19:30:00.25+01:30"})").start_at,
            1796148000250);
  // A time in the past starts at once: it stays as given.
  EXPECT_EQ(exec_with(R"({"startAt":"2000-02-29T00:00:00-00:00"})").start_at,
            951782400000);
  std::string msg;
  for (auto bad :
       {"2026-12-01T18:00:00", "2026-12-01 18:00:00Z", "2026-12-01t18:00:00Z",
        "2026-12-01T18:00Z...", "2026-12-01T24:00:00Z", "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-12-01T18:00:60Z", "2026-12-01T18:00:00.Z",
        "2026-12-01T18:00:00.1234567890Z", "2026-12-01T18:00:00+0100",
        "2026-12-01T18:00:00+24:00", "2026-12-01T18:00:00Zjunk",
        "+2026-12-01T18:00:00Z", "1969-12-31T23:59:59Z"}) {
    EXPECT_EQ(exec_refused(std::string(R"({"startAt":")") + bad + "\"}", &msg),
              "options.startAt")
      << bad;
  }
  auto far = iso8601(now_ms() + limits::max_delay_ms + 60000);
  EXPECT_EQ(exec_refused(R"({"startAt":")" + far + "\"}", &msg),
            "options.startAt");
  EXPECT_EQ(msg, "options.startAt must be at most 366 days ahead");
  auto near = iso8601(now_ms() + limits::max_delay_ms - 60000);
  EXPECT_GT(exec_with(R"({"startAt":")" + near + "\"}").start_at, 0);
}

TEST(workflow_options, delay_ms_counts_from_now_and_excludes_start_at) {
  auto before = now_ms();
  auto spec = exec_with(R"({"delayMs":5000})");
  EXPECT_GE(spec.start_at, before + 5000);
  EXPECT_LE(spec.start_at, now_ms() + 5000);
  EXPECT_EQ(exec_with(R"({"delayMs":0})").start_at, 0);
  std::string msg;
  EXPECT_EQ(
    exec_refused(R"({"delayMs":1,"startAt":"2026-12-01T18:00:00Z"})", &msg),
    "options.delayMs");
  EXPECT_EQ(msg, "give either options.startAt or options.delayMs, not both");
}

TEST(iso8601_parse, round_trips_and_calendar) {
  timestamp_ms ts = 0;
  for (timestamp_ms x : {timestamp_ms{1}, timestamp_ms{951782400123},
                         timestamp_ms{253402300799999}}) {
    ASSERT_TRUE(parse_iso8601(iso8601(x), ts)) << iso8601(x);
    EXPECT_EQ(ts, x);
  }
  EXPECT_TRUE(parse_iso8601("2024-02-29T12:00:00Z", ts));
  EXPECT_FALSE(parse_iso8601("1900-02-29T12:00:00Z", ts));
  EXPECT_TRUE(parse_iso8601("2000-02-29T12:00:00Z", ts));
  EXPECT_TRUE(parse_iso8601("2026-12-01T18:00:00.123456789Z", ts));
  EXPECT_EQ(ts % 1000, 123);
  EXPECT_FALSE(parse_iso8601("", ts));
  EXPECT_FALSE(parse_iso8601(std::string(100000, '9'), ts));
}

TEST(template_call_parse, params_and_options_as_text) {
  auto call = std::get<template_call>(
    dispatched(exec, R"({"template":"train.v2","params":{"lr":0.5,"epochs":3,)"
                     R"("dry":true,"name":"a b"},"options":{"priority":7}})"));
  EXPECT_EQ(call.name, "train.v2");
  EXPECT_EQ(call.params.at("lr"), "0.5");
  EXPECT_EQ(call.params.at("epochs"), "3");
  EXPECT_EQ(call.params.at("dry"), "true");
  EXPECT_EQ(call.params.at("name"), "a b");
  EXPECT_EQ(call.options, R"({"priority":7})");
  auto bare = std::get<template_call>(dispatched(exec, R"({"template":"t"})"));
  EXPECT_TRUE(bare.params.empty());
  EXPECT_EQ(bare.options, "{}");
}

TEST(template_call_parse, refusals_name_the_field) {
  std::string msg;
  EXPECT_EQ(refused_field(exec, R"({"template":"t","command":"x"})", &msg),
            "command");
  EXPECT_EQ(msg, "command is not allowed with template (the template has its "
                 "own)");
  EXPECT_EQ(refused_field(exec, R"({"template":"t","args":[]})"), "args");
  EXPECT_EQ(refused_field(exec, R"({"template":"t","kind":"process"})"),
            "kind");
  EXPECT_EQ(refused_field(exec, R"({"command":"x","params":{}})", &msg),
            "params");
  EXPECT_EQ(msg, "params is only allowed with template");
  EXPECT_EQ(refused_field(exec, R"({"template":"a/b"})"), "template");
  EXPECT_EQ(refused_field(exec, R"({"template":""})"), "template");
  EXPECT_EQ(
    refused_field(exec, R"({"template":")" + std::string(129, 'a') + "\"}"),
    "template");
  EXPECT_EQ(refused_field(exec, R"({"template":"t","params":{"a":[1]}})"),
            "params.a");
  EXPECT_EQ(refused_field(exec, R"({"template":"t","params":{"a":null}})"),
            "params.a");
  std::string many = "{";
  for (int i = 0; i < 65; ++i)
    many += (i > 0 ? ",\"p" : "\"p") + std::to_string(i) + "\":1";
  many += "}";
  EXPECT_EQ(refused_field(exec, R"({"template":"t","params":)" + many + "}"),
            "params");
  // 64 are fine.
  many = "{";
  for (int i = 0; i < 64; ++i)
    many += (i > 0 ? ",\"p" : "\"p") + std::to_string(i) + "\":1";
  many += "}";
  EXPECT_EQ(std::get<template_call>(
              dispatched(exec, R"({"template":"t","params":)" + many + "}"))
              .params.size(),
            64u);
}

TEST(list_filters, depends_on_schedule_and_template) {
  auto q = std::get<list_query>(dispatched(
    "console_list_jobs", R"({"options":{"dependsOn":"job-1",)"
                         R"("scheduleId":"sched-1","template":"t"}})"));
  EXPECT_EQ(q.depends_on, "job-1");
  EXPECT_EQ(q.schedule_id, "sched-1");
  EXPECT_EQ(q.template_name, "t");
  EXPECT_EQ(
    refused_field("console_list_jobs", R"({"options":{"dependsOn":""}})"),
    "options.dependsOn");
}

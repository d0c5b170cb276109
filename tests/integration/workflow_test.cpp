// Workflows through the MCP tools, with real programs: dependencies and
// their conditions (and the cascade of DEPENDENCY_FAILED), retries with
// backoff, delayed starts, templates (substitution without injection),
// schedules, and each of them across a restart of jobd.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace jobd_it;

namespace {

namespace fs = std::filesystem;

/// A temporary directory (a state directory or a job's working directory),
/// removed at the end.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/jobd-workflow-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  jobd_options options(std::vector<std::string> extra = {}) const {
    jobd_options o;
    o.args = {"--state-dir", path};
    o.args.insert(o.args.end(), extra.begin(), extra.end());
    return o;
  }
};

std::string id_args(const std::string& id, const std::string& more = "") {
  return "{\"jobId\":" + q(id) + more + "}";
}

std::string ids(std::initializer_list<std::string> list) {
  std::string out = "[";
  for (auto& id : list)
    out += (out.size() > 1 ? "," : "") + q(id);
  return out + "]";
}

/// Polls the job's status until `pred` holds; the last status.
template <class Pred>
tool_result poll(jobd_process& j, const std::string& id, Pred pred,
                 int timeout_ms = 10000) {
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    auto s = j.status(id);
    if ((s.ok() && pred(*at(*s, "job"))) || now_ms() > deadline)
      return s;
    sleep_ms(20);
  }
}

std::string status_of(jobd_process& j, const std::string& id) {
  auto s = j.status(id);
  return s.ok() ? str(*s, "job.status") : "?";
}

size_t array_size(const Value& v, const std::string& path) {
  auto a = at(v, path);
  return a != nullptr && a->IsArray() ? a->Size() : 0;
}

// Runs SQL on a database file directly (as another program would).
bool sql_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  bool ok
    = sqlite3_open(path.c_str(), &db) == SQLITE_OK
      && sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

/// A script that fails until its `n`th run (counted in a file of `dir`).
std::string flaky(const std::string& dir, int succeed_at) {
  return "n=$(cat " + dir + "/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > "
         + dir + "/count; echo attempt $n; [ $n -ge "
         + std::to_string(succeed_at) + " ]";
}

} // namespace

// -- dependencies ------------------------------------------------------------

TEST(Dependencies, WaitForAllThenProcess) {
  jobd_process j;
  auto a = j.submit_sh("sleep 0.4; echo a");
  auto b = j.submit_sh("sleep 0.2; echo b");
  auto c = j.submit("echo", "[\"process\"]",
                    "{\"dependsOn\":" + ids({a, b}) + "}");
  auto s = j.status(c);
  ASSERT_TRUE(s.ok()) << s.dump();
  EXPECT_EQ(str(*s, "job.status"), "pending");
  EXPECT_EQ(str(*s, "job.pendingReason"), "waiting_for_dependencies");
  EXPECT_EQ(array_size(*s, "job.waitingFor"), 2u) << s.dump();
  EXPECT_EQ(str(*s, "job.dependencyCondition"), "success");
  auto done = j.wait_terminal(c);
  EXPECT_EQ(str(*done, "job.status"), "completed") << done.dump();
  auto sa = j.status(a);
  EXPECT_GE(parse_iso_ms(str(*done, "job.startedAt")),
            parse_iso_ms(str(*sa, "job.finishedAt")));
  EXPECT_EQ(j.output_text(c), "process\n");
  // The filter finds the dependent.
  auto l = j.tool("console_list_jobs",
                  "{\"options\":{\"dependsOn\":" + q(a) + "}}");
  ASSERT_TRUE(l.ok()) << l.dump();
  ASSERT_EQ(num(*l, "total"), 1) << l.dump();
  EXPECT_EQ(std::string{(*at(*l, "jobs"))[0]["id"].GetString()}, c);
}

TEST(Dependencies, FailureCascadesAndConditionsChooseWhatRuns) {
  jobd_process j;
  auto a = j.submit_sh("sleep 0.2; exit 1");
  auto b = j.submit("true", "[]", "{\"dependsOn\":" + ids({a}) + "}");
  auto c = j.submit("true", "[]", "{\"dependsOn\":" + ids({b}) + "}");
  auto alert = j.submit(
    "echo", "[\"alert\"]",
    "{\"dependsOn\":" + ids({a}) + ",\"dependencyCondition\":\"failure\"}");
  auto cleanup = j.submit(
    "echo", "[\"cleanup\"]",
    "{\"dependsOn\":" + ids({a}) + ",\"dependencyCondition\":\"finish\"}");
  auto sb = j.wait_terminal(b);
  EXPECT_EQ(str(*sb, "job.status"), "cancelled") << sb.dump();
  EXPECT_EQ(str(*sb, "job.errorCode"), "DEPENDENCY_FAILED");
  EXPECT_NE(str(*sb, "job.error").find(a), std::string::npos) << sb.dump();
  auto sc = j.wait_terminal(c);
  EXPECT_EQ(str(*sc, "job.errorCode"), "DEPENDENCY_FAILED") << sc.dump();
  EXPECT_NE(str(*sc, "job.error").find(b), std::string::npos) << sc.dump();
  EXPECT_EQ(str(*j.wait_terminal(alert), "job.status"), "completed");
  EXPECT_EQ(str(*j.wait_terminal(cleanup), "job.status"), "completed");
  EXPECT_EQ(j.output_text(alert), "alert\n");
  // A failure condition whose dependency succeeded can never hold.
  auto ok = j.submit_sh("true");
  j.wait_terminal(ok);
  auto never = j.submit(
    "true", "[]",
    "{\"dependsOn\":" + ids({ok}) + ",\"dependencyCondition\":\"failure\"}");
  auto sn = j.wait_terminal(never);
  EXPECT_EQ(str(*sn, "job.errorCode"), "DEPENDENCY_FAILED") << sn.dump();
  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(to_json(*m).find("\"dependencyFailures\":3"), std::string::npos)
    << m.dump();
}

TEST(Dependencies, UnknownOrTooManyAreRefused) {
  jobd_process j;
  auto r = j.tool("console_execute_async",
                  R"({"command":"true","options":{"dependsOn":["job-999-zzzzz"]}})");
  EXPECT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "JOB_NOT_FOUND") << r.dump();
  EXPECT_NE(r.message().find("job-999-zzzzz"), std::string::npos);
  std::string many = "[";
  for (int i = 0; i < 101; ++i)
    many += (i ? ",\"job-" : "\"job-") + std::to_string(i) + "-aaaaa\"";
  many += "]";
  r = j.tool("console_execute_async",
             R"({"command":"true","options":{"dependsOn":)" + many + "}}");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
}

TEST(Dependencies, CancellingAWaitingJobLeavesItsDependencyAlone) {
  jobd_process j;
  auto a = j.submit_sh("sleep 30");
  auto b = j.submit("true", "[]", "{\"dependsOn\":" + ids({a}) + "}");
  auto r = j.tool("console_cancel_job", id_args(b));
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*j.wait_terminal(b), "job.status"), "cancelled");
  EXPECT_EQ(status_of(j, a), "running");
  j.tool("console_cancel_job", id_args(a, ",\"options\":{\"graceMs\":0}"));
  j.wait_terminal(a);
}

// -- retries -----------------------------------------------------------------

TEST(Retry, FailsTwiceThenSucceedsUnderOneJobId) {
  temp_dir dir;
  jobd_process j;
  auto id = j.submit_sh(flaky(dir.path, 3),
                        R"({"retry":{"maxAttempts":5,"backoffMs":100,)"
                        R"("jitter":false}})");
  auto s = j.wait_terminal(id, 15000);
  ASSERT_EQ(str(*s, "job.status"), "completed") << s.dump();
  EXPECT_EQ(num(*s, "job.attempt"), 3);
  EXPECT_EQ(num(*s, "job.maxAttempts"), 5);
  ASSERT_EQ(array_size(*s, "job.attempts"), 3u) << s.dump();
  auto& attempts = *at(*s, "job.attempts");
  EXPECT_EQ(attempts[0]["exitCode"].GetInt(), 1);
  EXPECT_EQ(attempts[2]["exitCode"].GetInt(), 0);
  // No jitter: the second attempt started a backoff after the first ended.
  auto first_end = parse_iso_ms(attempts[0]["finishedAt"].GetString());
  auto second_start = parse_iso_ms(attempts[1]["startedAt"].GetString());
  EXPECT_GE(second_start - first_end, 90);
  // Each attempt's output carries its number.
  auto o = j.tool("console_get_job_output", id_args(id));
  ASSERT_TRUE(o.ok()) << o.dump();
  ASSERT_TRUE(at(*o, "output") && at(*o, "output")->IsArray()) << o.dump();
  auto& chunks = *at(*o, "output");
  ASSERT_EQ(chunks.Size(), 3u) << o.dump();
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    EXPECT_EQ(chunks[i]["attempt"].GetInt(), static_cast<int>(i + 1));
    EXPECT_EQ(std::string{chunks[i]["content"].GetString()},
              "attempt " + std::to_string(i + 1) + "\n");
  }
  auto m = j.tool("console_get_job_metrics", "{}");
  EXPECT_NE(to_json(*m).find("\"retries\":2"), std::string::npos) << m.dump();
}

TEST(Retry, GivesUpAfterMaxAttemptsWithTheLastAttemptsState) {
  jobd_process j;
  auto id = j.submit_sh("exit 2", R"({"retry":{"maxAttempts":3,)"
                                  R"("backoffMs":50,"jitter":false}})");
  auto s = j.wait_terminal(id, 10000);
  EXPECT_EQ(str(*s, "job.status"), "failed") << s.dump();
  EXPECT_EQ(num(*s, "job.exitCode"), 2);
  EXPECT_EQ(num(*s, "job.attempt"), 3);
  EXPECT_EQ(array_size(*s, "job.attempts"), 3u);
}

TEST(Retry, OnlyTheListedExitCodesOrTimeoutsAreRetried) {
  jobd_process j;
  auto other = j.submit_sh("exit 3", R"({"retry":{"maxAttempts":3,)"
                                     R"("backoffMs":10,"exitCodes":[2]}})");
  auto s = j.wait_terminal(other);
  EXPECT_EQ(str(*s, "job.status"), "failed");
  EXPECT_EQ(num(*s, "job.attempt"), 1) << s.dump();
  auto timeouts = j.submit_sh(
    "exit 1", R"({"retry":{"maxAttempts":3,"backoffMs":10,"on":["timeout"]}})");
  s = j.wait_terminal(timeouts);
  EXPECT_EQ(num(*s, "job.attempt"), 1) << s.dump();
  auto slow = j.submit_sh("sleep 5", R"({"timeout":200,"retry":{"maxAttempts":2,)"
                                     R"("backoffMs":10,"on":["timeout"]}})");
  s = j.wait_terminal(slow, 10000);
  EXPECT_EQ(str(*s, "job.errorCode"), "TIMEOUT") << s.dump();
  EXPECT_EQ(num(*s, "job.attempt"), 2) << s.dump();
}

TEST(Retry, CancelDuringBackoffStopsFurtherAttempts) {
  jobd_process j;
  auto id = j.submit_sh("echo run; exit 1",
                        R"({"retry":{"maxAttempts":5,"backoffMs":60000,)"
                        R"("jitter":false}})");
  auto s = poll(j, id, [](const Value& job) {
    return job.HasMember("nextAttemptAt");
  });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(str(*s, "job.status"), "pending") << s.dump();
  EXPECT_EQ(str(*s, "job.pendingReason"), "retry_backoff");
  auto next = parse_iso_ms(str(*s, "job.nextAttemptAt"));
  auto ended = parse_iso_ms((*at(*s, "job.attempts"))[0]["finishedAt"].GetString());
  EXPECT_NEAR(static_cast<double>(next - ended), 60000, 50);
  auto r = j.tool("console_cancel_job", id_args(id));
  ASSERT_TRUE(r.ok()) << r.dump();
  auto done = j.wait_terminal(id);
  EXPECT_EQ(str(*done, "job.status"), "cancelled") << done.dump();
  sleep_ms(200);
  EXPECT_EQ(j.output_text(id), "run\n");
}

TEST(Retry, ARestartOfJobdDuringTheBackoffResumesIt) {
  temp_dir state, work;
  std::string id;
  {
    jobd_process j{state.options()};
    id = j.submit_sh(flaky(work.path, 2),
                     R"({"retry":{"maxAttempts":3,"backoffMs":1500,)"
                     R"("jitter":false}})");
    auto s = poll(j, id, [](const Value& job) {
      return job.HasMember("nextAttemptAt");
    });
    ASSERT_EQ(str(*s, "job.pendingReason"), "retry_backoff") << s.dump();
  }
  jobd_process k{state.options()};
  auto s = k.wait_terminal(id, 15000);
  EXPECT_EQ(str(*s, "job.status"), "completed") << s.dump();
  EXPECT_EQ(num(*s, "job.attempt"), 2);
  EXPECT_EQ(k.output_text(id), "attempt 1\nattempt 2\n");
}

// -- delayed start -----------------------------------------------------------

TEST(Delay, ADelayedJobWaitsThenRunsAndAPastStartAtRunsAtOnce) {
  jobd_process j;
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  auto id = j.submit("true", "[]", R"({"delayMs":800})");
  auto s = j.status(id);
  EXPECT_EQ(str(*s, "job.status"), "pending");
  EXPECT_EQ(str(*s, "job.pendingReason"), "scheduled") << s.dump();
  auto at_ms = parse_iso_ms(str(*s, "job.scheduledFor"));
  EXPECT_GE(at_ms, before + 800);
  EXPECT_LE(at_ms, before + 3000);
  auto done = j.wait_terminal(id);
  EXPECT_GE(parse_iso_ms(str(*done, "job.startedAt")), at_ms);
  auto past = j.submit("true", "[]", R"({"startAt":"2020-01-01T00:00:00Z"})");
  EXPECT_EQ(str(*j.wait_terminal(past, 3000), "job.status"), "completed");
}

TEST(Delay, ADelayedJobAndItsDependentSurviveARestart) {
  temp_dir state;
  std::string first, second;
  {
    jobd_process j{state.options()};
    first = j.submit("echo", "[\"first\"]", R"({"delayMs":1500})");
    second = j.submit("echo", "[\"second\"]",
                      "{\"dependsOn\":" + ids({first}) + "}");
  }
  jobd_process k{state.options()};
  EXPECT_EQ(status_of(k, first), "pending");
  auto s = k.wait_terminal(second, 10000);
  EXPECT_EQ(str(*s, "job.status"), "completed") << s.dump();
  EXPECT_EQ(k.output_text(first), "first\n");
}

// -- templates ---------------------------------------------------------------

TEST(Templates, ParametersAreSubstitutedAsWholeValuesNeverThroughAShell) {
  temp_dir state;
  {
    jobd_process j{state.options()};
    auto r = j.tool(
      "console_save_template",
      R"({"name":"greet","description":"says hello","command":"echo",)"
      R"("args":["hello","{{who}}","n={{n}}"],)"
      R"("options":{"environment":{"WHO":"{{who}}"},"tags":{"kind":"greeting"}},)"
      R"("parameters":{"who":{"description":"whom"},)"
      R"("n":{"default":"1","pattern":"[0-9]+"}}})");
    ASSERT_TRUE(r.ok()) << r.dump();
  }
  // Templates live in the store.
  jobd_process j{state.options()};
  auto l = j.tool("console_list_templates", "{}");
  ASSERT_TRUE(l.ok()) << l.dump();
  EXPECT_NE(to_json(*l).find("\"greet\""), std::string::npos) << l.dump();
  auto r = j.tool("console_execute_async",
                  R"x({"template":"greet","params":{"who":"; touch pwned $(id)"}})x");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto id = str(*r, "jobId");
  auto s = j.wait_terminal(id);
  EXPECT_EQ(str(*s, "job.template"), "greet") << s.dump();
  EXPECT_EQ(j.output_text(id), "hello ; touch pwned $(id) n=1\n");
  EXPECT_FALSE(fs::exists("pwned"));
  // The call's options win over the template's.
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x","n":7},)"
             R"("options":{"tags":{"kind":"mine"}}})");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto mine = str(*r, "jobId");
  auto sm = j.wait_terminal(mine);
  EXPECT_EQ(str(*sm, "job.tags.kind"), "mine") << sm.dump();
  EXPECT_EQ(j.output_text(mine), "hello x n=7\n");
  auto lt = j.tool("console_list_jobs", R"({"options":{"template":"greet"}})");
  EXPECT_EQ(num(*lt, "total"), 2) << lt.dump();
  // Refusals name the parameter.
  r = j.tool("console_execute_async", R"({"template":"greet","params":{}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  EXPECT_NE(r.message().find("who"), std::string::npos) << r.dump();
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x","n":"1; rm"}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x","zzz":"1"}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_execute_async", R"({"template":"nope"})");
  EXPECT_EQ(r.code(), "TEMPLATE_NOT_FOUND") << r.dump();
  auto d = j.tool("console_delete_template", R"({"name":"greet"})");
  ASSERT_TRUE(d.ok()) << d.dump();
  r = j.tool("console_execute_async", R"({"template":"greet","params":{"who":"x"}})");
  EXPECT_EQ(r.code(), "TEMPLATE_NOT_FOUND") << r.dump();
}

// -- schedules ---------------------------------------------------------------

TEST(Schedules, CreateListUpdateDelete) {
  jobd_process j;
  auto r = j.tool("console_create_schedule",
                  R"({"name":"hourly","cron":"@hourly","timezone":"Europe/Berlin",)"
                  R"("command":"echo","args":["tick"]})");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto text = to_json(*r);
  auto sid = str(*r, "schedule.scheduleId");
  ASSERT_FALSE(sid.empty()) << text;
  auto l = j.tool("console_list_schedules", "{}");
  ASSERT_TRUE(l.ok()) << l.dump();
  auto& first = (*at(*l, "schedules"))[0];
  ASSERT_EQ(first["nextFirings"].Size(), 5u) << l.dump();
  auto t0 = parse_iso_ms(first["nextFirings"][0].GetString());
  auto t1 = parse_iso_ms(first["nextFirings"][1].GetString());
  EXPECT_EQ(t1 - t0, 3600000);
  EXPECT_EQ(t0 % 3600000, 0); // Berlin is a whole number of hours from UTC
  r = j.tool("console_update_schedule",
             "{\"scheduleId\":" + q(sid) + ",\"enabled\":false}");
  ASSERT_TRUE(r.ok()) << r.dump();
  l = j.tool("console_list_schedules", "{}");
  EXPECT_EQ((*at(*l, "schedules"))[0]["nextFirings"].Size(), 0u) << l.dump();
  r = j.tool("console_create_schedule", R"({"cron":"61 * * * *","command":"true"})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_create_schedule",
             R"({"cron":"* * * * *","timezone":"Mars/Olympus","command":"true"})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_delete_schedule", "{\"scheduleId\":" + q(sid) + "}");
  ASSERT_TRUE(r.ok()) << r.dump();
  r = j.tool("console_delete_schedule", "{\"scheduleId\":" + q(sid) + "}");
  EXPECT_EQ(r.code(), "SCHEDULE_NOT_FOUND") << r.dump();
}

TEST(Schedules, MissedFiringsRunOnceAtStartWithCatchUpElseAreCounted) {
  temp_dir state;
  std::string caught, skipped;
  {
    jobd_process j{state.options()};
    auto r = j.tool("console_create_schedule",
                    R"({"name":"catch","cron":"*/5 * * * *","command":"echo",)"
                    R"("args":["caught up"],"catchUp":true})");
    ASSERT_TRUE(r.ok()) << r.dump();
    caught = str(*r, "schedule.scheduleId");
    r = j.tool("console_create_schedule",
               R"({"name":"skip","cron":"*/5 * * * *","command":"true"})");
    ASSERT_TRUE(r.ok()) << r.dump();
    skipped = str(*r, "schedule.scheduleId");
  }
  // As if jobd had been down for the last two hours.
  auto two_hours_ago = std::to_string(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count()
    - 7200000);
  ASSERT_TRUE(sql_exec(state.path + "/jobd.db",
                       "UPDATE schedules SET last_fired_at = " + two_hours_ago
                         + ", created_at = " + two_hours_ago
                         + ", updated_at = " + two_hours_ago));
  jobd_process k{state.options()};
  auto deadline = now_ms() + 5000;
  tool_result l;
  while (now_ms() < deadline) {
    l = k.tool("console_list_jobs",
               "{\"options\":{\"scheduleId\":" + q(caught) + "}}");
    if (l.ok() && num(*l, "total") >= 1)
      break;
    sleep_ms(50);
  }
  ASSERT_EQ(num(*l, "total"), 1) << l.dump();
  auto id = std::string{(*at(*l, "jobs"))[0]["id"].GetString()};
  auto s = k.wait_terminal(id);
  EXPECT_EQ(str(*s, "job.scheduleId"), caught);
  EXPECT_FALSE(str(*s, "job.scheduledFor").empty());
  EXPECT_EQ(k.output_text(id), "caught up\n");
  auto none = k.tool("console_list_jobs",
                     "{\"options\":{\"scheduleId\":" + q(skipped) + "}}");
  EXPECT_EQ(num(*none, "total"), 0) << none.dump();
  auto sl = k.tool("console_list_schedules", "{}");
  auto text = to_json(*sl);
  // 24 firings in two hours: one caught up, and 24 missed by the other.
  EXPECT_NE(text.find("\"missed\":24"), std::string::npos) << text;
  auto m = k.tool("console_get_job_metrics", "{}");
  EXPECT_NE(to_json(*m).find("\"scheduleMisses\":24"), std::string::npos)
    << m.dump();
}

TEST(Schedules, OfTwoJobdsOnOneStateDirectoryOnlyOneFires) {
  temp_dir state;
  std::string sid;
  {
    jobd_process j{state.options()};
    auto r = j.tool("console_create_schedule",
                    R"({"cron":"*/5 * * * *","command":"echo",)"
                    R"("args":["once"],"catchUp":true})");
    ASSERT_TRUE(r.ok()) << r.dump();
    sid = str(*r, "schedule.scheduleId");
  }
  auto hour_ago = std::to_string(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count()
    - 3600000);
  ASSERT_TRUE(sql_exec(state.path + "/jobd.db",
                       "UPDATE schedules SET last_fired_at = " + hour_ago
                         + ", created_at = " + hour_ago
                         + ", updated_at = " + hour_ago));
  jobd_process a{state.options()};
  jobd_process b{state.options()};
  auto filter = "{\"options\":{\"scheduleId\":" + q(sid) + "}}";
  auto deadline = now_ms() + 5000;
  while (now_ms() < deadline) {
    auto l = a.tool("console_list_jobs", filter);
    if (l.ok() && num(*l, "total") >= 1)
      break;
    sleep_ms(50);
  }
  sleep_ms(500); // time for a second firing, if there were one
  auto l = b.tool("console_list_jobs", filter);
  ASSERT_TRUE(l.ok()) << l.dump();
  EXPECT_EQ(num(*l, "total"), 1) << l.dump();
  // Both list the schedule, with the firing the other one made.
  auto sl = b.tool("console_list_schedules", "{}");
  EXPECT_NE(to_json(*sl).find(sid), std::string::npos) << sl.dump();
}

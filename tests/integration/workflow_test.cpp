// Workflows through the MCP tools, with real programs: dependencies and
// their conditions (and the cascade of DEPENDENCY_FAILED), retries with
// backoff, delayed starts, templates (substitution without injection),
// schedules, and each of them across a restart of jobd.
#include "workflow_util.hpp"

using namespace jobd_it;
using namespace jobd_it::workflow;

// -- dependencies ------------------------------------------------------------

TEST(Dependencies, WaitForAllThenProcess) {
  jobd_process j;
  auto a = j.submit_sh("sleep 0.4; echo a");
  auto b = j.submit_sh("sleep 0.2; echo b");
  auto c
    = j.submit("echo", "[\"process\"]", "{\"dependsOn\":" + ids({a, b}) + "}");
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
  auto l
    = j.tool("console_list_jobs", "{\"options\":{\"dependsOn\":" + q(a) + "}}");
  ASSERT_TRUE(l.ok()) << l.dump();
  ASSERT_EQ(num(*l, "total"), 1) << l.dump();
  EXPECT_EQ(std::string{(*at(*l, "jobs"))[0]["id"].GetString()}, c);
}

TEST(Dependencies, FailureCascadesAndConditionsChooseWhatRuns) {
  jobd_process j;
  auto a = j.submit_sh("sleep 0.2; exit 1");
  auto b = j.submit("true", "[]", "{\"dependsOn\":" + ids({a}) + "}");
  auto c = j.submit("true", "[]", "{\"dependsOn\":" + ids({b}) + "}");
  auto alert = j.submit("echo", "[\"alert\"]",
                        "{\"dependsOn\":" + ids({a})
                          + ",\"dependencyCondition\":\"failure\"}");
  auto cleanup = j.submit("echo", "[\"cleanup\"]",
                          "{\"dependsOn\":" + ids({a})
                            + ",\"dependencyCondition\":\"finish\"}");
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
  auto never = j.submit("true", "[]",
                        "{\"dependsOn\":" + ids({ok})
                          + ",\"dependencyCondition\":\"failure\"}");
  auto sn = j.wait_terminal(never);
  EXPECT_EQ(str(*sn, "job.errorCode"), "DEPENDENCY_FAILED") << sn.dump();
  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(to_json(*m).find("\"dependencyFailures\":3"), std::string::npos)
    << m.dump();
}

TEST(Dependencies, UnknownOrTooManyAreRefused) {
  jobd_process j;
  auto r
    = j.tool("console_execute_async",
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
  auto slow
    = j.submit_sh("sleep 5", R"({"timeout":200,"retry":{"maxAttempts":2,)"
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
  auto s = poll(
    j, id, [](const Value& job) { return job.HasMember("nextAttemptAt"); });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(str(*s, "job.status"), "pending") << s.dump();
  EXPECT_EQ(str(*s, "job.pendingReason"), "retry_backoff");
  auto next = parse_iso_ms(str(*s, "job.nextAttemptAt"));
  auto ended
    = parse_iso_ms((*at(*s, "job.attempts"))[0]["finishedAt"].GetString());
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
    auto s = poll(
      j, id, [](const Value& job) { return job.HasMember("nextAttemptAt"); });
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

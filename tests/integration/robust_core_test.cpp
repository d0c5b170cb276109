// The robust-core defects, each reproduced against the real binary: a
// backtracking-bomb pattern on a long line, many one-job sessions, the
// pending cap, output caps and the global output budget, finished jobs as
// records.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace jobd_it;

TEST(RobustCore, BacktrackingBombPatternOnALongLineDoesNotKillJobd) {
  jobd_process j;
  // A job that keeps running beside it must survive the wait.
  auto bystander = j.submit_sh("sleep 30");
  auto id = j.submit_sh("sleep 0.2; head -c 16000 /dev/zero | tr '\\0' a; "
                        "echo; sleep 0.2; echo done-x");
  auto r = j.tool(
    "console_wait_job",
    R"({"jobId":")" + id
      + R"(","until":"output","pattern":"(.|\n)*x","timeoutMs":10000})",
    15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "output");
  // Every known bad pattern of backtracking engines, on the same output.
  for (auto pattern : {R"((a+)+$)", R"((a|aa)+$)", R"((x+x+)+y)",
                       R"(^(([a-z])+.)+[A-Z]([a-z])+$)"}) {
    auto w = j.tool("console_wait_job",
                    R"({"jobId":")" + id + R"(","until":"output","pattern":)"
                      + q(pattern) + R"(,"timeoutMs":100})",
                    10000);
    EXPECT_TRUE(w.ok()) << pattern << ": " << w.dump();
  }
  auto s = j.status(bystander);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(str(*s, "job.status"), "running");
  j.tool("console_cancel_job",
         R"({"jobId":")" + bystander + R"(","options":{"graceMs":0}})");
}

TEST(RobustCore, ManyOneJobSessionsLeaveNothingOnceCleanedUp) {
  jobd_process j{
    {"--max-concurrent-jobs", "50", "--max-concurrent-jobs-per-session", "1"}};
  constexpr int sessions = 3000;
  std::vector<int64_t> calls;
  calls.reserve(sessions);
  for (int i = 0; i < sessions; ++i)
    calls.push_back(j.send_tool(
      "console_execute_async", R"({"command":"true","options":{"sessionId":"s-)"
                                 + std::to_string(i) + R"("}})"));
  for (auto id : calls) {
    auto r = j.tool_result_of(id, 60000);
    ASSERT_TRUE(r.ok()) << r.dump();
  }
  // Wait until every job ended.
  auto deadline = now_ms() + 120000;
  for (;;) {
    auto m = j.tool("console_get_job_metrics", "{}");
    ASSERT_TRUE(m.ok());
    auto done
      = num(*m, "metrics.completedJobs") + num(*m, "metrics.failedJobs");
    if (done >= sessions)
      break;
    ASSERT_LT(now_ms(), deadline) << m.dump();
    sleep_ms(100);
  }
  auto c = j.tool("console_cleanup_jobs", "{}", 30000);
  ASSERT_TRUE(c.ok()) << c.dump();
  EXPECT_EQ(num(*c, "cleaned"), sessions);
  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  // The reply no longer lists a session per job ever run.
  auto reply = to_json(*m);
  EXPECT_LT(reply.size(), 4096u) << reply.substr(0, 500);
  EXPECT_EQ(num(*m, "metrics.completedJobs"), sessions);
}

TEST(RobustCore, MorePendingJobsThanTheCapAreRefusedWithQueueFull) {
  jobd_process j{{"--max-concurrent-jobs", "1", "--max-pending-jobs", "2"}};
  auto running = j.submit_sh("sleep 30");
  j.submit_sh("true");
  j.submit_sh("true");
  auto r = j.tool("console_execute_async", R"({"command":"true"})");
  EXPECT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "QUEUE_FULL");
  j.tool("console_cancel_job",
         R"({"jobId":")" + running + R"(","options":{"graceMs":0}})");
}

TEST(RobustCore, AJobCannotRaiseItsOutputCapAboveTheServers) {
  jobd_process j{{"--output-buffer-bytes", "65536"}};
  auto r = j.tool(
    "console_execute_async",
    R"({"command":"sh","args":["-c","head -c 1000000 /dev/zero | tr '\\0' y"],"options":{"outputByteLimit":9007199254740991}})");
  if (r.ok()) {
    auto id = str(*r, "jobId");
    auto s = j.wait_terminal(id);
    EXPECT_LE(num(*s, "job.output.bufferedBytes"), 65536);
    EXPECT_GT(num(*s, "job.output.droppedBytes"), 0);
  } else {
    // Or the schema refuses a cap above the server's.
    EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  }
}

TEST(RobustCore, TheOutputBudgetDropsTheOldestFinishedOutputFirst) {
  jobd_process j{
    {"--output-buffer-bytes", "1048576", "--output-total-bytes", "2097152"}};
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(j.submit_sh("head -c 1000000 /dev/zero | tr '\\0' z; echo"));
    j.wait_terminal(ids.back());
  }
  auto oldest = j.status(ids[0]);
  auto newest = j.status(ids[2]);
  ASSERT_TRUE(oldest.ok() && newest.ok());
  EXPECT_GT(num(*oldest, "job.output.droppedBytes"), 0);
  EXPECT_EQ(num(*newest, "job.output.droppedBytes"), 0);
  EXPECT_LE(num(*oldest, "job.output.bufferedBytes")
              + num(*j.status(ids[1]), "job.output.bufferedBytes")
              + num(*newest, "job.output.bufferedBytes"),
            2097152);
}

TEST(RobustCore, AFinishedJobAnswersFromItsRecord) {
  jobd_process j;
  auto id = j.submit_sh("echo first; echo second >&2");
  j.wait_terminal(id);
  sleep_ms(100); // its actor has retired by now
  EXPECT_EQ(j.output_text(id), "first\nsecond\n");
  auto w
    = j.tool("console_wait_job",
             R"({"jobId":")" + id + R"(","until":"output","pattern":"sec"})");
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "reason"), "output");
  auto c = j.tool("console_cancel_job", R"({"jobId":")" + id + R"("})");
  EXPECT_EQ(c.code(), "JOB_ALREADY_FINISHED");
  auto read = j.call("resources/read", R"({"uri":"job://)" + id + R"("})");
  ASSERT_TRUE(read);
  EXPECT_TRUE(has(*read, "result.contents"));
}

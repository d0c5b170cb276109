// Per-session quotas against the real binary: --max-queued-per-session,
// --max-retained-per-session and --max-output-bytes-per-session refuse a
// session's next job with QUOTA_EXCEEDED (details: quota, limit, current,
// sessionId), never another session's, and let it submit again once jobs
// started or were cleaned up.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace jobd_it;

namespace {

std::string sleep_in(const std::string& session, const std::string& secs) {
  return R"({"command":"sleep","args":[")" + secs
         + R"("],"options":{"sessionId":")" + session + R"("}})";
}

void expect_quota(const tool_result& r, const std::string& quota, int64_t limit,
                  int64_t current, const std::string& session) {
  ASSERT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "QUOTA_EXCEEDED") << r.dump();
  EXPECT_EQ(str(*r, "details.quota"), quota) << r.dump();
  EXPECT_EQ(num(*r, "details.limit"), limit) << r.dump();
  EXPECT_EQ(num(*r, "details.current"), current) << r.dump();
  EXPECT_EQ(str(*r, "details.sessionId"), session) << r.dump();
}

} // namespace

TEST(Quota, QueuedPerSessionRefusesTheThirdWaitingJob) {
  jobd_process j(std::vector<std::string>{
    "--max-queued-per-session", "2", "--max-concurrent-jobs-per-session", "1"});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) { // one runs, two wait
    auto r = j.tool("console_execute_async", sleep_in("s1", "30"));
    ASSERT_TRUE(r.ok()) << r.dump();
    ids.push_back(str(*r, "jobId"));
  }
  auto refused = j.tool("console_execute_async", sleep_in("s1", "30"));
  expect_quota(refused, "max_queued_per_session", 2, 2, "s1");
  EXPECT_NE(refused.message().find("--max-queued-per-session is 2"),
            std::string::npos)
    << refused.dump();
  // Nothing was left of it: three jobs listed.
  auto list = j.tool("console_list_jobs", "{}");
  ASSERT_TRUE(list.ok()) << list.dump();
  EXPECT_EQ(num(*list, "total"), 3) << list.dump();
  // Another session is not affected.
  auto other = j.tool("console_execute_async", sleep_in("s2", "30"));
  EXPECT_TRUE(other.ok()) << other.dump();
  // The running one cancelled, a waiting one starts: room for one again.
  auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(ids[0]) + "}");
  ASSERT_TRUE(c.ok()) << c.dump();
  j.wait_running(ids[1]);
  auto again = j.tool("console_execute_async", sleep_in("s1", "30"));
  EXPECT_TRUE(again.ok()) << again.dump();
}

TEST(Quota, RetainedPerSessionCountsFinishedJobsUntilCleanup) {
  jobd_process j(std::vector<std::string>{"--max-retained-per-session", "3"});
  auto in_s1 = R"({"command":"true","options":{"sessionId":"s1"}})";
  for (int i = 0; i < 3; ++i) {
    auto r = j.tool("console_execute_async", in_s1);
    ASSERT_TRUE(r.ok()) << r.dump();
    j.wait_terminal(str(*r, "jobId"));
  }
  auto refused = j.tool("console_execute_async", in_s1);
  expect_quota(refused, "max_retained_per_session", 3, 3, "s1");
  auto other = j.tool("console_execute_async",
                      R"({"command":"true","options":{"sessionId":"s2"}})");
  EXPECT_TRUE(other.ok()) << other.dump();
  auto c = j.tool("console_cleanup_jobs",
                  R"({"options":{"maxAge":0,"sessionId":"s1"}})");
  ASSERT_TRUE(c.ok()) << c.dump();
  EXPECT_EQ(num(*c, "cleaned"), 3) << c.dump();
  auto again = j.tool("console_execute_async", in_s1);
  EXPECT_TRUE(again.ok()) << again.dump();
}

TEST(Quota, OutputBytesPerSessionRefusesAfterALoudJob) {
  jobd_process j(
    std::vector<std::string>{"--max-output-bytes-per-session", "4096"});
  auto loud = j.tool(
    "console_execute_async",
    R"({"command":"sh","args":["-c","head -c 10240 /dev/zero | tr '\\0' x"],)"
    R"("options":{"sessionId":"s1"}})");
  ASSERT_TRUE(loud.ok()) << loud.dump();
  auto done = j.wait_terminal(str(*loud, "jobId"));
  EXPECT_EQ(str(*done, "job.status"), "completed") << done.dump();
  auto refused = j.tool("console_execute_async", sleep_in("s1", "0"));
  expect_quota(refused, "max_output_bytes_per_session", 4096, 10240, "s1");
  EXPECT_NE(refused.message().find("--max-output-bytes-per-session is 4096"),
            std::string::npos)
    << refused.dump();
  auto other = j.tool("console_execute_async", sleep_in("s2", "0"));
  EXPECT_TRUE(other.ok()) << other.dump();
  auto c = j.tool("console_cleanup_jobs",
                  R"({"options":{"maxAge":0,"sessionId":"s1"}})");
  ASSERT_TRUE(c.ok()) << c.dump();
  auto again = j.tool("console_execute_async", sleep_in("s1", "0"));
  EXPECT_TRUE(again.ok()) << again.dump();
}

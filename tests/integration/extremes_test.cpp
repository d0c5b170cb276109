// Numbers at their extremes against the real binary: every duration the
// schemas and flags accept behaves as written up to 2^53 - 1 (issue 9: a
// huge timeout timed out at once, a huge grace SIGKILLed at once, a huge
// maxAge or retention removed every job, a huge sweep interval spun a core).
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

using namespace jobd_it;

namespace {

const std::string max_json_int = "9007199254740991"; // 2^53 - 1

// Ignores SIGTERM (so does its sleep, which inherits the disposition), then
// ends by itself after 2 s and says so: only a SIGKILL stops it earlier.
const std::string term_proof = "trap '' TERM; sleep 2; echo survived";

/// The job's signal name, "" when it has none.
std::string signal_of(const Value& result) {
  return is_null(result, "job.signal") ? "" : str(result, "job.signal");
}

std::string job_args(const std::string& job_id, const std::string& rest = "") {
  return "{\"jobId\":" + q(job_id) + rest + "}";
}

} // namespace

TEST(Extremes, HugeTimeoutDoesNotTimeOut) {
  jobd_process j;
  for (auto timeout : {std::string("12345678901234"), max_json_int}) {
    SCOPED_TRACE(timeout);
    auto id = j.submit("sleep", R"(["1"])", R"({"timeout":)" + timeout + "}");
    ASSERT_FALSE(id.empty());
    auto r = j.wait_terminal(id, 5000);
    ASSERT_TRUE(r.ok()) << r.dump();
    EXPECT_EQ(str(*r, "job.status"), "completed") << r.dump();
    EXPECT_TRUE(is_null(*r, "job.errorCode")) << r.dump();
    EXPECT_EQ(num(*r, "job.timeout"), std::stoll(timeout));
  }
}

TEST(Extremes, HugeDefaultTimeoutDoesNotTimeOut) {
  jobd_process j(std::vector<std::string>{"--job-timeout-ms", max_json_int});
  auto id = j.submit("sleep", R"(["0.5"])");
  auto r = j.wait_terminal(id, 5000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "job.status"), "completed") << r.dump();
}

TEST(Extremes, HugeKillGraceDoesNotKillAtOnce) {
  jobd_process j;
  auto id = j.submit("sh", "[\"-c\"," + q(term_proof) + "]",
                     R"({"killGraceMs":)" + max_json_int + "}");
  ASSERT_FALSE(id.empty());
  j.wait_running(id);
  sleep_ms(100); // let sh install its trap
  auto t0 = now_ms();
  auto c = j.tool("console_cancel_job", job_args(id), 10000);
  auto took = now_ms() - t0;
  ASSERT_TRUE(c.ok()) << c.dump();
  EXPECT_GE(took, 1500) << "answered before the job could have ended itself";
  auto r = j.wait_terminal(id);
  EXPECT_EQ(str(*r, "job.status"), "cancelled") << r.dump();
  EXPECT_NE(signal_of(*r), "SIGKILL") << r.dump();
  EXPECT_EQ(j.output_text(id, "stdout"), "survived\n");
}

TEST(Extremes, HugeGraceOnCancelDoesNotKillAtOnce) {
  jobd_process j;
  auto id = j.submit("sh", "[\"-c\"," + q(term_proof) + "]");
  j.wait_running(id);
  sleep_ms(100);
  auto t0 = now_ms();
  auto c = j.tool(
    "console_cancel_job",
    job_args(id, R"(,"options":{"graceMs":)" + max_json_int + "}"), 10000);
  ASSERT_TRUE(c.ok()) << c.dump();
  EXPECT_GE(now_ms() - t0, 1500);
  EXPECT_EQ(j.output_text(id, "stdout"), "survived\n");
}

TEST(Extremes, HugeKillGraceOnTimeoutWaitsForTheJob) {
  jobd_process j;
  auto id = j.submit("sh", "[\"-c\"," + q(term_proof) + "]",
                     R"({"timeout":300,"killGraceMs":)" + max_json_int + "}");
  auto r = j.wait_terminal(id, 10000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "job.status"), "failed") << r.dump();
  EXPECT_EQ(str(*r, "job.errorCode"), "TIMEOUT") << r.dump();
  EXPECT_NE(signal_of(*r), "SIGKILL") << r.dump();
  EXPECT_EQ(j.output_text(id, "stdout"), "survived\n");
}

TEST(Extremes, CleanupWithHugeMaxAgeKeepsJustFinishedJobs) {
  jobd_process j;
  auto id = j.submit("true", "[]");
  j.wait_terminal(id);
  auto r = j.tool("console_cleanup_jobs",
                  R"({"options":{"maxAge":)" + max_json_int + "}}");
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(num(*r, "cleaned"), 0) << r.dump();
  EXPECT_EQ(num(*r, "remaining"), 1) << r.dump();
  EXPECT_TRUE(j.status(id).ok());
  // The other end still removes it.
  r = j.tool("console_cleanup_jobs", R"({"options":{"maxAge":0}})");
  EXPECT_EQ(num(*r, "cleaned"), 1) << r.dump();
}

TEST(Extremes, HugeRetentionWithFrequentSweepsKeepsFinishedJobs) {
  jobd_options o;
  o.env = {{"JOB_RETENTION_MS", "9000000000000000"},
           {"JOB_CLEANUP_INTERVAL", "10"}};
  jobd_process j(o);
  auto a = j.submit("true", "[]");
  auto b = j.submit_sh("exit 3");
  j.wait_terminal(a);
  j.wait_terminal(b);
  sleep_ms(300); // some 30 sweeps
  EXPECT_TRUE(j.status(a).ok());
  EXPECT_TRUE(j.status(b).ok());
  auto list = j.tool("console_list_jobs", "{}");
  EXPECT_EQ(num(*list, "total"), 2) << list.dump();
}

TEST(Extremes, HugeCleanupIntervalDoesNotSpin) {
  jobd_process j(
    std::vector<std::string>{"--cleanup-interval-ms", max_json_int});
  ASSERT_TRUE(j.call("ping"));
  auto before = cpu_seconds(j.pid());
  sleep_ms(2000);
  auto after = cpu_seconds(j.pid());
  ASSERT_GE(before, 0);
  EXPECT_LT(after - before, 0.5) << "jobd used a core while idle";
  EXPECT_TRUE(j.call("ping")) << "still serving";
}

TEST(Extremes, HugeRetentionAndIntervalFromFlagsServe) {
  jobd_process j(std::vector<std::string>{
    "--retention-ms", max_json_int, "--cleanup-interval-ms", max_json_int});
  auto id = j.submit("true", "[]");
  auto r = j.wait_terminal(id);
  EXPECT_EQ(str(*r, "job.status"), "completed");
}

TEST(Extremes, WaitWithZeroAndMaximalTimeout) {
  jobd_process j;
  auto id = j.submit("sleep", R"(["0.5"])");
  j.wait_running(id);
  auto t0 = now_ms();
  auto w = j.tool("console_wait_job", job_args(id, R"(,"timeoutMs":0)"));
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "reason"), "timeout") << w.dump();
  EXPECT_LT(now_ms() - t0, 400) << "timeoutMs 0 must not wait";
  w = j.tool("console_wait_job",
             job_args(id, R"(,"timeoutMs":)" + max_json_int), 10000);
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "reason"), "exit") << w.dump();
  EXPECT_EQ(str(*w, "job.status"), "completed");
}

TEST(Extremes, WaitWithMaximalTimeoutAndMaximalCap) {
  jobd_process j(std::vector<std::string>{"--max-wait-ms", max_json_int});
  auto id = j.submit("sleep", R"(["0.3"])");
  auto w = j.tool("console_wait_job",
                  job_args(id, R"(,"timeoutMs":)" + max_json_int), 10000);
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "reason"), "exit") << w.dump();
  // until output on a job that prints nothing more, cut short by cancel.
  auto quiet = j.submit("sleep", R"(["30"])");
  j.wait_running(quiet);
  auto waiting = j.send_tool(
    "console_wait_job",
    job_args(quiet, R"(,"until":"output","timeoutMs":)" + max_json_int));
  sleep_ms(300);
  auto c = j.tool("console_cancel_job", job_args(quiet));
  EXPECT_TRUE(c.ok()) << c.dump();
  auto r = j.tool_result_of(waiting, 5000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "exit") << r.dump();
}

TEST(Extremes, OutputQueriesAtTheirMaximum) {
  jobd_process j;
  auto id = j.submit_sh("printf 'one\\ntwo\\nthree\\n'");
  j.wait_terminal(id);
  auto all = j.tool("console_get_job_output",
                    job_args(id, R"(,"options":{"limit":)" + max_json_int
                                   + R"(,"maxBytes":)" + max_json_int
                                   + R"(,"tail":)" + max_json_int + "}"));
  ASSERT_TRUE(all.ok()) << all.dump();
  std::string text;
  for (auto& c : (*all)["output"].GetArray())
    text += str(c, "content");
  EXPECT_EQ(text, "one\ntwo\nthree\n");
  EXPECT_EQ(str(*all, "tail"), "one\ntwo\nthree\n");
  EXPECT_FALSE(boolean(*all, "truncated"));
  EXPECT_TRUE(boolean(*all, "complete"));
  auto latest = j.tool(
    "console_get_job_output",
    job_args(id, R"(,"options":{"latest":true,"limit":)" + max_json_int + "}"));
  ASSERT_TRUE(latest.ok()) << latest.dump();
  EXPECT_GE((*latest)["output"].Size(), 1u);
  auto beyond
    = j.tool("console_get_job_output",
             job_args(id, R"(,"options":{"since":)" + max_json_int + "}"));
  ASSERT_TRUE(beyond.ok()) << beyond.dump();
  EXPECT_EQ((*beyond)["output"].Size(), 0u);
  EXPECT_EQ(num(*beyond, "nextSince"), std::stoll(max_json_int));
  EXPECT_EQ(num(*beyond, "droppedChunks"), 0) << beyond.dump();
  auto w
    = j.tool("console_wait_job", job_args(id, R"(,"since":)" + max_json_int));
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "reason"), "exit");
  EXPECT_EQ((*w)["output"].Size(), 0u);
}

TEST(Extremes, ListAndCleanupAtTheirMaximum) {
  jobd_process j;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(j.submit("true", "[]"));
  for (auto& id : ids)
    j.wait_terminal(id);
  auto list = j.tool("console_list_jobs", R"({"options":{"limit":1000}})");
  ASSERT_TRUE(list.ok()) << list.dump();
  EXPECT_EQ((*list)["jobs"].Size(), 3u);
  EXPECT_FALSE(has(*list, "nextCursor"));
  auto refused = j.tool("console_list_jobs", R"({"options":{"limit":1001}})");
  EXPECT_EQ(refused.code(), "INVALID_ARGUMENTS") << refused.dump();
  auto keep = j.tool("console_cleanup_jobs",
                     R"({"options":{"keepCount":)" + max_json_int + "}}");
  ASSERT_TRUE(keep.ok()) << keep.dump();
  EXPECT_EQ(num(*keep, "cleaned"), 0);
  EXPECT_EQ(num(*keep, "remaining"), 3);
}

TEST(Extremes, OutputByteLimitAtTheServerCap) {
  jobd_process j(std::vector<std::string>{"--output-buffer-bytes", "4096"});
  auto id = j.submit_sh("head -c 10000 /dev/zero | tr '\\0' x",
                        R"({"outputByteLimit":4096})");
  auto r = j.wait_terminal(id);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_LE(num(*r, "job.output.bufferedBytes"), 4096);
  EXPECT_GT(num(*r, "job.output.droppedBytes"), 0);
  auto above
    = j.tool("console_execute_async",
             R"({"command":"true","options":{"outputByteLimit":4097}})");
  EXPECT_EQ(above.code(), "INVALID_ARGUMENTS") << above.dump();
}

// Scheduling and the job lifecycle: cancel, timeouts, limits, priorities,
// list, metrics, cleanup, and a 200-job mixed run.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace jobd_it;

namespace {

struct interval {
  int64_t start, end;
};

/// Most intervals open at once; an end at the same ms as a start closes first.
int max_overlap(const std::vector<interval>& xs) {
  std::vector<std::pair<int64_t, int>> ev;
  for (auto& x : xs) {
    ev.emplace_back(x.start, +1);
    ev.emplace_back(x.end, -1);
  }
  std::sort(ev.begin(), ev.end());
  int cur = 0, best = 0;
  for (auto& e : ev) {
    cur += e.second;
    best = std::max(best, cur);
  }
  return best;
}

interval job_interval(const Value& job) {
  return {parse_iso_ms(str(job, "startedAt")),
          parse_iso_ms(str(job, "finishedAt"))};
}

std::string cancel_args(const std::string& id, int grace = -1) {
  std::string a = "{\"jobId\":" + q(id);
  if (grace >= 0)
    a += ",\"options\":{\"graceMs\":" + std::to_string(grace) + "}";
  return a + "}";
}

std::vector<std::string> list_ids(const tool_result& r) {
  std::vector<std::string> ids;
  auto* jobs = at(*r, "jobs");
  if (jobs == nullptr || !jobs->IsArray()) {
    ADD_FAILURE() << "no jobs array: " << r.dump();
    return ids;
  }
  for (auto& j : jobs->GetArray())
    ids.push_back(str(j, "id"));
  return ids;
}

/// Waits until the job's process group has at least `n` live processes.

} // namespace

// -- cancel
// -------------------------------------------------------------------------

TEST(Cancel, RunningJobKillsWholeGroupBeforeReply) {
  jobd_process j;
  auto id = j.submit_sh("sleep 30 & sleep 30 & wait");
  auto st = j.wait_running(id);
  auto pid = static_cast<pid_t>(num((*st)["job"], "pid"));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_group_size(pid, 3, 3000)) << describe(procs_in_group(pid));
  auto t0 = now_ms();
  auto r = j.tool("console_cancel_job", cancel_args(id), 8000);
  auto elapsed = now_ms() - t0;
  auto left = procs_in_group(pid);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_TRUE(boolean(*r, "cancelled"));
  EXPECT_EQ(str(*r, "jobId"), id);
  EXPECT_EQ(str(*r, "status"), "cancelled");
  EXPECT_FALSE(str(*r, "message").empty());
  EXPECT_TRUE(left.empty())
    << "processes of the group left right after the cancel reply: "
    << describe(left);
  EXPECT_LT(elapsed, 2000)
    << "sleep dies on SIGTERM: no need to wait for the grace period";
  auto s = j.status(id);
  EXPECT_EQ(str((*s)["job"], "status"), "cancelled");
  EXPECT_FALSE(is_null((*s)["job"], "finishedAt"));
  // It stays cancelled (the peers flip to failed later).
  sleep_ms(300);
  s = j.status(id);
  EXPECT_EQ(str((*s)["job"], "status"), "cancelled");
}

TEST(Cancel, JobIgnoringSigtermIsKilledAfterGrace) {
  jobd_process j;
  auto id = j.submit_sh("trap '' TERM; sleep 30; echo survived");
  auto st = j.wait_running(id);
  auto pid = static_cast<pid_t>(num((*st)["job"], "pid"));
  ASSERT_TRUE(wait_group_size(pid, 2, 3000)) << describe(procs_in_group(pid));
  auto t0 = now_ms();
  auto r = j.tool("console_cancel_job", cancel_args(id, 300), 8000);
  auto elapsed = now_ms() - t0;
  auto left = procs_in_group(pid);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "status"), "cancelled");
  EXPECT_GE(elapsed, 250) << "SIGKILL must wait for the grace period";
  EXPECT_LT(elapsed, 1300);
  EXPECT_TRUE(left.empty()) << describe(left);
  auto s = j.status(id);
  EXPECT_EQ(str((*s)["job"], "status"), "cancelled");
  EXPECT_EQ(j.output_text(id), "");
}

TEST(Cancel, KillGraceFromJobOptionAndServerFlag) {
  {
    jobd_process j;
    auto id = j.submit_sh("trap '' TERM; sleep 30", R"({"killGraceMs":200})");
    auto st = j.wait_running(id);
    ASSERT_TRUE(
      wait_group_size(static_cast<pid_t>(num((*st)["job"], "pid")), 2, 3000));
    auto t0 = now_ms();
    auto r = j.tool("console_cancel_job", cancel_args(id), 8000);
    EXPECT_TRUE(r.ok()) << r.dump();
    EXPECT_LT(now_ms() - t0, 1200) << "options.killGraceMs 200 not used";
  }
  {
    jobd_process j(args({"--kill-grace-ms", "200"}));
    auto id = j.submit_sh("trap '' TERM; sleep 30");
    auto st = j.wait_running(id);
    ASSERT_TRUE(
      wait_group_size(static_cast<pid_t>(num((*st)["job"], "pid")), 2, 3000));
    auto t0 = now_ms();
    auto r = j.tool("console_cancel_job", cancel_args(id), 8000);
    EXPECT_TRUE(r.ok()) << r.dump();
    EXPECT_LT(now_ms() - t0, 1200) << "--kill-grace-ms 200 not used";
  }
}

TEST(Cancel, PendingJobNeverStarts) {
  jobd_process j(args({"--max-concurrent-jobs", "1"}));
  auto a = j.submit("sleep", "[\"0.4\"]");
  auto rb = j.tool("console_execute_async",
                   R"({"command":"sh","args":["-c","echo started"]})");
  ASSERT_TRUE(rb.ok()) << rb.dump();
  EXPECT_EQ(str(*rb, "status"), "pending");
  EXPECT_EQ(num(*rb, "queuePosition"), 1);
  auto b = str(*rb, "jobId");
  auto sb = j.status(b);
  EXPECT_EQ(str((*sb)["job"], "status"), "pending");
  EXPECT_EQ(num((*sb)["job"], "queuePosition"), 1);
  EXPECT_TRUE(is_null((*sb)["job"], "startedAt"));
  EXPECT_TRUE(is_null((*sb)["job"], "durationMs"));
  auto r = j.tool("console_cancel_job", cancel_args(b));
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "status"), "cancelled");
  j.wait_terminal(a);
  sleep_ms(300);
  auto s = j.status(b);
  const Value& job = (*s)["job"];
  EXPECT_EQ(str(job, "status"), "cancelled");
  EXPECT_TRUE(is_null(job, "startedAt")) << to_json(job);
  EXPECT_TRUE(is_null(job, "exitCode")) << to_json(job);
  EXPECT_TRUE(is_null(job, "queuePosition")) << to_json(job);
  EXPECT_TRUE(!has(job, "pid") || is_null(job, "pid") || num(job, "pid") == 0)
    << to_json(job);
  EXPECT_EQ(num(job, "output.stdoutBytes"), 0);
}

TEST(Cancel, FinishedJobSaysAlreadyFinished) {
  jobd_process j;
  auto id = j.submit("true", "[]");
  j.wait_terminal(id);
  auto r = j.tool("console_cancel_job", cancel_args(id));
  EXPECT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "JOB_ALREADY_FINISHED");
  EXPECT_EQ(str(*r, "details.status"), "completed") << r.dump();
  // Cancelling twice.
  auto id2 = j.submit("sleep", "[\"10\"]");
  j.wait_running(id2);
  auto c1 = j.tool("console_cancel_job", cancel_args(id2));
  EXPECT_TRUE(c1.ok()) << c1.dump();
  auto c2 = j.tool("console_cancel_job", cancel_args(id2));
  EXPECT_TRUE(c2.is_error) << c2.dump();
  EXPECT_EQ(c2.code(), "JOB_ALREADY_FINISHED");
  EXPECT_EQ(str(*c2, "details.status"), "cancelled") << c2.dump();
}

TEST(Cancel, ConcurrentCancelsOfManyJobs) {
  jobd_process j(args(
    {"--max-concurrent-jobs", "8", "--max-concurrent-jobs-per-session", "8"}));
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back(j.submit_sh("sleep 30 & sleep 30; wait"));
  for (int i = 0; i < 8; ++i)
    j.wait_running(ids[static_cast<size_t>(i)]);
  std::vector<int64_t> reqs;
  for (auto& id : ids)
    reqs.push_back(j.send_tool("console_cancel_job", cancel_args(id, 500)));
  for (auto rq : reqs) {
    auto r = j.tool_result_of(rq, 8000);
    EXPECT_TRUE(r.ok()) << r.dump();
  }
  for (auto pg : j.known_job_pids())
    EXPECT_TRUE(procs_in_group(pg).empty()) << describe(procs_in_group(pg));
}

// -- timeouts
// -------------------------------------------------------------------------

TEST(Timeout, FailsWithTimeoutAndLeavesNothing) {
  jobd_process j;
  auto id = j.submit_sh("sleep 30 & sleep 30; wait", R"({"timeout":300})");
  auto r = j.wait_terminal(id, 5000);
  const Value& job = (*r)["job"];
  auto left = procs_in_group(static_cast<pid_t>(num(job, "pid")));
  EXPECT_EQ(str(job, "status"), "failed");
  EXPECT_EQ(str(job, "errorCode"), "TIMEOUT") << to_json(job);
  auto iv = job_interval(job);
  EXPECT_GE(iv.end - iv.start, 280);
  EXPECT_LT(iv.end - iv.start, 1500);
  EXPECT_TRUE(left.empty()) << describe(left);
}

TEST(Timeout, TermIgnoringJobIsKilledAfterGrace) {
  jobd_process j;
  auto id = j.submit_sh("trap '' TERM; sleep 30",
                        R"({"timeout":200,"killGraceMs":300})");
  auto r = j.wait_terminal(id, 5000);
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "failed");
  EXPECT_EQ(str(job, "errorCode"), "TIMEOUT");
  auto iv = job_interval(job);
  EXPECT_GE(iv.end - iv.start, 450);
  EXPECT_LT(iv.end - iv.start, 1500);
  auto left = procs_in_group(static_cast<pid_t>(num(job, "pid")));
  EXPECT_TRUE(left.empty()) << describe(left);
}

TEST(Timeout, CountedFromStartNotFromQueueing) {
  jobd_process j(args({"--max-concurrent-jobs", "1"}));
  auto a = j.submit("sleep", "[\"0.6\"]");
  auto b = j.submit("sleep", "[\"0.1\"]", R"({"timeout":400})");
  auto rb = j.wait_terminal(b, 5000);
  EXPECT_EQ(str((*rb)["job"], "status"), "completed") << rb.dump();
  j.wait_terminal(a);
}

TEST(Timeout, ZeroMeansNoneAndServerDefaultApplies) {
  jobd_process j(args({"--job-timeout-ms", "200"}));
  auto none = j.submit("sleep", "[\"0.5\"]", R"({"timeout":0})");
  auto dflt = j.submit("sleep", "[\"5\"]");
  auto rd = j.wait_terminal(dflt, 3000);
  EXPECT_EQ(str((*rd)["job"], "errorCode"), "TIMEOUT") << rd.dump();
  auto rn = j.wait_terminal(none, 3000);
  EXPECT_EQ(str((*rn)["job"], "status"), "completed") << rn.dump();
  EXPECT_EQ(num((*rn)["job"], "timeout"), 0);
}

// -- limits and priorities
// ---------------------------------------------------------------

TEST(Scheduling, GlobalLimitNeverExceeded) {
  jobd_process j(args({"--max-concurrent-jobs", "3"}));
  std::vector<std::string> ids;
  std::vector<int64_t> reqs;
  for (int i = 0; i < 20; ++i)
    reqs.push_back(j.send_tool(
      "console_execute_async",
      "{\"command\":\"sleep\",\"args\":[\"0.2\"],\"options\":{\"sessionId\":\"s"
        + std::to_string(i % 4) + "\"}}"));
  int running_replies = 0;
  for (auto rq : reqs) {
    auto r = j.tool_result_of(rq);
    ASSERT_TRUE(r.ok()) << r.dump();
    ids.push_back(str(*r, "jobId"));
    running_replies += str(*r, "status") == "running";
  }
  EXPECT_EQ(running_replies, 3);
  // Sample the metrics while they run.
  auto deadline = now_ms() + 10000;
  for (;;) {
    auto m = j.tool("console_get_job_metrics", "{}");
    ASSERT_TRUE(m.ok());
    EXPECT_LE(num(*m, "metrics.runningJobs"), 3);
    EXPECT_LE(num(*m, "metrics.concurrency.current"), 3);
    EXPECT_EQ(num(*m, "metrics.concurrency.maximum"), 3);
    if (num(*m, "metrics.runningJobs") == 0
        && num(*m, "metrics.queueSize") == 0)
      break;
    ASSERT_LT(now_ms(), deadline);
    sleep_ms(30);
  }
  std::vector<interval> ivs;
  for (auto& id : ids) {
    auto r = j.wait_terminal(id);
    EXPECT_EQ(str((*r)["job"], "status"), "completed");
    ivs.push_back(job_interval((*r)["job"]));
  }
  EXPECT_LE(max_overlap(ivs), 3);
  EXPECT_EQ(max_overlap(ivs), 3) << "the limit of 3 should be used";
}

TEST(Scheduling, PerSessionLimitWithoutHeadOfLineBlocking) {
  jobd_process j(args({"--max-concurrent-jobs-per-session", "2"}));
  std::vector<std::string> a;
  for (int i = 0; i < 5; ++i) {
    auto r = j.tool(
      "console_execute_async",
      R"({"command":"sleep","args":["10"],"options":{"sessionId":"A","priority":10}})");
    ASSERT_TRUE(r.ok()) << r.dump();
    EXPECT_EQ(str(*r, "status"), i < 2 ? "running" : "pending") << i;
    a.push_back(str(*r, "jobId"));
  }
  auto t0 = now_ms();
  auto rb = j.tool(
    "console_execute_async",
    R"({"command":"sleep","args":["0.1"],"options":{"sessionId":"B","priority":1}})");
  ASSERT_TRUE(rb.ok()) << rb.dump();
  EXPECT_EQ(str(*rb, "status"), "running")
    << "session B must not wait behind session A";
  auto b = str(*rb, "jobId");
  auto sb = j.wait_terminal(b, 3000);
  EXPECT_EQ(str((*sb)["job"], "status"), "completed");
  EXPECT_LT(now_ms() - t0, 2000);
  auto s3 = j.status(a[2]);
  EXPECT_EQ(str((*s3)["job"], "status"), "pending");
  EXPECT_GE(num((*s3)["job"], "queuePosition"), 1);
  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  bool found = false;
  for (auto& s : (*m)["metrics"]["sessions"].GetArray()) {
    if (str(s, "sessionId") != "A")
      continue;
    found = true;
    EXPECT_EQ(num(s, "runningJobs"), 2);
    EXPECT_EQ(num(s, "pendingJobs"), 3);
    EXPECT_EQ(num(s, "totalJobs"), 5);
    EXPECT_EQ(num(s, "limit"), 2);
  }
  EXPECT_TRUE(found) << m.dump();
  // Pending first so that they never start, then the running ones.
  for (int i = 4; i >= 0; --i) {
    auto c = j.tool("console_cancel_job",
                    cancel_args(a[static_cast<size_t>(i)], 200), 5000);
    EXPECT_TRUE(c.ok()) << c.dump();
  }
}

TEST(Scheduling, SessionAtLimitDoesNotBlockLowerPriorityOfOtherSession) {
  jobd_process j(args(
    {"--max-concurrent-jobs", "3", "--max-concurrent-jobs-per-session", "1"}));
  auto a1 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"A","priority":10})");
  auto a2 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"A","priority":10})");
  auto a3 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"A","priority":10})");
  auto rb
    = j.tool("console_execute_async",
             R"({"command":"true","options":{"sessionId":"B","priority":1}})");
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(str(*rb, "status"), "running") << rb.dump();
  auto rc
    = j.tool("console_execute_async",
             R"({"command":"true","options":{"sessionId":"C","priority":1}})");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(str(*rc, "status"), "running") << rc.dump();
  for (auto& id : {a3, a2, a1})
    j.tool("console_cancel_job", cancel_args(id, 200), 5000);
}

TEST(Scheduling, PriorityOrderThenArrivalOrder) {
  jobd_process j(args({"--max-concurrent-jobs", "1"}));
  auto blocker = j.submit("sleep", "[\"0.3\"]");
  std::map<std::string, std::string> id_of;
  for (auto& [name, prio] : std::vector<std::pair<std::string, int>>{
         {"p1", 1}, {"p10", 10}, {"p5a", 5}, {"p5b", 5}}) {
    auto r = j.tool(
      "console_execute_async",
      "{\"command\":\"sleep\",\"args\":[\"0.05\"],\"options\":{\"priority\":"
        + std::to_string(prio) + "}}");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(str(*r, "status"), "pending");
    EXPECT_TRUE(has(*r, "queuePosition"));
    id_of[name] = str(*r, "jobId");
  }
  std::map<std::string, int64_t> expected_pos{
    {"p10", 1}, {"p5a", 2}, {"p5b", 3}, {"p1", 4}};
  for (auto& [name, pos] : expected_pos) {
    auto s = j.status(id_of[name]);
    EXPECT_EQ(num((*s)["job"], "queuePosition"), pos) << name;
  }
  j.wait_terminal(blocker);
  std::vector<std::pair<int64_t, std::string>> starts;
  std::vector<interval> ivs;
  for (auto& [name, id] : id_of) {
    auto r = j.wait_terminal(id);
    starts.emplace_back(parse_iso_ms(str((*r)["job"], "startedAt")), name);
    ivs.push_back(job_interval((*r)["job"]));
  }
  std::sort(starts.begin(), starts.end());
  std::vector<std::string> order;
  for (auto& s : starts)
    order.push_back(s.second);
  EXPECT_EQ(order, (std::vector<std::string>{"p10", "p5a", "p5b", "p1"}));
  EXPECT_LE(max_overlap(ivs), 1);
}

// -- list
// -------------------------------------------------------------------------------

TEST(List, FiltersOrderAndPagination) {
  jobd_process j;
  auto j1
    = j.submit("true", "[]", R"({"sessionId":"s1","tags":{"team":"a","n":1}})");
  j.wait_terminal(j1);
  auto j2
    = j.submit("false", "[]", R"({"sessionId":"s1","tags":{"team":"b"}})");
  j.wait_terminal(j2);
  auto j3
    = j.submit("true", "[]", R"({"sessionId":"s2","tags":{"team":"a","n":2}})");
  j.wait_terminal(j3);
  auto j4 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"s2"})");
  j.wait_running(j4);
  auto j5
    = j.submit("true", "[]", R"({"sessionId":"s3","tags":{"flag":true}})");
  j.wait_terminal(j5);

  using V = std::vector<std::string>;
  auto list = [&](const std::string& options) {
    auto r = j.tool("console_list_jobs", "{\"options\":" + options + "}");
    EXPECT_TRUE(r.ok()) << options << ": " << r.dump();
    return r;
  };
  auto all = list("{}");
  EXPECT_EQ(list_ids(all), (V{j5, j4, j3, j2, j1}));
  EXPECT_EQ(num(*all, "total"), 5);
  EXPECT_FALSE(has(*all, "nextCursor") && !is_null(*all, "nextCursor"))
    << all.dump();
  // Entry fields.
  for (auto& e : (*all)["jobs"].GetArray()) {
    for (auto* f : {"id", "command", "args", "status", "sessionId", "createdAt",
                    "startedAt", "finishedAt", "exitCode", "priority", "tags",
                    "workingDirectory"})
      EXPECT_TRUE(has(e, f)) << f << " missing in " << to_json(e);
  }
  auto no_args = j.tool("console_list_jobs", "{}");
  EXPECT_EQ(list_ids(no_args), (V{j5, j4, j3, j2, j1}));

  EXPECT_EQ(list_ids(list(R"({"status":"failed"})")), (V{j2}));
  EXPECT_EQ(list_ids(list(R"({"status":"running"})")), (V{j4}));
  auto cf = list(R"({"status":["completed","failed"]})");
  EXPECT_EQ(list_ids(cf), (V{j5, j3, j2, j1}));
  EXPECT_EQ(num(*cf, "total"), 4);
  EXPECT_EQ(list_ids(list(R"({"sessionId":"s1"})")), (V{j2, j1}));
  EXPECT_EQ(list_ids(list(R"({"sessionId":"nobody"})")), (V{}));
  EXPECT_EQ(list_ids(list(R"({"tags":{"team":"a"}})")), (V{j3, j1}));
  EXPECT_EQ(list_ids(list(R"({"tags":{"team":"a","n":2}})")), (V{j3}));
  EXPECT_EQ(list_ids(list(R"({"tags":{"flag":true}})")), (V{j5}));
  EXPECT_EQ(list_ids(list(R"({"sessionId":"s2","status":"completed"})")),
            (V{j3}));

  // Pagination: every job exactly once, newest first, total on each page.
  auto p1 = list(R"({"limit":2})");
  EXPECT_EQ(list_ids(p1), (V{j5, j4}));
  EXPECT_EQ(num(*p1, "total"), 5);
  auto c1 = str(*p1, "nextCursor");
  // A job created between pages must not shift the pages.
  auto j6 = j.submit("true", "[]");
  auto p2 = list("{\"limit\":2,\"cursor\":" + q(c1) + "}");
  EXPECT_EQ(list_ids(p2), (V{j3, j2}));
  auto c2 = str(*p2, "nextCursor");
  auto p3 = list("{\"limit\":2,\"cursor\":" + q(c2) + "}");
  EXPECT_EQ(list_ids(p3), (V{j1}));
  EXPECT_TRUE(!has(*p3, "nextCursor") || is_null(*p3, "nextCursor"))
    << p3.dump();
  j.wait_terminal(j6);
  j.tool("console_cancel_job", cancel_args(j4, 200));
}

TEST(List, PaginationCoversManyJobsExactlyOnce) {
  jobd_process j(args({"--max-concurrent-jobs", "20",
                       "--max-concurrent-jobs-per-session", "20"}));
  std::vector<std::string> ids;
  std::vector<int64_t> reqs;
  for (int i = 0; i < 57; ++i)
    reqs.push_back(
      j.send_tool("console_execute_async", R"({"command":"true"})"));
  for (auto rq : reqs) {
    auto r = j.tool_result_of(rq);
    ASSERT_TRUE(r.ok());
    ids.push_back(str(*r, "jobId"));
  }
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    auto r
      = j.tool("console_list_jobs",
               "{\"options\":{\"limit\":10"
                 + (cursor.empty() ? "" : ",\"cursor\":" + q(cursor)) + "}}");
    ASSERT_TRUE(r.ok()) << r.dump();
    EXPECT_EQ(num(*r, "total"), 57);
    auto page_ids = list_ids(r);
    EXPECT_LE(page_ids.size(), 10u);
    seen.insert(seen.end(), page_ids.begin(), page_ids.end());
    auto* next = at(*r, "nextCursor");
    if (next == nullptr || next->IsNull())
      break;
    cursor = str(*r, "nextCursor");
  }
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, expected);
}

TEST(List, BadOptions) {
  jobd_process j;
  for (const char* o :
       {R"({"limit":0})", R"({"limit":1001})", R"({"status":"bogus"})",
        R"({"status":["running","x"]})", R"({"tags":{"a":{"b":1}}})"}) {
    SCOPED_TRACE(o);
    auto r
      = j.tool("console_list_jobs", std::string("{\"options\":") + o + "}");
    EXPECT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  }
  auto r = j.tool("console_list_jobs",
                  R"({"options":{"cursor":"definitely-not-a-cursor"}})");
  EXPECT_TRUE((r.rpc_error && r.rpc_code == -32602)
              || (r.is_error && r.code() == "INVALID_ARGUMENTS"))
    << "an invalid cursor must be rejected: " << r.dump();
}

// -- metrics
// ------------------------------------------------------------------------------

TEST(Metrics, CountersMatchJobsAndSurviveCleanup) {
  jobd_process j(args({"--max-concurrent-jobs", "2"}));
  auto m0 = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m0.ok()) << m0.dump();
  for (auto* f :
       {"totalJobs", "runningJobs", "completedJobs", "failedJobs",
        "cancelledJobs", "queueSize", "retainedJobs", "concurrency.current"})
    EXPECT_EQ(num(*m0, std::string("metrics.") + f), 0) << f;
  EXPECT_EQ(num(*m0, "metrics.concurrency.maximum"), 2);
  EXPECT_GE(num(*m0, "metrics.uptimeMs"), 0);
  auto* load = at(*m0, "metrics.systemLoad");
  EXPECT_TRUE(load && load->IsNumber() && load->GetDouble() >= 0);

  for (int i = 0; i < 3; ++i)
    j.wait_terminal(j.submit("true", "[]", R"({"sessionId":"a"})"));
  for (int i = 0; i < 2; ++i)
    j.wait_terminal(j.submit("false", "[]", R"({"sessionId":"b"})"));
  auto x = j.submit("sleep", "[\"10\"]", R"({"sessionId":"a"})");
  j.wait_running(x);
  EXPECT_TRUE(j.tool("console_cancel_job", cancel_args(x, 200)).ok());
  auto r1 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"a"})");
  auto r2 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"b"})");
  auto p1 = j.submit("sleep", "[\"10\"]", R"({"sessionId":"b"})");
  j.wait_running(r1);
  j.wait_running(r2);

  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(num(*m, "metrics.totalJobs"), 9);
  EXPECT_EQ(num(*m, "metrics.runningJobs"), 2);
  EXPECT_EQ(num(*m, "metrics.completedJobs"), 3);
  EXPECT_EQ(num(*m, "metrics.failedJobs"), 2);
  EXPECT_EQ(num(*m, "metrics.cancelledJobs"), 1);
  EXPECT_EQ(num(*m, "metrics.queueSize"), 1);
  EXPECT_EQ(num(*m, "metrics.concurrency.current"), 2);
  EXPECT_EQ(num(*m, "metrics.retainedJobs"), 9);
  auto* avg = at(*m, "metrics.averageExecutionTime");
  ASSERT_TRUE(avg && avg->IsNumber()) << m.dump();
  EXPECT_GE(avg->GetDouble(), 0);
  EXPECT_LT(avg->GetDouble(), 5000);
  std::map<std::string, const Value*> sessions;
  for (auto& s : (*m)["metrics"]["sessions"].GetArray())
    sessions[str(s, "sessionId")] = &s;
  ASSERT_EQ(sessions.count("a"), 1u) << m.dump();
  ASSERT_EQ(sessions.count("b"), 1u) << m.dump();
  const Value& sa = *sessions["a"];
  EXPECT_EQ(num(sa, "totalJobs"), 5);
  EXPECT_EQ(num(sa, "completedJobs"), 3);
  EXPECT_EQ(num(sa, "cancelledJobs"), 1);
  EXPECT_EQ(num(sa, "runningJobs"), 1);
  EXPECT_EQ(num(sa, "pendingJobs"), 0);
  EXPECT_EQ(num(sa, "limit"), 5);
  const Value& sb = *sessions["b"];
  EXPECT_EQ(num(sb, "totalJobs"), 4);
  EXPECT_EQ(num(sb, "failedJobs"), 2);
  EXPECT_EQ(num(sb, "runningJobs"), 1);
  EXPECT_EQ(num(sb, "pendingJobs"), 1);

  for (auto& id : {p1, r2, r1})
    EXPECT_TRUE(j.tool("console_cancel_job", cancel_args(id, 200), 5000).ok());
  auto c = j.tool("console_cleanup_jobs", "{}");
  ASSERT_TRUE(c.ok()) << c.dump();
  EXPECT_EQ(num(*c, "cleaned"), 9);
  EXPECT_EQ(num(*c, "remaining"), 0);
  auto m2 = j.tool("console_get_job_metrics", "{}");
  EXPECT_EQ(num(*m2, "metrics.totalJobs"), 9);
  EXPECT_EQ(num(*m2, "metrics.completedJobs"), 3);
  EXPECT_EQ(num(*m2, "metrics.failedJobs"), 2);
  EXPECT_EQ(num(*m2, "metrics.cancelledJobs"), 4);
  EXPECT_EQ(num(*m2, "metrics.runningJobs"), 0);
  EXPECT_EQ(num(*m2, "metrics.queueSize"), 0);
  EXPECT_EQ(num(*m2, "metrics.retainedJobs"), 0);
}

TEST(Metrics, SessionLimitFromFlagAndEnvironment) {
  {
    jobd_options o;
    o.env = {{"MAX_CONCURRENT_JOBS", "7"},
             {"MAX_CONCURRENT_JOBS_PER_SESSION", "3"}};
    jobd_process j(o);
    j.wait_terminal(j.submit("true", "[]"));
    auto m = j.tool("console_get_job_metrics", "{}");
    EXPECT_EQ(num(*m, "metrics.concurrency.maximum"), 7);
    ASSERT_GE((*m)["metrics"]["sessions"].Size(), 1u);
    EXPECT_EQ(num((*m)["metrics"]["sessions"][0], "limit"), 3);
  }
  {
    jobd_options o;
    o.env = {{"MAX_CONCURRENT_JOBS", "7"}};
    o.args = {"--max-concurrent-jobs", "4"};
    jobd_process j(o);
    auto m = j.tool("console_get_job_metrics", "{}");
    EXPECT_EQ(num(*m, "metrics.concurrency.maximum"), 4)
      << "flags win over the environment";
  }
}

// -- cleanup
// --------------------------------------------------------------------------------

TEST(Cleanup, Semantics) {
  jobd_process j(args({"--max-concurrent-jobs", "1"}));
  auto c1 = j.submit("true", "[]");
  j.wait_terminal(c1);
  auto c2 = j.submit("true", "[]");
  j.wait_terminal(c2);
  auto c3 = j.submit("true", "[]");
  j.wait_terminal(c3);
  auto f1 = j.submit("false", "[]");
  j.wait_terminal(f1);
  auto x1 = j.submit("sleep", "[\"10\"]");
  j.wait_running(x1);
  ASSERT_TRUE(j.tool("console_cancel_job", cancel_args(x1, 200)).ok());
  auto r1 = j.submit("sleep", "[\"10\"]");
  j.wait_running(r1);
  auto p1 = j.submit("true", "[]");
  auto cleanup = [&](const std::string& options) {
    auto r = j.tool("console_cleanup_jobs", "{\"options\":" + options + "}");
    EXPECT_TRUE(r.ok()) << options << ": " << r.dump();
    return r;
  };
  auto gone = [&](const std::string& id) {
    return j.status(id).code() == "JOB_NOT_FOUND";
  };

  auto r = cleanup(R"({"statuses":["failed"]})");
  EXPECT_EQ(num(*r, "cleaned"), 1);
  EXPECT_EQ(num(*r, "remaining"), 6);
  EXPECT_TRUE(gone(f1));

  r = cleanup(R"({"statuses":["completed"],"keepCount":2})");
  EXPECT_EQ(num(*r, "cleaned"), 1);
  EXPECT_EQ(num(*r, "remaining"), 5);
  EXPECT_TRUE(gone(c1));
  EXPECT_FALSE(gone(c2));
  EXPECT_FALSE(gone(c3));

  r = cleanup(R"({"maxAge":60000})");
  EXPECT_EQ(num(*r, "cleaned"), 0) << "nothing finished a minute ago";
  EXPECT_EQ(num(*r, "remaining"), 5);

  sleep_ms(250);
  r = cleanup(R"({"maxAge":200,"statuses":["cancelled"]})");
  EXPECT_EQ(num(*r, "cleaned"), 1);
  EXPECT_TRUE(gone(x1));

  r = cleanup(R"({"maxAge":0})");
  EXPECT_EQ(num(*r, "cleaned"), 2);
  EXPECT_EQ(num(*r, "remaining"), 2);
  EXPECT_TRUE(gone(c2));
  EXPECT_TRUE(gone(c3));
  EXPECT_EQ(str((*j.status(r1))["job"], "status"), "running");
  EXPECT_EQ(str((*j.status(p1))["job"], "status"), "pending");

  r = cleanup("{}");
  EXPECT_EQ(num(*r, "cleaned"), 0)
    << "pending and running jobs are never removed";
  j.tool("console_cancel_job", cancel_args(p1));
  j.tool("console_cancel_job", cancel_args(r1, 200));
}

TEST(Cleanup, KeepCountKeepsNewestAndSessionFilter) {
  jobd_process j;
  std::vector<std::string> s1, s2;
  for (int i = 0; i < 4; ++i) {
    s1.push_back(j.submit("true", "[]", R"({"sessionId":"s1"})"));
    j.wait_terminal(s1.back());
    s2.push_back(j.submit("true", "[]", R"({"sessionId":"s2"})"));
    j.wait_terminal(s2.back());
  }
  auto r = j.tool("console_cleanup_jobs",
                  R"({"options":{"sessionId":"s1","keepCount":1}})");
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(num(*r, "cleaned"), 3);
  EXPECT_EQ(num(*r, "remaining"), 5);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(j.status(s1[static_cast<size_t>(i)]).code(), "JOB_NOT_FOUND");
  EXPECT_TRUE(j.status(s1[3]).ok());
  for (auto& id : s2)
    EXPECT_TRUE(j.status(id).ok());
  auto l = j.tool("console_list_jobs", "{}");
  EXPECT_EQ(num(*l, "total"), 5);
}

TEST(Cleanup, BadOptions) {
  jobd_process j;
  for (const char* o : {R"({"statuses":["running"]})",
                        R"({"statuses":["pending"]})", R"({"keepCount":-1})",
                        R"({"maxAge":-5})", R"({"statuses":"completed"})"}) {
    SCOPED_TRACE(o);
    auto r
      = j.tool("console_cleanup_jobs", std::string("{\"options\":") + o + "}");
    EXPECT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  }
}

TEST(Cleanup, SweeperRemovesOldFinishedJobs) {
  jobd_process j(
    args({"--retention-ms", "300", "--cleanup-interval-ms", "100"}));
  auto done = j.submit("true", "[]");
  auto running = j.submit("sleep", "[\"10\"]");
  j.wait_terminal(done);
  auto deadline = now_ms() + 3000;
  bool removed = false;
  while (now_ms() < deadline) {
    auto r = j.status(done);
    if (r.is_error && r.code() == "JOB_NOT_FOUND") {
      removed = true;
      break;
    }
    sleep_ms(50);
  }
  EXPECT_TRUE(removed)
    << "the sweeper did not remove a finished job past its retention";
  EXPECT_EQ(str((*j.status(running))["job"], "status"), "running");
  auto m = j.tool("console_get_job_metrics", "{}");
  EXPECT_EQ(num(*m, "metrics.completedJobs"), 1);
  EXPECT_EQ(num(*m, "metrics.totalJobs"), 2);
  EXPECT_EQ(num(*m, "metrics.retainedJobs"), 1);
  j.tool("console_cancel_job", cancel_args(running, 200));
}

// -- a mixed run
// ------------------------------------------------------------------------------

TEST(Mixed, TwoHundredJobsEndInTheRightStateWithNothingLeft) {
  jobd_process j(args({"--max-concurrent-jobs", "4"}));
  enum kind { ok_sleep, timeout_sleep, cancel_me, exit4, timeout_stubborn };
  std::mt19937 rng(20261128);
  std::vector<kind> kinds;
  std::vector<std::string> ids;
  std::vector<int64_t> reqs;
  const char* sleeps[] = {"0", "0.05", "0.1", "0.2", "0.3"};
  for (int i = 0; i < 200; ++i) {
    int roll = static_cast<int>(rng() % 100);
    kind k = roll < 45   ? ok_sleep
             : roll < 60 ? timeout_sleep
             : roll < 80 ? cancel_me
             : roll < 90 ? exit4
                         : timeout_stubborn;
    kinds.push_back(k);
    std::string opts = "\"sessionId\":\"s" + std::to_string(rng() % 4)
                       + "\",\"priority\":" + std::to_string(1 + rng() % 10);
    std::string a;
    switch (k) {
      case ok_sleep:
        a = "{\"command\":\"sleep\",\"args\":[\""
            + std::string(sleeps[rng() % 5]) + "\"],\"options\":{" + opts
            + "}}";
        break;
      case timeout_sleep:
        a = "{\"command\":\"sleep\",\"args\":[\"30\"],\"options\":{" + opts
            + ",\"timeout\":" + std::to_string(100 + rng() % 200)
            + ",\"killGraceMs\":200}}";
        break;
      case cancel_me:
        a = "{\"command\":\"sh\",\"args\":[\"-c\",\"sleep 30 & "
            "wait\"],\"options\":{"
            + opts + ",\"timeout\":0}}";
        break;
      case exit4:
        a = "{\"command\":\"sh\",\"args\":[\"-c\",\"exit 4\"],\"options\":{"
            + opts + "}}";
        break;
      case timeout_stubborn:
        a = "{\"command\":\"sh\",\"args\":[\"-c\",\"trap '' TERM; sleep "
            "30\"],\"options\":{"
            + opts + ",\"timeout\":200,\"killGraceMs\":100}}";
        break;
    }
    reqs.push_back(j.send_tool("console_execute_async", a));
    if (reqs.size() == 50) {
      for (auto rq : reqs) {
        auto r = j.tool_result_of(rq);
        ASSERT_TRUE(r.ok()) << r.dump();
        ids.push_back(str(*r, "jobId"));
      }
      reqs.clear();
    }
  }
  ASSERT_EQ(ids.size(), 200u);
  std::set<size_t> cancel_sent;
  std::vector<int64_t> cancel_reqs;
  // Cancel half of the cancel_me jobs at once (mostly pending).
  for (size_t i = 0; i < ids.size(); ++i) {
    if (kinds[i] == cancel_me && (i % 2 == 0)) {
      cancel_reqs.push_back(
        j.send_tool("console_cancel_job", cancel_args(ids[i], 300)));
      cancel_sent.insert(i);
    }
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i)
    index[ids[i]] = i;
  // ~9 s normally; the bound leaves room for the ASan build under ctest -j.
  auto deadline = now_ms() + 45000;
  for (;;) {
    auto l
      = j.tool("console_list_jobs",
               R"({"options":{"status":["pending","running"],"limit":1000}})");
    ASSERT_TRUE(l.ok()) << l.dump();
    if (num(*l, "total") == 0)
      break;
    for (auto& e : (*l)["jobs"].GetArray()) {
      auto i = index[str(e, "id")];
      if (kinds[i] == cancel_me && str(e, "status") == "running"
          && !cancel_sent.count(i)) {
        cancel_reqs.push_back(
          j.send_tool("console_cancel_job", cancel_args(ids[i], 300)));
        cancel_sent.insert(i);
      }
    }
    ASSERT_LT(now_ms(), deadline)
      << "the mixed run did not finish in time: " << l.dump().substr(0, 1000);
    sleep_ms(30);
  }
  for (auto rq : cancel_reqs) {
    auto r = j.tool_result_of(rq, 10000);
    EXPECT_TRUE(r.ok()) << r.dump();
  }
  std::map<std::string, int> counts;
  std::vector<interval> ivs;
  std::vector<int64_t> status_reqs;
  for (auto& id : ids)
    status_reqs.push_back(
      j.send_tool("console_get_job_status", "{\"jobId\":" + q(id) + "}"));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto r = j.tool_result_of(status_reqs[i]);
    ASSERT_TRUE(r.ok()) << r.dump();
    const Value& job = (*r)["job"];
    auto status = str(job, "status");
    counts[status]++;
    SCOPED_TRACE("job " + ids[i] + " kind " + std::to_string(kinds[i]) + ": "
                 + to_json(job));
    switch (kinds[i]) {
      case ok_sleep:
        EXPECT_EQ(status, "completed");
        break;
      case timeout_sleep:
      case timeout_stubborn:
        EXPECT_EQ(status, "failed");
        EXPECT_EQ(str(job, "errorCode"), "TIMEOUT");
        break;
      case cancel_me:
        EXPECT_EQ(status, "cancelled");
        break;
      case exit4:
        EXPECT_EQ(status, "failed");
        EXPECT_EQ(num(job, "exitCode"), 4);
        break;
    }
    if (!is_null(job, "startedAt"))
      ivs.push_back(job_interval(job));
    if (has(job, "pid") && at(job, "pid")->IsInt64() && num(job, "pid") > 0) {
      auto left = procs_in_group(static_cast<pid_t>(num(job, "pid")));
      EXPECT_TRUE(left.empty()) << describe(left);
    }
  }
  EXPECT_LE(max_overlap(ivs), 4);
  auto m = j.tool("console_get_job_metrics", "{}");
  EXPECT_EQ(num(*m, "metrics.totalJobs"), 200);
  EXPECT_EQ(num(*m, "metrics.completedJobs"), counts["completed"]);
  EXPECT_EQ(num(*m, "metrics.failedJobs"), counts["failed"]);
  EXPECT_EQ(num(*m, "metrics.cancelledJobs"), counts["cancelled"]);
  EXPECT_EQ(num(*m, "metrics.runningJobs"), 0);
  EXPECT_EQ(num(*m, "metrics.queueSize"), 0);
}

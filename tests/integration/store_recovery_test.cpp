// Durable jobs against the real binary after a crash: kill -9 leaves a
// record and no process (cgroup and process-group tracking), interrupted
// and requeued jobs, acknowledged jobs survive, two instances on one state
// directory, a survivor recovers a dead instance.
#include "jobd_harness.hpp"
#include "store_state_dir.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace jobd_it;

namespace {

namespace fs = std::filesystem;

/// Where a jobd with pid `pid` makes its job cgroups (below the cgroup it
/// inherited from us): `<cgroup2 mount><our cgroup>/jobd-<pid>`.
std::string jobd_cgroup_dir(pid_t pid) {
  std::ifstream self{"/proc/self/cgroup"};
  std::string line, own;
  while (std::getline(self, line))
    if (line.rfind("0::", 0) == 0)
      own = line.substr(3);
  std::ifstream mounts{"/proc/self/mounts"};
  while (std::getline(mounts, line)) {
    std::istringstream fields{line};
    std::string dev, where, type;
    fields >> dev >> where >> type;
    if (type == "cgroup2")
      return where + (own == "/" ? "" : own) + "/jobd-" + std::to_string(pid);
  }
  return {};
}

} // namespace

/// `tracking`: JOBD_TRACKING for both jobd (a cgroup, or the process group
/// that the next jobd kills only if its leader is the recorded process).
void kill_nine_leaves_a_record_and_no_process(const char* tracking) {
  state_dir dir;
  // The killed jobd's object lives on: its leftovers are the next one's to
  // end (the harness would end them when it goes).
  auto with_tracking = [&](jobd_options o) {
    o.env.emplace_back("JOBD_TRACKING", tracking);
    return o;
  };
  jobd_process j{with_tracking(dir.options({"--max-concurrent-jobs", "1"}))};
  // A job that ended first leaves its emptied cgroup kept for later jobs.
  auto first = j.wait_terminal(j.submit_sh("true"));
  EXPECT_EQ(str(*first, "job.status"), "completed");
  auto running = j.submit_sh(
    "echo started; setsid sh -c 'echo $$ >&2; exec sleep 300' x & sleep 300");
  auto r = j.wait_running(running);
  auto pid = static_cast<pid_t>(num(*r, "job.pid"));
  ASSERT_GT(pid, 0);
  const bool in_cgroup = str(*r, "job.tracking") == "cgroup";
  if (std::string{tracking} == "pgroup") {
    EXPECT_FALSE(in_cgroup);
  }
  const auto cgroups = jobd_cgroup_dir(j.pid());
  pid_t escapee = 0;
  for (int i = 0; i < 250 && escapee == 0; ++i) {
    escapee
      = static_cast<pid_t>(std::atol(j.output_text(running, "stderr").c_str()));
    if (escapee == 0)
      sleep_ms(20);
  }
  ASSERT_GT(escapee, 0);
  auto pending = j.submit_sh("echo second");
  // Output reaches the store within a flush interval.
  sleep_ms(400);
  j.kill_signal(SIGKILL);
  j.wait_exit(5000);
  jobd_process k{with_tracking(dir.options())};
  auto s = k.status(running);
  ASSERT_TRUE(s.ok()) << s.dump();
  EXPECT_EQ(str(*s, "job.status"), "failed");
  EXPECT_EQ(str(*s, "job.errorCode"), "INTERRUPTED");
  EXPECT_EQ(k.output_text(running, "stdout"), "started\n");
  // Its whole tree is gone (cgroup or group kill), and with a cgroup the
  // setsid escapee too, and the dead jobd's cgroups with the one it kept.
  EXPECT_TRUE(wait_group_gone(pid, 5000));
  if (in_cgroup) {
    for (int i = 0; i < 250 && pid_alive(escapee); ++i)
      sleep_ms(20);
    EXPECT_FALSE(pid_alive(escapee));
    EXPECT_FALSE(fs::exists(cgroups)) << cgroups;
  } else if (pid_alive(escapee)) {
    ::kill(escapee, SIGKILL); // it left the group: ours (the test's) to end
  }
  // The pending job is queued again under its old id, and runs.
  auto p = k.wait_terminal(pending);
  EXPECT_EQ(str(*p, "job.status"), "completed") << p.dump();
  EXPECT_EQ(k.output_text(pending, "stdout"), "second\n");
}

TEST(Store, KillNineLeavesARecordOfTheRunningJobAndNoProcess) {
  kill_nine_leaves_a_record_and_no_process("auto");
}

TEST(Store, KillNineLeavesNoProcessGroupEither) {
  kill_nine_leaves_a_record_and_no_process("pgroup");
}

TEST(Store, NoRequeueCancelsWhatWasPending) {
  state_dir dir;
  jobd_process j{dir.options({"--max-concurrent-jobs", "1"})};
  j.wait_running(j.submit_sh("sleep 300"));
  auto pending = j.submit_sh("echo never");
  sleep_ms(200);
  j.kill_signal(SIGKILL);
  j.wait_exit(5000);
  jobd_process k{dir.options({"--no-requeue"})};
  auto s = k.status(pending);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(str(*s, "job.status"), "cancelled");
  EXPECT_EQ(str(*s, "job.errorCode"), "INTERRUPTED");
}

TEST(Store, RequeuedJobsKeepTheirOrderAndPriority) {
  state_dir dir;
  std::vector<std::string> low, high;
  jobd_process j{dir.options({"--max-concurrent-jobs", "1"})};
  j.wait_running(j.submit_sh("sleep 300"));
  for (int i = 0; i < 3; ++i)
    low.push_back(j.submit_sh("echo low" + std::to_string(i)));
  for (int i = 0; i < 2; ++i)
    high.push_back(
      j.submit_sh("echo high" + std::to_string(i), R"({"priority":9})"));
  sleep_ms(200);
  j.kill_signal(SIGKILL);
  j.wait_exit(5000);
  jobd_process k{dir.options({"--max-concurrent-jobs", "1"})};
  std::vector<std::pair<int64_t, std::string>> starts;
  for (auto& id : high)
    starts.emplace_back(0, id);
  for (auto& id : low)
    starts.emplace_back(0, id);
  for (auto& [at_ms, id] : starts) {
    auto s = k.wait_terminal(id);
    ASSERT_EQ(str(*s, "job.status"), "completed") << s.dump();
    at_ms = parse_iso_ms(str(*s, "job.startedAt"));
  }
  // high0, high1, low0, low1, low2: each started no earlier than the one
  // before it.
  for (size_t i = 1; i < starts.size(); ++i)
    EXPECT_LE(starts[i - 1].first, starts[i].first)
      << starts[i - 1].second << " vs " << starts[i].second;
}

TEST(Store, KillNineDuringABurstLosesNoAcknowledgedJobAndReusesNoId) {
  state_dir dir;
  std::set<std::string> acknowledged;
  jobd_process j{dir.options({"--max-concurrent-jobs", "4"})};
  {
    std::vector<int64_t> calls;
    for (int i = 0; i < 300; ++i)
      calls.push_back(
        j.send_tool("console_execute_async", R"({"command":"true"})"));
    // Take the first half of the answers, then kill in the middle.
    for (size_t i = 0; i < calls.size() / 2; ++i) {
      auto r = j.tool_result_of(calls[i], 20000);
      ASSERT_TRUE(r.ok()) << r.dump();
      acknowledged.insert(str(*r, "jobId"));
    }
    // An acknowledged job may still sit in the batch: the kill is one
    // commit interval later, as a crash would be at worst.
    sleep_ms(150);
    j.kill_signal(SIGKILL);
    j.wait_exit(5000);
  }
  jobd_process k{dir.options()};
  auto l = k.tool("console_list_jobs", R"({"options":{"limit":1000}})", 20000);
  ASSERT_TRUE(l.ok());
  std::set<std::string> listed;
  auto& jobs = *at(*l, "jobs");
  for (auto& job : jobs.GetArray())
    EXPECT_TRUE(listed.insert(job["id"].GetString()).second)
      << "listed twice: " << job["id"].GetString();
  for (auto& id : acknowledged)
    EXPECT_EQ(listed.count(id), 1u) << "lost " << id;
  // Every listed job ends (nothing stays pending or running for ever).
  for (auto& id : listed)
    k.wait_terminal(id, 20000);
  // New ids are new.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(listed.count(k.submit_sh("true")), 0u);
}

TEST(Store, TwoInstancesOnOneStateDirectoryBothServe) {
  state_dir dir;
  jobd_process a{dir.options()};
  jobd_process b{dir.options()};
  auto in_a = a.submit_sh("echo from-a; sleep 300");
  auto in_b = b.submit_sh("echo from-b");
  a.wait_running(in_a);
  b.wait_terminal(in_b);
  // Each sees the other's jobs once they were committed (within a batch
  // interval), with their owner.
  auto deadline = now_ms() + 2000;
  for (;;) {
    auto seen = b.status(in_a);
    if ((seen.ok() && str(*seen, "job.status") == "running")
        || now_ms() >= deadline)
      break;
    sleep_ms(20);
  }
  auto s = b.status(in_a);
  ASSERT_TRUE(s.ok()) << s.dump();
  EXPECT_EQ(str(*s, "job.status"), "running");
  EXPECT_TRUE(boolean(*s, "job.owner.live"));
  EXPECT_EQ(num(*s, "job.owner.pid"), a.pid());
  auto o = a.status(in_b);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(num(*o, "job.owner.pid"), b.pid());
  EXPECT_EQ(a.output_text(in_b, "stdout"), "from-b\n");
  for (auto* j : {&a, &b}) {
    auto l = j->tool("console_list_jobs", "{}");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(num(*l, "total"), 2);
  }
  // Cancel through the other instance is refused, naming the owner.
  auto c = b.tool("console_cancel_job", R"({"jobId":")" + in_a + "\"}");
  EXPECT_EQ(c.code(), "JOB_OWNED_ELSEWHERE") << c.dump();
  EXPECT_NE(c.message().find(std::to_string(a.pid())), std::string::npos);
  // A wait through the other instance ends when the owner's job ends.
  auto w = b.send_tool("console_wait_job",
                       R"({"jobId":")" + in_a + R"(","timeoutMs":20000})");
  sleep_ms(200);
  auto cancelled
    = a.tool("console_cancel_job",
             R"({"jobId":")" + in_a + R"(","options":{"graceMs":0}})");
  ASSERT_TRUE(cancelled.ok()) << cancelled.dump();
  auto waited = b.tool_result_of(w, 10000);
  ASSERT_TRUE(waited.ok()) << waited.dump();
  EXPECT_EQ(str(*waited, "reason"), "exit");
  EXPECT_EQ(str(*waited, "job.status"), "cancelled");
}

// A survivor asked about a pending job of a dead instance takes it over
// and runs it. (SCHEDULER answers the requeue to its sender: when the STORE
// sent it, the answer reached the STORE, and CAF printed "unexpected
// message" on stdout, which the harness refuses.)
TEST(Store, ASurvivorAskedAboutADeadInstancesPendingJobRunsIt) {
  state_dir dir;
  jobd_process a{dir.options({"--max-concurrent-jobs", "1"})};
  jobd_process b{dir.options()};
  auto running = a.submit_sh("sleep 300");
  auto r = a.wait_running(running);
  auto pid = static_cast<pid_t>(num(*r, "job.pid"));
  auto pending = a.submit_sh("echo taken over");
  ASSERT_EQ(str(*a.status(pending), "job.status"), "pending");
  // Its row is committed once b sees it (a answers before it commits).
  auto deadline = now_ms() + 5000;
  while (b.status(pending).code() == "JOB_NOT_FOUND" && now_ms() < deadline)
    sleep_ms(20);
  ASSERT_EQ(str(*b.status(pending), "job.status"), "pending");
  a.kill_signal(SIGKILL);
  a.wait_exit(5000);
  auto done = b.wait_terminal(pending);
  EXPECT_EQ(str(*done, "job.status"), "completed") << done.dump();
  auto out
    = b.tool("console_get_job_output", "{\"jobId\":\"" + pending + "\"}");
  EXPECT_NE(out.dump().find("taken over"), std::string::npos) << out.dump();
  EXPECT_EQ(str(*b.status(running), "job.errorCode"), "INTERRUPTED");
  EXPECT_TRUE(wait_group_gone(pid, 5000));
}

TEST(Store, ASurvivorInterruptsTheJobsOfADeadInstance) {
  state_dir dir;
  jobd_process a{dir.options()};
  jobd_process b{dir.options({"--cleanup-interval-ms", "200"})};
  auto job = a.submit_sh("sleep 300");
  auto r = a.wait_running(job);
  auto pid = static_cast<pid_t>(num(*r, "job.pid"));
  a.kill_signal(SIGKILL);
  a.wait_exit(5000);
  // b notices on a sweep (or when asked about the job).
  auto deadline = now_ms() + 10000;
  std::string status;
  while (now_ms() < deadline) {
    auto s = b.status(job);
    status = str(*s, "job.status");
    if (status == "failed")
      break;
    sleep_ms(100);
  }
  EXPECT_EQ(status, "failed");
  EXPECT_EQ(str(*b.status(job), "job.errorCode"), "INTERRUPTED");
  EXPECT_TRUE(wait_group_gone(pid, 5000));
}

// Slurm jobs across a restart of jobd, beside local jobs, and in chains
// (slurm_cluster.hpp): re-attached by their Slurm id after a clean stop and
// after a crash, no local slot taken, counted apart in the metrics, and
// dependencies between Slurm jobs.
#include "slurm_cluster.hpp"
#include "slurm_polling.hpp"

#include "../integration/jobd_harness.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>

using namespace jobd_it;
using namespace jobd_slurm_it;

namespace {

constexpr int restart_wait_ms = slurm_wait_ms;

jobd_options restart_jobd(const std::string& state_dir,
                          std::vector<std::string> more = {}) {
  more.insert(more.begin(), {"--state-dir", state_dir});
  return cluster_jobd(more);
}

std::string fresh_state_dir(const std::string& name) {
  auto dir = test_cluster().dir + "/" + name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return dir;
}

std::string submit_slurm_sh(jobd_process& j, const std::string& script,
                            const std::string& options = "{}",
                            const std::string& kind_options = "{}") {
  return j.submit("{\"command\":\"sh\",\"args\":[\"-c\"," + q(script)
                  + "],\"kind\":\"slurm\",\"kindOptions\":" + kind_options
                  + ",\"options\":" + options + "}");
}

bool slurm_running(const Value& job) {
  auto* s = at(job, "slurm.state");
  return s && s->IsString() && std::string{s->GetString()} == "RUNNING";
}

// Waits until the job printed `text` (console_wait_job until output).
void wait_printed(jobd_process& j, const std::string& id,
                  const std::string& text) {
  auto w = j.tool("console_wait_job",
                  "{\"jobId\":" + q(id) + ",\"until\":\"output\",\"pattern\":"
                    + q(text) + ",\"timeoutMs\":30000}",
                  35000);
  ASSERT_TRUE(w.ok()) << w.dump();
  ASSERT_EQ(str(*w, "reason"), "output") << w.dump();
}

// What Slurm says of a job now ("" once it forgot it).
std::string squeue_state(const std::string& slurm_id) {
  auto out = slurm_output("squeue", "-h", "-j", slurm_id);
  if (out.find("RUNNING") != std::string::npos
      || out.find(" R ") != std::string::npos)
    return "RUNNING";
  return out;
}

// Polls console_get_job_metrics until `pred` holds for the metrics object
// (a test failure when the time is up); the last reply.
template <class Pred> tool_result metrics_when(jobd_process& j, Pred pred) {
  auto deadline = now_ms() + restart_wait_ms;
  for (;;) {
    auto r = j.tool("console_get_job_metrics", "{}");
    if (r.ok() && pred((*r)["metrics"]))
      return r;
    if (now_ms() >= deadline) {
      ADD_FAILURE() << "metrics never matched: " << r.dump();
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// One job across a stop of jobd (clean with stdin closed, or SIGKILL):
// Slurm runs it on, the next jobd follows it to its end, the output is
// whole and in order, numbering goes on.
void survives(bool crash) {
  auto dir = fresh_state_dir(crash ? "state-crash" : "state-clean");
  std::string id;
  std::string slurm_id;
  {
    jobd_process j{restart_jobd(dir)};
    id = submit_slurm_sh(j, "echo before; echo err-before >&2; sleep 4; "
                            "echo after; exit 2");
    ASSERT_FALSE(id.empty());
    wait_printed(j, id, "before");
    auto r = poll_status(j, id, slurm_running);
    slurm_id = str((*r)["job"], "slurm.jobId");
    ASSERT_FALSE(slurm_id.empty()) << r.dump();
    if (crash) {
      j.kill_signal(SIGKILL);
    } else {
      j.close_stdin();
      auto status = j.wait_exit(15000);
      ASSERT_TRUE(status.has_value());
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    }
  }
  // jobd is gone; Slurm still runs the job.
  EXPECT_EQ(squeue_state(slurm_id), "RUNNING");
  jobd_process j{restart_jobd(dir)};
  auto running = j.status(id);
  ASSERT_TRUE(running.ok()) << running.dump();
  EXPECT_NE(str((*running)["job"], "status"), "failed") << running.dump();
  auto r = j.wait_terminal(id, restart_wait_ms);
  ASSERT_TRUE(r.ok());
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "failed") << to_json(job);
  EXPECT_EQ(num(job, "exitCode"), 2) << to_json(job);
  EXPECT_TRUE(is_null(job, "errorCode")) << to_json(job);
  EXPECT_EQ(str(job, "slurm.jobId"), slurm_id);
  EXPECT_EQ(str(job, "slurm.state"), "FAILED");
  EXPECT_EQ(j.output_text(id, "stdout"), "before\nafter\n");
  EXPECT_EQ(j.output_text(id, "stderr"), "err-before\n");
  // Sequence numbers go on from before the stop: 1, 2, 3 in order.
  auto page = j.tool("console_get_job_output", "{\"jobId\":" + q(id) + "}");
  ASSERT_TRUE(page.ok()) << page.dump();
  auto& chunks = (*page)["output"];
  ASSERT_TRUE(chunks.IsArray());
  int64_t last = 0;
  for (auto& c : chunks.GetArray()) {
    EXPECT_GT(num(c, "sequenceNumber"), last) << page.dump();
    last = num(c, "sequenceNumber");
  }
}

} // namespace

TEST(SlurmRestart, ACleanStopLeavesTheJobToTheNextJobd) {
  REQUIRE_SLURM();
  survives(false);
}

TEST(SlurmRestart, ACrashOfJobdLeavesTheJobToTheNextJobd) {
  REQUIRE_SLURM();
  survives(true);
}

TEST(SlurmRestart, EphemeralJobdCancelsItsSlurmJobsAtExit) {
  REQUIRE_SLURM();
  std::string slurm_id;
  {
    jobd_options o;
    o.args = {"--slurm-spool", test_cluster().dir + "/jobs", "--slurm-poll-ms",
              "200", "--ephemeral"};
    jobd_process j{o};
    auto id = submit_slurm_sh(j, "sleep 120");
    auto r = poll_status(j, id, slurm_running);
    slurm_id = str((*r)["job"], "slurm.jobId");
    j.close_stdin();
    ASSERT_TRUE(j.wait_exit(20000).has_value());
  }
  ASSERT_FALSE(slurm_id.empty());
  // Nobody could re-attach: the job was cancelled in Slurm.
  auto deadline = now_ms() + 10000;
  while (squeue_state(slurm_id) == "RUNNING" && now_ms() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(squeue_state(slurm_id), "RUNNING");
}

TEST(SlurmSlots, SlurmJobsTakeNoLocalSlotAndAreCountedApart) {
  REQUIRE_SLURM();
  jobd_process j{restart_jobd(fresh_state_dir("state-slots"),
                              {"--max-concurrent-jobs", "1"})};
  std::vector<std::string> remote;
  for (int i = 0; i < 3; ++i)
    // Small ones: a job without --mem takes all of the node's memory.
    remote.push_back(
      submit_slurm_sh(j, "sleep 60", "{}", R"({"cpus":1,"memory":"32M"})"));
  auto local = j.submit_sh("sleep 60");
  auto second_local = j.submit_sh("true");
  // All three Slurm jobs run at once beside the one local slot's job.
  for (auto& id : remote)
    poll_status(j, id, slurm_running);
  auto l = j.status(local);
  EXPECT_EQ(str((*l)["job"], "status"), "running") << l.dump();
  auto queued = j.status(second_local);
  EXPECT_EQ(str((*queued)["job"], "status"), "pending") << queued.dump();
  // METRICS hears of each start a moment after status shows it.
  auto m = metrics_when(
    j, [](const Value& m) { return num(m, "kinds.slurm.runningJobs") == 3; });
  auto& metrics = (*m)["metrics"];
  EXPECT_EQ(num(metrics, "kinds.slurm.runningJobs"), 3) << m.dump();
  EXPECT_EQ(num(metrics, "concurrency.current"), 1) << m.dump();
  EXPECT_EQ(num(metrics, "runningJobs"), 4) << m.dump();
  for (auto& id : remote) {
    auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}", 20000);
    EXPECT_TRUE(c.ok()) << c.dump();
    auto r = j.wait_terminal(id, restart_wait_ms);
    EXPECT_EQ(str((*r)["job"], "status"), "cancelled") << r.dump();
  }
  auto done = metrics_when(
    j, [](const Value& m) { return num(m, "kinds.slurm.cancelledJobs") == 3; });
  EXPECT_EQ(num((*done)["metrics"], "kinds.slurm.cancelledJobs"), 3)
    << done.dump();
  EXPECT_EQ(num((*done)["metrics"], "kinds.slurm.runningJobs"), 0);
  EXPECT_EQ(num((*done)["metrics"], "concurrency.current"), 1);
  auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(local) + "}", 20000);
  EXPECT_TRUE(c.ok()) << c.dump();
}

TEST(SlurmChains, DependenciesBetweenSlurmJobsAreSlurmsOwn) {
  REQUIRE_SLURM();
  jobd_process j{restart_jobd(fresh_state_dir("state-chain"))};
  auto marks = test_cluster().dir + "/chain.txt";
  std::remove(marks.c_str()); // a repeated run starts afresh
  auto after = [](const std::string& id, const char* condition = nullptr) {
    return "{\"dependsOn\":[" + q(id) + "]"
           + (condition
                ? std::string{",\"dependencyCondition\":"} + q(condition)
                : std::string{})
           + "}";
  };
  auto first = submit_slurm_sh(j, "sleep 2; echo first >> " + marks);
  poll_status(j, first, slurm_running);
  auto second
    = submit_slurm_sh(j, "echo second >> " + marks + "; exit 1", after(first));
  auto third = submit_slurm_sh(j, "echo third >> " + marks, after(second));
  auto cleanup
    = submit_slurm_sh(j, "echo cleanup >> " + marks, after(second, "failure"));
  // A local dependency: jobd's own mechanism holds the job.
  auto local = j.submit_sh("sleep 1");
  auto mixed = j.submit("{\"command\":\"true\",\"kind\":\"slurm\","
                        "\"options\":{\"dependsOn\":["
                        + q(first) + "," + q(local) + "]}}");
  // Handed to Slurm at once, which holds them for their dependencies.
  for (auto& id : {second, third, cleanup}) {
    auto r = poll_status(j, id, [](const Value& job) {
      auto* reason = at(job, "slurm.reason");
      return reason && reason->IsString()
             && std::string{reason->GetString()} == "Dependency";
    });
    EXPECT_EQ(str((*r)["job"], "status"), "pending") << r.dump();
    EXPECT_EQ(str((*r)["job"], "pendingReason"), "queued_in_cluster");
    EXPECT_FALSE(str((*r)["job"], "slurm.jobId").empty()) << r.dump();
  }
  auto held = j.status(mixed);
  EXPECT_EQ(str((*held)["job"], "pendingReason"), "waiting_for_dependencies")
    << held.dump();
  auto r1 = j.wait_terminal(first, restart_wait_ms);
  EXPECT_EQ(str((*r1)["job"], "status"), "completed") << r1.dump();
  auto r2 = j.wait_terminal(second, restart_wait_ms);
  EXPECT_EQ(str((*r2)["job"], "status"), "failed") << r2.dump();
  // Slurm ends the job whose dependency failed (--kill-on-invalid-dep).
  auto r3 = j.wait_terminal(third, restart_wait_ms);
  EXPECT_EQ(str((*r3)["job"], "status"), "cancelled") << r3.dump();
  EXPECT_EQ(str((*r3)["job"], "errorCode"), "DEPENDENCY_FAILED") << r3.dump();
  auto r4 = j.wait_terminal(cleanup, restart_wait_ms);
  EXPECT_EQ(str((*r4)["job"], "status"), "completed") << r4.dump();
  auto r5 = j.wait_terminal(mixed, restart_wait_ms);
  EXPECT_EQ(str((*r5)["job"], "status"), "completed") << r5.dump();
  std::ifstream in{marks};
  std::string all{std::istreambuf_iterator<char>{in}, {}};
  EXPECT_EQ(all, "first\nsecond\ncleanup\n");
}

TEST(SlurmChains, AChainAfterAFailedSubmissionNeverReachesSlurm) {
  REQUIRE_SLURM();
  jobd_process j{restart_jobd(fresh_state_dir("state-chain-local"))};
  // A local job that fails: jobd holds the Slurm job, then cancels it.
  auto local = j.submit_sh("exit 3");
  auto doomed = j.submit("{\"command\":\"true\",\"kind\":\"slurm\","
                         "\"options\":{\"dependsOn\":["
                         + q(local) + "]}}");
  auto r = j.wait_terminal(doomed, restart_wait_ms);
  EXPECT_EQ(str((*r)["job"], "status"), "cancelled") << r.dump();
  EXPECT_EQ(str((*r)["job"], "errorCode"), "DEPENDENCY_FAILED");
  EXPECT_FALSE(has((*r)["job"], "slurm")
               && !is_null((*r)["job"], "slurm.jobId"))
    << "a job whose dependency failed never reaches Slurm: " << r.dump();
}

TEST(SlurmSlots, TheTimeoutClockWaitsWhileSlurmQueuesTheJob) {
  REQUIRE_SLURM();
  jobd_process j{restart_jobd(fresh_state_dir("state-clock"))};
  // The first takes every CPU of the node for 5 s: the second waits in
  // Slurm's queue longer than its timeout, then runs in well under it.
  auto big = submit_slurm_sh(j, "sleep 5", "{}", R"({"cpus":16})");
  poll_status(j, big, slurm_running);
  auto small = submit_slurm_sh(j, "echo ran", R"({"timeout":2500})");
  auto r = j.wait_terminal(small, restart_wait_ms);
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "completed") << to_json(job);
  EXPECT_EQ(j.output_text(small, "stdout"), "ran\n");
  auto b = j.wait_terminal(big, restart_wait_ms);
  EXPECT_EQ(str((*b)["job"], "status"), "completed") << b.dump();
}

TEST(SlurmChains, ADependencyThatRetriesIsWaitedForToItsLastAttempt) {
  REQUIRE_SLURM();
  jobd_process j{restart_jobd(fresh_state_dir("state-chain-retry"))};
  auto mark = test_cluster().dir + "/chain-retry.mark";
  std::remove(mark.c_str()); // a repeated run starts afresh
  // Its first attempt fails: Slurm's afterok would give up on the
  // dependent there, jobd waits for the attempt that completes.
  auto flaky = submit_slurm_sh(j,
                               "sleep 1; if [ -e " + mark
                                 + " ]; then exit 0; else touch " + mark
                                 + "; exit 1; fi",
                               R"({"retry":{"maxAttempts":2}})");
  poll_status(j, flaky, slurm_running);
  auto after
    = submit_slurm_sh(j, "echo after", "{\"dependsOn\":[" + q(flaky) + "]}");
  auto r = j.wait_terminal(after, restart_wait_ms);
  EXPECT_EQ(str((*r)["job"], "status"), "completed") << r.dump();
  EXPECT_EQ(j.output_text(after, "stdout"), "after\n");
  auto f = j.status(flaky);
  EXPECT_EQ(num((*f)["job"], "attempt"), 2) << f.dump();
}

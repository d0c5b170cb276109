// The slurm kind against a real single-node Slurm (slurm_cluster.hpp): the
// jobd binary submits real jobs with kind "slurm" and follows, waits for,
// cancels and reads them as local jobs.
#include "slurm_cluster.hpp"
#include "slurm_polling.hpp"

#include "../integration/jobd_harness.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

using namespace jobd_it;
using namespace jobd_slurm_it;

namespace {

jobd_options slurm_jobd() {
  return cluster_jobd({"--kill-grace-ms", "2000"});
}

std::string submit_slurm(jobd_process& j, const std::string& command,
                         const std::string& args_array,
                         const std::string& kind_options = "{}",
                         const std::string& options = "{}") {
  return j.submit("{\"command\":" + q(command) + ",\"args\":" + args_array
                  + ",\"kind\":\"slurm\",\"kindOptions\":" + kind_options
                  + ",\"options\":" + options + "}");
}

// `env` as a Slurm job, with the call's `options`.
std::string j_submit_env(jobd_process& j, const std::string& options) {
  return j.submit(R"({"command":"env","kind":"slurm","options":)" + options
                  + "}");
}

std::string slurm_state(const Value& job) {
  auto* s = at(job, "slurm.state");
  return s && s->IsString() ? s->GetString() : "";
}

bool slurm_reachable(const Value& job) {
  auto* r = at(job, "slurm.reachable");
  return r && r->IsBool() && r->GetBool();
}

} // namespace

TEST(SlurmJobs, KindIsListedAndOptionsChecked) {
  REQUIRE_SLURM();
  jobd_process j{slurm_jobd()};
  auto bad = j.tool("console_execute_async",
                    R"({"command":"true","kind":"slurm",)"
                    R"("kindOptions":{"extraArgs":["--wrap=rm -rf /"]}})");
  EXPECT_TRUE(bad.is_error) << bad.dump();
  EXPECT_EQ(bad.code(), "INVALID_ARGUMENTS");
  auto unknown
    = j.tool("console_execute_async", R"({"command":"true","kind":"slurm",)"
                                      R"("kindOptions":{"bogus":1}})");
  EXPECT_TRUE(unknown.is_error) << unknown.dump();
}

TEST(SlurmJobs, ExitCodeBothStreamsAndExactArgv) {
  REQUIRE_SLURM();
  jobd_process j{slurm_jobd()};
  auto failing
    = submit_slurm(j, "sh", "[\"-c\",\"echo to-out; echo to-err >&2; exit 3\"]",
                   R"({"partition":"debug","cpus":1,"memory":"64M"})");
  auto exact = submit_slurm(j, "printf", R"js(["%s|","a b","it's","$(x)"])js");
  ASSERT_FALSE(failing.empty());
  ASSERT_FALSE(exact.empty());
  auto r = j.wait_terminal(failing, slurm_wait_ms);
  ASSERT_TRUE(r.ok());
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "failed") << to_json(job);
  EXPECT_EQ(num(job, "exitCode"), 3);
  EXPECT_TRUE(is_null(job, "errorCode")) << to_json(job);
  EXPECT_EQ(slurm_state(job), "FAILED");
  EXPECT_EQ(str(job, "slurm.partition"), "debug");
  EXPECT_EQ(str(job, "tracking"), "slurm");
  EXPECT_FALSE(str(job, "slurm.jobId").empty());
  EXPECT_EQ(j.output_text(failing, "stdout"), "to-out\n");
  EXPECT_EQ(j.output_text(failing, "stderr"), "to-err\n");
  auto e = j.wait_terminal(exact, slurm_wait_ms);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(str((*e)["job"], "status"), "completed") << e.dump();
  EXPECT_EQ(slurm_state((*e)["job"]), "COMPLETED");
  EXPECT_EQ(j.output_text(exact, "stdout"), "a b|it's|$(x)|");
}

TEST(SlurmJobs, TheEnvironmentPolicyHoldsAndJobdsSecretsStayOut) {
  REQUIRE_SLURM();
  // sbatch hands its own environment to the job: jobd gives it the job's,
  // as a local job gets it, never its own.
  auto with_env = [](std::vector<std::string> extra) {
    auto o = slurm_jobd();
    o.env = {{"JOBD_SECRET_PROBE", "s3cret"}, {"PLAIN_PROBE", "visible"}};
    o.args.insert(o.args.end(), extra.begin(), extra.end());
    return o;
  };
  jobd_process inherit{with_env({})};
  jobd_process clean{with_env({"--env-policy", "clean"})};
  const std::string call_env = R"({"environment":{"CALL_VAR":"from-call"}})";
  auto a = j_submit_env(inherit, call_env);
  auto b = j_submit_env(clean, call_env);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  for (auto* j : {&inherit, &clean}) {
    auto& id = j == &inherit ? a : b;
    auto r = j->wait_terminal(id, slurm_wait_ms);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(str((*r)["job"], "status"), "completed") << r.dump();
  }
  auto env_a = "\n" + inherit.output_text(a, "stdout");
  auto env_b = "\n" + clean.output_text(b, "stdout");
  for (auto* env : {&env_a, &env_b}) {
    EXPECT_EQ(env->find("s3cret"), std::string::npos) << *env;
    EXPECT_EQ(env->find("\nJOBD_"), std::string::npos) << *env;
    EXPECT_NE(env->find("\nCALL_VAR=from-call\n"), std::string::npos) << *env;
    EXPECT_NE(env->find("\nSLURM_JOB_ID="), std::string::npos) << *env;
  }
  EXPECT_NE(env_a.find("\nPLAIN_PROBE=visible\n"), std::string::npos) << env_a;
  EXPECT_EQ(env_b.find("PLAIN_PROBE"), std::string::npos) << env_b;
}

TEST(SlurmJobs, CancelEndsTheRunningTree) {
  REQUIRE_SLURM();
  jobd_process j{slurm_jobd()};
  auto pids = test_cluster().dir + "/tree.pids";
  auto id = submit_slurm(j, "sh",
                         "[\"-c\",\"sleep 300 & echo $! > " + pids
                           + "; sh -c 'sleep 300' & echo $! >> " + pids
                           + "; echo started; wait\"]");
  ASSERT_FALSE(id.empty());
  auto w = j.tool("console_wait_job",
                  "{\"jobId\":" + q(id)
                    + ",\"until\":\"output\",\"pattern\":\"started\","
                      "\"timeoutMs\":30000}",
                  35000);
  ASSERT_TRUE(w.ok()) << w.dump();
  ASSERT_EQ(str(*w, "reason"), "output") << w.dump();
  auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}", 20000);
  ASSERT_TRUE(c.ok()) << c.dump();
  auto r = j.wait_terminal(id, slurm_wait_ms);
  EXPECT_EQ(str((*r)["job"], "status"), "cancelled") << r.dump();
  EXPECT_EQ(str((*r)["job"], "errorCode"), "CANCELLED");
  // Slurm reports the end when the batch script ended; slurmstepd kills
  // what is left of the job right after (seen within a second).
  std::vector<pid_t> tree;
  std::ifstream in{pids};
  for (pid_t pid; in >> pid;)
    tree.push_back(pid);
  EXPECT_EQ(tree.size(), 2u);
  int alive = 0;
  for (auto deadline = now_ms() + 5000; now_ms() < deadline;) {
    alive = 0;
    for (auto pid : tree)
      alive += ::kill(pid, 0) == 0 ? 1 : 0;
    if (alive == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(alive, 0) << "processes of the cancelled Slurm job survived";
}

TEST(SlurmJobs, TimeoutFailsWithTimeout) {
  REQUIRE_SLURM();
  jobd_process j{slurm_jobd()};
  auto id = submit_slurm(j, "sleep", "[\"60\"]", "{}", R"({"timeout":1500})");
  ASSERT_FALSE(id.empty());
  auto r = j.wait_terminal(id, slurm_wait_ms);
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "failed") << to_json(job);
  EXPECT_EQ(str(job, "errorCode"), "TIMEOUT");
}

TEST(SlurmJobs, PendingJobShowsSlurmsReason) {
  REQUIRE_SLURM();
  jobd_process j{slurm_jobd()};
  // The first takes every CPU of the node, so the second waits.
  auto big = submit_slurm(j, "sleep", "[\"60\"]", R"({"cpus":16})");
  ASSERT_FALSE(big.empty());
  poll_status(j, big,
              [](const Value& job) { return slurm_state(job) == "RUNNING"; });
  // The submit's own answer: pending where it runs, with no place in
  // jobd's queue.
  auto submitted
    = j.tool("console_execute_async", R"({"command":"true","kind":"slurm"})");
  ASSERT_TRUE(submitted.ok()) << submitted.dump();
  EXPECT_EQ(str(*submitted, "status"), "pending") << submitted.dump();
  EXPECT_EQ(str(*submitted, "pendingReason"), "queued_in_cluster");
  EXPECT_TRUE(!has(*submitted, "queuePosition")
              || is_null(*submitted, "queuePosition"))
    << submitted.dump();
  auto small = str(*submitted, "jobId");
  ASSERT_FALSE(small.empty());
  auto r = poll_status(j, small, [](const Value& job) {
    return slurm_state(job) == "PENDING" && has(job, "slurm.reason")
           && at(job, "slurm.reason")->IsString();
  });
  EXPECT_FALSE(str((*r)["job"], "slurm.reason").empty()) << r.dump();
  // Slurm queues it: pending in jobd too, in status and in the list.
  EXPECT_EQ(str((*r)["job"], "status"), "pending") << r.dump();
  EXPECT_EQ(str((*r)["job"], "pendingReason"), "queued_in_cluster");
  auto listed
    = j.tool("console_list_jobs", R"({"options":{"status":"pending"}})");
  ASSERT_TRUE(listed.ok()) << listed.dump();
  EXPECT_NE(listed.dump().find(small), std::string::npos) << listed.dump();
  for (auto& id : {small, big}) {
    auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}", 20000);
    EXPECT_TRUE(c.ok()) << c.dump();
    auto end = j.wait_terminal(id, slurm_wait_ms);
    EXPECT_EQ(str((*end)["job"], "status"), "cancelled") << end.dump();
  }
}

TEST(SlurmJobs, ControllerStoppedMidRun) {
  REQUIRE_SLURM();
  jobd_process j{slurm_jobd()};
  auto id = submit_slurm(j, "sh", "[\"-c\",\"sleep 3; echo done\"]");
  ASSERT_FALSE(id.empty());
  poll_status(j, id, [](const Value& job) {
    return slurm_state(job) == "RUNNING" && slurm_reachable(job);
  });
  ASSERT_TRUE(stop_controller());
  auto down = poll_status(
    j, id, [](const Value& job) { return !slurm_reachable(job); }, 15000);
  EXPECT_EQ(str((*down)["job"], "status"), "running") << down.dump();
  // jobd still answers at once while Slurm does not.
  auto t0 = now_ms();
  EXPECT_TRUE(j.status(id).ok());
  EXPECT_LT(now_ms() - t0, 1000);
  ASSERT_TRUE(start_controller());
  auto r = j.wait_terminal(id, slurm_wait_ms);
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "completed") << to_json(job);
  EXPECT_TRUE(slurm_reachable(job)) << to_json(job);
  EXPECT_EQ(j.output_text(id, "stdout"), "done\n");
}

// More ends of Slurm jobs (slurm_cluster.hpp): a signal, a cancel from
// outside jobd, a large output, and jobs held in jobd by --max-slurm-jobs.
#include "slurm_cluster.hpp"
#include "slurm_polling.hpp"

#include "../integration/jobd_harness.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

using namespace jobd_it;
using namespace jobd_slurm_it;

namespace {

constexpr int ends_wait_ms = slurm_wait_ms;

std::string submit_sh_slurm(jobd_process& j, const std::string& script) {
  return j.submit("{\"command\":\"sh\",\"args\":[\"-c\"," + q(script)
                  + "],\"kind\":\"slurm\"}");
}

std::string state_of(const Value& job) {
  auto* s = at(job, "slurm.state");
  return s && s->IsString() ? s->GetString() : "";
}

} // namespace

TEST(SlurmEnds, KilledBySignalAndLargeOutput) {
  REQUIRE_SLURM();
  jobd_process j{cluster_jobd()};
  auto killed = submit_sh_slurm(j, "echo before; kill -9 $$");
  auto large = submit_sh_slurm(j, "seq 1 20000; echo done >&2");
  auto r = j.wait_terminal(killed, ends_wait_ms);
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "failed") << to_json(job);
  EXPECT_EQ(str(job, "signal"), "SIGKILL") << to_json(job);
  EXPECT_TRUE(is_null(job, "exitCode")) << to_json(job);
  EXPECT_EQ(j.output_text(killed, "stdout"), "before\n");
  auto l = j.wait_terminal(large, ends_wait_ms);
  EXPECT_EQ(str((*l)["job"], "status"), "completed") << l.dump();
  auto text = j.output_text(large, "stdout");
  EXPECT_EQ(text.size(), 108894u); // the bytes of `seq 1 20000`
  EXPECT_EQ(text.substr(text.size() - 6), "20000\n");
  EXPECT_EQ(j.output_text(large, "stderr"), "done\n");
}

TEST(SlurmEnds, CancelledOutsideJobd) {
  REQUIRE_SLURM();
  jobd_process j{cluster_jobd()};
  auto id = submit_sh_slurm(j, "sleep 60");
  auto r = poll_status(
    j, id, [](const Value& job) { return state_of(job) == "RUNNING"; });
  auto slurm_id = str((*r)["job"], "slurm.jobId");
  ASSERT_FALSE(slurm_id.empty());
  slurm_output("scancel", slurm_id);
  auto end = j.wait_terminal(id, ends_wait_ms);
  auto& job = (*end)["job"];
  EXPECT_EQ(str(job, "status"), "cancelled") << to_json(job);
  EXPECT_EQ(str(job, "errorCode"), "CANCELLED");
  EXPECT_EQ(state_of(job), "CANCELLED");
}

TEST(SlurmEnds, MaxSlurmJobsHoldsTheRestInJobd) {
  REQUIRE_SLURM();
  jobd_process j{cluster_jobd({"--max-slurm-jobs", "1"})};
  auto first = submit_sh_slurm(j, "sleep 2; echo first");
  auto second = submit_sh_slurm(j, "sleep 2; echo second");
  // One is in Slurm, the other waits in jobd: which one depends on which
  // job's actor reached the kind first.
  auto is_held = [](const Value& job) {
    auto* reason = at(job, "slurm.reason");
    return reason && reason->IsString()
           && std::string{reason->GetString()} == "MaxSlurmJobs";
  };
  std::string held_id;
  for (auto deadline = now_ms() + ends_wait_ms;
       held_id.empty() && now_ms() < deadline;) {
    for (auto& id : {first, second}) {
      auto r = j.status(id);
      if (!r.ok() || !is_held((*r)["job"]))
        continue;
      held_id = id;
      EXPECT_TRUE(is_null((*r)["job"], "slurm.jobId")) << r.dump();
      EXPECT_EQ(str((*r)["job"], "status"), "pending") << r.dump();
      EXPECT_EQ(str((*r)["job"], "pendingReason"), "queued_in_cluster");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(held_id.empty()) << "neither job was held by --max-slurm-jobs";
  for (auto& id : {first, second}) {
    auto r = j.wait_terminal(id, ends_wait_ms);
    EXPECT_EQ(str((*r)["job"], "status"), "completed") << r.dump();
  }
  EXPECT_EQ(j.output_text(first, "stdout"), "first\n");
  EXPECT_EQ(j.output_text(second, "stdout"), "second\n");
}

TEST(SlurmEnds, ATrainingRunReportsProgressAndARetryResubmits) {
  REQUIRE_SLURM();
  jobd_process j{cluster_jobd()};
  // The issue's example: python3 train.py --epochs 3, as a Slurm job.
  auto train = j.submit(
    R"js({"command":"python3","args":["-c",)js"
    R"js("import time\nfor e in range(3):\n  print(f'epoch {e+1}/3', flush=True)\n  time.sleep(0.3)",)js"
    R"js("--epochs","3"],"kind":"slurm"})js");
  auto w = j.tool("console_wait_job",
                  "{\"jobId\":" + q(train)
                    + ",\"until\":\"output\",\"pattern\":\"epoch 3/3\","
                      "\"timeoutMs\":30000}",
                  35000);
  ASSERT_TRUE(w.ok()) << w.dump();
  auto r = j.wait_terminal(train, ends_wait_ms);
  auto& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "completed") << to_json(job);
  EXPECT_EQ(num(job, "progress.current"), 3) << to_json(job);
  EXPECT_EQ(num(job, "progress.total"), 3) << to_json(job);
  EXPECT_EQ(j.output_text(train, "stdout"),
            "epoch 1/3\nepoch 2/3\nepoch 3/3\n");
  // A retry is a new Slurm job under the same jobd id.
  auto mark = test_cluster().dir + "/retry.mark";
  std::remove(mark.c_str()); // a repeated run starts afresh
  auto retried = j.submit("{\"command\":\"sh\",\"args\":[\"-c\",\"if [ -e "
                          + mark + " ]; then echo second; else touch " + mark
                          + "; exit 1; fi\"],\"kind\":\"slurm\","
                            "\"options\":{\"retry\":{\"maxAttempts\":2}}}");
  auto end = j.wait_terminal(retried, ends_wait_ms);
  auto& rj = (*end)["job"];
  EXPECT_EQ(str(rj, "status"), "completed") << to_json(rj);
  EXPECT_EQ(num(rj, "attempt"), 2) << to_json(rj);
  EXPECT_EQ(str(rj, "slurm.state"), "COMPLETED");
  EXPECT_EQ(j.output_text(retried, "stdout"), "second\n");
}

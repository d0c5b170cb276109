// Polling a Slurm job's status in the cluster tests: Slurm starts and ends
// jobs on its own schedule, so the tests wait for what they expect.
#pragma once

#include "slurm_cluster.hpp"

#include "../integration/jobd_harness.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace jobd_slurm_it {

/// Slurm on a loaded machine: a job may take a few seconds to start.
constexpr int slurm_wait_ms = 30000;

/// A jobd on the test cluster: its spool, a 200 ms poll, 2 s command
/// timeouts, then `more`.
inline jobd_it::jobd_options cluster_jobd(const std::vector<std::string>& more
                                          = {}) {
  jobd_it::jobd_options o;
  o.args = {"--slurm-spool", test_cluster().dir + "/jobs", "--slurm-poll-ms",
            "200",           "--slurm-command-timeout-ms", "2000"};
  o.args.insert(o.args.end(), more.begin(), more.end());
  return o;
}

/// Polls status until `pred` holds for the job object (a test failure
/// when the time is up); the last status reply.
template <class Pred>
jobd_it::tool_result poll_status(jobd_it::jobd_process& j,
                                 const std::string& id, Pred pred,
                                 int timeout_ms = slurm_wait_ms) {
  auto deadline = jobd_it::now_ms() + timeout_ms;
  for (;;) {
    auto r = j.status(id);
    if (r.ok() && pred((*r)["job"]))
      return r;
    if (jobd_it::now_ms() >= deadline) {
      ADD_FAILURE() << "condition not reached for " << id << ": " << r.dump();
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

} // namespace jobd_slurm_it

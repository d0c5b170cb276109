// A process launcher that starts nothing: it records what a job asked for,
// and the test plays the reactor's part by sending the job its events.
#pragma once

#include "actors/kinds/process/process_launcher.hpp"

#include <set>
#include <utility>
#include <vector>

namespace jobd::test {

class fake_launcher : public process_launcher {
public:
  struct launch_call {
    launch_spec spec;
    process_job_actor job;
  };

  void launch(launch_spec spec, process_job_actor job) override {
    launches.push_back({std::move(spec), std::move(job)});
  }

  bool signal_group(int64_t pgid, int sig) override {
    signals.emplace_back(pgid, sig);
    return alive.count(pgid) != 0;
  }

  bool group_alive(int64_t pgid) override {
    return alive.count(pgid) != 0;
  }

  std::vector<launch_call> launches;
  std::vector<std::pair<int64_t, int>> signals;
  /// Process groups the test pretends are still running.
  std::set<int64_t> alive;
};

} // namespace jobd::test

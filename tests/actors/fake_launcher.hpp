// A process launcher that starts nothing: it records what a job asked for,
// and the test plays the reactor's part by sending the job its events.
#pragma once

#include "actors/kinds/process/process_launcher.hpp"

#include <csignal>
#include <set>
#include <utility>
#include <vector>

namespace jobd::test {

class fake_launcher : public process_launcher {
public:
  struct launch_call {
    launch_spec spec;
    backend_events job;
  };

  void launch(launch_spec spec, backend_events job) override {
    launches.push_back({std::move(spec), std::move(job)});
  }

  bool signal(int64_t pid, int sig, bool whole_tree) override {
    signals.emplace_back(pid, sig);
    if (!whole_tree)
      leader_only.push_back(sig);
    return alive.count(pid) != 0;
  }

  void kill_tree(int64_t pid) override {
    signals.emplace_back(pid, SIGKILL);
  }

  std::vector<launch_call> launches;
  /// (pid, signal) in the order asked; kill_tree records SIGKILL.
  std::vector<std::pair<int64_t, int>> signals;
  /// Signals sent to a leader only.
  std::vector<int> leader_only;
  /// Trees the test pretends are still running.
  std::set<int64_t> alive;
};

} // namespace jobd::test

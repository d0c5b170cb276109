// A process launcher that starts nothing: it records what a job asked for,
// and the test plays the reactor's part by sending the job its events.
#pragma once

#include "actors/kinds/process/process_launcher.hpp"

#include <csignal>
#include <cstdint>
#include <set>
#include <string>
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

  input_outcome write_input(int64_t pid, std::string bytes, bool close,
                            uint64_t& queued) override {
    inputs.push_back({pid, bytes, close});
    queued = input_queued;
    return input_answer;
  }

  bool freeze(int64_t pid, bool frozen) override {
    freezes.emplace_back(pid, frozen);
    return alive.count(pid) != 0;
  }

  bool resize(int64_t pid, int32_t cols, int32_t rows) override {
    resizes.push_back({pid, cols, rows});
    return alive.count(pid) != 0;
  }

  struct input_call {
    int64_t pid;
    std::string bytes;
    bool close;
  };

  struct resize_call {
    int64_t pid;
    int32_t cols;
    int32_t rows;
  };

  std::vector<launch_call> launches;
  /// (pid, signal) in the order asked; kill_tree records SIGKILL.
  std::vector<std::pair<int64_t, int>> signals;
  /// Signals sent to a leader only.
  std::vector<int> leader_only;
  /// Trees the test pretends are still running.
  std::set<int64_t> alive;
  /// write_input calls in order, and what each answers (set by the test).
  std::vector<input_call> inputs;
  input_outcome input_answer = input_outcome::ok;
  uint64_t input_queued = 0;
  /// freeze calls (pid, frozen) in order; true for a pid in `alive`.
  std::vector<std::pair<int64_t, bool>> freezes;
  /// resize calls in order; true for a pid in `alive`.
  std::vector<resize_call> resizes;
};

} // namespace jobd::test

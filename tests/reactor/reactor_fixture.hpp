// The process reactor against real processes and a real actor system: a
// recording sink collects the backend_events the reactor sends. The test
// process is a child subreaper, as jobd is, so a job's orphans become its
// children.
#pragma once

#include "actors/kinds/process/process_reactor.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace jobd::test {

using namespace std::chrono_literals;

/// What the reactor told one sink.
struct recorder {
  std::mutex mtx;
  std::condition_variable cv;
  bool spawned = false;
  int64_t pid = 0;
  std::string tracking;
  std::optional<std::pair<std::string, std::string>> failure;
  std::string out;
  std::string err;
  int out_eofs = 0;
  int err_eofs = 0;
  std::optional<int32_t> status;
  /// `usage`, if sent (right before `exited`).
  std::optional<resource_usage> usage;
  /// `input, eof` messages (at most one, before `exited`).
  int input_eofs = 0;
  std::chrono::steady_clock::time_point exited_at;
  /// An event came before `spawned`, after `exited`, or an eof twice.
  bool misordered = false;
  /// Count bytes without keeping them.
  bool keep_bytes = true;
  int64_t total_bytes = 0;
  int64_t peak_in_flight = 0;
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  /// Per data message, to make the consumer slow.
  std::chrono::microseconds consume_delay{0};

  template <class Pred>
  bool wait_for(std::chrono::milliseconds timeout, Pred pred) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, timeout, [&] { return pred(*this); });
  }

  bool wait_spawned(std::chrono::milliseconds timeout = 5s) {
    return wait_for(timeout, [](recorder& r) { return r.spawned || r.failure; })
           && spawned;
  }

  /// Waits for `exited`, or spawn_failed.
  bool wait_done(std::chrono::milliseconds timeout = 5s) {
    return wait_for(timeout, [](recorder& r) { return r.failure || r.status; });
  }

  /// Waits until stdout holds `n` complete lines.
  bool wait_lines(size_t n, std::chrono::milliseconds timeout = 5s);

  /// The `i`-th line of stdout as a pid (0 if none).
  pid_t pid_on_line(size_t i);

  std::string out_text() {
    std::lock_guard<std::mutex> guard{mtx};
    return out;
  }

  template <class F> void update(F f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      f(*this);
    }
    cv.notify_all();
  }
};

using rec_ptr = std::shared_ptr<recorder>;

/// A sink that records every event into `rec`.
backend_events::behavior_type recording_sink(backend_events::pointer,
                                             rec_ptr rec);

launch_spec make_spec(std::vector<std::string> argv);
launch_spec make_sh(const std::string& script);

// -- /proc and cgroup helpers (test-only scans) -------------------------------

struct proc_stat {
  char state = '?';
  int ppid = 0;
  int pgrp = 0;
};

std::optional<proc_stat> read_stat(pid_t pid);
/// Live (non-zombie) processes of group `pgid`.
std::vector<pid_t> group_members(pid_t pgid);
/// Zombie children of this process.
std::vector<pid_t> my_zombies();
/// Dead: no /proc entry, or a zombie.
bool is_gone(pid_t pid);
/// The first cgroup2 mount point ("" if none).
std::string cgroup2_mount();
/// The `0::` path of /proc/<pid>/cgroup ("" if unreadable).
std::string unified_cgroup_of(pid_t pid);
/// Subdirectories of `dir` (names).
std::vector<std::string> subdirectories(const std::string& dir);
bool directory_exists(const std::string& dir);
/// A job cgroup's `user.jobd.job` label ("" if none).
std::string cgroup_label(const std::string& dir);
/// `populated 1` in the cgroup's cgroup.events.
bool cgroup_populated(const std::string& dir);
/// The reactor is done with the job cgroup `dir`: removed, or kept for a
/// later job (nothing alive in it, no label).
bool cgroup_let_go(const std::string& dir);

template <class Pred>
bool eventually(std::chrono::milliseconds timeout, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
}

// -- fixtures -----------------------------------------------------------------

/// One actor system and one reactor per test, in the given tracking mode.
class reactor_fixture : public ::testing::Test {
protected:
  /// `clone_into`, `max_free_cgroups`: as in reactor_options.
  explicit reactor_fixture(tree_tracking mode, bool clone_into = true,
                           size_t max_free_cgroups = 128);
  ~reactor_fixture() override;

  /// Launches `spec` to a new recording sink.
  rec_ptr start(launch_spec spec, rec_ptr rec = std::make_shared<recorder>());
  rec_ptr run(std::vector<std::string> argv);
  rec_ptr sh(const std::string& script);

  /// A process a job left running on purpose (a setsid escapee): SIGKILLed
  /// at teardown if it is still alive and our child by then.
  void stray(pid_t pid);

  /// Absolute path of the cgroup of the running leader `pid` ("" if none).
  std::string cgroup_dir_of(pid_t pid);

  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::unique_ptr<process_reactor> reactor;
  std::vector<backend_events> sinks;
  std::vector<pid_t> strays;
};

/// Cgroup tracking; skipped where no cgroup can be made.
class cgroup_mode : public reactor_fixture {
protected:
  cgroup_mode() : reactor_fixture(tree_tracking::automatic) {}
  void SetUp() override {
    if (reactor->tracking_mode() != "cgroup")
      GTEST_SKIP() << "no writable cgroup v2 here";
  }
};

/// Cgroup tracking where the child enters its cgroup by writing
/// cgroup.procs (as where clone3 cannot start it there).
class cgroup_write_mode : public reactor_fixture {
protected:
  cgroup_write_mode() : reactor_fixture(tree_tracking::automatic, false) {}
  void SetUp() override {
    if (reactor->tracking_mode() != "cgroup")
      GTEST_SKIP() << "no writable cgroup v2 here";
  }
};

/// Cgroup tracking that keeps at most one emptied cgroup for later jobs.
class cgroup_keep_one : public reactor_fixture {
protected:
  cgroup_keep_one() : reactor_fixture(tree_tracking::automatic, true, 1) {}
  void SetUp() override {
    if (reactor->tracking_mode() != "cgroup")
      GTEST_SKIP() << "no writable cgroup v2 here";
  }
};

/// Process-group tracking (the fallback), forced.
class pgroup_mode : public reactor_fixture {
protected:
  pgroup_mode() : reactor_fixture(tree_tracking::pgroup) {}
};

/// Both: the test runs once per mode.
class both_modes : public reactor_fixture,
                   public ::testing::WithParamInterface<tree_tracking> {
protected:
  both_modes() : reactor_fixture(GetParam()) {}
  void SetUp() override {
    if (GetParam() == tree_tracking::automatic
        && reactor->tracking_mode() != "cgroup")
      GTEST_SKIP() << "no writable cgroup v2 here";
  }
  /// What `spawned` must say in this mode.
  std::string expected_tracking() const {
    return GetParam() == tree_tracking::pgroup ? "pgroup" : "cgroup";
  }
};

std::string mode_name(const ::testing::TestParamInfo<tree_tracking>& info);

/// utime + stime of `pid` in clock ticks (-1 if unreadable).
long cpu_ticks(pid_t pid);

} // namespace jobd::test

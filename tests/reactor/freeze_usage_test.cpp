// Freezing and thawing a tree (cgroup.freeze, or SIGSTOP / SIGCONT to its
// group), killing a frozen one, and the usage sent before `exited`.
#include "reactor_fixture.hpp"

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace jobd::test {
namespace {

const char* busy_loop = "while :; do :; done";

class freezing : public both_modes {};

TEST_P(freezing, a_frozen_tree_takes_no_cpu_and_a_thawed_one_does) {
  auto rec = sh(busy_loop);
  ASSERT_TRUE(rec->wait_spawned());
  const auto pid = static_cast<pid_t>(rec->pid);
  ASSERT_TRUE(eventually(2s, [pid] { return cpu_ticks(pid) > 0; }));
  ASSERT_TRUE(reactor->freeze(rec->pid, true));
  std::this_thread::sleep_for(100ms); // cgroup.freeze completes async
  const long frozen_at = cpu_ticks(pid);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(cpu_ticks(pid), frozen_at);
  EXPECT_FALSE(rec->status);
  ASSERT_TRUE(reactor->freeze(rec->pid, false));
  EXPECT_TRUE(eventually(2s, [&] { return cpu_ticks(pid) > frozen_at; }));
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_FALSE(rec->misordered);
}

TEST_P(freezing, kill_tree_ends_a_frozen_tree) {
  auto rec = sh("sleep 30 & sleep 30 & " + std::string{busy_loop});
  ASSERT_TRUE(rec->wait_spawned());
  ASSERT_TRUE(reactor->freeze(rec->pid, true));
  std::this_thread::sleep_for(50ms);
  const auto before = std::chrono::steady_clock::now();
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1500ms);
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_EQ(WTERMSIG(*rec->status), SIGKILL);
  EXPECT_FALSE(rec->misordered);
  EXPECT_EQ(reactor->live_trees(), 0u);
  EXPECT_TRUE(group_members(static_cast<pid_t>(rec->pid)).empty());
}

TEST_P(freezing, sigkill_to_the_tree_ends_a_frozen_tree) {
  auto rec = sh("sleep 30 & " + std::string{busy_loop});
  ASSERT_TRUE(rec->wait_spawned());
  ASSERT_TRUE(reactor->freeze(rec->pid, true));
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(reactor->signal(rec->pid, SIGKILL));
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_EQ(WTERMSIG(*rec->status), SIGKILL);
  EXPECT_EQ(reactor->live_trees(), 0u);
}

TEST_P(freezing, only_running_leaders_of_ours_are_frozen) {
  EXPECT_FALSE(reactor->freeze(0, true));
  EXPECT_FALSE(reactor->freeze(1, true));
  EXPECT_FALSE(reactor->freeze(::getpid(), true));
  auto rec = run({"/bin/true"});
  ASSERT_TRUE(rec->wait_done());
  EXPECT_FALSE(reactor->freeze(rec->pid, true));
}

class usage : public both_modes {};

TEST_P(usage, a_cpu_burner_reports_cpu_time_and_memory) {
  auto rec = sh("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done");
  ASSERT_TRUE(rec->wait_done(20s));
  ASSERT_TRUE(rec->usage) << "no usage before exited";
  EXPECT_TRUE(rec->usage->known);
  EXPECT_GT(rec->usage->cpu_user_ms, 0);
  EXPECT_GE(rec->usage->cpu_system_ms, 0);
  EXPECT_GT(rec->usage->max_rss_kb, 0);
  EXPECT_FALSE(rec->misordered);
}

TEST_P(usage, a_killed_job_reports_usage_too) {
  auto rec = run({"/bin/sleep", "30"});
  ASSERT_TRUE(rec->wait_spawned());
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(rec->usage);
  EXPECT_GT(rec->usage->max_rss_kb, 0);
  EXPECT_FALSE(rec->misordered);
}

class cgroup_usage : public cgroup_mode {};

TEST_F(cgroup_usage, counts_what_the_leader_never_waited_for) {
  // The burner is not waited for by the leader (its rusage misses it);
  // the cgroup's cpu.stat has it.
  auto rec = sh("(while :; do :; done) & sleep 0.5");
  ASSERT_TRUE(rec->wait_done(10s));
  ASSERT_TRUE(rec->usage);
  EXPECT_GT(rec->usage->cpu_user_ms + rec->usage->cpu_system_ms, 100);
  EXPECT_FALSE(rec->misordered);
}

INSTANTIATE_TEST_SUITE_P(modes, freezing,
                         ::testing::Values(tree_tracking::automatic,
                                           tree_tracking::pgroup),
                         mode_name);
INSTANTIATE_TEST_SUITE_P(modes, usage,
                         ::testing::Values(tree_tracking::automatic,
                                           tree_tracking::pgroup),
                         mode_name);

} // namespace
} // namespace jobd::test

// Job cgroups kept for later jobs (cgroup_parent::recycle): a cgroup that a
// job left as new takes the next job, which counts its CPU from zero; one
// the job changed is removed instead; no more are kept than allowed.
#include "reactor_fixture.hpp"

#include <set>
#include <sys/wait.h>
#include <thread>

namespace jobd::test {
namespace {

/// Prints the job's own cgroup (the `0::` line of /proc/self/cgroup).
const char* const print_cgroup = "grep ^0:: /proc/self/cgroup";

/// The directory of a cgroup that `print_cgroup` printed.
std::string dir_of(const std::string& printed) {
  if (printed.rfind("0::", 0) != 0 || printed.back() != '\n')
    return {};
  return cgroup2_mount() + printed.substr(3, printed.size() - 4);
}

int64_t cpu_ms(const rec_ptr& rec) {
  std::lock_guard<std::mutex> guard{rec->mtx};
  return rec->usage ? rec->usage->cpu_user_ms + rec->usage->cpu_system_ms : -1;
}

TEST_F(cgroup_mode, an_emptied_cgroup_takes_the_next_job_and_counts_its_cpu) {
  auto busy = sh(std::string{print_cgroup}
                 + "; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");
  ASSERT_TRUE(busy->wait_done(60s));
  const auto first = busy->out_text();
  const auto dir = dir_of(first);
  ASSERT_FALSE(dir.empty()) << first;
  EXPECT_TRUE(eventually(2s, [&] { return cgroup_let_go(dir); })) << dir;
  ASSERT_TRUE(directory_exists(dir)) << "kept for the next job: " << dir;
  // The label goes a moment before the cgroup is back in the free list.
  std::this_thread::sleep_for(50ms);
  auto next = sh(print_cgroup);
  ASSERT_TRUE(next->wait_done());
  EXPECT_EQ(next->out_text(), first);
  // The CPU the first job used is not the second's.
  const auto busy_ms = cpu_ms(busy);
  const auto next_ms = cpu_ms(next);
  EXPECT_GE(busy_ms, 100);
  EXPECT_GE(next_ms, 0);
  EXPECT_LT(next_ms, busy_ms / 4) << "first " << busy_ms << " ms";
}

TEST_F(cgroup_mode, a_cgroup_its_job_changed_is_removed_not_reused) {
  const auto mount = cgroup2_mount();
  std::vector<std::string> changes{"echo 1 > $cg/cgroup.max.depth",
                                   "echo 5 > $cg/cgroup.max.descendants",
                                   "mkdir $cg/below"};
  for (const auto& change : changes) {
    auto rec = sh("cg=" + mount + "$(sed -n 's/^0:://p' /proc/self/cgroup); "
                  + change + " && echo $cg");
    ASSERT_TRUE(rec->wait_done()) << change;
    auto out = rec->out_text();
    ASSERT_GT(out.size(), 1u) << change << ": the change failed";
    const auto dir = out.substr(0, out.size() - 1);
    EXPECT_TRUE(eventually(2s, [&] { return !directory_exists(dir); }))
      << change << ": " << dir << " was kept";
  }
  // The same job without the change: its cgroup is kept (the control).
  auto plain = sh("cg=" + mount
                  + "$(sed -n 's/^0:://p' /proc/self/cgroup); "
                    "echo $cg");
  ASSERT_TRUE(plain->wait_done());
  auto out = plain->out_text();
  ASSERT_GT(out.size(), 1u);
  const auto dir = out.substr(0, out.size() - 1);
  EXPECT_TRUE(eventually(2s, [&] { return cgroup_let_go(dir); })) << dir;
  EXPECT_TRUE(directory_exists(dir)) << dir;
}

TEST_F(cgroup_mode, a_killed_cgroup_is_removed_and_the_next_job_lives) {
  // A child clone3 starts in a cgroup that once saw cgroup.kill is killed
  // at once by Linux: such a cgroup must not take another job.
  auto killed = sh(std::string{print_cgroup} + "; exec sleep 30");
  ASSERT_TRUE(killed->wait_lines(1));
  const auto dir = dir_of(killed->out_text());
  ASSERT_FALSE(dir.empty());
  reactor->kill_tree(killed->pid);
  ASSERT_TRUE(killed->wait_done());
  EXPECT_TRUE(eventually(2s, [&] { return !directory_exists(dir); })) << dir;
  // Also when the kill ended what the leader left behind.
  auto left = sh(std::string{print_cgroup} + "; sleep 30 & echo left");
  ASSERT_TRUE(left->wait_done());
  const auto left_dir
    = dir_of(left->out_text().substr(0, left->out_text().find('\n') + 1));
  EXPECT_TRUE(eventually(2s, [&] { return !directory_exists(left_dir); }))
    << left_dir;
  for (int i = 0; i < 5; ++i) {
    auto next = sh("sleep 0.05; echo alive");
    ASSERT_TRUE(next->wait_done());
    EXPECT_EQ(next->out_text(), "alive\n");
    ASSERT_TRUE(next->status);
    EXPECT_TRUE(WIFEXITED(*next->status)) << *next->status;
  }
}

TEST_F(cgroup_keep_one, no_more_cgroups_are_kept_than_allowed) {
  std::vector<rec_ptr> recs;
  for (int i = 0; i < 3; ++i)
    recs.push_back(sh(std::string{print_cgroup} + "; sleep 0.3"));
  std::set<std::string> seen;
  for (auto& rec : recs) {
    ASSERT_TRUE(rec->wait_done());
    seen.insert(rec->out_text());
  }
  EXPECT_EQ(seen.size(), 3u) << "three jobs at once, three cgroups";
  const auto parent = reactor->cgroup_parent_path();
  EXPECT_TRUE(
    eventually(2s, [&] { return subdirectories(parent).size() == 1; }))
    << subdirectories(parent).size() << " kept";
  for (auto& name : subdirectories(parent))
    EXPECT_TRUE(cgroup_let_go(parent + "/" + name)) << name;
}

} // namespace
} // namespace jobd::test

// Whole process trees: a cgroup per job (setsid cannot leave it), the
// process group as the fallback, the end of the leader ending the tree, the
// bounded drain, and no signal to a tree once it is forgotten.
#include "reactor_fixture.hpp"

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace jobd::test {
namespace {

/// Prints the escapee's pid, then leaves it holding the job's pipes.
const char* const setsid_escapee
  = "setsid sh -c 'echo $$; exec sleep 300' x & sleep 300";

/// The same escapee, but it lets go of the pipes: nothing keeps the job.
const char* const quiet_escapee
  = "setsid sh -c 'echo $$; exec sleep 300 >/dev/null 2>&1' x & sleep 0.2";

// -- both modes ---------------------------------------------------------------

class trees : public both_modes {};

TEST_P(trees, leader_exit_kills_background_children) {
  auto begin = std::chrono::steady_clock::now();
  auto rec = sh("sleep 300 & echo $!");
  ASSERT_TRUE(rec->wait_done(5s));
  EXPECT_LT(rec->exited_at - begin, 2s);
  EXPECT_EQ(rec->tracking, expected_tracking());
  EXPECT_FALSE(rec->misordered);
  const pid_t child = rec->pid_on_line(0);
  ASSERT_GT(child, 0);
  // Killed, and its zombie (adopted by us) already reaped by the reactor.
  EXPECT_TRUE(is_gone(child));
  EXPECT_TRUE(eventually(1s, [&] { return !read_stat(child); }));
}

TEST_P(trees, signal_reaches_the_whole_tree) {
  auto rec = sh("sleep 30 & sleep 30 & wait");
  ASSERT_TRUE(rec->wait_spawned());
  const pid_t pgid = static_cast<pid_t>(rec->pid);
  std::vector<pid_t> members;
  ASSERT_TRUE(eventually(2s,
                         [&] {
                           members = group_members(pgid);
                           return members.size() == 3;
                         }))
    << "members: " << members.size();
  EXPECT_TRUE(reactor->signal(pgid, SIGTERM));
  ASSERT_TRUE(rec->wait_done());
  EXPECT_TRUE(WIFSIGNALED(*rec->status));
  for (pid_t pid : members)
    EXPECT_TRUE(is_gone(pid)) << pid;
}

TEST_P(trees, signal_to_the_leader_only_reaches_only_the_leader) {
  auto rec = sh("trap 'echo leader-term' TERM;"
                " (trap 'echo child-term' TERM;"
                "  echo ready; while :; do sleep 0.05; done) &"
                " while :; do sleep 0.05; done");
  ASSERT_TRUE(rec->wait_lines(1));
  EXPECT_TRUE(reactor->signal(rec->pid, SIGTERM, false));
  ASSERT_TRUE(rec->wait_for(3s, [](recorder& r) {
    return r.out.find("leader-term") != std::string::npos;
  }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rec->out_text().find("child-term"), std::string::npos);
  // And the whole tree: the child hears it too.
  EXPECT_TRUE(reactor->signal(rec->pid, SIGTERM, true));
  EXPECT_TRUE(rec->wait_for(
    3s,
    [](recorder& r) { return r.out.find("child-term") != std::string::npos; }))
    << rec->out_text();
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_TRUE(WIFSIGNALED(*rec->status));
}

TEST_P(trees, a_forgotten_tree_is_never_signalled) {
  auto rec = sh("echo $$");
  ASSERT_TRUE(rec->wait_done());
  const auto pid = rec->pid;
  EXPECT_EQ(reactor->live_trees(), 0u);
  EXPECT_EQ(reactor->live_children(), 0u);
  // Signal 0 only: were the refusal broken, a reused pid is someone else's.
  EXPECT_FALSE(reactor->signal(pid, 0, true));
  EXPECT_FALSE(reactor->signal(pid, 0, false));
  reactor->kill_tree(pid); // nothing to do, nothing done
  reactor->kill_all(0);
  EXPECT_EQ(reactor->live_trees(), 0u);
}

TEST_P(trees, stop_with_running_jobs_leaves_nothing) {
  std::vector<rec_ptr> recs;
  for (int i = 0; i < 3; ++i)
    recs.push_back(sh("sleep 300 & echo $!; sleep 300 & echo $!; wait"));
  std::vector<pid_t> pids;
  for (auto& rec : recs) {
    ASSERT_TRUE(rec->wait_lines(2));
    pids.push_back(static_cast<pid_t>(rec->pid));
    pids.push_back(rec->pid_on_line(0));
    pids.push_back(rec->pid_on_line(1));
  }
  const auto job_dir = cgroup_dir_of(pids.front());
  auto begin = std::chrono::steady_clock::now();
  reactor->stop(100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  for (pid_t pid : pids)
    EXPECT_TRUE(is_gone(pid)) << pid;
  for (auto& rec : recs) {
    ASSERT_TRUE(rec->wait_done());
    EXPECT_FALSE(rec->misordered);
  }
  EXPECT_EQ(reactor->live_trees(), 0u);
  reactor->reap_adopted();
  EXPECT_TRUE(eventually(1s, [] { return my_zombies().empty(); }));
  if (GetParam() == tree_tracking::automatic) {
    // The job cgroups and jobd's own parent directory are gone too.
    ASSERT_FALSE(job_dir.empty());
    EXPECT_FALSE(directory_exists(job_dir));
    EXPECT_FALSE(directory_exists(job_dir.substr(0, job_dir.rfind('/'))));
  }
}

TEST_P(trees, short_jobs_leave_no_cgroups_and_no_zombies) {
  // Each leaves an orphan behind for the reactor to kill and reap.
  constexpr int total = 200;
  constexpr int batch = 10;
  std::string parent;
  for (int first = 0; first < total; first += batch) {
    std::vector<rec_ptr> recs;
    for (int i = 0; i < batch; ++i)
      recs.push_back(sh("sleep 5 & echo $$"));
    for (auto& rec : recs) {
      ASSERT_TRUE(rec->wait_done(10s));
      ASSERT_FALSE(rec->failure);
      EXPECT_FALSE(rec->misordered);
      EXPECT_EQ(rec->tracking, expected_tracking());
    }
  }
  EXPECT_EQ(reactor->live_trees(), 0u);
  // No reap_adopted() here: the reactor reaps what its trees leave.
  EXPECT_TRUE(eventually(1s, [] { return my_zombies().empty(); }))
    << my_zombies().size() << " zombies";
  if (GetParam() == tree_tracking::automatic) {
    auto mount = cgroup2_mount();
    auto own = unified_cgroup_of(::getpid());
    auto base = mount + (own == "/" ? "" : own);
    for (auto& name : subdirectories(base)) {
      if (name.rfind("jobd-" + std::to_string(::getpid()), 0) == 0) {
        // What is left are emptied cgroups kept for later jobs, none of
        // them holding anything or any label: far fewer than jobs ran (the
        // janitor hands them back a moment after each job), at most 128.
        auto dir = base + "/" + name;
        auto kept = subdirectories(dir);
        EXPECT_LT(kept.size(), static_cast<size_t>(total) / 2) << dir;
        EXPECT_LE(kept.size(), 128u) << dir;
        for (auto& sub : kept)
          EXPECT_TRUE(
            eventually(1s, [&] { return cgroup_let_go(dir + "/" + sub); }))
            << dir << "/" << sub;
      }
    }
  }
}

// -- cgroup mode --------------------------------------------------------------

TEST_F(cgroup_mode, child_runs_in_a_cgroup_labelled_with_its_job) {
  auto spec = make_sh("sleep 30");
  spec.name = "reactor-test-job";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_spawned());
  EXPECT_EQ(rec->tracking, "cgroup");
  const auto where = unified_cgroup_of(static_cast<pid_t>(rec->pid));
  const auto leaf = "/jobd-" + std::to_string(::getpid()) + "/tree-";
  EXPECT_NE(where.find(leaf), std::string::npos) << where;
  const auto dir = cgroup_dir_of(static_cast<pid_t>(rec->pid));
  EXPECT_TRUE(directory_exists(dir)) << dir;
  EXPECT_EQ(cgroup_label(dir), "reactor-test-job");
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_TRUE(WIFSIGNALED(*rec->status));
  // The reactor's janitor thread keeps it, empty and unlabelled, right
  // after.
  EXPECT_TRUE(eventually(1s, [&] { return cgroup_let_go(dir); })) << dir;
}

TEST_F(cgroup_mode, kill_tree_ends_a_setsid_escapee) {
  // Everything ignores SIGTERM (SIG_IGN survives exec): only cgroup.kill
  // can end the escapee.
  auto rec = sh(std::string{"trap '' TERM; "} + setsid_escapee);
  ASSERT_TRUE(rec->wait_lines(1));
  const pid_t escapee = rec->pid_on_line(0);
  ASSERT_GT(escapee, 0);
  stray(escapee);
  auto st = read_stat(escapee);
  ASSERT_TRUE(st);
  ASSERT_NE(st->pgrp, rec->pid); // it left the group
  // A cancel: SIGTERM, then the kill.
  EXPECT_TRUE(reactor->signal(rec->pid, SIGTERM));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(rec->status);
  EXPECT_FALSE(is_gone(escapee));
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done(3s));
  EXPECT_FALSE(rec->misordered);
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_EQ(WTERMSIG(*rec->status), SIGKILL);
  EXPECT_TRUE(is_gone(escapee));
  // Its zombie was ours (subreaper) and reaped: nothing of it is left.
  EXPECT_TRUE(eventually(1s, [&] { return ::kill(escapee, 0) != 0; }));
}

TEST_F(cgroup_mode, signal_reaches_a_setsid_member) {
  // The leader outlives the SIGTERM, so that its end does not kill the
  // escapee before that prints.
  auto rec = sh("trap 'echo leader-term' TERM;"
                " setsid sh -c 'trap \"echo escapee-term\" TERM; echo $$;"
                " while :; do sleep 0.05; done' x &"
                " while :; do sleep 0.05; done");
  ASSERT_TRUE(rec->wait_lines(1));
  stray(rec->pid_on_line(0));
  EXPECT_TRUE(reactor->signal(rec->pid, SIGTERM));
  EXPECT_TRUE(rec->wait_for(3s,
                            [](recorder& r) {
                              return r.out.find("escapee-term")
                                     != std::string::npos;
                            }))
    << rec->out_text();
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done(3s));
}

TEST_F(cgroup_mode, leader_exit_ends_an_escapee_that_let_go_of_the_pipes) {
  auto begin = std::chrono::steady_clock::now();
  auto rec = sh(quiet_escapee);
  ASSERT_TRUE(rec->wait_done(5s));
  EXPECT_LT(rec->exited_at - begin, 2s);
  const pid_t escapee = rec->pid_on_line(0);
  ASSERT_GT(escapee, 0);
  stray(escapee);
  EXPECT_TRUE(is_gone(escapee));
}

// -- cgroup mode, entered by a cgroup.procs write ----------------------------

TEST_F(cgroup_write_mode, child_enters_its_cgroup_and_a_setsid_escapee_dies) {
  auto spec = make_sh(std::string{"trap '' TERM; "} + setsid_escapee);
  spec.name = "reactor-write-job";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_lines(1));
  EXPECT_EQ(rec->tracking, "cgroup");
  const auto where = unified_cgroup_of(static_cast<pid_t>(rec->pid));
  EXPECT_EQ(cgroup_label(cgroup_dir_of(static_cast<pid_t>(rec->pid))),
            "reactor-write-job");
  const pid_t escapee = rec->pid_on_line(0);
  ASSERT_GT(escapee, 0);
  stray(escapee);
  EXPECT_EQ(unified_cgroup_of(escapee), where);
  const auto dir = cgroup_dir_of(static_cast<pid_t>(rec->pid));
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done(3s));
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_TRUE(is_gone(escapee));
  EXPECT_TRUE(eventually(1s, [&] { return cgroup_let_go(dir); })) << dir;
}

// -- process-group mode -------------------------------------------------------

TEST_F(pgroup_mode, an_escapee_holding_the_pipes_does_not_keep_the_job) {
  auto rec = sh(std::string{"trap 'exit 0' TERM; "} + setsid_escapee);
  ASSERT_TRUE(rec->wait_lines(1));
  EXPECT_EQ(rec->tracking, "pgroup");
  const pid_t escapee = rec->pid_on_line(0);
  ASSERT_GT(escapee, 0);
  stray(escapee);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(reactor->signal(rec->pid, SIGTERM));
  reactor->kill_tree(rec->pid);
  // The group dies at once; the drain (500 ms) then closes the pipes the
  // escapee holds.
  ASSERT_TRUE(rec->wait_done(3s));
  const auto took = rec->exited_at - begin;
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_FALSE(rec->misordered);
  EXPECT_EQ(rec->out_eofs, 1);
  EXPECT_EQ(rec->err_eofs, 1);
  // A process group cannot hold what called setsid: it still runs.
  EXPECT_FALSE(is_gone(escapee));
}

TEST_F(pgroup_mode, an_escapee_that_let_go_of_the_pipes_survives) {
  auto rec = sh(quiet_escapee);
  ASSERT_TRUE(rec->wait_done(5s));
  const pid_t escapee = rec->pid_on_line(0);
  ASSERT_GT(escapee, 0);
  stray(escapee);
  // Documented limit of the fallback: setsid leaves the process group.
  EXPECT_FALSE(is_gone(escapee));
}

INSTANTIATE_TEST_SUITE_P(modes, trees,
                         ::testing::Values(tree_tracking::automatic,
                                           tree_tracking::pgroup),
                         mode_name);

} // namespace
} // namespace jobd::test

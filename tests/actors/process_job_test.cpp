// The local-process JOB on the deterministic scheduler, with a fake launcher
// standing in for the process reactor: timeout escalation, cancel, waiting
// and the end of a job only once its process group is empty.
#include "fixture.hpp"

#include <chrono>
#include <csignal>
#include <sys/wait.h>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

constexpr int64_t leader_pgid = 4242;

int32_t killed_by(int sig) {
  return sig; // a raw wait status for "terminated by sig"
}

int32_t exited_with(int code) {
  return code << 8;
}

} // namespace

class process_job_test : public actor_test {
protected:
  /// Submits `/bin/sh -c script` and plays its successful spawn.
  std::string run_shell(const std::string& script, int64_t timeout_ms = 0) {
    job_spec spec;
    spec.command = "/bin/sh";
    spec.args = {"-c", script};
    spec.timeout_ms = timeout_ms;
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    EXPECT_EQ(launcher->launches.size(), 1u);
    launcher->alive.insert(leader_pgid);
    self->send(job(), atom::spawned_v, leader_pgid, std::string{"pgroup"});
    drain();
    return r->job_id;
  }

  backend_events job() {
    return launcher->launches.at(0).job;
  }

  /// Plays the end of the tree: both pipes closed, then the leader's
  /// status (the launcher sends `exited` once nothing of the tree is left).
  void child_ends(int32_t status) {
    launcher->alive.erase(leader_pgid);
    self->send(job(), atom::eof_v, stream_kind::out);
    self->send(job(), atom::eof_v, stream_kind::err);
    self->send(job(), atom::exited_v, status);
    drain();
  }

  std::vector<int> signals_sent() {
    std::vector<int> result;
    for (auto& [group, sig] : launcher->signals) {
      EXPECT_EQ(group, leader_pgid);
      result.push_back(sig);
    }
    return result;
  }
};

TEST_F(process_job_test, launch_gets_argv_as_given_without_a_shell) {
  start(10, 5);
  job_spec spec;
  spec.command = "/bin/echo";
  spec.args = {"a b", "$HOME", ";", "echo", "injected"};
  ASSERT_TRUE(ask<submit_result>(atom::submit_v, spec));
  ASSERT_EQ(launcher->launches.size(), 1u);
  auto& ls = launcher->launches[0].spec;
  EXPECT_EQ(ls.executable, "/bin/echo");
  std::vector<std::string> argv{"/bin/echo", "a b",  "$HOME",
                                ";",         "echo", "injected"};
  EXPECT_EQ(ls.argv, argv);
}

TEST_F(process_job_test, timeout_escalates_from_sigterm_to_sigkill) {
  start(10, 5, 2000);
  auto id = run_shell("sleep 60", 5000);
  advance_time(4999ms);
  drain();
  EXPECT_TRUE(launcher->signals.empty());
  advance_time(1ms);
  drain();
  EXPECT_EQ(signals_sent(), std::vector<int>{SIGTERM});
  advance_time(1999ms);
  drain();
  EXPECT_EQ(signals_sent(), std::vector<int>{SIGTERM});
  advance_time(1ms);
  drain();
  EXPECT_EQ(signals_sent(), (std::vector<int>{SIGTERM, SIGKILL}));
  EXPECT_EQ(status(id).status, job_status::running);
  child_ends(killed_by(SIGKILL));
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.error_code, codes::timeout);
  EXPECT_EQ(info.signal, SIGKILL);
  EXPECT_EQ(info.exit_code, -1);
  EXPECT_GT(info.finished_at, 0);
}

TEST_F(process_job_test, cancel_answers_once_the_tree_is_gone) {
  start(10, 5);
  auto id = run_shell("sleep 60");
  auto req
    = self->request(sched, caf::infinite, atom::cancel_v, id, int64_t{300});
  drain();
  EXPECT_EQ(signals_sent(), std::vector<int>{SIGTERM});
  EXPECT_TRUE(self->mailbox().empty()); // no answer while it runs
  advance_time(300ms);
  drain();
  EXPECT_EQ(signals_sent(), (std::vector<int>{SIGTERM, SIGKILL}));
  // The pipes closed, but the tree is not gone until `exited`.
  self->send(job(), atom::eof_v, stream_kind::out);
  self->send(job(), atom::eof_v, stream_kind::err);
  drain();
  EXPECT_TRUE(self->mailbox().empty());
  self->send(job(), atom::exited_v, killed_by(SIGKILL));
  drain();
  ASSERT_FALSE(self->mailbox().empty());
  std::move(req).receive(
    [](cancel_result& r) { EXPECT_EQ(r.status, job_status::cancelled); },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::cancelled);
  EXPECT_EQ(info.tracking, "pgroup");
}

TEST_F(process_job_test, exit_codes_and_signals_are_told_apart) {
  start(10, 5);
  auto id = run_shell("exit 3");
  self->send(job(), atom::data_v, stream_kind::out, std::string{"out\n"});
  self->send(job(), atom::data_v, stream_kind::err, std::string{"err\n"});
  child_ends(exited_with(3));
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.exit_code, 3);
  EXPECT_EQ(info.signal, 0);
  EXPECT_EQ(info.output.stdout_bytes, 4u);
  EXPECT_EQ(info.output.stderr_bytes, 4u);
  auto page = ask<output_page>(atom::output_v, id, output_query{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->chunks.size(), 2u);
  EXPECT_EQ(page->chunks[0].sequence, 1u);
  EXPECT_EQ(page->chunks[1].stream, stream_kind::err);
  EXPECT_TRUE(page->finished);
  EXPECT_TRUE(page->complete);
}

TEST_F(process_job_test, job_is_running_until_both_pipes_closed) {
  start(10, 5);
  auto id = run_shell("true");
  self->send(job(), atom::exited_v, exited_with(0));
  self->send(job(), atom::eof_v, stream_kind::out);
  drain();
  EXPECT_EQ(status(id).status, job_status::running);
  self->send(job(), atom::data_v, stream_kind::err, std::string{"late\n"});
  self->send(job(), atom::eof_v, stream_kind::err);
  launcher->alive.erase(leader_pgid);
  drain();
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::completed);
  EXPECT_EQ(info.output.stderr_bytes, 5u);
}

TEST_F(process_job_test, wait_answers_on_output_pattern_exit_and_timeout) {
  start(10, 5);
  auto id = run_shell("loop");
  wait_query on_output;
  on_output.job_id = id;
  on_output.until = wait_until::output;
  on_output.pattern = "ready";
  auto w1 = self->request(sched, caf::infinite, atom::wait_v, on_output);
  wait_query on_exit;
  on_exit.job_id = id;
  on_exit.timeout_ms = 60000;
  auto w2 = self->request(sched, caf::infinite, atom::wait_v, on_exit);
  wait_query short_wait = on_exit;
  short_wait.timeout_ms = 500;
  auto w3 = self->request(sched, caf::infinite, atom::wait_v, short_wait);
  drain();
  self->send(job(), atom::data_v, stream_kind::out, std::string{"booting\n"});
  drain();
  EXPECT_TRUE(self->mailbox().empty());
  self->send(job(), atom::data_v, stream_kind::out, std::string{"ready\n"});
  drain();
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(w1).receive(
    [](wait_result& r) {
      EXPECT_EQ(r.reason, "output");
      EXPECT_EQ(r.output.chunks.size(), 2u);
    },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  advance_time(500ms);
  drain();
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(w3).receive(
    [](wait_result& r) {
      EXPECT_EQ(r.reason, "timeout");
      EXPECT_EQ(r.job.status, job_status::running);
    },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  child_ends(exited_with(0));
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(w2).receive(
    [](wait_result& r) {
      EXPECT_EQ(r.reason, "exit");
      EXPECT_EQ(r.job.status, job_status::completed);
      EXPECT_TRUE(r.output.complete);
    },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

TEST_F(process_job_test, spawn_failure_ends_the_job_failed) {
  start(10, 5);
  job_spec spec;
  spec.command = "/bin/sh";
  auto r = ask<submit_result>(atom::submit_v, spec);
  ASSERT_TRUE(r);
  self->send(job(), atom::spawn_failed_v, std::string{codes::spawn_failed},
             std::string{"no luck"});
  drain();
  auto info = status(r->job_id);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.error_code, codes::spawn_failed);
  EXPECT_EQ(sched_state().running, 0u);
}

TEST_F(process_job_test, missing_command_and_directory_are_refused_at_once) {
  start(10, 5);
  job_spec spec;
  spec.command = "no-such-command-jobd";
  auto r = ask<submit_result>(atom::submit_v, spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::command_not_found);
  spec.command = "/bin/true";
  spec.working_directory = "/no/such/dir";
  r = ask<submit_result>(atom::submit_v, spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code,
            codes::invalid_working_directory);
  EXPECT_TRUE(launcher->launches.empty());
}

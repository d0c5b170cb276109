// Working with running jobs, on the deterministic scheduler with the fake
// launcher: the timeout clock stops while a job is paused, a paused job is
// thawed before it is stopped, input before the spawn is kept, idempotency
// keys under a burst, restart with the old spec, waiting on many, progress
// read from output and usage kept in the record.
#include "fixture.hpp"

#include <chrono>
#include <csignal>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

constexpr int64_t pid = 5151;

} // namespace

class control_test : public actor_test {
protected:
  /// Submits a process job (not spawned yet: launch `n` is its launch).
  std::string submit(job_spec spec = {}) {
    if (spec.command.empty()) {
      spec.command = "/bin/sh";
      spec.args = {"-c", "sleep 300"};
    }
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    return r->job_id;
  }

  void spawn(size_t n, int64_t at_pid = pid) {
    launcher->alive.insert(at_pid);
    self->send(launcher->launches.at(n).job, atom::spawned_v, at_pid,
               std::string{"cgroup"});
    drain();
  }

  void end(size_t n, int32_t status = 0) {
    auto& job = launcher->launches.at(n).job;
    self->send(job, atom::eof_v, stream_kind::out);
    self->send(job, atom::eof_v, stream_kind::err);
    self->send(job, atom::usage_v, resource_usage{true, 12, 3, 2048});
    self->send(job, atom::exited_v, status);
    drain();
  }

  size_t count_signals(int sig) {
    size_t n = 0;
    for (auto& [p, s] : launcher->signals)
      n += s == sig;
    return n;
  }

  /// Runs the timers due within `d`, in steps (a tick re-arms the next).
  void pass(std::chrono::milliseconds d) {
    for (auto step = 100ms; d > 0ms; d -= std::min(d, step)) {
      advance_time(std::min(d, step));
      drain();
    }
  }
};

TEST_F(control_test, the_timeout_clock_stops_while_paused) {
  start(1, 1);
  job_spec spec;
  spec.timeout_ms = 1000;
  auto id = submit(spec);
  spawn(0);
  pass(500ms);
  auto paused = ask<job_info>(atom::pause_v, id, true);
  ASSERT_TRUE(paused) << sys.render(paused.error());
  EXPECT_TRUE(paused->paused);
  EXPECT_GT(paused->paused_at, 0);
  ASSERT_EQ(launcher->freezes.size(), 1u);
  EXPECT_TRUE(launcher->freezes[0].second);
  pass(10s);
  EXPECT_EQ(count_signals(SIGTERM), 0u) << "the timeout ran while paused";
  EXPECT_EQ(status(id).status, job_status::running);
  auto resumed = ask<job_info>(atom::pause_v, id, false);
  ASSERT_TRUE(resumed);
  EXPECT_FALSE(resumed->paused);
  pass(300ms);
  EXPECT_EQ(count_signals(SIGTERM), 0u);
  pass(400ms);
  EXPECT_EQ(count_signals(SIGTERM), 1u) << "the rest of the timeout is due";
}

TEST_F(control_test, a_paused_job_is_thawed_before_its_sigterm) {
  start(1, 1);
  auto id = submit();
  spawn(0);
  ASSERT_TRUE(ask<job_info>(atom::pause_v, id, true));
  // Pausing twice changes nothing.
  ASSERT_TRUE(ask<job_info>(atom::pause_v, id, true));
  EXPECT_EQ(launcher->freezes.size(), 1u);
  auto cancel
    = self->request(sched, caf::infinite, atom::cancel_v, id, int64_t{1000});
  drain();
  ASSERT_EQ(launcher->freezes.size(), 2u);
  EXPECT_FALSE(launcher->freezes[1].second) << "thawed for the grace";
  EXPECT_EQ(count_signals(SIGTERM), 1u);
  end(0, SIGTERM);
  std::move(cancel).receive(
    [](cancel_result& r) { EXPECT_EQ(r.status, job_status::cancelled); },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  auto info = status(id);
  EXPECT_FALSE(info.paused);
  EXPECT_TRUE(info.usage.known);
  EXPECT_EQ(info.usage.cpu_user_ms, 12);
}

TEST_F(control_test, input_before_the_spawn_is_handed_over_in_order) {
  start(1, 1);
  job_spec spec;
  spec.input = stdin_mode::pipe;
  auto id = submit(spec);
  auto r = ask<input_result>(atom::input_v, id, std::string{"one\n"}, false);
  ASSERT_TRUE(r) << sys.render(r.error());
  EXPECT_EQ(r->queued, 4u);
  r = ask<input_result>(atom::input_v, id, std::string{"two\n"}, true);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->closed);
  // (Status would wait for the pid: SCHEDULER's view heard the update.)
  EXPECT_FALSE(sched_state().jobs.at(id).info.stdin_open);
  auto late = ask<input_result>(atom::input_v, id, std::string{"x"}, false);
  ASSERT_FALSE(late);
  EXPECT_EQ(to_tool_error(sys, late.error()).code, codes::stdin_closed);
  EXPECT_TRUE(launcher->inputs.empty());
  spawn(0);
  ASSERT_EQ(launcher->inputs.size(), 1u);
  EXPECT_EQ(launcher->inputs[0].bytes, "one\ntwo\n");
  EXPECT_TRUE(launcher->inputs[0].close);
  end(0);
}

TEST_F(control_test, input_limits_and_a_job_without_stdin) {
  scheduler_config cfg;
  cfg.defaults.max_stdin_bytes = 8;
  start(1, 1, 5000, cfg);
  auto plain = submit();
  spawn(0);
  auto r = ask<input_result>(atom::input_v, plain, std::string{"x"}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::stdin_not_open);
  end(0);
  job_spec spec;
  spec.input = stdin_mode::pipe;
  auto piped = submit(spec);
  r = ask<input_result>(atom::input_v, piped, std::string(9, 'x'), false);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::stdin_full);
  spawn(1, pid + 1);
  launcher->input_answer = input_outcome::full;
  r = ask<input_result>(atom::input_v, piped, std::string{"x"}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::stdin_full);
  // The job closed its stdin.
  self->send(launcher->launches.at(1).job, atom::input_v, atom::eof_v);
  drain();
  EXPECT_FALSE(status(piped).stdin_open);
  end(1);
}

TEST_F(control_test, a_burst_of_submits_with_one_key_makes_one_job) {
  start(4, 4);
  job_spec spec;
  spec.command = "/bin/true";
  spec.idempotency_key = "k";
  auto a = self->request(sched, caf::infinite, atom::submit_v, spec);
  auto b = self->request(sched, caf::infinite, atom::submit_v, spec);
  drain();
  std::string first, second;
  bool dedup_b = false;
  std::move(a).receive([&](submit_result& r) { first = r.job_id; },
                       [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  std::move(b).receive(
    [&](submit_result& r) {
      second = r.job_id;
      dedup_b = r.deduplicated;
    },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_EQ(first, second);
  EXPECT_TRUE(dedup_b);
  EXPECT_EQ(launcher->launches.size(), 1u);
  // Another session, another job.
  spec.session_id = "other";
  auto c = ask<submit_result>(atom::submit_v, spec);
  ASSERT_TRUE(c);
  EXPECT_NE(c->job_id, first);
  EXPECT_FALSE(c->deduplicated);
}

TEST_F(control_test, restart_runs_the_old_spec_again) {
  start(2, 2);
  job_spec spec;
  spec.command = "/bin/sh";
  spec.args = {"-c", "echo $X"};
  spec.environment = {{"X", "y"}};
  spec.idempotency_key = "once";
  auto id = submit(spec);
  spawn(0);
  end(0);
  auto r = ask<submit_result>(atom::start_v, restart_request{id, false});
  ASSERT_TRUE(r) << sys.render(r.error());
  EXPECT_NE(r->job_id, id);
  EXPECT_EQ(r->restart_of, id);
  ASSERT_EQ(launcher->launches.size(), 2u);
  auto& again = launcher->launches[1].spec;
  EXPECT_EQ(again.argv, launcher->launches[0].spec.argv);
  EXPECT_EQ(again.environment.at("X"), "y");
  spawn(1, pid + 1);
  auto info = status(r->job_id);
  EXPECT_EQ(info.restart_of, id);
  EXPECT_TRUE(info.idempotency_key.empty()) << "the key names the old job";
  auto missing
    = ask<submit_result>(atom::start_v, restart_request{"job-0-none", false});
  ASSERT_FALSE(missing);
  EXPECT_EQ(to_tool_error(sys, missing.error()).code, codes::job_not_found);
}

TEST_F(control_test, waiting_on_many_any_and_all) {
  start(4, 4);
  auto quick = submit_scripted("s", 5, 100);
  auto slow = submit_scripted("s", 5, 5000);
  wait_many_query any{{slow, quick}, false, 10000};
  auto w = self->request(sched, caf::infinite, atom::wait_v, any);
  drain();
  pass(200ms);
  bool answered = false;
  std::move(w).receive(
    [&](wait_many_result& r) {
      answered = true;
      EXPECT_EQ(r.reason, "any");
      ASSERT_EQ(r.ended.size(), 1u);
      EXPECT_EQ(r.ended[0], quick);
      ASSERT_EQ(r.jobs.size(), 2u);
      EXPECT_EQ(r.jobs[0].id, slow);
      EXPECT_EQ(r.jobs[0].status, job_status::running);
    },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_TRUE(answered);
  wait_many_query all{{slow, quick}, true, 1000};
  auto w2 = self->request(sched, caf::infinite, atom::wait_v, all);
  drain();
  pass(1100ms);
  std::move(w2).receive(
    [&](wait_many_result& r) {
      EXPECT_EQ(r.reason, "timeout");
      EXPECT_EQ(r.ended.size(), 1u);
    },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

TEST_F(control_test, progress_comes_from_the_last_line) {
  start(1, 1);
  auto id = submit();
  spawn(0);
  auto& job = launcher->launches.at(0).job;
  self->send(job, atom::data_v, stream_kind::err,
             std::string{"loading  10%\rloading  42%\r"});
  drain();
  pass(200ms);
  auto info = status(id);
  ASSERT_TRUE(info.progress.known);
  EXPECT_EQ(info.progress.percent, 42);
  EXPECT_GT(info.progress.at, 0);
  // SCHEDULER's list view hears of it with the output news.
  EXPECT_EQ(sched_state().jobs.at(id).info.progress.percent, 42);
  end(0);
  EXPECT_EQ(status(id).progress.percent, 42) << "kept in the record";
}

TEST_F(control_test, signals_go_to_running_jobs_only) {
  start(1, 1);
  auto running = submit();
  auto waiting = submit();
  spawn(0);
  auto r = ask<signal_result>(atom::signal_v, running, int32_t{SIGUSR1}, false);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->delivered);
  EXPECT_EQ(launcher->leader_only.back(), SIGUSR1);
  r = ask<signal_result>(atom::signal_v, waiting, int32_t{SIGUSR1}, true);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::job_not_running);
  end(0);
  r = ask<signal_result>(atom::signal_v, running, int32_t{SIGUSR1}, true);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::job_already_finished);
}

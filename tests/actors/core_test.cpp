// The JOB core and SCHEDULER's supervision and bounds, on the deterministic
// scheduler: jobs whose actor dies, finished jobs as records, sessions that
// go away, the pending cap, output caps and the global output budget, timers
// at their extremes, hostile patterns.
#include "fixture.hpp"

#include "actors/core/job_core.hpp"
#include "actors/core/timing.hpp"
#include "actors/metrics.hpp"

#include <chrono>
#include <csignal>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

constexpr int64_t pgid = 4242;
constexpr int64_t max_int = 9007199254740991; // the schemas' maximum

} // namespace

class core_test : public actor_test {
protected:
  /// Submits `/bin/sh -c script` and plays its spawn (launch `n`).
  std::string run_shell(const std::string& script, job_spec spec = {}) {
    spec.command = "/bin/sh";
    spec.args = {"-c", script};
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    auto n = launcher->launches.size();
    EXPECT_GE(n, 1u);
    launcher->alive.insert(pgid + static_cast<int64_t>(n));
    self->send(launcher->launches.back().job, atom::spawned_v,
               pgid + static_cast<int64_t>(n), std::string{"cgroup"});
    drain();
    return r->job_id;
  }

  backend_events job(size_t n = 0) {
    return launcher->launches.at(n).job;
  }

  void print(size_t n, const std::string& text) {
    self->send(job(n), atom::data_v, stream_kind::out, text);
    drain();
  }

  void ends(size_t n, int32_t status = 0) {
    self->send(job(n), atom::eof_v, stream_kind::out);
    self->send(job(n), atom::eof_v, stream_kind::err);
    self->send(job(n), atom::exited_v, status);
    drain();
  }

  std::string submit_command(const std::string& command,
                             const std::string& session = "s") {
    job_spec spec;
    spec.kind = "scripted";
    spec.command = command;
    spec.args = {"1000", "0"};
    spec.session_id = session;
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    return r->job_id;
  }
};

// -- supervision --------------------------------------------------------------

TEST_F(core_test,
       a_job_whose_actor_dies_ends_failed_internal_and_frees_its_slot) {
  start(1, 1);
  auto crash = submit_command("crash-on-start");
  auto next = submit_command("scripted");
  auto info = status(crash);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.error_code, codes::internal);
  EXPECT_EQ(sched_state().running, 1u); // the next job got the slot
  EXPECT_EQ(status(next).status, job_status::running);
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(next).status, job_status::completed);
  EXPECT_EQ(sched_state().running, 0u);
}

TEST_F(core_test, waiters_and_cancels_of_a_dying_job_are_answered) {
  start(2, 2);
  auto id = submit_command("crash-on-signal");
  wait_query w;
  w.job_id = id;
  w.timeout_ms = 60000;
  auto wait = self->request(sched, caf::infinite, atom::wait_v, w);
  auto cancel
    = self->request(sched, caf::infinite, atom::cancel_v, id, int64_t{100});
  drain();
  ASSERT_EQ(self->mailbox().size(), 2u);
  bool wait_failed = false;
  std::move(wait).receive([](wait_result&) {},
                          [&](caf::error& e) {
                            wait_failed = true;
                            EXPECT_EQ(to_tool_error(sys, e).code,
                                      codes::internal);
                          });
  EXPECT_TRUE(wait_failed);
  bool cancel_failed = false;
  std::move(cancel).receive([](cancel_result&) {},
                            [&](caf::error&) { cancel_failed = true; });
  EXPECT_TRUE(cancel_failed);
  EXPECT_EQ(status(id).error_code, codes::internal);
  EXPECT_EQ(sched_state().running, 0u);
}

// -- records
// --------------------------------------------------------------------

TEST_F(core_test, a_finished_job_leaves_a_record_and_its_actor_quits) {
  start(10, 5);
  auto id = run_shell("echo hi");
  self->monitor(job());
  print(0, "hi\n");
  ends(0);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds{0}) >> [] {});
  EXPECT_TRUE(down);
  auto& e = sched_state().jobs.at(id);
  EXPECT_FALSE(e.handle);
  ASSERT_TRUE(e.output);
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::completed);
  EXPECT_EQ(info.tracking, "cgroup");
  EXPECT_EQ(info.output.stdout_bytes, 3u);
  auto page = ask<output_page>(atom::output_v, id, output_query{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->chunks.size(), 1u);
  EXPECT_EQ(page->chunks[0].content, "hi\n");
  EXPECT_TRUE(page->complete);
  wait_query w;
  w.job_id = id;
  w.until = wait_until::output;
  w.pattern = "h.";
  auto r = ask<wait_result>(atom::wait_v, w);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "output");
  auto c = ask<cancel_result>(atom::cancel_v, id, int64_t{0});
  ASSERT_FALSE(c);
  EXPECT_EQ(to_tool_error(sys, c.error()).code, codes::job_already_finished);
}

// -- bounds
// -----------------------------------------------------------------------

TEST_F(core_test, sessions_without_jobs_go_away) {
  start(1000, 1);
  for (int i = 0; i < 300; ++i)
    submit_scripted("session-" + std::to_string(i), 5, 10, 0);
  EXPECT_EQ(sched_state().sessions.size(), 300u);
  advance_time(10ms);
  drain();
  EXPECT_TRUE(sched_state().sessions.empty());
  EXPECT_TRUE(sched_state().session_addresses.empty());
  // A later job of the same session gets a fresh session actor.
  auto id = submit_scripted("session-1", 5, 10, 0);
  EXPECT_EQ(sched_state().sessions.size(), 1u);
  advance_time(10ms);
  drain();
  EXPECT_EQ(status(id).status, job_status::completed);
  EXPECT_TRUE(sched_state().sessions.empty());
}

TEST_F(core_test, metrics_forget_sessions_whose_jobs_were_removed) {
  start(1000, 1);
  auto stats = sys.spawn(metrics, uint64_t{100}, uint64_t{1}, store_actor{},
                         std::vector<std::string>{});
  self->send(sched, atom::subscribe_v, event_listener{stats});
  drain();
  for (int i = 0; i < 200; ++i)
    submit_scripted("m-" + std::to_string(i), 5, 10, 0);
  advance_time(10ms);
  drain();
  auto snapshot = [&] {
    auto req = self->request(stats, caf::infinite, atom::metrics_v);
    drain();
    metrics_snapshot m;
    std::move(req).receive([&](metrics_snapshot& x) { m = std::move(x); },
                           [](caf::error&) {});
    return m;
  };
  EXPECT_EQ(snapshot().sessions.size(), 200u);
  ASSERT_TRUE(ask<cleanup_result>(atom::cleanup_v, cleanup_query{}));
  auto m = snapshot();
  EXPECT_TRUE(m.sessions.empty());
  EXPECT_EQ(m.total_jobs, 200u);
  EXPECT_EQ(m.completed_jobs, 200u);
  EXPECT_EQ(m.retained_jobs, 0u);
  self->send_exit(stats, caf::exit_reason::user_shutdown);
}

TEST_F(core_test, more_pending_jobs_than_the_cap_are_refused) {
  scheduler_config cfg;
  cfg.max_pending = 3;
  start(1, 1, 5000, cfg);
  for (int i = 0; i < 4; ++i) // one runs, three wait
    submit_scripted("s", 5, 1000, 0);
  job_spec spec;
  spec.kind = "scripted";
  spec.command = "scripted";
  spec.args = {"10", "0"};
  auto r = ask<submit_result>(atom::submit_v, spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::queue_full);
  advance_time(1000ms);
  drain();
  EXPECT_TRUE(ask<submit_result>(atom::submit_v, spec)); // room again
}

TEST_F(core_test, a_job_can_lower_its_output_cap_but_never_raise_it) {
  scheduler_config cfg;
  cfg.defaults.output.max_bytes = 1024;
  start(10, 5, 5000, cfg);
  job_spec raise;
  raise.output_byte_limit = int64_t{1} << 40;
  auto big = run_shell("yes", raise);
  job_spec lower;
  lower.output_byte_limit = 100;
  auto small = run_shell("yes", lower);
  std::string line(99, 'y');
  line += '\n';
  for (int i = 0; i < 50; ++i) {
    print(0, line);
    print(1, line);
  }
  EXPECT_LE(status(big).output.buffered_bytes, 1024u);
  EXPECT_GT(status(big).output.dropped_bytes, 0u);
  EXPECT_LE(status(small).output.buffered_bytes, 100u);
}

TEST_F(core_test, the_output_budget_drops_the_oldest_finished_output_first) {
  scheduler_config cfg;
  cfg.output_total_bytes = 4000;
  start(10, 5, 5000, cfg);
  std::string line(999, 'x');
  line += '\n';
  std::vector<std::string> ids;
  for (size_t n = 0; n < 3; ++n) {
    ids.push_back(run_shell("print"));
    for (int i = 0; i < 2; ++i)
      print(n, line);
    ends(n);
  }
  // 6000 bytes were kept by three records; the oldest lost its output.
  EXPECT_LE(sched_state().record_bytes, 4000u);
  auto oldest = status(ids[0]);
  EXPECT_EQ(oldest.output.buffered_bytes, 0u);
  EXPECT_EQ(oldest.output.dropped_bytes, 2000u);
  EXPECT_EQ(oldest.output.dropped_chunks, 2u);
  EXPECT_EQ(status(ids[2]).output.buffered_bytes, 2000u);
}

// -- numbers at their extremes
// ------------------------------------------------------

TEST_F(core_test, a_huge_timeout_never_fires_and_leaves_no_timer) {
  start(10, 5);
  job_spec spec;
  spec.timeout_ms = max_int;
  spec.kill_grace_ms = max_int;
  auto id = run_shell("sleep 1", spec);
  advance_time(std::chrono::hours{24});
  drain();
  EXPECT_TRUE(launcher->signals.empty());
  EXPECT_EQ(status(id).status, job_status::running);
  // A huge grace: SIGTERM now, SIGKILL not within a day.
  auto cancel
    = self->request(sched, caf::infinite, atom::cancel_v, id, max_int);
  drain();
  ASSERT_EQ(launcher->signals.size(), 1u);
  EXPECT_EQ(launcher->signals[0].second, SIGTERM);
  advance_time(std::chrono::hours{24});
  drain();
  EXPECT_EQ(launcher->signals.size(), 1u);
  ends(0, SIGTERM);
  std::move(cancel).receive(
    [](cancel_result& r) { EXPECT_EQ(r.status, job_status::cancelled); },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  // Its last tick fires within max_tick; nothing is armed after that.
  advance_time(max_tick);
  drain();
  EXPECT_FALSE(test_coordinator_fixture<>::sched.has_pending_timeout());
}

TEST_F(core_test, a_wait_timeout_at_the_maximum_is_capped_by_the_server) {
  start(10, 5);
  auto id = run_shell("sleep 1");
  wait_query w;
  w.job_id = id;
  w.timeout_ms = max_int;
  auto req = self->request(sched, caf::infinite, atom::wait_v, w);
  drain();
  advance_time(std::chrono::milliseconds{job_defaults{}.max_wait_ms});
  drain();
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(req).receive(
    [](wait_result& r) { EXPECT_EQ(r.reason, "timeout"); },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

TEST_F(core_test, cleanup_with_the_largest_age_keeps_every_job) {
  start(10, 5);
  auto id = submit_scripted("s", 5, 10, 0);
  advance_time(10ms);
  drain();
  cleanup_query q;
  q.max_age_ms = max_int;
  auto r = ask<cleanup_result>(atom::cleanup_v, q);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cleaned, 0u);
  EXPECT_EQ(status(id).status, job_status::completed);
}

TEST(timing, delays_saturate_instead_of_wrapping) {
  EXPECT_EQ(delay_ms(-5).count(), 0);
  EXPECT_EQ(delay_ms(max_int).count(), max_delay_ms);
  auto now = std::chrono::steady_clock::now();
  EXPECT_GT(deadline_after(now, max_int), now);
  EXPECT_GT(deadline_after(now, std::numeric_limits<int64_t>::max()), now);
}

// -- hostile patterns
// -----------------------------------------------------------

TEST_F(core_test, a_backtracking_bomb_pattern_on_a_long_line_is_answered) {
  start(10, 5);
  auto id = run_shell("print");
  wait_query w;
  w.job_id = id;
  w.until = wait_until::output;
  w.pattern = "(.|\\n)*x";
  w.timeout_ms = 60000;
  auto req = self->request(sched, caf::infinite, atom::wait_v, w);
  drain();
  print(0, std::string(16000, 'a') + "\n");
  EXPECT_TRUE(self->mailbox().empty()); // no x yet, and no crash
  print(0, std::string(16000, 'a') + "x\n");
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(req).receive(
    [](wait_result& r) { EXPECT_EQ(r.reason, "output"); },
    [this](caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

TEST_F(core_test, a_pattern_the_engine_rejects_is_invalid_arguments) {
  start(10, 5);
  auto id = run_shell("print");
  wait_query w;
  w.job_id = id;
  w.until = wait_until::output;
  w.pattern = "(a)\\1";
  auto r = ask<wait_result>(atom::wait_v, w);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::invalid_arguments);
}

// -- listeners
// --------------------------------------------------------------------

TEST_F(core_test, listeners_that_go_or_unsubscribe_hear_nothing_more) {
  start(10, 5);
  EXPECT_EQ(sched_state().listeners.size(), 1u);
  self->send(sched, atom::unsubscribe_v, events);
  drain();
  EXPECT_TRUE(sched_state().listeners.empty());
  auto other = sys.spawn(recorder, size_t{4});
  self->send(sched, atom::subscribe_v, other);
  drain();
  EXPECT_EQ(sched_state().listeners.size(), 1u);
  self->send_exit(other, caf::exit_reason::user_shutdown);
  drain();
  EXPECT_TRUE(sched_state().listeners.empty());
}

TEST_F(core_test,
       a_pending_job_whose_actor_dies_frees_its_place_in_the_session) {
  start(1, 1);
  auto first = submit_scripted("s", 5, 1000, 0);
  auto doomed = submit_scripted("s", 9, 1000, 0); // would be offered next
  auto next = submit_scripted("s", 5, 1000, 0);
  // A queued job is parked (no actor); reading its output gives it one.
  ASSERT_TRUE(ask<output_page>(atom::output_v, doomed, output_query{}));
  ASSERT_TRUE(sched_state().jobs.at(doomed).handle);
  self->send_exit(sched_state().jobs.at(doomed).handle, caf::exit_reason::kill);
  drain();
  EXPECT_EQ(status(doomed).error_code, codes::internal);
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(first).status, job_status::completed);
  EXPECT_EQ(status(next).status, job_status::running);
  // Listeners never saw the dead job start: it leaves the queue count.
  size_t started_doomed = 0;
  for (auto& ev : recorded())
    if (ev.job.id == doomed && ev.what == transition::started)
      ++started_doomed;
  EXPECT_EQ(started_doomed, 0u);
}

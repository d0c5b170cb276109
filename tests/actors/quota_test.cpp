// SCHEDULER's per-session quotas on the deterministic scheduler: jobs
// waiting to start (held ones too), jobs kept, output bytes kept; each
// refuses the session's next job with QUOTA_EXCEEDED and its details,
// leaves nothing behind, never touches another session, and lets the
// session submit again once a job started, ended or was cleaned up.
// Deduplicated submits are never refused; restarts and schedule firings
// are.
#include "fixture.hpp"
#include "schedules_fixture.hpp"

#include <chrono>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

class quota_test : public actor_test {
protected:
  void start_with(size_t max_running, size_t per_session, uint64_t queued,
                  uint64_t retained, uint64_t output_bytes) {
    scheduler_config cfg;
    cfg.max_queued_per_session = queued;
    cfg.max_retained_per_session = retained;
    cfg.max_output_bytes_per_session = output_bytes;
    start(max_running, per_session, 5000, cfg);
  }

  static job_spec scripted(const std::string& session, int ms = 1000) {
    job_spec spec;
    spec.kind = "scripted";
    spec.command = "scripted";
    spec.args = {std::to_string(ms), "0"};
    spec.session_id = session;
    return spec;
  }

  caf::expected<submit_result> try_submit(job_spec spec) {
    return ask<submit_result>(atom::submit_v, std::move(spec));
  }

  /// The refusal of `spec`, which must be refused.
  tool_error refusal(job_spec spec) {
    auto r = try_submit(std::move(spec));
    if (r)
      throw dsl_failure{"submit of " + r->job_id + " was not refused"};
    return to_tool_error(sys, r.error());
  }

  void expect_quota(const tool_error& err, const std::string& quota,
                    uint64_t limit, uint64_t current,
                    const std::string& session) {
    EXPECT_EQ(err.code, codes::quota_exceeded) << err.message;
    EXPECT_EQ(err.details.at("quota"), json_quote(quota));
    EXPECT_EQ(err.details.at("limit"), std::to_string(limit));
    EXPECT_EQ(err.details.at("current"), std::to_string(current));
    EXPECT_EQ(err.details.at("sessionId"), json_quote(session));
  }

  void advance(std::chrono::milliseconds ms) {
    advance_time(ms);
    drain();
  }

  caf::expected<cleanup_result> cleanup(const std::string& session) {
    cleanup_query q;
    q.session_id = session;
    return ask<cleanup_result>(atom::cleanup_v, q);
  }

  /// Submits `/bin/sh -c script` (process kind, fake launcher) in
  /// `session`, plays its spawn and prints `bytes` bytes on its stdout.
  std::string run_printing(const std::string& session, size_t bytes) {
    job_spec spec;
    spec.command = "/bin/sh";
    spec.args = {"-c", "print"};
    spec.session_id = session;
    auto r = try_submit(spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    auto n = launcher->launches.size();
    auto pid = 5000 + static_cast<int64_t>(n);
    launcher->alive.insert(pid);
    auto job = launcher->launches.back().job;
    self->send(job, atom::spawned_v, pid, std::string{"cgroup"});
    drain();
    std::string line(99, 'x');
    line += '\n';
    for (size_t i = 0; i < bytes / line.size(); ++i)
      self->send(job, atom::data_v, stream_kind::out, line);
    drain();
    return r->job_id;
  }

  void end_launch(size_t n) {
    auto job = launcher->launches.at(n).job;
    self->send(job, atom::eof_v, stream_kind::out);
    self->send(job, atom::eof_v, stream_kind::err);
    self->send(job, atom::exited_v, int32_t{0});
    drain();
  }
};

TEST_F(quota_test, queued_quota_refuses_the_job_that_would_wait_beyond_it) {
  start_with(10, 1, 2, 0, 0);
  auto running = try_submit(scripted("s1"));
  ASSERT_TRUE(running);
  EXPECT_EQ(running->status, job_status::running); // not waiting: not counted
  ASSERT_TRUE(try_submit(scripted("s1")));
  ASSERT_TRUE(try_submit(scripted("s1")));
  auto jobs_before = sched_state().jobs.size();
  auto err = refusal(scripted("s1"));
  expect_quota(err, "max_queued_per_session", 2, 2, "s1");
  EXPECT_EQ(err.message,
            "Session s1 has 2 jobs waiting to start; "
            "--max-queued-per-session is 2 (wait for some to start or "
            "cancel some)");
  // Nothing of it is left: no job, no serial, no session count.
  EXPECT_EQ(sched_state().jobs.size(), jobs_before);
  EXPECT_EQ(sched_state().by_serial.size(), jobs_before);
  EXPECT_TRUE(sched_state().admitting->empty());
  // Another session is unaffected: it waits as well, within its own quota.
  for (int i = 0; i < 3; ++i) {
    auto other = try_submit(scripted("s2"));
    ASSERT_TRUE(other) << sys.render(other.error());
  }
  expect_quota(refusal(scripted("s2")), "max_queued_per_session", 2, 2, "s2");
  // The running job ends, one of the two waiting starts: room for one.
  advance(1000ms);
  ASSERT_TRUE(try_submit(scripted("s1")));
  expect_quota(refusal(scripted("s1")), "max_queued_per_session", 2, 2, "s1");
}

TEST_F(quota_test, held_jobs_count_as_waiting_to_start) {
  start_with(10, 5, 1, 0, 0);
  auto first = try_submit(scripted("s1"));
  ASSERT_TRUE(first);
  // Held by its dependency, with slots free: it waits all the same.
  auto held = scripted("s1", 100);
  held.depends_on = {first->job_id};
  auto h = try_submit(held);
  ASSERT_TRUE(h) << sys.render(h.error());
  EXPECT_EQ(h->status, job_status::pending);
  expect_quota(refusal(scripted("s1")), "max_queued_per_session", 1, 1, "s1");
  // So does one with a start time ahead (another session: its own count).
  auto later = scripted("s2", 100);
  later.start_at = now_ms() + 60000;
  ASSERT_TRUE(try_submit(later));
  expect_quota(refusal(scripted("s2")), "max_queued_per_session", 1, 1, "s2");
  // The dependency ends: the held job starts, s1 may submit again.
  advance(1000ms);
  EXPECT_EQ(status(h->job_id).status, job_status::running);
  EXPECT_TRUE(try_submit(scripted("s1")));
}

TEST_F(quota_test, retained_quota_counts_finished_jobs_until_cleaned_up) {
  start_with(10, 5, 0, 3, 0);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(try_submit(scripted("s1", 100)));
  advance(100ms); // all three ended: still kept
  auto err = refusal(scripted("s1"));
  expect_quota(err, "max_retained_per_session", 3, 3, "s1");
  EXPECT_NE(err.message.find("--max-retained-per-session is 3"),
            std::string::npos)
    << err.message;
  EXPECT_TRUE(try_submit(scripted("s2", 100)));
  // Cleaning up another session's jobs frees nothing of s1's.
  auto c = cleanup("s2");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cleaned, 0u); // still running
  advance(100ms);
  ASSERT_TRUE(cleanup("s2"));
  expect_quota(refusal(scripted("s1")), "max_retained_per_session", 3, 3, "s1");
  c = cleanup("s1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cleaned, 3u);
  EXPECT_TRUE(sched_state().session_jobs.count("s1") == 0);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(try_submit(scripted("s1", 100)));
  expect_quota(refusal(scripted("s1")), "max_retained_per_session", 3, 3, "s1");
}

TEST_F(quota_test, submits_still_being_checked_count_against_the_quota) {
  start_with(10, 5, 0, 2, 0);
  // Three at once; SCHEDULER takes all three before any job checked its
  // spec (none is in the index yet): the third is refused all the same.
  auto a = self->request(sched, caf::infinite, atom::submit_v, scripted("s1"));
  auto b = self->request(sched, caf::infinite, atom::submit_v, scripted("s1"));
  auto c = self->request(sched, caf::infinite, atom::submit_v, scripted("s1"));
  auto& coordinator = test_coordinator_fixture<>::sched;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(coordinator.prioritize(sched));
    coordinator.run_once();
  }
  EXPECT_EQ(sched_state().session_jobs.count("s1"), 0u);
  EXPECT_EQ(sched_state().admitting->at("s1"), 2u);
  drain();
  int accepted = 0;
  std::vector<tool_error> refused;
  for (auto* r : {&a, &b, &c})
    std::move(*r).receive(
      [&](submit_result&) { ++accepted; },
      [&](caf::error& e) { refused.push_back(to_tool_error(sys, e)); });
  EXPECT_EQ(accepted, 2);
  ASSERT_EQ(refused.size(), 1u);
  expect_quota(refused[0], "max_retained_per_session", 2, 2, "s1");
  EXPECT_TRUE(sched_state().admitting->empty());
  EXPECT_EQ(sched_state().session_jobs.at("s1").size(), 2u);
}

TEST_F(quota_test, output_quota_counts_finished_and_running_jobs_output) {
  start_with(10, 5, 0, 0, 1000);
  run_printing("s1", 2000);
  end_launch(0);
  EXPECT_EQ(sched_state().jobs.size(), 1u);
  auto err = refusal(scripted("s1"));
  expect_quota(err, "max_output_bytes_per_session", 1000, 2000, "s1");
  EXPECT_NE(err.message.find("--max-output-bytes-per-session is 1000"),
            std::string::npos)
    << err.message;
  // Another session is not touched by s1's output.
  EXPECT_TRUE(try_submit(scripted("s2", 100)));
  // Cleaned up: s1 submits again.
  ASSERT_TRUE(cleanup("s1"));
  EXPECT_TRUE(try_submit(scripted("s1", 100)));
  // A running job's output counts once SCHEDULER heard of it (its
  // progress news); the running job itself goes on.
  auto big = run_printing("s3", 1500);
  EXPECT_TRUE(try_submit(scripted("s3", 100))); // not heard of yet
  advance(100ms);
  // (At least what it printed, as its last news said.)
  auto running = refusal(scripted("s3"));
  EXPECT_EQ(running.code, codes::quota_exceeded);
  EXPECT_EQ(running.details.at("quota"),
            json_quote("max_output_bytes_per_session"));
  EXPECT_GE(std::stoull(running.details.at("current")), 1500u);
  EXPECT_EQ(status(big).status, job_status::running);
}

TEST_F(quota_test, a_deduplicated_submit_is_never_refused) {
  start_with(10, 5, 0, 1, 0);
  auto spec = scripted("s1");
  spec.idempotency_key = "once";
  auto first = try_submit(spec);
  ASSERT_TRUE(first);
  auto again = try_submit(spec);
  ASSERT_TRUE(again) << sys.render(again.error());
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->job_id, first->job_id);
  // A new key is a new job: refused.
  spec.idempotency_key = "twice";
  expect_quota(refusal(spec), "max_retained_per_session", 1, 1, "s1");
  // ... and its key is free again, not held by the refusal.
  EXPECT_EQ(sched_state().idempotent.count(idempotency_slot_key("s1", "twice")),
            0u);
}

TEST_F(quota_test, a_restart_is_a_new_job_and_is_refused_at_the_quota) {
  start_with(10, 5, 0, 1, 0);
  auto first = try_submit(scripted("s1", 100));
  ASSERT_TRUE(first);
  advance(100ms);
  auto r
    = ask<submit_result>(atom::start_v, restart_request{first->job_id, false});
  ASSERT_FALSE(r);
  expect_quota(to_tool_error(sys, r.error()), "max_retained_per_session", 1, 1,
               "s1");
}

TEST_F(quota_test, no_quota_by_default) {
  start(1, 1);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(try_submit(scripted("s1")));
  EXPECT_EQ(sched_state().session_jobs.at("s1").size(), 20u);
}

// A schedule's firing goes through the same admission: refused, it is the
// schedule's lastError, and the schedule goes on.
class quota_schedules_test : public schedules_test {};

TEST_F(quota_schedules_test, a_refused_firing_is_the_schedules_last_error) {
  start_all();
  sched_state().config.max_retained_per_session = 1;
  auto info = create(every("* * * * *", scripted_job(1)));
  auto id = info.spec.id;
  advance(std::chrono::milliseconds{minute_ms + 1000});
  EXPECT_EQ(jobs_of(id).size(), 1u);
  EXPECT_TRUE(get(id).last_error.empty()) << get(id).last_error;
  advance(std::chrono::milliseconds{minute_ms});
  auto s = get(id);
  EXPECT_EQ(jobs_of(id).size(), 1u);
  EXPECT_EQ(s.last_error.rfind(codes::quota_exceeded, 0), 0u) << s.last_error;
  EXPECT_TRUE(s.enabled);
  // Cleaned up: the next firing submits again.
  ASSERT_TRUE(ask<cleanup_result>(atom::cleanup_v, cleanup_query{}));
  advance(std::chrono::milliseconds{minute_ms});
  EXPECT_EQ(jobs_of(id).size(), 1u); // the new one (the old one is gone)
  EXPECT_EQ(get(id).fired, 2u);
}

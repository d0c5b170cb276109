// Retries (options.retry) on the deterministic scheduler: the JOB core's
// attempts (backoff, jitter, which endings are retried, the attempts list,
// output chunks per attempt, cancel between attempts) and SCHEDULER's part
// (a retrying job frees its slot, waits out its backoff, queues again).
#include "fixture.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <vector>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

constexpr int64_t attempt_pgid = 5150;

retry_policy policy(int32_t max_attempts, int64_t backoff, double factor,
                    int64_t cap, bool jitter = false) {
  retry_policy p;
  p.max_attempts = max_attempts;
  p.backoff_ms = backoff;
  p.backoff_factor = factor;
  p.max_backoff_ms = cap;
  p.jitter = jitter;
  return p;
}

} // namespace

class attempts_test : public actor_test {
protected:
  std::string submit(job_spec spec) {
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    return r->job_id;
  }

  /// A scripted job of `ms` ending with `exit_code` on every attempt.
  std::string scripted(int ms, int exit_code, retry_policy p,
                       const std::string& session = "s") {
    job_spec spec;
    spec.kind = "scripted";
    spec.command = "scripted";
    spec.args = {std::to_string(ms), std::to_string(exit_code)};
    spec.session_id = session;
    spec.retry = std::move(p);
    return submit(spec);
  }

  /// A process job on the fake launcher (each attempt is a launch).
  std::string process(retry_policy p, int64_t timeout_ms = 0) {
    job_spec spec;
    spec.command = "/bin/sh";
    spec.args = {"-c", "true"};
    spec.timeout_ms = timeout_ms;
    spec.retry = std::move(p);
    return submit(spec);
  }

  /// Plays launch `n`'s spawn.
  void spawned(size_t n) {
    ASSERT_GT(launcher->launches.size(), n);
    launcher->alive.insert(attempt_pgid + static_cast<int64_t>(n));
    self->send(launcher->launches[n].job, atom::spawned_v,
               attempt_pgid + static_cast<int64_t>(n), std::string{"cgroup"});
    drain();
  }

  void print(size_t n, const std::string& text) {
    self->send(launcher->launches.at(n).job, atom::data_v, stream_kind::out,
               text);
    drain();
  }

  void ends(size_t n, int32_t status) {
    auto job = launcher->launches.at(n).job;
    self->send(job, atom::eof_v, stream_kind::out);
    self->send(job, atom::eof_v, stream_kind::err);
    self->send(job, atom::exited_v, status);
    drain();
  }

  void advance(std::chrono::milliseconds ms) {
    advance_time(ms);
    drain();
  }

  size_t count(transition what) {
    size_t n = 0;
    for (auto& ev : recorded())
      if (ev.what == what)
        ++n;
    return n;
  }
};

TEST_F(attempts_test, backoff_doubles_up_to_the_cap_and_the_last_attempt_ends) {
  start(10, 5);
  auto id = scripted(100, 3, policy(4, 1000, 2, 3000));
  wait_query w;
  w.job_id = id;
  w.timeout_ms = 60000;
  auto wait = self->request(sched, caf::infinite, atom::wait_v, w);
  drain();
  const int64_t delays[] = {1000, 2000, 3000};
  for (int n = 1; n <= 3; ++n) {
    auto info = status(id);
    ASSERT_EQ(info.status, job_status::running) << n;
    EXPECT_EQ(info.attempt, n);
    advance(100ms);
    info = status(id);
    ASSERT_EQ(info.status, job_status::pending) << n;
    EXPECT_EQ(info.pending_reason, pending_reasons::backoff);
    EXPECT_EQ(info.attempt, n);
    EXPECT_EQ(info.queue_position, 0u);
    ASSERT_EQ(info.attempts.size(), static_cast<size_t>(n));
    auto& last = info.attempts.back();
    EXPECT_EQ(last.attempt, n);
    EXPECT_EQ(last.status, "failed");
    EXPECT_EQ(last.exit_code, 3);
    EXPECT_EQ(info.next_attempt_at - last.finished_at, delays[n - 1]);
    EXPECT_EQ(info.exit_code, -1); // the next attempt's fields are fresh
    // A wait until exit answers on the final end only.
    EXPECT_TRUE(self->mailbox().empty());
    EXPECT_EQ(sched_state().running, 0u);
    // Not a moment before its time.
    advance(std::chrono::milliseconds{delays[n - 1] - 1});
    EXPECT_EQ(status(id).status, job_status::pending);
    advance(1ms);
  }
  auto info = status(id);
  ASSERT_EQ(info.status, job_status::running);
  EXPECT_EQ(info.attempt, 4);
  advance(100ms);
  ASSERT_FALSE(self->mailbox().empty());
  std::move(wait).receive(
    [](wait_result& r) {
      EXPECT_EQ(r.reason, "exit");
      EXPECT_EQ(r.job.status, job_status::failed);
    },
    [](caf::error&) { ADD_FAILURE() << "the wait failed"; });
  info = status(id);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.exit_code, 3);
  EXPECT_EQ(info.attempt, 4);
  EXPECT_EQ(info.max_attempts, 4);
  ASSERT_EQ(info.attempts.size(), 4u);
  for (int n = 0; n < 4; ++n)
    EXPECT_EQ(info.attempts[n].attempt, n + 1);
  EXPECT_TRUE(info.pending_reason.empty());
  EXPECT_EQ(info.next_attempt_at, 0);
  EXPECT_EQ(count(transition::retrying), 3u);
  EXPECT_EQ(count(transition::started), 4u);
  EXPECT_EQ(count(transition::finished), 1u);
}

TEST_F(attempts_test, a_later_attempt_that_succeeds_ends_the_job_completed) {
  start(10, 5);
  auto id = process(policy(5, 500, 2, 60000));
  spawned(0);
  print(0, "one\n");
  ends(0, 1 << 8);
  EXPECT_EQ(status(id).status, job_status::pending);
  EXPECT_EQ(launcher->launches.size(), 1u);
  advance(500ms);
  // A new backend: a second launch under the same job id.
  ASSERT_EQ(launcher->launches.size(), 2u);
  spawned(1);
  print(1, "two\n");
  ends(1, 0);
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::completed);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_EQ(info.attempt, 2);
  ASSERT_EQ(info.attempts.size(), 2u);
  EXPECT_EQ(info.attempts[0].status, "failed");
  EXPECT_EQ(info.attempts[0].exit_code, 1);
  EXPECT_EQ(info.attempts[1].status, "completed");
  EXPECT_GT(info.attempts[1].started_at, 0);
  // Chunks tell their attempt; sequence numbers go on across attempts.
  auto page = ask<output_page>(atom::output_v, id, output_query{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->chunks.size(), 2u);
  EXPECT_EQ(page->chunks[0].content, "one\n");
  EXPECT_EQ(page->chunks[0].attempt, 1);
  EXPECT_EQ(page->chunks[1].content, "two\n");
  EXPECT_EQ(page->chunks[1].attempt, 2);
  EXPECT_EQ(page->chunks[1].sequence, page->chunks[0].sequence + 1);
}

TEST_F(attempts_test, jitter_draws_stay_within_the_backoff_with_a_fixed_seed) {
  scheduler_config cfg;
  cfg.defaults.retry_seed = 4242;
  start(10, 5, 5000, cfg);
  auto id = scripted(10, 1, policy(40, 1000, 1, 1000, true));
  std::vector<int64_t> delays;
  for (int n = 1; n < 40; ++n) {
    advance(10ms);
    auto info = status(id);
    ASSERT_EQ(info.status, job_status::pending) << n;
    auto d = info.next_attempt_at - info.attempts.back().finished_at;
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 1000);
    delays.push_back(d);
    advance(1000ms);
    ASSERT_EQ(status(id).status, job_status::running) << n;
  }
  advance(10ms);
  EXPECT_EQ(status(id).status, job_status::failed);
  // Drawn, not constant.
  auto [lo, hi] = std::minmax_element(delays.begin(), delays.end());
  EXPECT_LT(*lo, 300);
  EXPECT_GT(*hi, 700);
}

// Each job seeds its own jitter source from retry_seed on its first draw:
// two jobs with the same seed and policy wait the same backoffs.
TEST_F(attempts_test, a_fixed_seed_gives_every_job_the_same_jitter_draws) {
  scheduler_config cfg;
  cfg.defaults.retry_seed = 77;
  start(10, 5, 5000, cfg);
  auto p = policy(6, 1000, 1, 1000, true);
  auto a = scripted(10, 1, p, "a");
  auto b = scripted(10, 1, p, "b");
  std::vector<int64_t> seen[2];
  for (int n = 1; n < 6; ++n) {
    advance(10ms);
    for (int k = 0; k < 2; ++k) {
      auto info = status(k == 0 ? a : b);
      ASSERT_EQ(info.status, job_status::pending) << n;
      seen[k].push_back(info.next_attempt_at
                        - info.attempts.back().finished_at);
    }
    advance(1000ms);
  }
  EXPECT_EQ(seen[0], seen[1]);
  // Drawn, not one value over and over.
  EXPECT_NE(*std::min_element(seen[0].begin(), seen[0].end()),
            *std::max_element(seen[0].begin(), seen[0].end()));
}

TEST_F(attempts_test, exit_codes_retry_only_the_listed_codes) {
  start(10, 5);
  auto p = policy(3, 100, 2, 1000);
  p.exit_codes = {75};
  auto other = scripted(100, 1, p);
  auto listed = scripted(100, 75, p);
  advance(100ms);
  auto info = status(other);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.attempt, 1);
  ASSERT_EQ(info.attempts.size(), 1u); // the final attempt is listed
  EXPECT_EQ(status(listed).status, job_status::pending);
  advance(100ms);
  advance(100ms);
  advance(200ms);
  advance(100ms);
  info = status(listed);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.attempt, 3);
  EXPECT_EQ(info.attempts.size(), 3u);
}

TEST_F(attempts_test, on_timeout_only_retries_a_timeout_not_a_failure) {
  start(10, 5, 0);
  auto p = policy(3, 100, 2, 1000);
  p.on_failure = false;
  p.on_timeout = true;
  auto failing = scripted(100, 1, p);
  advance(100ms);
  EXPECT_EQ(status(failing).status, job_status::failed);
  EXPECT_EQ(status(failing).attempt, 1);
  auto id = process(p, 1000);
  ASSERT_EQ(launcher->launches.size(), 1u);
  spawned(0);
  advance(1000ms); // the timeout: SIGKILL at once (grace 0)
  ASSERT_FALSE(launcher->signals.empty());
  EXPECT_EQ(launcher->signals.back().second, SIGKILL);
  ends(0, SIGKILL);
  auto info = status(id);
  ASSERT_EQ(info.status, job_status::pending);
  ASSERT_EQ(info.attempts.size(), 1u);
  EXPECT_EQ(info.attempts[0].error_code, codes::timeout);
  advance(100ms);
  ASSERT_EQ(launcher->launches.size(), 2u);
  spawned(1);
  // A fresh timeout for the new attempt.
  advance(999ms);
  EXPECT_EQ(status(id).status, job_status::running);
  ends(1, 2 << 8); // a failure: not retried with on: ["timeout"]
  info = status(id);
  EXPECT_EQ(info.status, job_status::failed);
  EXPECT_EQ(info.exit_code, 2);
  EXPECT_EQ(info.attempt, 2);
  ASSERT_EQ(info.attempts.size(), 2u);
  EXPECT_EQ(info.attempts[1].exit_code, 2);
}

TEST_F(attempts_test, cancel_between_attempts_ends_it_cancelled) {
  start(10, 5);
  auto id = scripted(100, 1, policy(5, 1000, 2, 60000));
  advance(100ms);
  ASSERT_EQ(status(id).status, job_status::pending);
  auto c = ask<cancel_result>(atom::cancel_v, id, int64_t{0});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, job_status::cancelled);
  advance(5000ms);
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::cancelled);
  EXPECT_EQ(info.error_code, codes::cancelled);
  EXPECT_EQ(info.attempt, 1);
  EXPECT_EQ(info.attempts.size(), 1u); // no attempt ran after
  EXPECT_EQ(count(transition::started), 1u);
  EXPECT_EQ(sched_state().running, 0u);
  EXPECT_TRUE(sched_state().held.empty());
}

TEST_F(attempts_test, cancel_during_an_attempt_is_not_retried) {
  start(10, 5);
  auto id = process(policy(5, 100, 2, 60000));
  spawned(0);
  auto c = self->request(sched, caf::infinite, atom::cancel_v, id, int64_t{0});
  drain();
  ends(0, SIGKILL);
  ASSERT_FALSE(self->mailbox().empty());
  std::move(c).receive(
    [](cancel_result& r) { EXPECT_EQ(r.status, job_status::cancelled); },
    [](caf::error&) { ADD_FAILURE() << "the cancel failed"; });
  advance(1000ms);
  EXPECT_EQ(status(id).status, job_status::cancelled);
  EXPECT_EQ(launcher->launches.size(), 1u);
}

TEST_F(attempts_test, a_retrying_job_frees_its_slot_for_another) {
  start(1, 1);
  auto retried = scripted(100, 1, policy(2, 1000, 2, 60000));
  auto other = scripted(5000, 0, retry_policy{});
  EXPECT_EQ(status(other).status, job_status::pending);
  EXPECT_EQ(status(other).queue_position, 1u);
  advance(100ms);
  // The other job took the slot while the first backs off.
  EXPECT_EQ(status(other).status, job_status::running);
  EXPECT_EQ(status(retried).status, job_status::pending);
  EXPECT_EQ(sched_state().running, 1u);
  advance(1000ms);
  // Due, but the slot is taken: queued like any pending job.
  auto info = status(retried);
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.pending_reason, pending_reasons::queued);
  EXPECT_EQ(info.queue_position, 1u);
  advance(4000ms);
  EXPECT_EQ(status(other).status, job_status::completed);
  EXPECT_EQ(status(retried).status, job_status::running);
  EXPECT_EQ(status(retried).attempt, 2);
  advance(100ms);
  EXPECT_EQ(status(retried).status, job_status::failed);
  EXPECT_EQ(sched_state().running, 0u);
  // Listeners heard the retry (with the job pending again).
  bool heard = false;
  for (auto& ev : recorded())
    if (ev.what == transition::retrying && ev.job.id == retried) {
      heard = true;
      EXPECT_EQ(ev.previous, job_status::running);
      EXPECT_EQ(ev.job.status, job_status::pending);
      EXPECT_GT(ev.job.next_attempt_at, 0);
    }
  EXPECT_TRUE(heard);
}

TEST_F(attempts_test, a_requeued_job_in_backoff_waits_out_the_rest) {
  start(10, 5);
  requeued_job r;
  r.spec.kind = "scripted";
  r.spec.command = "scripted";
  r.spec.args = {"100", "0"};
  r.spec.session_id = "s";
  r.spec.retry = policy(3, 1000, 2, 60000);
  r.info.id = "job-90001-abcde";
  r.info.serial = 90001;
  r.info.created_at = now_ms() - 10000;
  r.info.status = job_status::pending;
  r.info.attempt = 1;
  attempt_record first;
  first.attempt = 1;
  first.started_at = now_ms() - 9000;
  first.finished_at = now_ms() - 8000;
  first.status = "failed";
  first.exit_code = 1;
  r.info.attempts = {first};
  r.info.next_attempt_at = now_ms() + 5000;
  requeue_list list;
  list.jobs.push_back(r);
  self->send(sched, list);
  drain();
  auto info = status(r.info.id);
  ASSERT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.pending_reason, pending_reasons::backoff);
  EXPECT_EQ(info.attempt, 1);
  EXPECT_EQ(info.queue_position, 0u);
  advance(4000ms);
  EXPECT_EQ(status(r.info.id).status, job_status::pending);
  advance(1200ms);
  info = status(r.info.id);
  ASSERT_EQ(info.status, job_status::running);
  EXPECT_EQ(info.attempt, 2);
  advance(100ms);
  info = status(r.info.id);
  EXPECT_EQ(info.status, job_status::completed);
  ASSERT_EQ(info.attempts.size(), 2u);
  EXPECT_EQ(info.attempts[0].exit_code, 1);
  EXPECT_EQ(info.attempts[1].attempt, 2);
}

// METRICS' counters of this instance on the deterministic scheduler: job
// attempts started (the spawn rate of /metrics) and the output bytes jobs
// produced, counted once whatever order events and output news come in,
// and kept when the STORE's history replaces the other figures.
#include "fixture.hpp"

#include "actors/metrics.hpp"
#include "actors/store/job_store.hpp"
#include "actors/store/store_actor.hpp"

#include <chrono>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace metrics_test_detail {

constexpr int64_t metrics_pgid = 6160;

retry_policy retries(int32_t max_attempts, int64_t backoff_ms) {
  retry_policy p;
  p.max_attempts = max_attempts;
  p.backoff_ms = backoff_ms;
  p.backoff_factor = 1;
  p.max_backoff_ms = backoff_ms;
  p.jitter = false;
  return p;
}

output_stats bytes(uint64_t out, uint64_t err = 0) {
  output_stats o;
  o.stdout_bytes = out;
  o.stderr_bytes = err;
  return o;
}

class metrics_test : public actor_test {
protected:
  /// METRICS, subscribed to SCHEDULER (started with `start` first) unless
  /// `subscribe` is false.
  void spawn_metrics(store_actor kept = {}, bool subscribe = true) {
    stats = sys.spawn(metrics, uint64_t{10}, uint64_t{10}, std::move(kept),
                      std::vector<std::string>{});
    if (subscribe)
      self->send(sched, atom::subscribe_v, event_listener{stats});
    drain();
  }

  void TearDown() override {
    if (stats)
      self->send_exit(stats, caf::exit_reason::user_shutdown);
    actor_test::TearDown();
    if (store_h)
      self->send_exit(store_h, caf::exit_reason::user_shutdown);
    drain();
  }

  metrics_snapshot snapshot() {
    auto req = self->request(stats, caf::infinite, atom::metrics_v);
    drain();
    metrics_snapshot m;
    std::move(req).receive([&](metrics_snapshot& x) { m = std::move(x); },
                           [](caf::error&) { ADD_FAILURE() << "no metrics"; });
    return m;
  }

  metrics_state& stats_state() {
    return deref<metrics_actor::stateful_base<metrics_state>>(stats).state;
  }

  std::string submit(job_spec spec) {
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    return r->job_id;
  }

  /// A scripted job: `ms` of actor time, prints "scripted\n" (9 bytes) at
  /// the end of each attempt.
  std::string scripted(int ms, int exit_code, retry_policy p = {}) {
    job_spec spec;
    spec.kind = "scripted";
    spec.command = "scripted";
    spec.args = {std::to_string(ms), std::to_string(exit_code)};
    spec.retry = std::move(p);
    return submit(spec);
  }

  /// A process job on the fake launcher, spawned (launch `n`).
  std::string process(size_t n) {
    job_spec spec;
    spec.command = "/bin/sh";
    spec.args = {"-c", "true"};
    auto id = submit(spec);
    EXPECT_EQ(launcher->launches.size(), n + 1);
    launcher->alive.insert(metrics_pgid + static_cast<int64_t>(n));
    self->send(launcher->launches.at(n).job, atom::spawned_v,
               metrics_pgid + static_cast<int64_t>(n), std::string{"cgroup"});
    drain();
    return id;
  }

  void print(size_t n, stream_kind s, const std::string& text) {
    self->send(launcher->launches.at(n).job, atom::data_v, s, text);
    drain();
  }

  void ends(size_t n, int32_t status = 0) {
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

  /// An event for METRICS alone (no SCHEDULER behind it).
  void tell(transition what, job_status previous, job_status now,
            output_stats out) {
    job_event ev;
    ev.what = what;
    ev.previous = previous;
    ev.job.id = "job-x";
    ev.job.session_id = "s";
    ev.job.status = now;
    ev.job.output = out;
    self->send(stats, atom::event_v, ev);
    drain();
  }

  void news(output_stats out, const std::string& id = "job-x") {
    self->send(stats, atom::output_v, output_news{id, "s", out, {}});
    drain();
  }

  metrics_actor stats;
  store_actor store_h;
};

TEST_F(metrics_test, started_jobs_and_their_output_are_counted) {
  start(1, 1);
  spawn_metrics();
  scripted(10, 0);
  auto waiting = scripted(10, 0);
  // A job cancelled before it started never counts as started.
  ASSERT_TRUE(ask<cancel_result>(atom::cancel_v, waiting, int64_t{0}));
  scripted(10, 1);
  auto m = snapshot();
  EXPECT_EQ(m.started_jobs, 1u);
  EXPECT_EQ(m.output_bytes, 0u);
  advance(10ms);
  advance(10ms);
  m = snapshot();
  EXPECT_EQ(m.started_jobs, 2u);
  EXPECT_EQ(m.output_bytes, 18u); // "scripted\n" twice
  EXPECT_EQ(m.completed_jobs, 1u);
  EXPECT_EQ(m.failed_jobs, 1u);
  EXPECT_EQ(m.cancelled_jobs, 1u);
  EXPECT_TRUE(stats_state().live_output.empty());
  // Removing the jobs takes nothing away: these are counters.
  ASSERT_TRUE(ask<cleanup_result>(atom::cleanup_v, cleanup_query{}));
  m = snapshot();
  EXPECT_EQ(m.retained_jobs, 0u);
  EXPECT_EQ(m.started_jobs, 2u);
  EXPECT_EQ(m.output_bytes, 18u);
}

TEST_F(metrics_test, every_attempt_is_a_start_and_its_output_counts_once) {
  start(10, 10);
  spawn_metrics();
  auto id = scripted(50, 2, retries(3, 100));
  advance(50ms);  // attempt 1 fails
  advance(100ms); // backoff, attempt 2 starts
  EXPECT_EQ(snapshot().started_jobs, 2u);
  EXPECT_EQ(snapshot().output_bytes, 9u);
  advance(50ms);
  advance(100ms);
  advance(50ms); // attempt 3 fails: the job ends
  auto info = status(id);
  ASSERT_EQ(info.status, job_status::failed);
  ASSERT_EQ(info.attempt, 3);
  auto m = snapshot();
  EXPECT_EQ(m.started_jobs, 3u);
  EXPECT_EQ(m.retries, 2u);
  EXPECT_EQ(m.output_bytes, 27u);
  EXPECT_EQ(m.output_bytes,
            info.output.stdout_bytes + info.output.stderr_bytes);
  EXPECT_TRUE(stats_state().live_output.empty());
}

TEST_F(metrics_test, output_of_running_jobs_counts_as_it_grows) {
  start(10, 10);
  spawn_metrics();
  process(0);
  process(1);
  EXPECT_EQ(snapshot().started_jobs, 2u);
  print(0, stream_kind::out, std::string(1000, 'a'));
  print(1, stream_kind::err, std::string(300, 'b'));
  advance(100ms); // the jobs' output news reach METRICS
  EXPECT_EQ(snapshot().output_bytes, 1300u);
  EXPECT_EQ(stats_state().live_output.size(), 2u);
  print(0, stream_kind::err, std::string(20, 'c'));
  advance(100ms);
  EXPECT_EQ(snapshot().output_bytes, 1320u);
  // The last bytes arrive with the end, before any news tells of them.
  print(0, stream_kind::out, "xyz");
  ends(0);
  EXPECT_EQ(snapshot().output_bytes, 1323u);
  EXPECT_EQ(stats_state().live_output.size(), 1u);
  advance(100ms);
  ends(1, 9 << 8);
  auto m = snapshot();
  EXPECT_EQ(m.output_bytes, 1323u);
  EXPECT_EQ(m.started_jobs, 2u);
  EXPECT_TRUE(stats_state().live_output.empty());
}

TEST_F(metrics_test, late_stale_and_unknown_news_add_nothing) {
  start(1, 1);
  spawn_metrics({}, false);
  news(bytes(500)); // a job METRICS never saw start
  EXPECT_EQ(snapshot().output_bytes, 0u);
  tell(transition::created, job_status::pending, job_status::pending, {});
  tell(transition::started, job_status::pending, job_status::running, {});
  news(bytes(100, 20));
  news(bytes(90)); // older than what was seen
  EXPECT_EQ(snapshot().output_bytes, 120u);
  tell(transition::retrying, job_status::running, job_status::pending,
       bytes(150, 20));
  EXPECT_EQ(snapshot().output_bytes, 170u);
  tell(transition::started, job_status::pending, job_status::running,
       bytes(150, 20));
  news(bytes(180, 20));
  tell(transition::finished, job_status::running, job_status::completed,
       bytes(200, 25));
  auto m = snapshot();
  EXPECT_EQ(m.output_bytes, 225u);
  EXPECT_EQ(m.started_jobs, 2u);
  news(bytes(400, 25)); // after its end: not counted again
  EXPECT_EQ(snapshot().output_bytes, 225u);
  EXPECT_TRUE(stats_state().live_output.empty());
  // A job whose start was never announced counts its output at its end.
  job_event ev;
  ev.what = transition::finished;
  ev.job.id = "job-y";
  ev.job.status = job_status::failed;
  ev.job.output = bytes(7, 3);
  self->send(stats, atom::event_v, ev);
  drain();
  EXPECT_EQ(snapshot().output_bytes, 235u);
  EXPECT_EQ(snapshot().started_jobs, 2u);
}

TEST_F(metrics_test, the_store_history_leaves_this_instance_counters) {
  store_options opts;
  opts.ephemeral = true;
  auto db = std::make_shared<job_store>(opts);
  scheduler_config cfg;
  cfg.instance = db->instance();
  cfg.first_serial = db->reserve_serials(uint64_t{1} << 40);
  cfg.serial_end = cfg.first_serial + (uint64_t{1} << 40);
  store_h
    = sys.spawn(store, db, int64_t{60000}, int64_t{86400000}, std::string{});
  cfg.store = store_h;
  start(10, 10, 5000, cfg);
  spawn_metrics(store_h);
  scripted(10, 0);
  scripted(10, 0);
  advance(10ms);
  auto m = snapshot();
  EXPECT_EQ(m.persistence, "ephemeral");
  EXPECT_EQ(m.total_jobs, 2u);
  EXPECT_EQ(m.completed_jobs, 2u);
  EXPECT_EQ(m.started_jobs, 2u);
  EXPECT_EQ(m.output_bytes, 18u);
}

} // namespace metrics_test_detail

// METRICS' usage totals (issue 11) on a real actor system: from `finished`
// events with known usage, per session and overall, taken away on
// `removed`; with a STORE, the store's totals replace them (never added to
// them, so this instance's jobs are not counted twice). The STORE's `spec`
// and `find` calls.
#include "actors/metrics.hpp"
#include "actors/store/store_actor.hpp"

#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <memory>

using namespace jobd;
using namespace jobd::test;

namespace {

job_info finished(uint64_t serial, std::string session, int64_t user,
                  int64_t sys, int64_t rss, bool known = true) {
  job_info j;
  j.serial = serial;
  j.id = "job-" + std::to_string(serial) + "-m";
  j.kind = "process";
  j.command = "true";
  j.session_id = std::move(session);
  j.status = job_status::completed;
  j.created_at = 1;
  j.started_at = 2;
  j.finished_at = 12;
  j.run_ms = 10;
  j.usage.known = known;
  j.usage.cpu_user_ms = user;
  j.usage.cpu_system_ms = sys;
  j.usage.max_rss_kb = rss;
  return j;
}

// The events METRICS hears for one job that ran and finished.
void play(caf::scoped_actor& self, const metrics_actor& m, const job_info& j) {
  auto pending = j;
  pending.status = job_status::pending;
  self->send(m, atom::event_v,
             job_event{transition::created, job_status::pending, pending, {}});
  auto running = j;
  running.status = job_status::running;
  self->send(m, atom::event_v,
             job_event{transition::started, job_status::pending, running, {}});
  self->send(m, atom::event_v,
             job_event{transition::finished, job_status::running, j, {}});
}

} // namespace

TEST_F(actor_system_test, MetricsCountsUsageOfTheJobsHeldNow) {
  auto m = sys.spawn(metrics, uint64_t{4}, uint64_t{2}, store_actor{},
                     std::vector<std::string>{});
  play(self, m, finished(1, "a", 100, 10, 5000));
  play(self, m, finished(2, "a", 50, 5, 9000));
  play(self, m, finished(3, "b", 7, 1, 300));
  play(self, m, finished(4, "b", 999, 999, 99999, false)); // unknown
  auto snap = ask<metrics_snapshot>(m, atom::metrics_v);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->usage.jobs, 3u);
  EXPECT_EQ(snap->usage.cpu_user_ms, 157);
  EXPECT_EQ(snap->usage.cpu_system_ms, 16);
  EXPECT_EQ(snap->usage.run_ms, 30);
  EXPECT_EQ(snap->usage.max_rss_kb, 9000);
  auto a = session_of(*snap, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->usage.jobs, 2u);
  EXPECT_EQ(a->usage.cpu_user_ms, 150);
  EXPECT_EQ(a->usage.max_rss_kb, 9000);
  auto b = session_of(*snap, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->usage.jobs, 1u);
  EXPECT_EQ(b->usage.cpu_system_ms, 1);
  // Removed jobs leave the totals; a session with no counted job left has
  // none (its largest RSS too).
  auto gone = finished(3, "b", 7, 1, 300);
  self->send(m, atom::event_v,
             job_event{transition::removed, job_status::completed, gone, {}});
  gone = finished(1, "a", 100, 10, 5000);
  self->send(m, atom::event_v,
             job_event{transition::removed, job_status::completed, gone, {}});
  snap = ask<metrics_snapshot>(m, atom::metrics_v);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->usage.jobs, 1u);
  EXPECT_EQ(snap->usage.cpu_user_ms, 50);
  EXPECT_EQ(snap->usage.run_ms, 10);
  a = session_of(*snap, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->usage.jobs, 1u);
  EXPECT_EQ(a->usage.cpu_system_ms, 5);
  b = session_of(*snap, "b");
  ASSERT_NE(b, nullptr); // job 4 is still held
  EXPECT_EQ(b->usage.jobs, 0u);
  EXPECT_EQ(b->usage.max_rss_kb, 0);
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_F(actor_system_test, MetricsTakesTheStoresUsageWithoutCountingTwice) {
  store_options opts;
  opts.ephemeral = true;
  auto db = std::make_shared<job_store>(opts);
  auto st
    = sys.spawn(store, db, int64_t{1000}, int64_t{86400000}, std::string{});
  auto m = sys.spawn(metrics, uint64_t{4}, uint64_t{2}, st,
                     std::vector<std::string>{});
  // Jobs 1-3 are this instance's (METRICS hears them); job 4 another
  // instance's (only in the store).
  for (uint64_t s = 1; s <= 4; ++s) {
    auto j = finished(s, s == 3 ? "b" : s == 4 ? "c" : "a", 10 * s, s, 100 * s);
    auto p = j;
    p.status = job_status::pending;
    job_spec spec;
    spec.command = j.command;
    spec.session_id = j.session_id;
    self->send(st, atom::submit_v, p, spec);
    self->send(st, atom::event_v, j); // the finished row
    if (s <= 3)
      play(self, m, j); // and what METRICS hears of it
  }
  auto snap = ask<metrics_snapshot>(m, atom::metrics_v);
  ASSERT_TRUE(snap);
  // The store's figures: all four, each once (ours alone: 3; both: 7).
  EXPECT_EQ(snap->usage.jobs, 4u);
  EXPECT_EQ(snap->usage.cpu_user_ms, 100);
  EXPECT_EQ(snap->usage.cpu_system_ms, 10);
  EXPECT_EQ(snap->usage.run_ms, 40);
  EXPECT_EQ(snap->usage.max_rss_kb, 400);
  ASSERT_NE(session_of(*snap, "c"), nullptr);
  EXPECT_EQ(session_of(*snap, "c")->usage.jobs, 1u);
  auto a = session_of(*snap, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->usage.jobs, 2u);
  EXPECT_EQ(a->usage.cpu_user_ms, 30);
  EXPECT_EQ(a->usage.max_rss_kb, 200);
  self->send_exit(m, caf::exit_reason::user_shutdown);
  self->send_exit(st, caf::exit_reason::user_shutdown);
}

TEST_F(actor_system_test, StoreAnswersSpecAndFind) {
  store_options opts;
  opts.ephemeral = true;
  auto db = std::make_shared<job_store>(opts);
  auto st
    = sys.spawn(store, db, int64_t{1000}, int64_t{86400000}, std::string{});
  auto j = finished(1, "a", 1, 1, 1);
  j.idempotency_key = "k";
  auto p = j;
  p.status = job_status::pending;
  job_spec spec;
  spec.command = "true";
  spec.session_id = "a";
  spec.environment["X"] = "y";
  spec.idempotency_key = "k";
  // Both calls see the writes sent before them (pending ones committed).
  self->send(st, atom::submit_v, p, spec);
  self->send(st, atom::event_v, j);
  auto s = ask<job_spec>(st, atom::spec_v, j.id);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->environment.at("X"), "y");
  auto id
    = ask<std::string>(st, atom::find_v, std::string{"a"}, std::string{"k"});
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, j.id);
  id = ask<std::string>(st, atom::find_v, std::string{"b"}, std::string{"k"});
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "");
  auto missing = ask<job_spec>(st, atom::spec_v, std::string{"job-9-x"});
  ASSERT_FALSE(missing);
  auto err = to_tool_error(sys, missing.error());
  EXPECT_EQ(err.code, codes::job_not_found);
  EXPECT_EQ(err.details.at("jobId"), "\"job-9-x\"");
  self->send_exit(st, caf::exit_reason::user_shutdown);
}

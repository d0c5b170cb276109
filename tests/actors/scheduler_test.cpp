// Admission on the deterministic scheduler: priorities, the global and
// per-session limits, head-of-line blocking, cancel of pending jobs, and job
// kinds plugged in through the factory.
#include "fixture.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

// The most jobs that ever ran at once, overall and per session, from the
// recorded lifecycle events.
struct concurrency {
  size_t overall = 0;
  std::map<std::string, size_t> per_session;
};

concurrency peak(const std::vector<job_event>& events) {
  concurrency peak;
  size_t now = 0;
  std::map<std::string, size_t> by_session;
  for (auto& ev : events) {
    auto& s = by_session[ev.job.session_id];
    if (ev.what == transition::started) {
      peak.overall = std::max(peak.overall, ++now);
      auto& p = peak.per_session[ev.job.session_id];
      p = std::max(p, ++s);
    } else if (ev.what == transition::finished
               && ev.previous == job_status::running) {
      --now;
      --s;
    }
  }
  return peak;
}

} // namespace

TEST_F(actor_test, higher_priority_starts_first_and_ties_keep_arrival_order) {
  start(1, 5);
  auto blocker = submit_scripted("s", 5, 1000);
  auto low = submit_scripted("s", 1, 100);
  auto high = submit_scripted("s", 10, 100);
  auto mid = submit_scripted("s", 5, 100);
  auto mid2 = submit_scripted("s", 5, 100);
  EXPECT_EQ(status(blocker).status, job_status::running);
  EXPECT_EQ(status(high).queue_position, 1u);
  EXPECT_EQ(status(mid2).queue_position, 3u);
  EXPECT_EQ(status(low).queue_position, 4u);
  for (int i = 0; i < 5; ++i) {
    advance_time(1000ms);
    drain();
  }
  std::vector<std::string> expected{blocker, high, mid, mid2, low};
  EXPECT_EQ(started(), expected);
}

TEST_F(actor_test, global_limit_is_never_exceeded) {
  start(3, 100);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i)
    ids.push_back(submit_scripted("s" + std::to_string(i % 4), 5, 100 + i));
  EXPECT_EQ(sched_state().running, 3u);
  size_t running = 0;
  size_t pending = 0;
  for (auto& id : ids) {
    auto st = status(id).status;
    running += st == job_status::running;
    pending += st == job_status::pending;
  }
  EXPECT_EQ(running, 3u);
  EXPECT_EQ(pending, 7u);
  for (int i = 0; i < 20; ++i) {
    advance_time(50ms);
    drain();
    EXPECT_LE(sched_state().running, 3u);
  }
  EXPECT_EQ(started().size(), 10u);
  EXPECT_EQ(peak(recorded()).overall, 3u);
  for (auto& id : ids)
    EXPECT_EQ(status(id).status, job_status::completed);
}

TEST_F(actor_test, session_at_its_limit_does_not_block_other_sessions) {
  start(10, 2);
  std::vector<std::string> a;
  for (int i = 0; i < 5; ++i)
    a.push_back(submit_scripted("a", 10, 1000));
  auto b = ask<submit_result>(atom::submit_v, [] {
    job_spec spec;
    spec.kind = "scripted";
    spec.command = "b";
    spec.args = {"1000", "0"};
    spec.session_id = "b";
    spec.priority = 1;
    return spec;
  }());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, job_status::running);
  EXPECT_EQ(status(a[0]).status, job_status::running);
  EXPECT_EQ(status(a[1]).status, job_status::running);
  EXPECT_EQ(status(a[2]).status, job_status::pending);
  for (int i = 0; i < 4; ++i) {
    advance_time(1000ms);
    drain();
  }
  auto p = peak(recorded());
  EXPECT_EQ(p.per_session["a"], 2u);
  EXPECT_EQ(started().size(), 6u);
}

TEST_F(actor_test, a_better_job_takes_the_place_of_an_offered_one) {
  // Session "a" may run 2 and has offered both of its low jobs when a
  // high-priority one arrives: the offer of a low job is withdrawn.
  start(1, 2);
  auto blocker = submit_scripted("b", 5, 1000);
  auto low1 = submit_scripted("a", 1, 100);
  auto low2 = submit_scripted("a", 1, 100);
  auto high = submit_scripted("a", 10, 100);
  EXPECT_EQ(sched_state().ready.size(), 2u);
  for (int i = 0; i < 5; ++i) {
    advance_time(1000ms);
    drain();
  }
  std::vector<std::string> expected{blocker, high, low1, low2};
  EXPECT_EQ(started(), expected);
  EXPECT_LE(peak(recorded()).per_session["a"], 2u);
}

TEST_F(actor_test, cancelled_pending_job_never_starts) {
  start(1, 5);
  auto blocker = submit_scripted("s", 5, 1000);
  auto queued = submit_scripted("s", 5, 100);
  auto r = ask<cancel_result>(atom::cancel_v, queued, int64_t{-1});
  ASSERT_TRUE(r) << sys.render(r.error());
  EXPECT_EQ(r->status, job_status::cancelled);
  for (int i = 0; i < 3; ++i) {
    advance_time(1000ms);
    drain();
  }
  EXPECT_EQ(started(), std::vector<std::string>{blocker});
  auto info = status(queued);
  EXPECT_EQ(info.status, job_status::cancelled);
  EXPECT_EQ(info.started_at, 0);
  EXPECT_TRUE(sched_state().ready.empty());
  // Cancelling again says it is finished.
  auto again = ask<cancel_result>(atom::cancel_v, queued, int64_t{-1});
  ASSERT_FALSE(again);
  EXPECT_EQ(to_tool_error(sys, again.error()).code,
            codes::job_already_finished);
}

TEST_F(actor_test, unknown_ids_and_kinds_are_tool_errors) {
  start(1, 5);
  auto r = ask<job_info>(atom::status_v, std::string{"job-404-zzzzz"});
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::job_not_found);
  job_spec spec;
  spec.kind = "teleport";
  spec.command = "x";
  auto s = ask<submit_result>(atom::submit_v, spec);
  ASSERT_FALSE(s);
  EXPECT_EQ(to_tool_error(sys, s.error()).code, codes::unknown_job_kind);
}

TEST_F(actor_test, list_pages_newest_first_and_cleanup_keeps_counts) {
  start(10, 10);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(submit_scripted("s", 5, 10, i % 2));
  advance_time(10ms);
  drain();
  list_query q;
  q.limit = 2;
  std::vector<std::string> seen;
  for (;;) {
    auto page = ask<list_page>(atom::list_v, q);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 5u);
    for (auto& j : page->jobs)
      seen.push_back(j.id);
    if (page->next_cursor.empty())
      break;
    q.cursor = page->next_cursor;
  }
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, newest_first);
  list_query failed;
  failed.statuses = {job_status::failed};
  EXPECT_EQ(ask<list_page>(atom::list_v, failed)->total, 2u);
  cleanup_query c;
  c.keep_count = 1;
  c.statuses = {job_status::completed};
  auto cleaned = ask<cleanup_result>(atom::cleanup_v, c);
  ASSERT_TRUE(cleaned);
  EXPECT_EQ(cleaned->cleaned, 2u); // 3 completed, the newest kept
  EXPECT_EQ(cleaned->remaining, 3u);
  EXPECT_EQ(status(ids[4]).status, job_status::completed);
  auto gone = ask<job_info>(atom::status_v, ids[0]);
  EXPECT_FALSE(gone);
}

// A message an actor has no handler for is logged and dropped: the actor
// goes on. The case that was found: SCHEDULER answers each requeued job to
// the sender of the requeue_list; when the STORE sent it, CAF's default
// handler printed the answer on stdout and the STORE was gone.
TEST_F(actor_test, a_stray_answer_leaves_the_store_alive) {
  start(2, 2);
  auto store = sched_state().config.store;
  ASSERT_TRUE(store);
  requeued_job r;
  r.spec.kind = "scripted";
  r.spec.command = "scripted";
  r.spec.args = {"1000", "0"};
  r.spec.session_id = "s";
  r.info.id = "job-900-abcde";
  r.info.serial = 900;
  r.info.kind = "scripted";
  r.info.session_id = "s";
  r.info.status = job_status::pending;
  caf::send_as(caf::actor_cast<caf::actor>(store),
               caf::actor_cast<caf::actor>(sched), requeue_list{{r}});
  caf::anon_send(caf::actor_cast<caf::actor>(sched), std::string{"stray"});
  drain();
  EXPECT_EQ(status("job-900-abcde").status, job_status::running);
  // SCHEDULER asks the STORE about a job it does not know: the STORE
  // answers (not found) instead of being gone.
  auto unknown = ask<job_info>(atom::status_v, std::string{"job-999-xxxxx"});
  ASSERT_FALSE(unknown);
  auto why = sys.render(unknown.error());
  EXPECT_EQ(why.find("request_receiver_down"), std::string::npos) << why;
  EXPECT_NE(why.find("job-999-xxxxx"), std::string::npos) << why;
  // A request nobody handles is answered with an error, not left waiting.
  auto req = self->request(caf::actor_cast<caf::actor>(store), caf::infinite,
                           std::string{"what"});
  drain();
  ASSERT_FALSE(self->mailbox().empty());
  caf::error answer;
  std::move(req).receive([](const std::string&) { ADD_FAILURE(); },
                         [&](caf::error& e) { answer = std::move(e); });
  EXPECT_EQ(answer, caf::sec::unexpected_message);
}

// SCHEDULES: creating, listing, updating and deleting; firing at the
// right (fake-clock) times; catch-up and missed firings at start; refused
// jobs; a wall clock that jumps. The overlap rules: schedules_overlap_test.
#include "schedules_fixture.hpp"

#include <regex>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

TEST_F(schedules_test, create_list_update_delete) {
  start_all();
  auto info = create(every("*/5 * * * *", scripted_job(100)));
  EXPECT_TRUE(
    std::regex_match(info.spec.id, std::regex{"sched-[0-9]+-[0-9a-z]{5}"}))
    << info.spec.id;
  EXPECT_EQ(info.spec.created_at, base_ms);
  EXPECT_EQ(info.spec.updated_at, base_ms);
  EXPECT_EQ(info.spec.timezone, "UTC");
  std::vector<int64_t> five;
  for (int i = 1; i <= 5; ++i)
    five.push_back(base_ms + i * 5 * minute_ms);
  EXPECT_EQ(info.next_firings, five);
  auto other = create(every("@daily", scripted_job(100)));
  EXPECT_NE(other.spec.id, info.spec.id);
  auto all = list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].spec.id, info.spec.id);
  EXPECT_EQ(all[0].next_firings, five);
  EXPECT_EQ(stored().size(), 2u);

  // Update: a new cron, then disabled (no next firings), then enabled.
  advance(std::chrono::milliseconds{2 * minute_ms}, 60000ms);
  schedule_update u;
  u.id = info.spec.id;
  u.has_cron = true;
  u.values.cron = "0 * * * *";
  u.has_name = true;
  u.values.name = "hourly";
  auto r = ask_of<schedule_info>(scheds, atom::schedules_v, atom::put_v, u);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->spec.name, "hourly");
  EXPECT_EQ(r->spec.updated_at, base_ms + 2 * minute_ms);
  EXPECT_EQ(r->spec.created_at, base_ms);
  ASSERT_EQ(r->next_firings.size(), 5u);
  EXPECT_EQ(r->next_firings[0], base_ms + 60 * minute_ms);
  u = {};
  u.id = info.spec.id;
  u.has_enabled = true;
  u.values.enabled = false;
  r = ask_of<schedule_info>(scheds, atom::schedules_v, atom::put_v, u);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->spec.enabled);
  EXPECT_TRUE(r->next_firings.empty());
  EXPECT_FALSE(get(info.spec.id).enabled);
  for (auto& s : stored()) {
    if (s.id == info.spec.id) {
      EXPECT_FALSE(s.enabled);
    }
  }
  // A bad update changes nothing.
  u = {};
  u.id = info.spec.id;
  u.has_timezone = true;
  u.values.timezone = "Nowhere/Land";
  r = ask_of<schedule_info>(scheds, atom::schedules_v, atom::put_v, u);
  ASSERT_FALSE(r);
  auto err = to_tool_error(sys, r.error());
  EXPECT_EQ(err.code, codes::invalid_arguments);
  EXPECT_EQ(err.details["field"], "\"timezone\"");
  EXPECT_EQ(get(info.spec.id).timezone, "UTC");

  // Delete; unknown ids.
  auto d = ask_of<delete_result>(scheds, atom::schedules_v, atom::erase_v,
                                 info.spec.id);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->deleted);
  EXPECT_EQ(list().size(), 1u);
  EXPECT_EQ(stored().size(), 1u);
  d = ask_of<delete_result>(scheds, atom::schedules_v, atom::erase_v,
                            info.spec.id);
  ASSERT_FALSE(d);
  EXPECT_EQ(to_tool_error(sys, d.error()).code, codes::schedule_not_found);
  u.id = "sched-99-zzzzz";
  r = ask_of<schedule_info>(scheds, atom::schedules_v, atom::put_v, u);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::schedule_not_found);
}

TEST_F(schedules_test, bad_cron_timezone_and_job_are_refused) {
  start_all();
  auto err = create_error(every("61 * * * *", scripted_job(1)));
  EXPECT_EQ(err.code, codes::invalid_arguments);
  EXPECT_EQ(err.message, "cron: minute 61 out of range 0-59");
  EXPECT_EQ(err.details["field"], "\"cron\"");
  err = create_error(every("0 0 30 2 *", scripted_job(1)));
  EXPECT_EQ(err.details["field"], "\"cron\"");
  auto tz = every("* * * * *", scripted_job(1));
  tz.timezone = "Mars/Olympus";
  err = create_error(tz);
  EXPECT_EQ(err.message, "timezone: unknown zone 'Mars/Olympus'");
  EXPECT_EQ(err.details["field"], "\"timezone\"");
  err = create_error(every("* * * * *", "[]"));
  EXPECT_EQ(err.details["field"], "\"job\"");
  EXPECT_TRUE(list().empty());
  EXPECT_TRUE(stored().empty());
}

TEST_F(schedules_test, fires_at_its_times_with_the_schedule_on_its_job) {
  start_all();
  auto info = create(every("*/5 * * * *", scripted_job(1000)));
  auto id = info.spec.id;
  advance(std::chrono::milliseconds{5 * minute_ms - 1000});
  EXPECT_TRUE(jobs_of(id).empty());
  advance(1000ms, 1000ms);
  auto jobs = jobs_of(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]->schedule_id, id);
  EXPECT_EQ(jobs[0]->tags.at("scheduleId"), "\"" + id + "\"");
  EXPECT_EQ(jobs[0]->start_at, base_ms + 5 * minute_ms);
  auto s = get(id);
  EXPECT_EQ(s.fired, 1u);
  EXPECT_EQ(s.last_fired_at, base_ms + 5 * minute_ms);
  EXPECT_EQ(s.last_job_id, job_ids_of(id)[0]);
  // The store has the firing too.
  auto rows = stored();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].last_fired_at, base_ms + 5 * minute_ms);
  EXPECT_EQ(rows[0].fired, 1u);
  // Ten more minutes: two more firings, each once.
  advance(std::chrono::milliseconds{10 * minute_ms});
  jobs = jobs_of(id);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[1]->start_at, base_ms + 10 * minute_ms);
  EXPECT_EQ(jobs[2]->start_at, base_ms + 15 * minute_ms);
  EXPECT_EQ(get(id).fired, 3u);
  EXPECT_EQ(metrics_now().schedule_firings, 3u);
  auto next = list()[0].next_firings;
  ASSERT_EQ(next.size(), 5u);
  EXPECT_EQ(next[0], base_ms + 20 * minute_ms);
}

TEST_F(schedules_test, disabled_and_deleted_schedules_do_not_fire) {
  start_all();
  auto a = create(every("* * * * *", scripted_job(10)));
  auto off = every("* * * * *", scripted_job(10));
  off.enabled = false;
  auto b = create(off);
  EXPECT_TRUE(b.next_firings.empty());
  advance(std::chrono::milliseconds{minute_ms + 1000});
  EXPECT_EQ(jobs_of(a.spec.id).size(), 1u);
  EXPECT_TRUE(jobs_of(b.spec.id).empty());
  ask_of<delete_result>(scheds, atom::schedules_v, atom::erase_v, a.spec.id);
  advance(std::chrono::milliseconds{3 * minute_ms});
  EXPECT_EQ(jobs_of(a.spec.id).size(), 1u);
  EXPECT_TRUE(jobs_of(b.spec.id).empty());
}

TEST_F(schedules_test, missed_firings_are_caught_up_once_or_counted) {
  start_all(false);
  // Two schedules stored by an earlier run, created an hour ago: six
  // firings (every 10 minutes) were missed.
  auto stored_spec = [](std::string id, bool catch_up) {
    schedule_spec s;
    s.id = std::move(id);
    s.cron = "*/10 * * * *";
    s.job = scripted_job(1000);
    s.catch_up = catch_up;
    s.created_at = base_ms - 60 * minute_ms;
    s.updated_at = s.created_at;
    return s;
  };
  auto up = stored_spec("sched-7-aaaaa", true);
  auto down = stored_spec("sched-8-bbbbb", false);
  auto off = stored_spec("sched-9-ccccc", false);
  off.enabled = false;
  for (auto& s : {up, down, off})
    ask_of<bool>(store_h, atom::schedules_v, atom::put_v, s);
  start_schedules();
  // Caught up: one job now, for the latest missed firing.
  auto jobs = jobs_of(up.id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]->start_at, base_ms);
  auto s = get(up.id);
  EXPECT_EQ(s.fired, 1u);
  EXPECT_EQ(s.missed, 0u);
  EXPECT_EQ(s.last_fired_at, base_ms);
  // Counted: no job, six missed, moved on to the latest.
  EXPECT_TRUE(jobs_of(down.id).empty());
  s = get(down.id);
  EXPECT_EQ(s.missed, 6u);
  EXPECT_EQ(s.fired, 0u);
  EXPECT_EQ(s.last_fired_at, base_ms);
  for (auto& row : stored()) {
    if (row.id == down.id) {
      EXPECT_EQ(row.missed, 6u);
    }
  }
  // Disabled: nothing.
  EXPECT_EQ(get(off.id).missed, 0u);
  EXPECT_TRUE(jobs_of(off.id).empty());
  EXPECT_EQ(metrics_now().schedule_misses, 6u);
  // Both fire normally afterwards; new ids continue after the loaded ones.
  advance(std::chrono::milliseconds{10 * minute_ms + 1000});
  EXPECT_EQ(jobs_of(up.id).size(), 2u);
  EXPECT_EQ(jobs_of(down.id).size(), 1u);
  auto fresh = create(every("@hourly", scripted_job(1)));
  EXPECT_EQ(fresh.spec.id.rfind("sched-10-", 0), 0u) << fresh.spec.id;
}

TEST_F(schedules_test, a_refused_job_is_recorded_and_the_schedule_goes_on) {
  start_all();
  auto info
    = create(every("* * * * *", R"({"command":"no-such-command-jobd"})"));
  auto id = info.spec.id;
  advance(std::chrono::milliseconds{minute_ms + 1000});
  auto s = get(id);
  EXPECT_EQ(s.fired, 0u);
  EXPECT_EQ(s.last_fired_at, base_ms + minute_ms);
  EXPECT_EQ(s.last_error.rfind(codes::command_not_found, 0), 0u)
    << s.last_error;
  EXPECT_TRUE(s.enabled);
  advance(std::chrono::milliseconds{minute_ms});
  s = get(id);
  EXPECT_EQ(s.last_fired_at, base_ms + 2 * minute_ms);
  ASSERT_EQ(list()[0].next_firings.size(), 5u);
  EXPECT_EQ(list()[0].next_firings[0], base_ms + 3 * minute_ms);
  // Fixed: the next firing submits.
  schedule_update u;
  u.id = id;
  u.has_job = true;
  u.values.job = scripted_job(10);
  ASSERT_TRUE(ask_of<schedule_info>(scheds, atom::schedules_v, atom::put_v, u));
  advance(std::chrono::milliseconds{minute_ms});
  EXPECT_EQ(get(id).fired, 1u);
  EXPECT_EQ(jobs_of(id).size(), 1u);
}

TEST_F(schedules_test, a_wall_clock_jump_is_seen_within_a_minute) {
  start_all();
  auto id = create(every("0 * * * *", scripted_job(10))).spec.id;
  // The wall clock jumps 30 minutes ahead: the 01:00 firing comes at
  // 00:31 of actor time, not an hour after the arming.
  advance(std::chrono::milliseconds{minute_ms});
  jump_ms = 30 * minute_ms;
  advance(std::chrono::milliseconds{29 * minute_ms + 61000});
  EXPECT_EQ(jobs_of(id).size(), 1u);
  // A jump of a day: the 24 firings missed meanwhile count as missed, the
  // latest runs once.
  jump_ms += 24 * 60 * minute_ms;
  advance(std::chrono::milliseconds{61000});
  EXPECT_EQ(jobs_of(id).size(), 2u);
  auto s = get(id);
  EXPECT_EQ(s.fired, 2u);
  EXPECT_EQ(s.missed, 23u);
  EXPECT_EQ(s.last_fired_at, base_ms + 25 * 60 * minute_ms);
}

TEST_F(schedules_test, firings_due_together_run_in_order_once_each) {
  start_all();
  // Queued: no actor time passes between these firings, so each job is
  // still running when the next comes (with "skip" they would be skipped).
  auto spec = every("* * * * *", scripted_job(10));
  spec.overlap = overlap_policy::queue;
  auto id = create(spec).spec.id;
  advance(30000ms);
  // Three minutes ahead: 01:00, 02:00 and 03:00 are due at once, then
  // 04:00 within the minute; each is handled after the one before.
  jump_ms = 3 * minute_ms;
  advance(61000ms);
  auto jobs = jobs_of(id);
  ASSERT_EQ(jobs.size(), 4u);
  auto ids = job_ids_of(id);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i]->start_at,
              base_ms + static_cast<int64_t>(i + 1) * minute_ms);
    if (i > 0) {
      EXPECT_EQ(jobs[i]->depends_on, std::vector<std::string>{ids[i - 1]});
    }
  }
  auto s = get(id);
  EXPECT_EQ(s.fired, 4u);
  EXPECT_EQ(s.missed, 0u);
  EXPECT_EQ(s.last_fired_at, base_ms + 4 * minute_ms);
  // A stale tick changes nothing.
  self->send(scheds, atom::tick_v, uint64_t{0});
  drain();
  EXPECT_EQ(jobs_of(id).size(), 4u);
  advance(60000ms);
  EXPECT_EQ(jobs_of(id).size(), 5u);
}

// Of several jobds on one state directory only the one that leads fires;
// the others wait (they must not spin on firings left to it) and take over,
// settling what was missed meanwhile, when the lead comes to them.
TEST_F(schedules_test, only_the_lead_fires_and_another_takes_over) {
  bool leading = false;
  lead = [&leading] { return leading; };
  start_all();
  auto id = create(every("*/5 * * * *", scripted_job(1000))).spec.id;
  advance_time(std::chrono::milliseconds{5 * minute_ms + 1000});
  // A busy loop would never leave the mailbox empty.
  auto handled = test_coordinator_fixture<>::sched.run(10000);
  EXPECT_LT(handled, 10000u) << "a jobd that does not lead spins";
  advance(std::chrono::milliseconds{resync_interval_ms});
  EXPECT_TRUE(jobs_of(id).empty());
  leading = true;
  advance(std::chrono::milliseconds{resync_interval_ms});
  EXPECT_TRUE(jobs_of(id).empty()) << "the missed firing is not run";
  EXPECT_EQ(list().at(0).spec.missed, 1u);
  advance(std::chrono::milliseconds{5 * minute_ms});
  EXPECT_EQ(jobs_of(id).size(), 1u);
}

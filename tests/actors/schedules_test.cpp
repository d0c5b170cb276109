// SCHEDULES on the deterministic coordinator, with the real SCHEDULER (a
// fake launcher, the scripted kind) and an in-memory STORE: creating,
// listing, updating and deleting, firing on a fake wall clock that moves
// with the actor clock, the overlap rules, catch-up and missed firings at
// start, refused jobs, and a wall clock that jumps.
#include "fixture.hpp"

#include "actors/metrics.hpp"
#include "actors/schedules.hpp"
#include "actors/store/job_store.hpp"
#include "actors/store/store_actor.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <regex>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

// 2024-01-01T00:00:00Z: the fake wall clock's start (in the past, so a
// firing's start_at never delays its job).
constexpr int64_t base_ms = 1704067200000;
constexpr int64_t minute_ms = 60000;

// The test's job parser: {"command", "args"}; command "scripted" runs the
// scripted kind (args: ms, exit code), others the process kind.
bool parse_test_job(const std::string& text, job_spec& spec, tool_error& err) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("command")
      || !doc["command"].IsString()) {
    err = {codes::invalid_arguments, "job: command missing", {}};
    return false;
  }
  spec.command = doc["command"].GetString();
  if (spec.command == "scripted")
    spec.kind = "scripted";
  spec.timeout_ms = 0; // jobs run longer than the default 5 minutes
  if (doc.HasMember("args") && doc["args"].IsArray())
    for (auto& a : doc["args"].GetArray())
      spec.args.emplace_back(a.GetString());
  return true;
}

std::string scripted_job(int ms) {
  return R"({"command":"scripted","args":[")" + std::to_string(ms)
         + R"(","0"]})";
}

class schedules_test : public actor_test {
protected:
  // The store (shared with SCHEDULER), then SCHEDULER, METRICS and, unless
  // told to wait, SCHEDULES.
  void start_all(bool with_schedules = true) {
    store_options opts;
    opts.ephemeral = true;
    db = std::make_shared<job_store>(opts);
    scheduler_config cfg;
    cfg.instance = db->instance();
    cfg.first_serial = db->reserve_serials(uint64_t{1} << 40);
    cfg.serial_end = cfg.first_serial + (uint64_t{1} << 40);
    store_h
      = sys.spawn(store, db, int64_t{60000}, int64_t{86400000}, std::string{});
    cfg.store = store_h;
    start(10, 10, 5000, cfg);
    metrics_h = sys.spawn(metrics, uint64_t{10}, uint64_t{10}, store_actor{});
    t0 = clock_now();
    if (with_schedules)
      start_schedules();
  }

  void start_schedules() {
    schedules_config cfg;
    cfg.store = store_h;
    cfg.scheduler = sched;
    cfg.metrics = metrics_h;
    cfg.parse_job = parse_test_job;
    cfg.now = [this] { return now(); };
    scheds = sys.spawn(schedules, cfg);
    drain();
  }

  void TearDown() override {
    if (scheds)
      self->send_exit(scheds, caf::exit_reason::user_shutdown);
    if (metrics_h)
      self->send_exit(metrics_h, caf::exit_reason::user_shutdown);
    actor_test::TearDown();
    if (store_h)
      self->send_exit(store_h, caf::exit_reason::user_shutdown);
    drain();
  }

  // The coordinator's clock (`sched` is SCHEDULER in actor_test).
  caf::actor_clock::time_point clock_now() {
    return test_coordinator_fixture<>::sched.clock().now();
  }

  // The fake wall clock: base_ms plus the actor time since start, plus any
  // jump a test makes.
  int64_t now() {
    return base_ms + jump_ms
           + std::chrono::duration_cast<std::chrono::milliseconds>(clock_now()
                                                                   - t0)
               .count();
  }

  // Moves actor time (and so the wall clock) in steps, delivering
  // everything after each.
  void advance(std::chrono::milliseconds total,
               std::chrono::milliseconds step = 1000ms) {
    while (total.count() > 0) {
      auto d = std::min(total, step);
      advance_time(d);
      drain();
      total -= d;
    }
  }

  template <class T, class Handle, class... Ts>
  caf::expected<T> ask_of(const Handle& h, Ts&&... xs) {
    auto req = self->request(h, caf::infinite, std::forward<Ts>(xs)...);
    drain();
    caf::expected<T> result{caf::sec::unexpected_response};
    if (self->mailbox().empty())
      return result;
    std::move(req).receive([&](T& x) { result = std::move(x); },
                           [&](caf::error& e) { result = std::move(e); });
    return result;
  }

  schedule_info create(schedule_spec spec) {
    auto r = ask_of<schedule_info>(scheds, atom::schedules_v, atom::submit_v,
                                   std::move(spec));
    if (!r)
      throw dsl_failure{"create failed: " + sys.render(r.error())};
    return *r;
  }

  tool_error create_error(schedule_spec spec) {
    auto r = ask_of<schedule_info>(scheds, atom::schedules_v, atom::submit_v,
                                   std::move(spec));
    if (r)
      throw dsl_failure{"create succeeded"};
    return to_tool_error(sys, r.error());
  }

  std::vector<schedule_info> list() {
    auto r = ask_of<schedule_list>(scheds, atom::schedules_v, atom::list_v);
    if (!r)
      throw dsl_failure{"list failed"};
    return r->schedules;
  }

  schedule_spec get(const std::string& id) {
    for (auto& s : list())
      if (s.spec.id == id)
        return s.spec;
    throw dsl_failure{"no schedule " + id};
  }

  std::vector<schedule_spec> stored() {
    auto r = ask_of<schedule_list>(store_h, atom::schedules_v, atom::list_v);
    if (!r)
      throw dsl_failure{"store list failed"};
    std::vector<schedule_spec> out;
    for (auto& s : r->schedules)
      out.push_back(s.spec);
    return out;
  }

  // The jobs SCHEDULER admitted for a schedule, oldest first, with the
  // specs it admitted.
  std::vector<std::shared_ptr<const job_spec>> jobs_of(const std::string& id) {
    std::vector<std::shared_ptr<const job_spec>> out;
    for (auto& [serial, job_id] : sched_state().by_serial) {
      auto& e = sched_state().jobs.at(job_id);
      if (e.spec && e.spec->schedule_id == id)
        out.push_back(e.spec);
    }
    return out;
  }

  std::vector<std::string> job_ids_of(const std::string& id) {
    std::vector<std::string> out;
    for (auto& [serial, job_id] : sched_state().by_serial) {
      auto& e = sched_state().jobs.at(job_id);
      if (e.spec && e.spec->schedule_id == id)
        out.push_back(job_id);
    }
    return out;
  }

  metrics_snapshot metrics_now() {
    auto r = ask_of<metrics_snapshot>(metrics_h, atom::metrics_v);
    if (!r)
      throw dsl_failure{"metrics failed"};
    return *r;
  }

  static schedule_spec every(const std::string& cron, std::string job) {
    schedule_spec s;
    s.name = "test";
    s.cron = cron;
    s.job = std::move(job);
    return s;
  }

  std::shared_ptr<job_store> db;
  store_actor store_h;
  metrics_actor metrics_h;
  schedules_actor scheds;
  caf::actor_clock::time_point t0;
  int64_t jump_ms = 0;
};

} // namespace

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

TEST_F(schedules_test, overlap_skip_counts_and_submits_nothing) {
  start_all();
  // Each job runs 12 minutes: the 5-minute firing in between is skipped.
  auto info = create(every("*/5 * * * *", scripted_job(12 * 60000)));
  auto id = info.spec.id;
  advance(std::chrono::milliseconds{10 * minute_ms + 1000});
  EXPECT_EQ(jobs_of(id).size(), 1u);
  auto s = get(id);
  EXPECT_EQ(s.fired, 1u);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_EQ(s.last_fired_at, base_ms + 10 * minute_ms);
  // 17:00 ended the first job; the 20-minute firing runs.
  advance(std::chrono::milliseconds{10 * minute_ms});
  EXPECT_EQ(jobs_of(id).size(), 2u);
  s = get(id);
  EXPECT_EQ(s.fired, 2u);
  EXPECT_EQ(s.skipped, 2u); // 15:00 was skipped too
  auto m = metrics_now();
  EXPECT_EQ(m.schedule_firings, 2u);
  EXPECT_EQ(m.schedule_skips, 2u);
}

TEST_F(schedules_test, overlap_queue_makes_the_job_wait_for_the_previous) {
  start_all();
  auto spec = every("*/5 * * * *", scripted_job(7 * 60000));
  spec.overlap = overlap_policy::queue;
  auto id = create(spec).spec.id;
  advance(std::chrono::milliseconds{10 * minute_ms + 1000});
  auto jobs = jobs_of(id);
  auto ids = job_ids_of(id);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(jobs[0]->depends_on.empty());
  EXPECT_EQ(jobs[1]->depends_on, std::vector<std::string>{ids[0]});
  EXPECT_EQ(jobs[1]->condition, dependency_condition::finish);
  EXPECT_EQ(get(id).skipped, 0u);
  // At 15:00 the second job (started at 10:00 at the earliest, or after
  // the first, 05:00-12:00) has not ended: the third waits for it.
  advance(std::chrono::milliseconds{5 * minute_ms});
  jobs = jobs_of(id);
  ids = job_ids_of(id);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[2]->depends_on, std::vector<std::string>{ids[1]});
  // A job whose previous one ended gets no dependency.
  auto quick = every("*/5 * * * *", scripted_job(1000));
  quick.overlap = overlap_policy::queue;
  auto qid = create(quick).spec.id;
  advance(std::chrono::milliseconds{10 * minute_ms});
  auto qjobs = jobs_of(qid);
  ASSERT_EQ(qjobs.size(), 2u);
  EXPECT_TRUE(qjobs[1]->depends_on.empty());
}

TEST_F(schedules_test, overlap_cancel_previous_cancels_then_submits) {
  start_all();
  auto spec = every("*/5 * * * *", scripted_job(60 * 60000));
  spec.overlap = overlap_policy::cancel_previous;
  auto id = create(spec).spec.id;
  advance(std::chrono::milliseconds{5 * minute_ms + 1000});
  auto first = job_ids_of(id);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(status(first[0]).status, job_status::running);
  advance(std::chrono::milliseconds{5 * minute_ms}, 500ms);
  auto ids = job_ids_of(id);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(status(ids[0]).status, job_status::cancelled);
  EXPECT_NE(status(ids[1]).status, job_status::cancelled);
  EXPECT_TRUE(jobs_of(id)[1]->depends_on.empty());
  EXPECT_EQ(get(id).last_job_id, ids[1]);
  EXPECT_EQ(get(id).fired, 2u);
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

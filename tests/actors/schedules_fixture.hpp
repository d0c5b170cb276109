// The SCHEDULES tests' fixture: SCHEDULES on the deterministic coordinator
// with the real SCHEDULER (a fake launcher, the scripted kind), METRICS and
// an in-memory STORE, and a fake wall clock that moves with the actor clock.
#pragma once

#include "fixture.hpp"

#include "actors/metrics.hpp"
#include "actors/schedules.hpp"
#include "actors/store/job_store.hpp"
#include "actors/store/store_actor.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobd::test {

using namespace std::chrono_literals;

// 2024-01-01T00:00:00Z: the fake wall clock's start (in the past, so a
// firing's start_at never delays its job).
inline constexpr int64_t base_ms = 1704067200000;
inline constexpr int64_t minute_ms = 60000;

// The test's job parser: {"command", "args"}; command "scripted" runs the
// scripted kind (args: ms, exit code), others the process kind.
inline bool parse_test_job(const std::string& text, job_spec& spec,
                           tool_error& err) {
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

inline std::string scripted_job(int ms) {
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
    metrics_h = sys.spawn(metrics, uint64_t{10}, uint64_t{10}, store_actor{},
                          std::vector<std::string>{});
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
    cfg.lead = lead;
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

  /// SCHEDULES' lead function (null: it always fires).
  std::function<bool()> lead;

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

} // namespace jobd::test

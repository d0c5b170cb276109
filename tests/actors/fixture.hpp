// A deterministic actor system with a SCHEDULER, a fake process launcher,
// the scripted test job kind and an event recorder.
#pragma once

#include "dsl.hpp"

#include "actors/actors.hpp"
#include "actors/kinds/process/process_job.hpp"
#include "actors/logger.hpp"
#include "actors/scheduler.hpp"
#include "fake_launcher.hpp"
#include "scripted_job.hpp"

#include <memory>
#include <string>
#include <vector>

namespace jobd::test {

struct recorder_state {
  std::vector<job_event> events;
  std::vector<output_news> output;
  static inline const char* name = "recorder";
};

// Takes an argument: CAF 0.17 dereferences a null argument tuple for
// actors spawned without any (UBSan reports it).
inline event_listener::behavior_type
recorder(event_listener::stateful_pointer<recorder_state> self,
         size_t expected_events) {
  self->state.events.reserve(expected_events);
  return {
    [self](atom::event, const job_event& ev) {
      self->state.events.push_back(ev);
    },
    [self](atom::output, const output_news& news) {
      self->state.output.push_back(news);
    },
  };
}

class actor_test : public ::testing::Test, public test_coordinator_fixture<> {
protected:
  /// Starts a scheduler with these limits.
  void start(size_t max_running, size_t per_session, int64_t grace_ms = 5000,
             scheduler_config cfg = {}) {
    auto factory = std::make_shared<job_factory>();
    factory->add("process", std::make_shared<process_job_kind>(launcher));
    factory->add("scripted", std::make_shared<scripted_job_kind>());
    factory->add("remote", std::make_shared<remote_scripted_job_kind>());
    log::set_level(log::level::warning);
    cfg.max_running = max_running;
    cfg.max_running_per_session = per_session;
    cfg.defaults.kill_grace_ms = grace_ms;
    sched = sys.spawn(scheduler, cfg, factory_ptr{factory});
    events = sys.spawn(recorder, size_t{64});
    self->send(sched, atom::subscribe_v, events);
    drain();
  }

  void TearDown() override {
    if (sched)
      self->send_exit(sched, caf::exit_reason::user_shutdown);
    drain();
  }

  /// Delivers every pending message without firing any timer.
  void drain() {
    consume_messages();
  }

  /// Sends a request, delivers messages, and takes the answer (which must
  /// be due by then).
  template <class T, class... Ts> caf::expected<T> ask(Ts&&... xs) {
    auto req = self->request(sched, caf::infinite, std::forward<Ts>(xs)...);
    drain();
    caf::expected<T> result{caf::sec::unexpected_response};
    if (self->mailbox().empty())
      return result; // not answered (yet)
    std::move(req).receive([&](T& x) { result = std::move(x); },
                           [&](caf::error& e) { result = std::move(e); });
    return result;
  }

  /// Submits a scripted job running `ms` of actor time; returns its id.
  std::string submit_scripted(const std::string& session, int priority,
                              int ms = 1000, int exit_code = 0,
                              const char* kind = "scripted") {
    job_spec spec;
    spec.kind = kind;
    spec.command = "scripted";
    spec.args = {std::to_string(ms), std::to_string(exit_code)};
    spec.session_id = session;
    spec.priority = priority;
    auto r = ask<submit_result>(atom::submit_v, spec);
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    return r->job_id;
  }

  job_info status(const std::string& id) {
    auto r = ask<job_info>(atom::status_v, id);
    if (!r)
      throw dsl_failure{"status failed: " + sys.render(r.error())};
    return *r;
  }

  /// Ids of the jobs that started, in order.
  std::vector<std::string> started() {
    std::vector<std::string> ids;
    for (auto& ev : recorded())
      if (ev.what == transition::started)
        ids.push_back(ev.job.id);
    return ids;
  }

  const std::vector<job_event>& recorded() {
    return deref<event_listener::stateful_base<recorder_state>>(events)
      .state.events;
  }

  scheduler_state& sched_state() {
    return deref<scheduler_actor::stateful_base<scheduler_state>>(sched).state;
  }

  std::shared_ptr<fake_launcher> launcher = std::make_shared<fake_launcher>();
  scheduler_actor sched;
  event_listener events;
};

} // namespace jobd::test

// Actor microbenchmarks on a real (threaded) CAF actor system:
// - round trips through typed interfaces (a minimal typed actor, and
//   `status` through SCHEDULER to a JOB, blocking and pipelined);
// - admission and dispatch: N jobs submitted by a pipelining client actor
//   until all of them finished (jobs/s), with a job kind that needs no
//   process, and with the real `process` kind on a launcher that starts
//   nothing.
#include "instant_job.hpp"

#include "actors/actors.hpp"
#include "actors/kinds/process/process_job.hpp"
#include "actors/logger.hpp"
#include "actors/metrics.hpp"
#include "actors/scheduler.hpp"

#include <benchmark/benchmark.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <future>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using namespace jobd;

/// One actor system for the whole binary (2 worker threads on this
/// machine); owned by main() so that it ends before static destruction.
caf::actor_system* the_system = nullptr;

caf::actor_system& actor_sys() {
  return *the_system;
}

factory_ptr make_factory() {
  auto f = std::make_shared<job_factory>();
  f->add("instant", std::make_shared<bench::instant_job_kind>());
  f->add("process", std::make_shared<process_job_kind>(
                      std::make_shared<bench::instant_launcher>()));
  return f;
}

scheduler_actor spawn_scheduler(size_t max_running, size_t per_session) {
  scheduler_config cfg;
  cfg.max_running = max_running;
  cfg.max_running_per_session = per_session;
  return actor_sys().spawn(scheduler, cfg, make_factory());
}

job_spec instant_spec() {
  job_spec spec;
  spec.kind = "instant";
  spec.command = "true";
  return spec;
}

job_spec process_spec() {
  job_spec spec;
  spec.kind = "process";
  spec.command = "true"; // resolved through PATH, as jobd does
  return spec;
}

void stop(const scheduler_actor& sched) {
  caf::anon_send_exit(sched, caf::exit_reason::user_shutdown);
}

// -- a minimal typed actor
// ------------------------------------------------------

using echo_actor
  = caf::typed_actor<caf::replies_to<atom::status, int64_t>::with<int64_t>>;

echo_actor::behavior_type echo() {
  return {[](atom::status, int64_t x) { return x + 1; }};
}

void BM_roundtrip_minimal_typed(benchmark::State& state) {
  auto& sys = actor_sys();
  auto target = sys.spawn(echo);
  caf::scoped_actor self{sys};
  int64_t x = 0;
  for (auto _ : state) {
    self->request(target, caf::infinite, atom::status_v, x)
      .receive([&](int64_t y) { x = y; }, [&](caf::error&) {});
  }
  benchmark::DoNotOptimize(x);
  state.SetItemsProcessed(state.iterations());
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
}
BENCHMARK(BM_roundtrip_minimal_typed)->UseRealTime();

// -- status through SCHEDULER to a JOB
// ------------------------------------------

/// Submits one job and waits until it finished; returns its id.
std::string submit_one(caf::scoped_actor& self, const scheduler_actor& sched,
                       job_spec spec) {
  std::string id;
  self->request(sched, caf::infinite, atom::submit_v, std::move(spec))
    .receive([&](submit_result& r) { id = r.job_id; },
             [&](caf::error& e) {
               throw std::runtime_error{self->system().render(e)};
             });
  wait_query q;
  q.job_id = id;
  self->request(sched, caf::infinite, atom::wait_v, q)
    .receive([](wait_result&) {}, [](caf::error&) {});
  return id;
}

// One blocking request at a time: latency of a round trip
// (client -> SCHEDULER -delegate-> JOB -> client).
void BM_status_roundtrip_blocking(benchmark::State& state) {
  auto& sys = actor_sys();
  auto sched = spawn_scheduler(10, 5);
  caf::scoped_actor self{sys};
  auto id = submit_one(self, sched, process_spec());
  for (auto _ : state) {
    self->request(sched, caf::infinite, atom::status_v, id)
      .receive([&](job_info& info) { benchmark::DoNotOptimize(info); },
               [&](caf::error&) { state.SkipWithError("status failed"); });
  }
  state.SetItemsProcessed(state.iterations());
  stop(sched);
}
BENCHMARK(BM_status_roundtrip_blocking)->UseRealTime();

struct status_driver_state {
  scheduler_actor sched;
  std::string id;
  uint64_t total = 0;
  uint64_t sent = 0;
  uint64_t answered = 0;
  std::promise<void>* done = nullptr;
  static inline const char* name = "status_driver";
};

void send_status(caf::stateful_actor<status_driver_state>* self) {
  auto& st = self->state;
  ++st.sent;
  self->request(st.sched, caf::infinite, atom::status_v, st.id)
    .then(
      [self](job_info& info) {
        benchmark::DoNotOptimize(info);
        auto& st = self->state;
        if (++st.answered == st.total) {
          st.done->set_value();
          self->quit();
        } else if (st.sent < st.total) {
          send_status(self);
        }
      },
      [self](caf::error&) {
        self->state.done->set_value();
        self->quit();
      });
}

// An event-based client keeping `window` status requests in flight, as the
// ENDPOINT does for a pipelining MCP client: throughput of the actor path.
caf::behavior status_driver(caf::stateful_actor<status_driver_state>* self,
                            scheduler_actor sched, std::string id,
                            uint64_t total, uint64_t window,
                            std::promise<void>* done) {
  auto& st = self->state;
  st.sched = std::move(sched);
  st.id = std::move(id);
  st.total = total;
  st.done = done;
  for (uint64_t i = 0; i < window && i < total; ++i)
    send_status(self);
  return {[](atom::tick) {}};
}

void BM_status_pipelined(benchmark::State& state) {
  auto& sys = actor_sys();
  auto sched = spawn_scheduler(10, 5);
  caf::scoped_actor self{sys};
  auto id = submit_one(self, sched, process_spec());
  const auto calls = static_cast<uint64_t>(state.range(0));
  const auto window = static_cast<uint64_t>(state.range(1));
  for (auto _ : state) {
    std::promise<void> done;
    auto done_f = done.get_future();
    sys.spawn(status_driver, sched, id, calls, window, &done);
    done_f.wait();
  }
  state.SetItemsProcessed(state.iterations() * calls);
  stop(sched);
}
BENCHMARK(BM_status_pipelined)
  ->Args({100000, 256})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime();

// -- admission and dispatch
// -----------------------------------------------------

struct admission_state {
  scheduler_actor sched;
  job_spec spec;
  uint64_t total = 0;
  uint64_t window = 0;
  uint64_t sent = 0;
  uint64_t answered = 0;
  uint64_t finished = 0;
  uint64_t failed = 0;
  std::promise<void>* done = nullptr;
  static inline const char* name = "admission_driver";
};

using admission_ptr = caf::stateful_actor<admission_state>*;

void check_done(admission_ptr self) {
  auto& st = self->state;
  if (st.answered == st.total && st.finished + st.failed == st.total) {
    st.done->set_value();
    self->quit();
  }
}

void submit_next(admission_ptr self) {
  auto& st = self->state;
  if (st.sent == st.total)
    return;
  ++st.sent;
  self->request(st.sched, caf::infinite, atom::submit_v, st.spec)
    .then(
      [self](submit_result&) {
        ++self->state.answered;
        submit_next(self);
        check_done(self);
      },
      [self](caf::error&) {
        ++self->state.answered;
        ++self->state.failed;
        submit_next(self);
        check_done(self);
      });
}

// A client that keeps `window` submissions in flight and counts `finished`
// events (it listens like the ENDPOINT does).
caf::behavior admission_driver(admission_ptr self, scheduler_actor sched,
                               job_spec spec, uint64_t total, uint64_t window,
                               std::promise<void>* done) {
  auto& st = self->state;
  st.sched = std::move(sched);
  st.spec = std::move(spec);
  st.total = total;
  st.window = window;
  st.done = done;
  self->send(st.sched, atom::subscribe_v,
             caf::actor_cast<event_listener>(self));
  for (uint64_t i = 0; i < window; ++i)
    submit_next(self);
  return {
    [self](atom::event, const job_event& ev) {
      if (ev.what == transition::finished) {
        ++self->state.finished;
        check_done(self);
      }
    },
  };
}

// range(0): jobs; range(1): global limit (per-session limit alike);
// range(2): 0 = instant kind, 1 = process kind on the instant launcher.
void BM_admission(benchmark::State& state) {
  auto& sys = actor_sys();
  const auto jobs = static_cast<uint64_t>(state.range(0));
  const auto limit = static_cast<size_t>(state.range(1));
  auto spec = state.range(2) == 0 ? instant_spec() : process_spec();
  for (auto _ : state) {
    auto sched = spawn_scheduler(limit, limit);
    // METRICS listens in jobd too: keep the event fan-out the same.
    auto stats = sys.spawn(metrics, limit, limit, store_actor{},
                           std::vector<std::string>{});
    caf::anon_send(sched, atom::subscribe_v, event_listener{stats});
    std::promise<void> done;
    auto done_f = done.get_future();
    sys.spawn(admission_driver, sched, spec, jobs, uint64_t{256}, &done);
    done_f.wait();
    state.PauseTiming();
    stop(sched);
    caf::anon_send_exit(stats, caf::exit_reason::user_shutdown);
    // Let the jobs of this round go before the next one starts.
    sys.registry().await_running_count_equal(0);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * jobs);
  state.counters["jobs"] = static_cast<double>(jobs);
}
BENCHMARK(BM_admission)
  ->ArgNames({"jobs", "limit", "process"})
  ->Args({1000, 10, 0})
  ->Args({1000, 10, 1})
  ->Args({10000, 10, 1})
  ->Args({1000, 100000, 1})
  ->Args({10000, 100000, 1})
  ->Args({100000, 100000, 1})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime();

} // namespace

int main(int argc, char** argv) {
  jobd::log::set_level(jobd::log::level::warning);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::jobd>();
  {
    caf::actor_system sys{cfg};
    the_system = &sys;
    benchmark::RunSpecifiedBenchmarks();
    sys.registry().await_running_count_equal(0);
    the_system = nullptr;
  }
  benchmark::Shutdown();
  return 0;
}

#include "actor_harness.hpp"
#include "check_line.hpp"

#include "actors/actors.hpp"
#include "actors/logger.hpp"
#include "actors/scheduler.hpp"
#include "protocol/mcp_session.hpp"
#include "tests/actors/scripted_job.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/stateful_actor.hpp>

#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>

namespace jobd::fuzz {

namespace {

// Every job runs on the scripted kind: its command picks how long it runs
// (up to 5 s of actor time) and its argument count the exit code.
void make_scripted(job_spec& spec) {
  size_t h = std::hash<std::string>{}(spec.command);
  spec.args = {std::to_string(h % 5000), std::to_string(spec.args.size() % 3)};
  spec.kind = "scripted";
}

struct client_state {
  protocol::mcp_session session;
  scheduler_actor scheduler;
  size_t outstanding = 0;
  size_t answered = 0;
  /// Ids of the jobs created so far: "#k" in an input names the k-th.
  std::vector<std::string> ids;
  static inline const char* name = "fuzz_client";
};

using client_ptr = caf::stateful_actor<client_state>*;

// Job ids carry a random part no input can guess: "#k" stands for the k-th
// job created (modulo their number).
void resolve(client_ptr self, std::string& job_id) {
  auto& ids = self->state.ids;
  if (job_id.empty() || job_id[0] != '#' || ids.empty())
    return;
  size_t k = 0;
  for (size_t i = 1; i < job_id.size() && i < 8; ++i)
    k = k * 10 + static_cast<unsigned char>(job_id[i]) % 10;
  job_id = ids[k % ids.size()];
}

void remember(client_ptr self, const submit_result& r) {
  self->state.ids.push_back(r.job_id);
}

template <class T> void remember(client_ptr, const T&) {
  // only submissions create jobs
}

template <class T, class... Ts>
void ask(client_ptr self, std::string id, Ts&&... xs) {
  ++self->state.outstanding;
  self->request(self->state.scheduler, caf::infinite, std::forward<Ts>(xs)...)
    .then(
      [self, id](T& result) {
        --self->state.outstanding;
        ++self->state.answered;
        remember(self, result);
        check_line(self->state.session.render_result(
          id, protocol::tool_result{std::move(result)}));
      },
      [self, id](caf::error& err) {
        --self->state.outstanding;
        ++self->state.answered;
        check_line(self->state.session.render_error(
          id, to_tool_error(self->system(), err)));
      });
}

void dispatch(client_ptr self, protocol::dispatch_call& call) {
  auto id = call.id;
  struct visitor {
    client_ptr self;
    const std::string& id;
    void operator()(job_spec& spec) {
      make_scripted(spec);
      ask<submit_result>(self, id, atom::submit_v, std::move(spec));
    }
    void operator()(std::string& job) {
      resolve(self, job);
      ask<job_info>(self, id, atom::status_v, std::move(job));
    }
    void operator()(protocol::output_call& x) {
      resolve(self, x.job_id);
      ask<output_page>(self, id, atom::output_v, std::move(x.job_id), x.query);
    }
    void operator()(protocol::cancel_call& x) {
      resolve(self, x.job_id);
      ask<cancel_result>(self, id, atom::cancel_v, std::move(x.job_id),
                         x.grace_ms);
    }
    void operator()(list_query& q) {
      ask<list_page>(self, id, atom::list_v, std::move(q));
    }
    void operator()(protocol::metrics_call&) {
      // METRICS is not part of this system; ask for a list instead.
      ask<list_page>(self, id, atom::list_v, list_query{});
    }
    void operator()(cleanup_query& q) {
      ask<cleanup_result>(self, id, atom::cleanup_v, std::move(q));
    }
    void operator()(wait_query& q) {
      resolve(self, q.job_id);
      ask<wait_result>(self, id, atom::wait_v, std::move(q));
    }
    void operator()(wait_many_query& q) {
      for (auto& job : q.job_ids)
        resolve(self, job);
      ask<wait_many_result>(self, id, atom::wait_v, std::move(q));
    }
    void operator()(input_request& x) {
      resolve(self, x.job_id);
      ask<input_result>(self, id, atom::input_v, std::move(x.job_id),
                        std::move(x.text), x.close);
    }
    void operator()(signal_request& x) {
      resolve(self, x.job_id);
      ask<signal_result>(self, id, atom::signal_v, std::move(x.job_id),
                         x.signal, x.whole_tree);
    }
    void operator()(pause_request& x) {
      resolve(self, x.job_id);
      ask<job_info>(self, id, atom::pause_v, std::move(x.job_id), x.pause);
    }
    void operator()(resize_request& x) {
      resolve(self, x.job_id);
      ask<job_info>(self, id, atom::resize_v, std::move(x.job_id), x.cols,
                    x.rows);
    }
    void operator()(restart_request& x) {
      resolve(self, x.job_id);
      ask<submit_result>(self, id, atom::start_v, std::move(x));
    }
  };
  // Templates and schedules live in the STORE and SCHEDULES, which this
  // harness does not run: their calls are answered as unsupported, still
  // rendered.
  std::visit(
    [&](auto& x) {
      visitor v{self, id};
      if constexpr (std::is_invocable_v<visitor&, decltype(x)>)
        v(x);
      else
        check_line(self->state.session.render_error(
          id, tool_error{codes::not_supported,
                         "templates and schedules are not in the actor "
                         "harness",
                         {}}));
    },
    call.request);
}

caf::behavior client(client_ptr self, scheduler_actor scheduler) {
  self->state.scheduler = std::move(scheduler);
  return {
    [self](atom::line, const std::string& line) {
      std::vector<std::string> replies;
      auto action = self->state.session.handle_line(line, replies);
      for (auto& reply : replies)
        check_line(reply);
      if (auto call = std::get_if<protocol::dispatch_call>(&action))
        dispatch(self, *call);
    },
  };
}

// One actor system for the whole run (making one per input would dominate
// the time); every input gets a fresh SCHEDULER and client.
struct harness {
  harness() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.add_message_types<caf::id_block::jobd>();
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    factory = std::make_shared<job_factory>();
    factory->add("scripted", std::make_shared<test::scripted_job_kind>());
    log::set_level(log::level::off);
  }

  // Delivers messages and fires timers until nothing is left, bounded.
  void settle() {
    for (int round = 0; round < 100000; ++round) {
      sched->run();
      if (!sched->has_pending_timeout())
        return;
      sched->trigger_timeout();
    }
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<job_factory> factory;
};

} // namespace

size_t run_actor_input(const uint8_t* data, size_t size) {
  // Never destroyed: CAF 0.17's test coordinator does not survive the
  // actor system's destruction during static destruction at exit.
  static harness& h = *new harness;
  scheduler_config cfg;
  cfg.max_running = 3;
  cfg.max_running_per_session = 2;
  cfg.max_pending = 50;
  cfg.output_total_bytes = 4096;
  cfg.defaults.max_wait_ms = 10000;
  auto sched = h.sys->spawn(scheduler, cfg, factory_ptr{h.factory});
  auto c = h.sys->spawn(client, sched);
  std::string_view input{reinterpret_cast<const char*>(data), size};
  size_t lines = 0;
  while (!input.empty() && lines++ < 200) {
    auto end = input.find('\n');
    auto line = input.substr(0, end);
    caf::anon_send(caf::actor_cast<caf::actor>(c), atom::line_v,
                   std::string{line});
    h.sched->run();
    // Let some time pass between lines, as a client would.
    if (h.sched->has_pending_timeout())
      h.sched->trigger_timeout();
    input = end == std::string_view::npos ? std::string_view{}
                                          : input.substr(end + 1);
  }
  h.settle();
  auto& st = caf::actor_cast<caf::stateful_actor<client_state>*>(
               caf::actor_cast<caf::abstract_actor*>(c))
               ->state;
  if (st.outstanding != 0) {
    std::fprintf(stderr, "%zu calls never answered\n", st.outstanding);
    std::abort();
  }
  auto answered = st.answered;
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sched, caf::exit_reason::user_shutdown);
  h.settle();
  return answered;
}

} // namespace jobd::fuzz

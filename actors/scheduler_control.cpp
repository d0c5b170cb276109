// SCHEDULER's part in working with jobs: input, signals, pause and resume,
// terminal size and restart go to the job's actor, which knows its state;
// what SCHEDULER does not hold (a finished job's record, another instance's
// job, an earlier run's) is refused or read from the store here. Waits on
// many jobs go to a wait group.
#include "actors/scheduler.hpp"

#include "actors/wait_group.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

namespace jobd {

using self_ptr = scheduler_ptr;

namespace {

caf::error finished_error(const job_info& info, const std::string& what) {
  return make_tool_error(codes::job_already_finished,
                         "Job " + info.id + " already finished ("
                           + to_string(info.status) + "): cannot " + what,
                         {{"status", json_quote(to_string(info.status))},
                          {"jobId", json_quote(info.id)}});
}

// Why a job this instance does not run cannot take `what`: read from the
// store (JOB_NOT_FOUND if it has no such job either).
template <class Result>
caf::result<Result> refuse_unheld(self_ptr self, const std::string& id,
                                  std::string what) {
  auto rp = self->make_response_promise<Result>();
  auto& st = self->state;
  self->request(st.config.store, caf::infinite, atom::status_v, id)
    .then(
      [self, rp, what](job_info& info) mutable {
        if (is_terminal(info.status)) {
          rp.deliver(finished_error(info, what));
          return;
        }
        if (info.owner_live
            && info.owner_instance != self->state.config.instance) {
          rp.deliver(make_tool_error(
            codes::owned_elsewhere,
            "Job " + info.id + " is run by another jobd instance ("
              + info.owner_instance + ", pid " + std::to_string(info.owner_pid)
              + "): " + what + " through that instance",
            {{"jobId", json_quote(info.id)},
             {"owner", "{\"instance\":" + json_quote(info.owner_instance)
                         + ",\"pid\":" + std::to_string(info.owner_pid)
                         + "}"}}));
          return;
        }
        rp.deliver(make_tool_error(
          codes::job_not_running,
          "Job " + info.id + " is " + to_string(info.status)
            + " but not run by any live jobd instance: cannot " + what,
          {{"jobId", json_quote(info.id)},
           {"status", json_quote(to_string(info.status))}}));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

// The job's actor answers `xs...`, if the job has one.
template <class Result, class... Ts>
caf::result<Result> to_job(self_ptr self, const std::string& id,
                           const char* what, Ts&&... xs) {
  auto e = find_job(self, id);
  if (e == nullptr)
    return refuse_unheld<Result>(self, id, what);
  if (e->output || !is_live(*e))
    return finished_error(e->info, what);
  return self->delegate(job_of(self, *e), std::forward<Ts>(xs)...);
}

} // namespace

caf::result<input_result> job_input(self_ptr self, const std::string& id,
                                    std::string& bytes, bool close) {
  return to_job<input_result>(self, id, "send input", atom::input_v,
                              std::move(bytes), close);
}

caf::result<signal_result> job_signal(self_ptr self, const std::string& id,
                                      int32_t sig, bool whole_tree) {
  return to_job<signal_result>(self, id, "signal it", atom::signal_v, sig,
                               whole_tree);
}

caf::result<job_info> job_pause(self_ptr self, const std::string& id,
                                bool pause) {
  return to_job<job_info>(self, id, pause ? "pause it" : "resume it",
                          atom::pause_v, pause);
}

caf::result<job_info> job_resize(self_ptr self, const std::string& id,
                                 int32_t cols, int32_t rows) {
  return to_job<job_info>(self, id, "resize its terminal", atom::resize_v, cols,
                          rows);
}

caf::result<submit_result> restart_job(self_ptr self,
                                       const restart_request& r) {
  auto rp = self->make_response_promise<submit_result>();
  auto old_id = r.job_id;
  // The new job: the old spec, linked back, without the old key (that
  // names the old job) and without a run-and-wait. Submitted as any other
  // (through our own mailbox, so admission runs as for a client's).
  auto create = [self, rp, old_id](job_spec spec) mutable {
    spec.restart_of = old_id;
    spec.idempotency_key.clear();
    spec.wait_ms = 0;
    // Its dependencies and retries stand; its start time does not (a
    // restart runs now; dependencies still gate it).
    spec.start_at = 0;
    self
      ->request(caf::actor_cast<scheduler_actor>(self), caf::infinite,
                atom::submit_v, std::move(spec))
      .then([rp](submit_result& res) mutable { rp.deliver(std::move(res)); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  };
  auto e = find_job(self, old_id);
  if (e != nullptr && e->spec) {
    auto spec = *e->spec;
    if (!r.replace || e->output || !is_live(*e)) {
      create(std::move(spec));
      return rp;
    }
    // Replace: cancel the old job first (a pending one never starts).
    self
      ->request(caf::actor_cast<scheduler_actor>(self), caf::infinite,
                atom::cancel_v, old_id, use_default)
      .then([create, spec](cancel_result&) mutable { create(std::move(spec)); },
            [create, spec](caf::error&) mutable {
              create(std::move(spec)); // it ended meanwhile
            });
    return rp;
  }
  // An earlier run's job, or another instance's: its spec from the store.
  auto store = self->state.config.store;
  bool replace = r.replace;
  self->request(store, caf::infinite, atom::spec_v, old_id)
    .then(
      [self, rp, store, create, replace, old_id](job_spec& spec) mutable {
        if (!replace) {
          create(std::move(spec));
          return;
        }
        // Refused unless it ended (another live instance runs it).
        self->request(store, caf::infinite, atom::status_v, old_id)
          .then(
            [self, rp, create, spec](job_info& info) mutable {
              if (!is_terminal(info.status) && info.owner_live
                  && info.owner_instance != self->state.config.instance) {
                rp.deliver(make_tool_error(
                  codes::owned_elsewhere,
                  "Job " + info.id + " is run by another jobd instance ("
                    + info.owner_instance + ", pid "
                    + std::to_string(info.owner_pid)
                    + "): replace it through that instance",
                  {{"jobId", json_quote(info.id)}}));
                return;
              }
              create(std::move(spec));
            },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<wait_many_result> wait_many(self_ptr self, wait_many_query& q) {
  auto group
    = self->system().spawn(wait_group, caf::actor_cast<scheduler_actor>(self),
                           self->state.config.defaults.max_wait_ms);
  return self->delegate(group, atom::wait_v, std::move(q));
}

} // namespace jobd

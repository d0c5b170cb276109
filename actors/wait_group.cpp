#include "actors/wait_group.hpp"

#include "actors/core/timing.hpp"
#include "actors/unexpected.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>

namespace jobd {

namespace {

using self_ptr = wait_group_actor::stateful_pointer<wait_group_state>;

// The single waits share one deadline; this fires only if they do not
// answer by a while after it.
constexpr auto safety_margin = std::chrono::seconds(2);

void deliver(self_ptr self) {
  auto& st = self->state;
  wait_many_result result;
  result.all = st.query.all;
  result.reason = st.reason;
  for (size_t i = 0; i < st.jobs.size(); ++i) {
    job_info info;
    if (st.jobs[i]) {
      info = std::move(*st.jobs[i]);
    } else {
      info.id = st.query.job_ids[i];
    }
    if (is_terminal(info.status))
      result.ended.push_back(info.id);
    result.jobs.push_back(std::move(info));
  }
  st.promise.deliver(std::move(result));
  self->quit();
}

// The condition held or the time is up: the jobs whose waits have not
// answered yet are asked for their status, then everyone hears.
void finish(self_ptr self, std::string reason) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  st.reason = std::move(reason);
  for (size_t i = 0; i < st.jobs.size(); ++i) {
    if (st.jobs[i])
      continue;
    ++st.refreshing;
    self
      ->request(st.scheduler, std::chrono::seconds(5), atom::status_v,
                st.query.job_ids[i])
      .then(
        [self, i](job_info& info) {
          auto& st = self->state;
          st.jobs[i] = std::move(info);
          if (--st.refreshing == 0)
            deliver(self);
        },
        [self](caf::error&) {
          if (--self->state.refreshing == 0)
            deliver(self);
        });
  }
  if (st.refreshing == 0)
    deliver(self);
}

void on_answer(self_ptr self, size_t i, job_info& job) {
  auto& st = self->state;
  if (st.done || st.jobs[i])
    return;
  bool ended = is_terminal(job.status);
  st.jobs[i] = std::move(job);
  ++st.answered;
  if (ended)
    ++st.ended;
  auto n = st.jobs.size();
  if (st.query.all ? st.ended == n : st.ended > 0)
    finish(self, st.query.all ? "all" : "any");
  else if (st.answered == n)
    finish(self, "timeout");
}

void refuse(self_ptr self, caf::error err) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  st.promise.deliver(std::move(err));
  self->quit();
}

// Every job exists: one wait per job, all with the same timeout.
void begin_waits(self_ptr self, int64_t timeout) {
  auto& st = self->state;
  if (st.done)
    return;
  for (size_t i = 0; i < st.jobs.size(); ++i) {
    wait_query one;
    one.job_id = st.query.job_ids[i];
    one.timeout_ms = timeout;
    one.until = wait_until::exit;
    self->request(st.scheduler, caf::infinite, atom::wait_v, one)
      .then([self, i](wait_result& r) { on_answer(self, i, r.job); },
            [self](caf::error& err) { refuse(self, std::move(err)); });
  }
  self->delayed_send(self, delay_ms(timeout) + safety_margin, atom::tick_v);
}

} // namespace

wait_group_actor::behavior_type
wait_group(wait_group_actor::stateful_pointer<wait_group_state> self,
           scheduler_actor scheduler, int64_t max_wait_ms) {
  self->set_default_handler(log_and_drop);
  self->state.scheduler = std::move(scheduler);
  self->state.max_wait_ms = max_wait_ms;
  return {
    [self](atom::wait, wait_many_query& q) -> caf::result<wait_many_result> {
      auto& st = self->state;
      if (st.promise.pending())
        return make_tool_error(codes::internal_error, "wait group reused");
      auto timeout = q.timeout_ms < 0 ? st.max_wait_ms
                                      : std::min(q.timeout_ms, st.max_wait_ms);
      st.query = std::move(q);
      st.jobs.resize(st.query.job_ids.size());
      st.promise = self->make_response_promise<wait_many_result>();
      auto rp = st.promise;
      if (st.jobs.empty()) {
        finish(self, st.query.all ? "all" : "timeout");
        return rp;
      }
      // Every job must exist before any wait begins: an unknown id refuses
      // the whole call, even when another job ended at once.
      st.refreshing = st.jobs.size();
      for (size_t i = 0; i < st.jobs.size(); ++i) {
        self
          ->request(st.scheduler, caf::infinite, atom::status_v,
                    st.query.job_ids[i])
          .then(
            [self, timeout](job_info&) {
              if (--self->state.refreshing == 0)
                begin_waits(self, timeout);
            },
            [self](caf::error& err) { refuse(self, std::move(err)); });
      }
      return rp;
    },
    [self](atom::tick) { finish(self, "timeout"); },
  };
}

} // namespace jobd

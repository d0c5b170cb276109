#include "actors/session.hpp"
#include "actors/unexpected.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <vector>

namespace jobd {

namespace {

using self_ptr = session_actor::stateful_pointer<session_state>;
using place = session_state::place;

void rebalance(self_ptr self);

// Takes the worst offer back; its slot stays taken until SCHEDULER answers,
// so the session never has more than `limit` jobs running or offered.
void withdraw_worst(self_ptr self) {
  auto& st = self->state;
  auto worst = std::prev(st.offered.end());
  auto id = worst->job_id;
  st.offered.erase(worst);
  st.jobs[id].second = place::withdrawing;
  ++st.withdrawing;
  self->request(st.scheduler, caf::infinite, atom::withdraw_v, id)
    .then([self, id](bool taken_back) {
      auto& st = self->state;
      auto i = st.jobs.find(id);
      if (i != st.jobs.end() && i->second.second == place::withdrawing) {
        --st.withdrawing;
        if (taken_back) {
          i->second.second = place::waiting;
          st.waiting.insert(i->second.first);
        }
      }
      rebalance(self);
    });
}

// Keeps the offers the best (limit - running) pending jobs: fills free
// slots best first, and trades the worst offer for a better waiting job.
void rebalance(self_ptr self) {
  auto& st = self->state;
  auto busy = st.running + st.withdrawing;
  auto slots = st.limit > busy ? st.limit - busy : 0;
  candidate_order better;
  while (st.offered.size() > slots)
    withdraw_worst(self);
  while (st.offered.size() < slots && !st.waiting.empty()) {
    auto best = *st.waiting.begin();
    st.waiting.erase(st.waiting.begin());
    st.offered.insert(best);
    st.jobs[best.job_id].second = place::offered;
    self->send(st.scheduler, atom::offer_v, best);
  }
  if (!st.waiting.empty() && !st.offered.empty()
      && better(*st.waiting.begin(), *std::prev(st.offered.end())))
    withdraw_worst(self); // the better job is offered once this is answered
}

// Takes a job out of whatever place it is in.
void erase(session_state& st, const std::string& id) {
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& [c, where] = i->second;
  switch (where) {
    case place::waiting:
      st.waiting.erase(c);
      break;
    case place::offered:
      st.offered.erase(c);
      break;
    case place::withdrawing:
      --st.withdrawing;
      break;
    case place::running:
      --st.running;
      break;
  }
  st.jobs.erase(i);
}

} // namespace

session_actor::behavior_type
session(session_actor::stateful_pointer<session_state> self, std::string id,
        size_t limit, scheduler_actor scheduler) {
  self->set_default_handler(log_and_drop);
  self->state.id = std::move(id);
  self->state.limit = limit;
  self->state.scheduler = std::move(scheduler);
  return {
    // A new pending job; the reply follows any offer it caused.
    [self](atom::enqueue, const candidate& c) {
      auto& st = self->state;
      st.jobs[c.job_id] = {c, place::waiting};
      st.waiting.insert(c);
      rebalance(self);
      return true;
    },
    // SCHEDULER started one of our jobs (possibly one we were withdrawing).
    [self](atom::started, const std::string& id) {
      auto& st = self->state;
      auto i = st.jobs.find(id);
      if (i == st.jobs.end())
        return;
      auto c = i->second.first;
      erase(st, id);
      st.jobs[id] = {c, place::running};
      ++st.running;
      rebalance(self);
    },
    // One of our running jobs ended: a slot is free.
    [self](atom::finished, const std::string& id) {
      erase(self->state, id);
      rebalance(self);
    },
    // A pending job was cancelled; SCHEDULER already dropped its offer.
    [self](atom::forget, const std::string& id) {
      erase(self->state, id);
      rebalance(self);
    },
  };
}

} // namespace jobd

#include "actors/session.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <vector>

namespace jobd {

namespace {

using self_ptr = session_actor::stateful_pointer<session_state>;

void rebalance(self_ptr self);

void erase_pending(session_state& st, const std::string& id) {
  auto i = st.by_id.find(id);
  if (i == st.by_id.end())
    return;
  st.pending.erase(i->second);
  st.by_id.erase(i);
}

// Takes back an offer; the slot stays taken until SCHEDULER answers, so the
// session can never have more than `limit` jobs running or offered.
void withdraw(self_ptr self, const std::string& id) {
  auto& st = self->state;
  st.offered.erase(id);
  st.withdrawing.insert(id);
  self->request(st.scheduler, caf::infinite, atom::withdraw_v, id)
    .then([self, id](bool) {
      self->state.withdrawing.erase(id);
      rebalance(self);
    });
}

// Makes the offered set the best (limit - running) pending jobs.
void rebalance(self_ptr self) {
  auto& st = self->state;
  auto busy = st.running.size() + st.withdrawing.size();
  auto slots = st.limit > busy ? st.limit - busy : 0;
  std::set<std::string> wanted;
  for (auto i = st.pending.begin(); i != st.pending.end() && wanted.size() < slots;
       ++i) {
    if (st.withdrawing.count(i->job_id) == 0)
      wanted.insert(i->job_id);
  }
  std::vector<std::string> stale;
  for (auto& id : st.offered)
    if (wanted.count(id) == 0)
      stale.push_back(id);
  for (auto& id : stale)
    withdraw(self, id);
  // Best first: with free slots SCHEDULER starts offers as they arrive.
  for (auto& c : st.pending) {
    if (wanted.count(c.job_id) != 0 && st.offered.insert(c.job_id).second)
      self->send(st.scheduler, atom::offer_v, c);
  }
}

} // namespace

session_actor::behavior_type
session(session_actor::stateful_pointer<session_state> self, std::string id,
        size_t limit, scheduler_actor scheduler) {
  self->state.id = std::move(id);
  self->state.limit = limit;
  self->state.scheduler = std::move(scheduler);
  return {
    // A new pending job; the reply follows any offer it caused.
    [self](atom::enqueue, const candidate& c) {
      auto& st = self->state;
      st.by_id[c.job_id] = c;
      st.pending.insert(c);
      rebalance(self);
      return true;
    },
    // SCHEDULER started one of our jobs (possibly one we were withdrawing).
    [self](atom::started, const std::string& id) {
      auto& st = self->state;
      erase_pending(st, id);
      st.offered.erase(id);
      st.withdrawing.erase(id);
      st.running.insert(id);
      rebalance(self);
    },
    // One of our running jobs ended: a slot is free.
    [self](atom::finished, const std::string& id) {
      self->state.running.erase(id);
      rebalance(self);
    },
    // A pending job was cancelled; SCHEDULER already dropped its offer.
    [self](atom::forget, const std::string& id) {
      auto& st = self->state;
      erase_pending(st, id);
      st.offered.erase(id);
      rebalance(self);
    },
  };
}

} // namespace jobd

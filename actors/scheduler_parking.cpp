// SCHEDULER's parked jobs: a fresh job that waits for a slot has no actor.
// Its actor checked its spec and went; the index entry (info and spec) is
// all of the job until it starts or something needs its actor, which
// job_of() then makes from the entry, exactly as the check left it. A
// burst of 10,000 submissions thus holds 10,000 entries and a few actors,
// not 10,000 actors of about 3 KB each, whose memory the heap keeps at its
// peak long after they went (docs/performance.md).
//
// What a parked job is asked for: its status comes from the entry (as the
// actor would give it: pending, nothing of it ran); a wait for its end is
// held here, with its own timer, until the actor is made; anything else
// (output, input, signals, cancel, a hold, start, shutdown) makes the
// actor and goes to it.
#include "actors/scheduler.hpp"

#include "actors/core/timing.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <chrono>

namespace jobd {

using entry = scheduler_state::entry;

void park(scheduler_ptr self, entry& e) {
  auto& st = self->state;
  if (e.parked || e.touched || !e.handle || e.slotless || e.output
      || e.info.status != job_status::pending || e.info.attempt > 0
      || st.held.count(e.info.id) > 0 || st.shutting_down)
    return;
  // Its actor has answered `submit` and nothing else: it holds nothing
  // that the entry does not. Not monitored any more, it goes unnoticed.
  self->demonitor(e.handle.address());
  st.job_addresses.erase(e.handle.address());
  self->send(e.handle, atom::retire_v);
  e.handle = nullptr;
  e.parked = true;
}

job_actor job_of(scheduler_ptr self, entry& e) {
  e.touched = true;
  if (!e.parked)
    return e.handle;
  auto& st = self->state;
  job_context ctx;
  ctx.id = e.info.id;
  ctx.serial = e.info.serial;
  ctx.created_at = e.info.created_at;
  ctx.spec = e.spec;
  ctx.scheduler = scheduler_actor{self};
  ctx.store = st.config.store;
  ctx.instance = st.config.instance;
  ctx.defaults = st.config.defaults;
  ctx.kind = st.factory->find(e.spec->kind);
  auto handle = st.factory->spawn(self->system(), std::move(ctx));
  self->monitor(handle);
  st.job_addresses.emplace(handle.address(), e.info.id);
  e.handle = handle;
  e.parked = false;
  // Held waits go to it with what is left of their time.
  if (auto i = st.parked_waits.find(e.info.id); i != st.parked_waits.end()) {
    auto waits = std::move(i->second);
    st.parked_waits.erase(i);
    auto now = self->clock().now();
    for (auto& w : waits) {
      // Rounded up: it must not run out there before its time.
      auto left = std::chrono::ceil<std::chrono::milliseconds>(w.expires - now);
      w.query.timeout_ms = std::max<int64_t>(left.count(), 0);
      w.promise.delegate(handle, atom::wait_v, std::move(w.query));
    }
  }
  return handle;
}

caf::result<wait_result> wait_parked(scheduler_ptr self, entry& e,
                                     wait_query& q) {
  auto& st = self->state;
  auto cap = st.config.defaults.max_wait_ms;
  auto timeout = q.timeout_ms < 0 ? cap : std::min(q.timeout_ms, cap);
  // A wait for output (a pattern to check, a `since`) or one that ends now
  // is the actor's.
  if (q.until != wait_until::exit || timeout <= 0)
    return self->delegate(job_of(self, e), atom::wait_v, std::move(q));
  auto id = e.info.id;
  auto rp = self->make_response_promise<wait_result>();
  st.parked_waits[id].push_back(scheduler_state::parked_wait{
    std::move(q), rp, deadline_after(self->clock().now(), timeout)});
  self->delayed_send(self, delay_ms(timeout), atom::tick_v, std::move(id));
  return rp;
}

void parked_wait_due(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.parked_waits.find(id);
  if (i == st.parked_waits.end())
    return; // handed to the job's actor meanwhile
  auto now = self->clock().now();
  auto due = std::any_of(i->second.begin(), i->second.end(),
                         [&](auto& w) { return w.expires <= now; });
  auto e = find_job(self, id);
  if (e == nullptr || !e->parked) {
    // Not ours any more (cannot happen: unpark and job_of take them).
    for (auto& w : i->second)
      w.promise.deliver(make_tool_error(codes::job_not_found,
                                        "Job " + id + " is gone",
                                        {{"jobId", json_quote(id)}}));
    st.parked_waits.erase(i);
    return;
  }
  // The actor answers it as its own wait that ran out (one that is not due
  // yet goes on there with the rest of its time).
  if (due)
    job_of(self, *e);
}

void unpark(scheduler_ptr self, entry& e) {
  auto& st = self->state;
  e.parked = false;
  auto i = st.parked_waits.find(e.info.id);
  if (i == st.parked_waits.end())
    return;
  for (auto& w : i->second)
    w.promise.deliver(make_tool_error(codes::job_not_found,
                                      "Job " + e.info.id + " was removed",
                                      {{"jobId", json_quote(e.info.id)}}));
  st.parked_waits.erase(i);
}

} // namespace jobd

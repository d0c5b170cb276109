// SCHEDULER's sessions: one SESSION actor per sessionId while it holds jobs
// that have not ended; replaced if it dies.
#include "actors/scheduler.hpp"

#include "actors/logger.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

namespace jobd {

namespace {

session_actor spawn_session(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  auto handle = self->system().spawn(
    session, id, st.config.max_running_per_session, scheduler_actor{self});
  self->monitor(handle);
  st.session_addresses.emplace(handle.address(), id);
  st.sessions[id].handle = handle;
  return handle;
}

} // namespace

session_actor session_for(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i != st.sessions.end())
    return i->second.handle;
  return spawn_session(self, id);
}

// One of the session's jobs ended: a session that holds no job goes away.
void release_session(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i == st.sessions.end() || i->second.active == 0)
    return;
  if (--i->second.active > 0)
    return;
  auto handle = i->second.handle;
  st.session_addresses.erase(handle.address());
  st.sessions.erase(i);
  self->send_exit(handle, caf::exit_reason::normal);
}

// A session died unexpectedly: a new one takes over its jobs.
void replace_session(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  st.sessions.erase(id);
  if (st.shutting_down)
    return;
  // Every job of the session without a record counts (a job cancelled
  // while pending releases its session only when its record arrives).
  size_t active = 0;
  std::vector<const job_info*> running;
  std::vector<const job_info*> pending;
  for (auto& [serial, job_id] : st.by_serial) {
    (void) serial;
    auto& e = st.jobs.at(job_id);
    if (e.info.session_id != id || e.output)
      continue;
    ++active;
    if (e.slotless)
      continue; // never the session's to offer
    if (e.info.status == job_status::running)
      running.push_back(&e.info);
    else if (e.info.status == job_status::pending && !is_held(self, e.info.id))
      pending.push_back(&e.info); // held ones go to it when released
  }
  if (active == 0)
    return;
  log::warning("session " + id + " stopped unexpectedly; replaced");
  auto handle = spawn_session(self, id);
  st.sessions[id].active = active;
  // Running jobs first, so the new session counts them before it offers
  // any pending one.
  for (auto info : running) {
    self->request(handle, caf::infinite, atom::enqueue_v, candidate_of(*info))
      .then([](bool) {}, [](caf::error&) {});
    self->send(handle, atom::started_v, info->id);
  }
  for (auto info : pending) {
    unready(self, candidate_of(*info));
    self->request(handle, caf::infinite, atom::enqueue_v, candidate_of(*info))
      .then([](bool) {}, [](caf::error&) {});
  }
}

} // namespace jobd

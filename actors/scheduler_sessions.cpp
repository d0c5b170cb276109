// SCHEDULER's sessions: one SESSION actor per sessionId while it holds jobs
// that have not ended; replaced if it dies.
#include "actors/scheduler.hpp"

#include "actors/logger.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

namespace jobd {

namespace {

candidate candidate_of(const job_info& job) {
  return {job.id, job.session_id, job.priority, job.serial};
}

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
  std::vector<const job_info*> jobs;
  for (auto& [serial, job_id] : st.by_serial) {
    (void) serial;
    auto& info = st.jobs.at(job_id).info;
    if (info.session_id == id && !is_terminal(info.status))
      jobs.push_back(&info);
  }
  if (jobs.empty())
    return;
  log::warning("session " + id + " stopped unexpectedly; replaced");
  auto handle = spawn_session(self, id);
  st.sessions[id].active = jobs.size();
  for (auto info : jobs) {
    st.ready.erase(candidate_of(*info));
    self->request(handle, caf::infinite, atom::enqueue_v, candidate_of(*info))
      .then([](bool) {}, [](caf::error&) {});
    if (info->status == job_status::running)
      self->send(handle, atom::started_v, info->id);
  }
}

} // namespace jobd

// SCHEDULER's index: listing, cleanup, the records of finished jobs, the
// global output budget, whose jobs these are (atom::owner) and the
// per-principal limit's set-aside candidates.
#include "actors/scheduler.hpp"

#include "actors/core/timing.hpp"
#include "actors/logger.hpp"
#include "protocol/principal.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include <algorithm>

namespace jobd {

namespace {

void remove_job(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& e = i->second;
  job_event ev{transition::removed, e.info.status, e.info, nullptr};
  if (e.handle)
    self->send_exit(e.handle, caf::exit_reason::user_shutdown);
  if (e.parked)
    unpark(self, e);
  if (e.output)
    st.record_bytes
      -= std::min(st.record_bytes, e.output->stats().buffered_bytes);
  st.finished_order.erase(e.finish_serial);
  st.by_serial.erase(e.info.serial);
  unindex_session_job(self, e.info);
  forget_idempotency(self, e.info);
  st.jobs.erase(i);
  publish(self, ev);
}

} // namespace

void publish(scheduler_ptr self, const job_event& ev) {
  for (auto& l : self->state.listeners)
    self->send(l, atom::event_v, ev);
}

uint64_t queue_position(scheduler_ptr self, const job_info& job) {
  if (is_held(self, job.id))
    return 0; // not in the ready queue until its gates clear
  auto& idx = self->state.pending.get<0>();
  return idx.rank(idx.lower_bound(queue_key{job.priority, job.serial})) + 1;
}

caf::result<list_page> list_jobs(scheduler_ptr self, list_query q) {
  auto rp = self->make_response_promise<list_page>();
  self->request(self->state.config.store, caf::infinite, atom::list_v, q)
    .then(
      [self, rp](list_page& page) mutable {
        // The store has every job's row; this instance knows its own
        // live jobs better (output counters, queue positions).
        for (auto& job : page.jobs) {
          auto i = self->state.jobs.find(job.id);
          if (i == self->state.jobs.end())
            continue;
          auto& e = i->second;
          auto owner = std::move(job.owner_instance);
          auto pid = job.owner_pid;
          job = e.info;
          job.owner_instance = std::move(owner);
          job.owner_pid = pid;
          job.owner_live = true;
          if (e.output)
            job.output = e.output->stats();
          if (job.status == job_status::pending && !e.slotless)
            job.queue_position = queue_position(self, job);
        }
        rp.deliver(std::move(page));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<cleanup_result> cleanup_jobs(scheduler_ptr self, cleanup_query q) {
  auto rp = self->make_response_promise<cleanup_result>();
  self->request(self->state.config.store, caf::infinite, atom::cleanup_v, q)
    .then(
      [self, rp](cleanup_done& done) mutable {
        for (auto& id : done.removed_own)
          remove_job(self, id);
        if (done.result.cleaned > 0)
          log::info("cleanup removed " + std::to_string(done.result.cleaned)
                    + " jobs, " + std::to_string(done.result.remaining)
                    + " remain");
        rp.deliver(done.result);
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

bool unready(scheduler_ptr self, const candidate& c) {
  auto& st = self->state;
  if (st.ready.erase(c) > 0)
    return true;
  if (st.principal_blocked.empty())
    return false;
  auto i = st.principal_blocked.find(
    std::string{protocol::principal_of(c.session_id)});
  if (i == st.principal_blocked.end() || i->second.erase(c) == 0)
    return false;
  if (i->second.empty())
    st.principal_blocked.erase(i);
  return true;
}

void running_ended(scheduler_ptr self, const std::string& session) {
  auto& st = self->state;
  if (st.config.max_running_per_principal == 0)
    return;
  auto p = std::string{protocol::principal_of(session)};
  if (auto i = st.principal_running.find(p); i != st.principal_running.end()) {
    if (i->second > 0)
      --i->second;
    if (i->second == 0)
      st.principal_running.erase(i);
  }
  // One slot of this principal is free: its best set-aside candidate may
  // take it (the caller dispatches).
  auto b = st.principal_blocked.find(p);
  if (b == st.principal_blocked.end())
    return;
  auto& set = b->second;
  while (!set.empty()) {
    auto c = *set.begin();
    set.erase(set.begin());
    auto e = find_job(self, c.job_id);
    if (e != nullptr && e->info.status == job_status::pending && is_live(*e)
        && !is_held(self, c.job_id)) {
      st.ready.insert(std::move(c));
      break;
    }
  }
  if (set.empty())
    st.principal_blocked.erase(b);
}

caf::result<owner_list> owners(scheduler_ptr self, owner_list& q) {
  auto& st = self->state;
  q.sessions.assign(q.job_ids.size(), std::string{});
  // The index answers what it holds: O(1) per id. The rest: one request
  // to the STORE for all of them.
  owner_list rest;
  std::vector<size_t> where;
  for (size_t i = 0; i < q.job_ids.size(); ++i) {
    if (auto e = find_job(self, q.job_ids[i]); e != nullptr) {
      q.sessions[i] = e->info.session_id;
    } else {
      rest.job_ids.push_back(q.job_ids[i]);
      where.push_back(i);
    }
  }
  if (rest.job_ids.empty())
    return std::move(q);
  auto rp = self->make_response_promise<owner_list>();
  self->request(st.config.store, caf::infinite, atom::owner_v, std::move(rest))
    .then(
      [rp, q{std::move(q)}, where](owner_list& found) mutable {
        for (size_t j = 0; j < where.size() && j < found.sessions.size(); ++j)
          q.sessions[where[j]] = std::move(found.sessions[j]);
        rp.deliver(std::move(q));
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

void keep_record(scheduler_ptr self, scheduler_state::entry& e,
                 std::shared_ptr<output_buffer> output) {
  auto& st = self->state;
  e.output = output ? std::move(output) : std::make_shared<output_buffer>();
  e.finished_steady_ms = steady_ms();
  e.finish_serial = st.next_finish++;
  st.finished_order.emplace(e.finish_serial, e.info.id);
  st.record_bytes += e.output->stats().buffered_bytes;
  enforce_output_budget(self);
}

void enforce_output_budget(scheduler_ptr self) {
  auto& st = self->state;
  auto budget = st.config.output_total_bytes;
  for (auto i = st.finished_order.begin();
       st.record_bytes > budget && i != st.finished_order.end();) {
    auto& e = st.jobs.at(i->second);
    // A record whose actor may still answer from it is not touched yet:
    // the actor's down message brings us back here.
    if (!e.actor_gone) {
      ++i;
      continue;
    }
    // A record reader may still be searching this output: trim a copy.
    if (e.output.use_count() > 1)
      e.output = std::make_shared<output_buffer>(*e.output);
    auto freed = e.output->drop_oldest(st.record_bytes - budget);
    st.record_bytes -= std::min(st.record_bytes, freed);
    e.info.output = e.output->stats();
    if (e.output->stats().buffered_bytes == 0)
      i = st.finished_order.erase(i);
    else
      ++i;
  }
}

} // namespace jobd

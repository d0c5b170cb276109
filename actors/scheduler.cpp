#include "actors/scheduler.hpp"

#include "actors/core/job_record.hpp"
#include "actors/core/record_reader.hpp"
#include "actors/logger.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/unexpected.hpp"
#include "protocol/principal.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <random>

namespace jobd {

using self_ptr = scheduler_ptr;
using entry = scheduler_state::entry;

namespace {

caf::error already_finished(const job_info& info) {
  return make_tool_error(codes::job_already_finished,
                         "Job " + info.id + " already finished ("
                           + to_string(info.status) + ")",
                         {{"status", json_quote(to_string(info.status))},
                          {"jobId", json_quote(info.id)}});
}

// -- admission
// ------------------------------------------------------------------

// Marks a pending job cancelled here, so no offer can start it any more.
void cancel_pending(self_ptr self, entry& e) {
  auto& st = self->state;
  auto& info = e.info;
  unready(self, candidate_of(info));
  info.status = job_status::cancelled;
  st.pending.erase(key_of(info));
  drop_gates(self, info.id);
  self->send(session_for(self, info.session_id), atom::forget_v, info.id);
}

// One requeued job is queued (or failed): once all are, dispatch.

// -- lifecycle
// ------------------------------------------------------------------

void log_finished(const job_info& j) {
  log::info("job " + j.id + " finished status=" + to_string(j.status)
            + " session=" + j.session_id + " command=" + j.command
            + " exit=" + std::to_string(j.exit_code)
            + " signal=" + std::to_string(j.signal)
            + " duration_ms=" + std::to_string(j.run_ms)
            + (j.error_code.empty() ? "" : " code=" + j.error_code));
}

// A job ended (reported by it, or its actor died): free its slots, keep its
// record, tell the listeners.
void on_finished(self_ptr self, entry& e, job_status previous,
                 std::shared_ptr<output_buffer> output) {
  auto& st = self->state;
  auto& info = e.info;
  if (e.slotless) {
    // Never offered by its session, never counted in `running`.
  } else if (previous == job_status::pending) {
    st.pending.erase(key_of(info));
    unready(self, candidate_of(info));
    // Its session may still hold it as waiting or offered.
    if (auto i = st.sessions.find(info.session_id); i != st.sessions.end())
      self->send(i->second.handle, atom::forget_v, info.id);
  }
  if (previous == job_status::running && !e.slotless) {
    --st.running;
    running_ended(self, info.session_id);
    if (auto i = st.sessions.find(info.session_id); i != st.sessions.end())
      self->send(i->second.handle, atom::finished_v, info.id);
  }
  release_session(self, info.session_id);
  keep_record(self, e, std::move(output));
  // Jobs waiting for this one may start now, or never (cascading).
  dependency_ended(self, info);
  log_finished(info);
  // Listeners count a job as running only once it said it started.
  auto told = previous == job_status::running && !e.announced
                ? job_status::pending
                : previous;
  publish(self, {transition::finished, told, info, nullptr});
  dispatch(self);
}

void on_event(self_ptr self, job_event& ev) {
  auto& st = self->state;
  auto e = find_job(self, ev.job.id);
  if (e == nullptr || e->output)
    return; // removed, or already recorded (e.g. its actor died first)
  auto previous = e->info.status;
  e->info = std::move(ev.job);
  if (ev.what == transition::updated
      && !(e->slotless && e->announced && !is_terminal(e->info.status)
           && !is_terminal(previous))) {
    // No change of state: ours stands (a job cancelled or started here
    // may report a change of its fields from before). A started slotless
    // job's own word stands: pending while its cluster queues it.
    e->info.status = previous;
  }
  if (ev.what == transition::retrying) {
    on_retrying(self, *e, previous, ev.previous);
    dispatch(self);
    return;
  }
  if (ev.what == transition::finished) {
    // The record takes over: the actor answers what reached it before this
    // (same sender, same order) and then quits.
    self->send(e->handle, atom::retire_v);
    e->handle = nullptr;
    // A pending job cancelled here is already "cancelled" in the index.
    on_finished(self, *e,
                previous == job_status::cancelled ? ev.previous : previous,
                std::move(ev.output));
    return;
  }
  if (ev.what == transition::started) {
    e->announced = true;
    log::info("job " + e->info.id + " started session=" + e->info.session_id
              + " pid=" + std::to_string(e->info.pid));
    if (e->info.status != job_status::pending)
      st.pending.erase(key_of(e->info));
  }
  // An update tells listeners the state before it as this index had it:
  // the same unless a started slotless job moved between pending and
  // running (its cluster started it).
  auto before = ev.what == transition::updated ? previous : ev.previous;
  publish(self, {ev.what, before, e->info, nullptr});
  if (ev.what == transition::updated)
    held_job_updated(self, *e);
  dispatch(self);
}

// A monitored actor went away: a job's (normally after retire), a
// session's (only unexpectedly: we forget sessions before they go), or a
// listener's.
void on_down(self_ptr self, caf::down_msg& msg) {
  auto& st = self->state;
  if (auto i = st.job_addresses.find(msg.source); i != st.job_addresses.end()) {
    auto id = i->second;
    st.job_addresses.erase(i);
    auto e = find_job(self, id);
    if (e == nullptr)
      return;
    e->handle = nullptr;
    e->actor_gone = true;
    if (e->output) {
      enforce_output_budget(self); // its output is ours alone now
      return;
    }
    // A job held at shutdown (a start time, dependencies, a backoff) stays
    // pending in the STORE for the next jobd: its actor was told to go. So
    // does a slotless job left running where it runs (a Slurm job): the
    // next jobd re-attaches to it.
    if (st.shutting_down
        && (e->info.status == job_status::pending || e->slotless))
      return;
    auto previous = e->info.status;
    auto& info = e->info;
    info.status = job_status::failed;
    info.error_code = codes::internal;
    info.error
      = "The job's actor stopped unexpectedly (" + to_string(msg.reason) + ")";
    info.finished_at = now_ms();
    log::error("job " + id + ": " + info.error);
    self->send(st.config.store, atom::event_v, info);
    if (previous == job_status::cancelled)
      previous = job_status::pending; // cancelled here, never recorded
    on_finished(self, *e, previous, nullptr);
    return;
  }
  if (auto i = st.session_addresses.find(msg.source);
      i != st.session_addresses.end()) {
    auto id = i->second;
    st.session_addresses.erase(i);
    replace_session(self, id);
    return;
  }
  auto& ls = st.listeners;
  ls.erase(std::remove_if(ls.begin(), ls.end(),
                          [&](auto& l) { return l.address() == msg.source; }),
           ls.end());
}

// Stops every job, then answers; gives up waiting after a bound so that
// shutdown always finishes.
caf::result<bool> shutdown(self_ptr self) {
  auto& st = self->state;
  st.shutting_down = true;
  st.ready.clear();
  st.principal_blocked.clear();
  auto rp = self->make_response_promise<bool>();
  std::vector<job_actor> live;
  for (auto& [id, e] : st.jobs)
    if (is_live(e))
      live.push_back(job_of(self, e)); // a parked job ends as its actor says
  auto left = std::make_shared<size_t>(live.size() + 1);
  auto done = [self, rp, left]() mutable {
    if (--*left > 0)
      return;
    for (auto& [id, e] : self->state.jobs)
      if (e.handle)
        self->send_exit(e.handle, caf::exit_reason::user_shutdown);
    // Sessions go for good: their down messages must not replace them.
    self->state.session_addresses.clear();
    for (auto& [id, s] : self->state.sessions)
      self->send_exit(s.handle, caf::exit_reason::user_shutdown);
    rp.deliver(true);
  };
  for (auto& h : live)
    self->request(h, std::chrono::milliseconds(1500), atom::shutdown_v)
      .then([done](bool) mutable { done(); },
            [done](caf::error&) mutable { done(); });
  done();
  return rp;
}

} // namespace

// Starts the best offered jobs while global slots are free. With the
// per-principal limit, a candidate whose principal is at it is set aside
// (principal_blocked) instead of started, and the loop goes on with the
// next one: each set-aside costs O(log n) and happens at most once per
// start or end of one of its principal's jobs (running_ended puts back one
// candidate per freed slot), so dispatch stays amortized O(log n) per
// candidate.
void dispatch(self_ptr self) {
  auto& st = self->state;
  auto per_principal = st.config.max_running_per_principal;
  while (st.running < st.config.max_running && !st.ready.empty()
         && !st.shutting_down && st.requeueing == 0) {
    auto c = *st.ready.begin();
    st.ready.erase(st.ready.begin());
    auto e = find_job(self, c.job_id);
    if (e == nullptr || e->info.status != job_status::pending || !is_live(*e)
        || is_held(self, c.job_id))
      continue;
    if (per_principal > 0) {
      auto p = std::string{protocol::principal_of(c.session_id)};
      auto& n = st.principal_running[p];
      if (n >= per_principal) {
        st.principal_blocked[p].insert(std::move(c));
        continue;
      }
      ++n;
    }
    e->info.status = job_status::running;
    st.pending.erase(key_of(e->info));
    ++st.running;
    self->send(job_of(self, *e), atom::start_v);
    self->send(session_for(self, c.session_id), atom::started_v, c.job_id);
  }
}

void queue_job(self_ptr self, entry& e, std::function<void()> answered) {
  auto& st = self->state;
  if (e.slotless) {
    // Its kind bounds it (--max-slurm-jobs); the job says when it runs.
    if (!st.shutting_down) {
      e.info.status = job_status::running;
      self->send(job_of(self, e), atom::start_v);
    }
    if (answered)
      answered();
    return;
  }
  st.pending.insert(key_of(e.info));
  auto session = session_for(self, e.info.session_id);
  auto reply = self->request(session, caf::infinite, atom::enqueue_v,
                             candidate_of(e.info));
  if (!answered) {
    reply.then([](bool) {}, [](caf::error&) {});
    return;
  }
  reply.then([answered](bool) { answered(); },
             [answered](caf::error&) { answered(); });
}

scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self,
          scheduler_config config, factory_ptr factory) {
  self->set_default_handler(log_and_drop);
  auto& st = self->state;
  st.config = std::move(config);
  st.factory = std::move(factory);
  if (!st.config.store) {
    // No store given: an in-memory one of our own (tests, benchmarks).
    store_options opts;
    opts.ephemeral = true;
    auto db = std::make_shared<job_store>(opts);
    st.config.instance = db->instance();
    st.config.first_serial = db->reserve_serials(uint64_t{1} << 62);
    st.config.serial_end = st.config.first_serial + (uint64_t{1} << 62);
    st.config.store = self->spawn<caf::linked>(
      store, std::move(db), st.config.defaults.max_wait_ms,
      st.config.retention_ms, std::string{});
  }
  st.next_serial = st.config.first_serial;
  st.serial_end = st.config.serial_end;
  self->send(st.config.store, atom::subscribe_v,
             caf::actor_cast<requeue_target>(self));
  // Jobs and sessions hold our handle and we hold theirs: take them along
  // when we go, or the cycle would keep them all alive.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, e] : self->state.jobs)
      if (e.handle)
        self->send_exit(e.handle, msg.reason);
    for (auto& [addr, id] : self->state.job_addresses)
      if (auto h = caf::actor_cast<caf::actor>(addr))
        self->send_exit(h, msg.reason);
    for (auto& [id, s] : self->state.sessions)
      self->send_exit(s.handle, msg.reason);
    self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  return {
    // Creates a job through its kind and hands it to its session; answers
    // once the session had its say, so the reply tells running or pending.
    [self](atom::submit, job_spec& spec) { return submit(self, spec); },
    // Status: a finished job's from its record; a pending one gets its
    // queue position here; a running one answers itself.
    [self](atom::status, const std::string& id) -> caf::result<job_info> {
      auto e = find_job(self, id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::status_v, id);
      if (e->output) {
        auto info = e->info;
        info.output = e->output->stats();
        return info;
      }
      if (e->parked) {
        auto info = e->info;
        info.queue_position = queue_position(self, info);
        return info;
      }
      if (e->info.status != job_status::pending || e->slotless)
        return self->delegate(job_of(self, *e), atom::status_v);
      auto rp = self->make_response_promise<job_info>();
      self->request(job_of(self, *e), caf::infinite, atom::status_v)
        .then(
          [self, rp](job_info& info) mutable {
            if (info.status == job_status::pending)
              info.queue_position = queue_position(self, info);
            rp.deliver(std::move(info));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    // Output: from the record, or from the job's own buffer.
    [self](atom::output, const std::string& id,
           output_query& q) -> caf::result<output_page> {
      auto e = find_job(self, id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::output_v, id,
                              std::move(q));
      if (e->output)
        return read_output(e->info, *e->output, q);
      return self->delegate(job_of(self, *e), atom::output_v, std::move(q));
    },
    // A pending job is cancelled here first so that it can never start; the
    // job answers (a running one once nothing of it runs).
    [self](atom::cancel, const std::string& id,
           int64_t grace_ms) -> caf::result<cancel_result> {
      auto e = find_job(self, id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::cancel_v, id);
      if (e->output)
        return already_finished(e->info);
      // A started slotless job may be pending in its cluster's queue: it
      // cancels itself there.
      if (e->info.status == job_status::pending
          && !(e->slotless && e->announced))
        cancel_pending(self, *e);
      return self->delegate(job_of(self, *e), atom::cancel_v, grace_ms);
    },
    // Waits on a finished job end at once (a pattern is searched by a
    // record reader); others are the job's.
    [self](atom::wait, wait_query& q) -> caf::result<wait_result> {
      auto e = find_job(self, q.job_id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::wait_v,
                              std::move(q));
      if (e->parked)
        return wait_parked(self, *e, q);
      if (!e->output)
        return self->delegate(job_of(self, *e), atom::wait_v, std::move(q));
      if (q.until == wait_until::output && !q.pattern.empty()) {
        // Compiling and searching may take a while: not on this hub.
        auto info = e->info;
        info.output = e->output->stats();
        auto reader = self->system().spawn(
          record_reader, std::move(info),
          std::shared_ptr<const output_buffer>{e->output});
        return self->delegate(reader, atom::wait_v, std::move(q));
      }
      return wait_answer(e->info, *e->output, q,
                         wait_reason(*e->output, q, 0, pattern{}, true));
    },
    // Waits on many jobs: a wait group collects the single waits.
    [self](atom::wait, wait_many_query& q) { return wait_many(self, q); },
    // Working with a running job: its actor answers.
    [self](atom::input, const std::string& id, std::string& bytes, bool close) {
      return job_input(self, id, bytes, close);
    },
    [self](atom::signal, const std::string& id, int32_t sig, bool whole_tree) {
      return job_signal(self, id, sig, whole_tree);
    },
    [self](atom::pause, const std::string& id, bool pause) {
      return job_pause(self, id, pause);
    },
    [self](atom::resize, const std::string& id, int32_t cols, int32_t rows) {
      return job_resize(self, id, cols, rows);
    },
    // A new job with an old one's spec.
    [self](atom::start, const restart_request& r) {
      return restart_job(self, r);
    },
    // Lists from the store, newest first.
    [self](atom::list, list_query& q) { return list_jobs(self, std::move(q)); },
    // Whose jobs these are: the index, then the STORE.
    [self](atom::owner, owner_list& q) { return owners(self, q); },
    // Removes finished jobs (console_cleanup_jobs and SWEEPER).
    [self](atom::cleanup, cleanup_query& q) {
      return cleanup_jobs(self, std::move(q));
    },
    // SWEEPER: dead instances may have left jobs to take over.
    [self](atom::recheck) {
      self->request(self->state.config.store, caf::infinite, atom::recheck_v)
        .then([self](requeue_list& list) { requeue(self, list); },
              [](caf::error& err) {
                log::warning("store recheck failed: " + to_string(err));
              });
    },
    [self](requeue_list& list) { requeue(self, list); },
    // A session offers a job it may start.
    [self](atom::offer, const candidate& c) {
      auto e = find_job(self, c.job_id);
      if (e == nullptr || e->info.status != job_status::pending
          || is_held(self, c.job_id))
        return;
      self->state.ready.insert(c);
      dispatch(self);
    },
    // A session takes an offer back; false if the job started meanwhile.
    [self](atom::withdraw, const std::string& id) {
      auto e = find_job(self, id);
      if (e == nullptr)
        return true;
      return unready(self, candidate_of(e->info));
    },
    // A job started or finished: update the index, free slots, tell others.
    [self](atom::event, job_event& ev) { on_event(self, ev); },
    // A job's output grew: listeners hear it without the whole job_info.
    [self](atom::output, const output_news& news) {
      if (auto e = find_job(self, news.job_id); e != nullptr && !e->output) {
        e->info.output = news.output;
        e->info.progress = news.progress;
      }
      for (auto& l : self->state.listeners)
        self->send(l, atom::output_v, news);
    },
    // Adds a listener for lifecycle events, until it unsubscribes or goes.
    [self](atom::subscribe, event_listener& l) {
      self->monitor(l);
      self->state.listeners.push_back(std::move(l));
    },
    [self](atom::unsubscribe, const event_listener& l) {
      auto& ls = self->state.listeners;
      ls.erase(std::remove(ls.begin(), ls.end(), l), ls.end());
      self->demonitor(l.address());
    },
    // Stops all jobs for server shutdown.
    [self](atom::shutdown) { return shutdown(self); },
    // A wait held for a parked job may be due.
    [self](atom::tick, const std::string& id) { parked_wait_due(self, id); },
  };
}

} // namespace jobd

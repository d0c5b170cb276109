#include "actors/scheduler.hpp"

#include "actors/core/job_record.hpp"
#include "actors/core/record_reader.hpp"
#include "actors/logger.hpp"
#include "actors/store/store_actor.hpp"

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

namespace {

using self_ptr = scheduler_ptr;
using entry = scheduler_state::entry;

std::string make_job_id(uint64_t serial) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = "job-" + std::to_string(serial) + "-";
  for (int i = 0; i < 5; ++i)
    id += alphabet[rng() % (sizeof alphabet - 1)];
  return id;
}

entry* find(self_ptr self, const std::string& id) {
  auto i = self->state.jobs.find(id);
  return i == self->state.jobs.end() ? nullptr : &i->second;
}

caf::error already_finished(const job_info& info) {
  return make_tool_error(codes::job_already_finished,
                         "Job " + info.id + " already finished ("
                           + to_string(info.status) + ")",
                         {{"status", json_quote(to_string(info.status))},
                          {"jobId", json_quote(info.id)}});
}

queue_key key_of(const job_info& job) {
  return {job.priority, job.serial};
}

candidate candidate_of(const job_info& job) {
  return {job.id, job.session_id, job.priority, job.serial};
}

// -- admission
// ------------------------------------------------------------------

// Starts the best offered jobs while global slots are free.
void dispatch(self_ptr self) {
  auto& st = self->state;
  while (st.running < st.config.max_running && !st.ready.empty()
         && !st.shutting_down && st.requeueing == 0) {
    auto c = *st.ready.begin();
    st.ready.erase(st.ready.begin());
    auto e = find(self, c.job_id);
    if (e == nullptr || e->info.status != job_status::pending || !e->handle)
      continue;
    e->info.status = job_status::running;
    st.pending.erase(key_of(e->info));
    ++st.running;
    self->send(e->handle, atom::start_v);
    self->send(session_for(self, c.session_id), atom::started_v, c.job_id);
  }
}

// Marks a pending job cancelled here, so no offer can start it any more.
void cancel_pending(self_ptr self, entry& e) {
  auto& st = self->state;
  auto& info = e.info;
  st.ready.erase(candidate_of(info));
  info.status = job_status::cancelled;
  st.pending.erase(key_of(info));
  self->send(session_for(self, info.session_id), atom::forget_v, info.id);
}

// One requeued job is queued (or failed): once all are, dispatch.
void requeued(self_ptr self) {
  auto& st = self->state;
  if (st.requeueing > 0 && --st.requeueing == 0)
    dispatch(self);
}

// The job passed its kind's checks: store and index it, and hand it to its
// session.
void admit(self_ptr self, job_actor handle, job_info info, job_spec spec,
           bool again, caf::typed_response_promise<submit_result> rp) {
  auto& st = self->state;
  auto id = info.id;
  self->send(st.config.store, atom::submit_v, info, std::move(spec));
  st.jobs.emplace(id, entry{handle, info, nullptr, 0, 0, false, false});
  st.by_serial.emplace(info.serial, id);
  st.pending.insert(key_of(info));
  auto session = session_for(self, info.session_id);
  ++st.sessions[info.session_id].active;
  log::info("job " + id + " created session=" + info.session_id
            + " command=" + info.command);
  publish(self, {transition::created, job_status::pending, info, nullptr});
  auto answer = [self, rp, id, again]() mutable {
    // A requeued job counts as queued once its session offered it.
    if (again)
      requeued(self);
    submit_result result{id, job_status::pending, 0};
    if (auto e = find(self, id)) {
      result.status = e->info.status;
      if (result.status == job_status::pending)
        result.queue_position = queue_position(self, e->info);
    }
    rp.deliver(std::move(result));
  };
  // The session answers after any offer it made, so the reply tells
  // running or pending; if it went meanwhile, the job's state says.
  self->request(session, caf::infinite, atom::enqueue_v, candidate_of(info))
    .then([answer](bool) mutable { answer(); },
          [answer](caf::error&) mutable { answer(); });
}

// Hands out the next serial; asks the store for more ahead of need.
std::optional<uint64_t> take_serial(self_ptr self) {
  auto& st = self->state;
  if (st.next_serial == st.serial_end && st.spare_serial != 0) {
    st.next_serial = st.spare_serial;
    st.serial_end = st.spare_serial + st.config.serial_block;
    st.spare_serial = 0;
  }
  if (!st.reserving && st.spare_serial == 0
      && st.serial_end - st.next_serial <= st.config.serial_block / 2) {
    st.reserving = true;
    self->request(st.config.store, caf::infinite, atom::reserve_v,
                  st.config.serial_block)
      .then(
        [self](uint64_t first) {
          auto& st = self->state;
          st.reserving = false;
          st.spare_serial = first;
          auto waiters = std::move(st.serial_waiters);
          st.serial_waiters.clear();
          for (auto& f : waiters)
            f();
        },
        [self](caf::error& err) {
          auto& st = self->state;
          st.reserving = false;
          log::error("cannot reserve job serials: "
                     + to_string(err));
          auto waiters = std::move(st.serial_waiters);
          st.serial_waiters.clear();
          for (auto& f : waiters)
            f();
        });
  }
  if (st.next_serial == st.serial_end)
    return std::nullopt;
  return st.next_serial++;
}


// A requeued job could not be queued: it fails in the store, and counts
// as queued.
void fail_requeued(self_ptr self, job_info info, const caf::error& err) {
  auto why = to_tool_error(self->system(), err);
  info.status = job_status::failed;
  info.error_code = why.code;
  info.error = why.message;
  info.finished_at = now_ms();
  self->send(self->state.config.store, atom::event_v, std::move(info));
  requeued(self);
}

// Creates the job (a new one, or `again`: one of a dead instance queued
// again with its old identity) and asks it to check its spec.
void create_job(self_ptr self, job_spec spec, const job_info* again,
                caf::typed_response_promise<submit_result> rp) {
  auto& st = self->state;
  // A requeued job that cannot be created is counted as queued (so the
  // queue does not stay held) and fails in the store.
  auto refuse = [&](caf::error err) {
    if (again != nullptr)
      fail_requeued(self, *again, err);
    rp.deliver(std::move(err));
  };
  if (st.shutting_down)
    return refuse(
      make_tool_error(codes::internal_error, "jobd is shutting down"));
  if (again == nullptr
      && st.pending.size() + st.submitting >= st.config.max_pending)
    return refuse(
      make_tool_error(codes::queue_full,
                      "Too many pending jobs (limit "
                        + std::to_string(st.config.max_pending)
                        + "); wait for some to start or cancel some",
                      {{"limit", std::to_string(st.config.max_pending)}}));
  auto kind = st.factory->find(spec.kind);
  if (kind == nullptr)
    return refuse(make_tool_error(codes::unknown_job_kind,
                                  "Unknown job kind: " + spec.kind,
                                  {{"kind", json_quote(spec.kind)}}));
  job_context ctx;
  if (again != nullptr) {
    ctx.serial = again->serial;
    ctx.id = again->id;
    ctx.created_at = again->created_at;
  } else {
    auto serial = take_serial(self);
    if (!serial) {
      // The store has not answered yet: try again when it did.
      if (st.reserving) {
        st.serial_waiters.emplace_back(
          [self, spec{std::move(spec)}, rp]() mutable {
            create_job(self, std::move(spec), nullptr, rp);
          });
        return;
      }
      rp.deliver(make_tool_error(codes::internal_error,
                                 "The job store hands out no serials"));
      return;
    }
    auto& defaults = st.config.defaults;
    if (spec.timeout_ms == use_default)
      spec.timeout_ms = defaults.timeout_ms;
    if (spec.kill_grace_ms == use_default)
      spec.kill_grace_ms = defaults.kill_grace_ms;
    // A job may lower its output cap, never raise it above the server's.
    auto cap = static_cast<int64_t>(defaults.output.max_bytes);
    if (spec.output_byte_limit == use_default || spec.output_byte_limit > cap)
      spec.output_byte_limit = cap;
    ctx.serial = *serial;
    ctx.id = make_job_id(ctx.serial);
    ctx.created_at = now_ms();
  }
  auto stored_spec = spec;
  std::optional<job_info> revived;
  if (again != nullptr)
    revived = *again;
  ctx.spec = std::move(spec);
  ctx.scheduler = scheduler_actor{self};
  ctx.store = st.config.store;
  ctx.instance = st.config.instance;
  ctx.defaults = st.config.defaults;
  ctx.kind = std::move(kind);
  auto handle = st.factory->spawn(self->system(), std::move(ctx));
  self->monitor(handle);
  st.job_addresses.emplace(handle.address(), "");
  ++st.submitting;
  // The job checks its spec on its own actor (file system work).
  self->request(handle, caf::infinite, atom::submit_v)
    .then(
      [self, handle, rp, stored_spec, again{revived.has_value()}](
        job_info& info) mutable {
        auto& st = self->state;
        --st.submitting;
        if (st.shutting_down) {
          if (again)
            requeued(self);
          self->send_exit(handle, caf::exit_reason::user_shutdown);
          rp.deliver(
            make_tool_error(codes::internal_error, "jobd is shutting down"));
          return;
        }
        st.job_addresses[handle.address()] = info.id;
        admit(self, handle, std::move(info), std::move(stored_spec), again,
              rp);
      },
      [self, handle, rp, revived](caf::error& err) mutable {
        auto& st = self->state;
        --st.submitting;
        st.job_addresses.erase(handle.address());
        self->send_exit(handle, caf::exit_reason::user_shutdown);
        // Queued again but no longer startable (its directory went, say):
        // it fails, for good.
        if (revived)
          fail_requeued(self, std::move(*revived), err);
        rp.deliver(std::move(err));
      });
}

caf::result<submit_result> submit(self_ptr self, job_spec& spec) {
  auto rp = self->make_response_promise<submit_result>();
  create_job(self, std::move(spec), nullptr, rp);
  return rp;
}

// Jobs of a dead instance that had not started: queued again in their old
// order (their serials) and priority, under their old ids.
void requeue(self_ptr self, requeue_list& list) {
  for (auto& r : list.jobs) {
    auto id = r.info.id;
    if (self->state.jobs.count(id) > 0)
      continue;
    log::info("job " + id + " queued again (its jobd instance stopped)");
    ++self->state.requeueing;
    // Nobody waits for the answer; a job that no longer passes its checks
    // (its directory went) fails now, in the store as well.
    auto rp = self->make_response_promise<submit_result>();
    create_job(self, std::move(r.spec), &r.info, rp);
  }
}

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
  if (previous == job_status::pending) {
    st.pending.erase(key_of(info));
    st.ready.erase(candidate_of(info));
    // Its session may still hold it as waiting or offered.
    if (auto i = st.sessions.find(info.session_id); i != st.sessions.end())
      self->send(i->second.handle, atom::forget_v, info.id);
  }
  if (previous == job_status::running) {
    --st.running;
    if (auto i = st.sessions.find(info.session_id); i != st.sessions.end())
      self->send(i->second.handle, atom::finished_v, info.id);
  }
  release_session(self, info.session_id);
  keep_record(self, e, std::move(output));
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
  auto e = find(self, ev.job.id);
  if (e == nullptr || e->output)
    return; // removed, or already recorded (e.g. its actor died first)
  auto previous = e->info.status;
  e->info = std::move(ev.job);
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
  publish(self, {ev.what, ev.previous, e->info, nullptr});
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
    auto e = find(self, id);
    if (e == nullptr)
      return;
    e->handle = nullptr;
    e->actor_gone = true;
    if (e->output) {
      enforce_output_budget(self); // its output is ours alone now
      return;
    }
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
  auto rp = self->make_response_promise<bool>();
  std::vector<job_actor> live;
  for (auto& [id, e] : st.jobs)
    if (e.handle)
      live.push_back(e.handle);
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

scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self,
          scheduler_config config, factory_ptr factory) {
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
      auto e = find(self, id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::status_v, id);
      if (e->output) {
        auto info = e->info;
        info.output = e->output->stats();
        return info;
      }
      if (e->info.status != job_status::pending)
        return self->delegate(e->handle, atom::status_v);
      auto rp = self->make_response_promise<job_info>();
      self->request(e->handle, caf::infinite, atom::status_v)
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
      auto e = find(self, id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::output_v, id,
                              std::move(q));
      if (e->output)
        return read_output(e->info, *e->output, q);
      return self->delegate(e->handle, atom::output_v, std::move(q));
    },
    // A pending job is cancelled here first so that it can never start; the
    // job answers (a running one once nothing of it runs).
    [self](atom::cancel, const std::string& id,
           int64_t grace_ms) -> caf::result<cancel_result> {
      auto e = find(self, id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::cancel_v, id);
      if (e->output)
        return already_finished(e->info);
      if (e->info.status == job_status::pending)
        cancel_pending(self, *e);
      return self->delegate(e->handle, atom::cancel_v, grace_ms);
    },
    // Waits on a finished job end at once (a pattern is searched by a
    // record reader); others are the job's.
    [self](atom::wait, wait_query& q) -> caf::result<wait_result> {
      auto e = find(self, q.job_id);
      if (e == nullptr)
        return self->delegate(self->state.config.store, atom::wait_v,
                              std::move(q));
      if (!e->output)
        return self->delegate(e->handle, atom::wait_v, std::move(q));
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
    // Lists from the store, newest first.
    [self](atom::list, list_query& q) { return list_jobs(self, std::move(q)); },
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
      auto e = find(self, c.job_id);
      if (e == nullptr || e->info.status != job_status::pending)
        return;
      self->state.ready.insert(c);
      dispatch(self);
    },
    // A session takes an offer back; false if the job started meanwhile.
    [self](atom::withdraw, const std::string& id) {
      auto e = find(self, id);
      if (e == nullptr)
        return true;
      return self->state.ready.erase(candidate_of(e->info)) > 0;
    },
    // A job started or finished: update the index, free slots, tell others.
    [self](atom::event, job_event& ev) { on_event(self, ev); },
    // A job's output grew: listeners hear it without the whole job_info.
    [self](atom::output, const output_news& news) {
      if (auto e = find(self, news.job_id); e != nullptr && !e->output)
        e->info.output = news.output;
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
  };
}

} // namespace jobd

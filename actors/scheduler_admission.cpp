// SCHEDULER's admission: serials from the store, creating a job and
// checking its spec, indexing it and handing it to its session, and jobs
// of dead instances queued again.
#include "actors/scheduler.hpp"

#include "actors/logger.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include <optional>
#include <random>

namespace jobd {

using self_ptr = scheduler_ptr;
using entry = scheduler_state::entry;

namespace {

std::string make_job_id(uint64_t serial) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = "job-" + std::to_string(serial) + "-";
  for (int i = 0; i < 5; ++i)
    id += alphabet[rng() % (sizeof alphabet - 1)];
  return id;
}

submit_result deduplicated(self_ptr self, const entry& e) {
  submit_result r{e.info.id, e.info.status, 0, true, e.info.restart_of, {}};
  if (r.status == job_status::pending) {
    r.queue_position = queue_position(self, e.info);
    r.pending_reason = e.info.pending_reason;
  }
  return r;
}

// Submits with this key that waited get what the first one got.
template <class Answer>
void answer_waiting(self_ptr self, const std::string& key, Answer&& answer) {
  auto& st = self->state;
  auto i = st.idempotent.find(key);
  if (i == st.idempotent.end())
    return;
  auto waiting = std::move(i->second.waiting);
  i->second.waiting.clear();
  for (auto& rp : waiting)
    answer(rp);
}

// A job with an idempotency key was admitted: the key names it now.
void key_admitted(self_ptr self, const job_info& info) {
  if (info.idempotency_key.empty())
    return;
  auto key = idempotency_slot_key(info.session_id, info.idempotency_key);
  auto& slot = self->state.idempotent[key];
  slot.job_id = info.id;
  slot.looking_up = false;
  answer_waiting(self, key, [&](auto& rp) {
    if (auto e = find_job(self, info.id))
      rp.deliver(deduplicated(self, *e));
    else
      rp.deliver(
        submit_result{info.id, info.status, 0, true, info.restart_of, {}});
  });
}

// A new job with an idempotency key was refused: so are those that waited
// for it, and the key is free again.
void key_refused(self_ptr self, const job_spec& spec, const caf::error& err) {
  if (spec.idempotency_key.empty())
    return;
  auto key = idempotency_slot_key(spec.session_id, spec.idempotency_key);
  answer_waiting(self, key, [&](auto& rp) { rp.deliver(err); });
  self->state.idempotent.erase(key);
}

void requeued(self_ptr self) {
  auto& st = self->state;
  if (st.requeueing > 0 && --st.requeueing == 0)
    dispatch(self);
}

// The job passed its kind's checks: store and index it, and hand it to its
// session.
void admit(self_ptr self, job_actor handle, job_info info,
           std::shared_ptr<job_spec> kept, bool again,
           caf::typed_response_promise<submit_result> rp,
           std::shared_ptr<const dep_states> deps, quota_hold_ptr hold) {
  auto& st = self->state;
  auto id = info.id;
  self->send(st.config.store, atom::submit_v, info, *kept);
  auto slotless = !st.factory->find(info.kind)->takes_slot();
  st.jobs.emplace(
    id, entry{handle, info, nullptr, 0, 0, false, false, kept, slotless});
  st.by_serial.emplace(info.serial, id);
  index_session_job(self, info);
  if (hold)
    hold->release(); // the index counts it now
  session_for(self, info.session_id);
  ++st.sessions[info.session_id].active;
  log::info("job " + id + " created session=" + info.session_id
            + " command=" + info.command);
  publish(self, {transition::created, job_status::pending, info, nullptr});
  auto answer = [self, rp, id, again]() mutable {
    // A requeued job counts as queued once its session offered it.
    if (again)
      requeued(self);
    submit_result result{id, job_status::pending, 0, false, {}, {}};
    if (auto e = find_job(self, id)) {
      result.status = e->info.status;
      // The answer says what the submit did: a job that started is
      // "running" even if it ended before the answer left (a quick job
      // on a loaded machine); one that never started keeps its end.
      if (is_terminal(result.status) && e->info.started_at != 0)
        result.status = job_status::running;
      // A slotless job is queued where it runs (a cluster) until it says
      // it started.
      if (e->slotless && !e->announced && result.status == job_status::running)
        result.status = job_status::pending;
      result.restart_of = e->info.restart_of;
      if (result.status == job_status::pending && e->slotless
          && e->info.status == job_status::running) {
        result.pending_reason = pending_reasons::cluster; // no place here
      } else if (result.status == job_status::pending) {
        result.queue_position = queue_position(self, e->info);
        result.pending_reason = e->info.pending_reason;
      }
      key_admitted(self, e->info);
      // Still waiting for a slot: it needs no actor until it starts.
      if (!again)
        park(self, *e);
    }
    rp.deliver(std::move(result));
  };
  // Held back by its gates: not queued, so its session does not see it.
  if (hold_admitted(self, st.jobs.at(id), *kept, deps.get())) {
    answer();
    return;
  }
  // The session answers after any offer it made, so the reply tells
  // running or pending; if it went meanwhile, the job's state says.
  queue_job(self, st.jobs.at(id), std::move(answer));
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
    self
      ->request(st.config.store, caf::infinite, atom::reserve_v,
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
          log::error("cannot reserve job serials: " + to_string(err));
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
  self->send(self->state.config.store, atom::event_v, info);
  dependency_ended(self, info);
  requeued(self);
}

// Creates the job (a new one, or `again`: one of a dead instance queued
// again with its old identity) and asks it to check its spec.
// `hold`: it passed the quotas already (it waited for serials).
void create_job(self_ptr self, job_spec spec, const job_info* again,
                caf::typed_response_promise<submit_result> rp,
                std::shared_ptr<const dep_states> deps = nullptr,
                quota_hold_ptr hold = nullptr) {
  auto& st = self->state;
  // Dependencies first (the STORE may be asked about them); a requeued
  // job that ran an attempt had them met.
  if (!deps && !spec.depends_on.empty()
      && (again == nullptr || again->attempt == 0)) {
    std::optional<job_info> revived;
    if (again != nullptr)
      revived = *again;
    auto held = std::make_shared<job_spec>(std::move(spec));
    resolve_dependencies(
      self, *held, again != nullptr,
      [self, held, revived, rp](std::shared_ptr<const dep_states> known,
                                caf::error err) mutable {
        if (err && revived) {
          fail_requeued(self, std::move(*revived), err);
          rp.deliver(std::move(err));
          return;
        }
        if (err) {
          key_refused(self, *held, err);
          rp.deliver(std::move(err));
          return;
        }
        create_job(self, std::move(*held), revived ? &*revived : nullptr, rp,
                   std::move(known));
      });
    return;
  }
  if (!deps)
    deps = std::make_shared<const dep_states>();
  // A requeued job that cannot be created is counted as queued (so the
  // queue does not stay held) and fails in the store.
  auto refuse = [&](caf::error err) {
    if (hold)
      hold->release();
    if (again != nullptr)
      fail_requeued(self, *again, err);
    else
      key_refused(self, spec, err);
    rp.deliver(std::move(err));
  };
  if (st.shutting_down)
    return refuse(
      make_tool_error(codes::internal_error, "jobd is shutting down"));
  if (again == nullptr
      && st.pending.size() + st.held.size() + st.submitting
           >= st.config.max_pending)
    return refuse(make_tool_error(
      codes::queue_full,
      "Too many pending jobs (limit " + std::to_string(st.config.max_pending)
        + "); wait for some to start or cancel some",
      {{"limit", std::to_string(st.config.max_pending)}}));
  // A new job's session within its quotas (scheduler_quotas.cpp).
  if (again == nullptr && !hold)
    if (auto err = check_quotas(self, spec.session_id, hold))
      return refuse(std::move(err));
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
    // Its attempts so far go on (options.retry): a job in backoff waits
    // out the rest of it.
    ctx.attempt = again->attempt;
    ctx.attempts = again->attempts;
    ctx.next_attempt_at = again->next_attempt_at;
    ctx.output = again->output;
    // It ran outside jobd and may run still (job_store::recover): its
    // backend follows it again.
    if (again->status == job_status::running) {
      ctx.reattach = again->kind_status;
      ctx.started_at = again->started_at;
    }
  } else {
    auto serial = take_serial(self);
    if (!serial) {
      // The store has not answered yet: try again when it did.
      if (st.reserving) {
        st.serial_waiters.emplace_back([self, spec{std::move(spec)}, rp, deps,
                                        hold]() mutable {
          create_job(self, std::move(spec), nullptr, rp, deps, std::move(hold));
        });
        return;
      }
      return refuse(make_tool_error(codes::internal_error,
                                    "The job store hands out no serials"));
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
  // The job may normalise it while it checks it; it is read here once the
  // job answered (job_context::spec).
  auto stored_spec = std::make_shared<job_spec>(std::move(spec));
  std::optional<job_info> revived;
  if (again != nullptr)
    revived = *again;
  ctx.spec = stored_spec;
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
      [self, handle, rp, stored_spec, deps, hold,
       again{revived.has_value()}](job_info& info) mutable {
        auto& st = self->state;
        --st.submitting;
        if (st.shutting_down) {
          if (again)
            requeued(self);
          self->send_exit(handle, caf::exit_reason::user_shutdown);
          auto err
            = make_tool_error(codes::internal_error, "jobd is shutting down");
          if (hold)
            hold->release();
          if (!again)
            key_refused(self, *stored_spec, err);
          rp.deliver(std::move(err));
          return;
        }
        st.job_addresses[handle.address()] = info.id;
        admit(self, handle, std::move(info), std::move(stored_spec), again, rp,
              deps, std::move(hold));
      },
      [self, handle, rp, revived, stored_spec, hold](caf::error& err) mutable {
        auto& st = self->state;
        --st.submitting;
        if (hold)
          hold->release();
        st.job_addresses.erase(handle.address());
        self->send_exit(handle, caf::exit_reason::user_shutdown);
        // Queued again but no longer startable (its directory went, say):
        // it fails, for good.
        if (revived)
          fail_requeued(self, std::move(*revived), err);
        else
          key_refused(self, *stored_spec, err);
        rp.deliver(std::move(err));
      });
}

} // namespace

caf::result<submit_result> submit(self_ptr self, job_spec& spec) {
  auto& st = self->state;
  auto rp = self->make_response_promise<submit_result>();
  if (spec.idempotency_key.empty()) {
    create_job(self, std::move(spec), nullptr, rp);
    return rp;
  }
  auto key = idempotency_slot_key(spec.session_id, spec.idempotency_key);
  auto& slot = st.idempotent[key];
  if (slot.looking_up) {
    // The first submit with this key is still being decided.
    slot.waiting.push_back(rp);
    return rp;
  }
  if (!slot.job_id.empty()) {
    if (auto e = find_job(self, slot.job_id)) {
      rp.deliver(deduplicated(self, *e));
      return rp;
    }
    slot.job_id.clear(); // removed meanwhile
  }
  // Not among this instance's jobs: an earlier run's or another instance's
  // retained job may hold the key.
  slot.looking_up = true;
  auto session = spec.session_id;
  auto wanted = spec.idempotency_key;
  auto store = st.config.store;
  auto create = [self, rp, key](job_spec spec) mutable {
    // Still `looking_up` until the job is admitted or refused.
    create_job(self, std::move(spec), nullptr, rp);
  };
  auto found = [self, rp, key](job_info& info) mutable {
    submit_result r{info.id, info.status, 0, true, info.restart_of, {}};
    answer_waiting(self, key, [&](auto& waiting) { waiting.deliver(r); });
    self->state.idempotent.erase(key);
    rp.deliver(std::move(r));
  };
  auto held = std::make_shared<job_spec>(std::move(spec));
  self->request(store, caf::infinite, atom::find_v, session, wanted)
    .then(
      [self, store, create, found, held](std::string& id) mutable {
        if (id.empty())
          return create(std::move(*held));
        self->request(store, caf::infinite, atom::status_v, id)
          .then(found, [create, held](caf::error&) mutable {
            create(std::move(*held)); // gone meanwhile
          });
      },
      [create, held](caf::error&) mutable { create(std::move(*held)); });
  return rp;
}

void forget_idempotency(self_ptr self, const job_info& job) {
  if (job.idempotency_key.empty())
    return;
  auto& map = self->state.idempotent;
  auto i = map.find(idempotency_slot_key(job.session_id, job.idempotency_key));
  if (i != map.end() && i->second.job_id == job.id && !i->second.looking_up)
    map.erase(i);
}

// Jobs of a dead instance that had not started: queued again in their old
// order (their serials) and priority, under their old ids.
void requeue(self_ptr self, requeue_list& list) {
  for (auto& r : list.jobs) {
    auto id = r.info.id;
    if (self->state.jobs.count(id) > 0)
      continue;
    log::info("job " + id
              + (r.info.status == job_status::running
                   ? " re-attached (its jobd instance stopped)"
                   : " queued again (its jobd instance stopped)"));
    ++self->state.requeueing;
    // Nobody waits for the answer; a job that no longer passes its checks
    // (its directory went) fails now, in the store as well.
    auto rp = self->make_response_promise<submit_result>();
    create_job(self, std::move(r.spec), &r.info, rp);
  }
}

} // namespace jobd

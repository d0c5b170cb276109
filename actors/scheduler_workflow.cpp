// SCHEDULER's gates (workflows): a job with dependencies, a start time
// still ahead or a retry's backoff is admitted (stored, indexed, pending)
// but held back from its session, so it takes no queue place, until its
// gates clear. Dependencies are evaluated here on every `finished` event;
// times are kept by the job itself (its tick timer, which a job that ends
// takes with it), which reports `queued` once its time came.
#include "actors/scheduler.hpp"

#include "actors/logger.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <set>

namespace jobd {

using self_ptr = scheduler_ptr;
using entry = scheduler_state::entry;
using gate = scheduler_state::gate;

namespace {

// At most this many dependencies (the protocol layer refuses more too).
constexpr size_t max_dependencies = 100;

std::string dep_field() {
  return json_quote("options.dependsOn");
}

caf::error unknown_dependency(const std::string& id) {
  return make_tool_error(codes::job_not_found,
                         "Dependency " + id
                           + " does not exist (options.dependsOn must name "
                             "existing jobs)",
                         {{"field", dep_field()}, {"jobId", json_quote(id)}});
}

caf::error dependency_elsewhere(const job_info& info) {
  return make_tool_error(
    codes::invalid_arguments,
    "Dependency " + info.id + " is run by another jobd instance ("
      + info.owner_instance + ", pid " + std::to_string(info.owner_pid)
      + "): a job can depend only on jobs of this instance or on jobs that "
        "ended",
    {{"field", dep_field()}, {"jobId", json_quote(info.id)}});
}

// Stands in for a requeued job's dependency that cannot be watched any
// more: it counts as ended cancelled.
job_info lost_dependency(const std::string& id, std::string why) {
  job_info info;
  info.id = id;
  info.status = job_status::cancelled;
  info.error = std::move(why);
  return info;
}

// The state a dependency is known in: ended (a record, or the STORE's
// final row) or not yet.
job_status state_of(self_ptr self, const std::string& id,
                    const dep_states* known) {
  if (auto e = find_job(self, id))
    return e->output ? e->info.status : job_status::pending;
  if (known != nullptr) {
    auto i = known->find(id);
    if (i != known->end())
      return i->second.status;
  }
  // Removed meanwhile (a cleanup between check and admission).
  return job_status::cancelled;
}

void tell(self_ptr self, entry& e, job_hold hold) {
  if (is_live(e))
    self->send(job_of(self, e), atom::hold_v, std::move(hold));
}

// Hands a held job to its session: it queues like any pending job (at
// admission, `admitting`, the admission does that).
void release(self_ptr self, entry& e, gate& g, bool admitting) {
  auto& st = self->state;
  auto id = e.info.id;
  auto told = g.told_reason.empty() ? e.info.pending_reason : g.told_reason;
  if (told != pending_reasons::queued)
    tell(self, e, job_hold{});
  st.held.erase(id);
  if (admitting)
    return;
  queue_job(self, e);
}

// Looks at a held job's gates: fails it, tells it why it waits (if that
// changed), or releases it.
void evaluate(self_ptr self, const std::string& id, bool admitting = false) {
  auto& st = self->state;
  auto h = st.held.find(id);
  if (h == st.held.end() || h->second.failed)
    return;
  auto& g = h->second;
  auto e = find_job(self, id);
  if (e == nullptr || e->output || !is_live(*e)
      || e->info.status != job_status::pending)
    return;
  std::vector<std::string> waiting;
  const std::pair<std::string, job_status>* bad = nullptr;
  for (auto& d : g.deps) {
    if (!is_terminal(d.second))
      waiting.push_back(d.first);
    else if (d.second != job_status::completed && bad == nullptr)
      bad = &d;
  }
  std::string why;
  if (g.condition == dependency_condition::success && bad != nullptr)
    why = "Dependency " + bad->first + " ended " + to_string(bad->second)
          + " (dependencyCondition success)";
  else if (g.condition == dependency_condition::failure && waiting.empty()
           && bad == nullptr && !g.deps.empty())
    why = "Every dependency completed (dependencyCondition failure)";
  if (!why.empty()) {
    g.failed = true;
    log::info("job " + id + " cannot start: " + why);
    tell(self, *e,
         job_hold{pending_reasons::dependencies, std::move(waiting),
                  codes::dependency_failed, std::move(why)});
    return;
  }
  job_hold hold;
  if (!waiting.empty()) {
    hold.reason = pending_reasons::dependencies;
    hold.waiting_for = std::move(waiting);
  } else if (g.timed) {
    hold.reason = g.time_reason;
  } else {
    release(self, *e, g, admitting);
    return;
  }
  if (hold.reason == g.told_reason && hold.waiting_for == g.told_waiting)
    return;
  g.told_reason = hold.reason;
  g.told_waiting = hold.waiting_for;
  tell(self, *e, std::move(hold));
}

} // namespace

void resolve_dependencies(
  self_ptr self, const job_spec& spec, bool again,
  std::function<void(std::shared_ptr<const dep_states>, caf::error)> done) {
  auto& st = self->state;
  auto known = std::make_shared<dep_states>();
  if (spec.depends_on.size() > max_dependencies && !again)
    return done(known,
                make_tool_error(codes::invalid_arguments,
                                "options.dependsOn names "
                                  + std::to_string(spec.depends_on.size())
                                  + " jobs; at most "
                                  + std::to_string(max_dependencies),
                                {{"field", dep_field()}}));
  std::vector<std::string> ask;
  std::set<std::string> seen;
  for (auto& id : spec.depends_on)
    if (seen.insert(id).second && find_job(self, id) == nullptr)
      ask.push_back(id);
  if (ask.empty())
    return done(known, caf::error{});
  // One answer per dependency; the refusal named is that of the first in
  // the spec's order.
  auto errors = std::make_shared<std::vector<caf::error>>(ask.size());
  auto left = std::make_shared<size_t>(ask.size());
  auto finish = [known, errors, left, done]() {
    if (--*left > 0)
      return;
    for (auto& err : *errors)
      if (err)
        return done(known, std::move(err));
    done(known, caf::error{});
  };
  auto me = st.config.instance;
  for (size_t i = 0; i < ask.size(); ++i) {
    auto id = ask[i];
    self->request(st.config.store, caf::infinite, atom::status_v, id)
      .then(
        [known, errors, finish, i, id, again, me](job_info& info) mutable {
          if (!is_terminal(info.status) && info.owner_live
              && info.owner_instance != me) {
            if (again)
              (*known)[id]
                = lost_dependency(id, "run by another live jobd instance");
            else
              (*errors)[i] = dependency_elsewhere(info);
          } else {
            (*known)[id] = std::move(info);
          }
          finish();
        },
        [self, known, errors, finish, i, id, again](caf::error& err) mutable {
          if (again)
            (*known)[id] = lost_dependency(id, "no longer exists");
          else if (to_tool_error(self->system(), err).code
                   == codes::job_not_found)
            (*errors)[i] = unknown_dependency(id);
          else
            (*errors)[i] = std::move(err);
          finish();
        });
  }
}

namespace {

// A slotless job whose dependencies are all started jobs of its own kind,
// still running or queued there, may leave them to its kind (a Slurm job's
// --dependency on other Slurm jobs).
bool delegates_dependencies(self_ptr self, const entry& e,
                            const job_spec& spec) {
  if (!e.slotless || spec.depends_on.empty())
    return false;
  for (auto& dep : spec.depends_on) {
    auto d = find_job(self, dep);
    // Started (its kind has it, or will at once), not ended.
    if (d == nullptr || d->output || !is_live(*d) || !d->slotless
        || d->info.kind != e.info.kind || is_terminal(d->info.status)
        || is_held(self, dep)
        || (d->info.status != job_status::running && !d->announced)
        // Slurm would judge its first attempt; jobd waits for its last.
        || d->info.max_attempts > 1)
      return false;
  }
  auto kind = self->state.factory->find(e.info.kind);
  return kind != nullptr && kind->runs_dependencies(spec);
}

} // namespace

bool hold_admitted(self_ptr self, entry& e, const job_spec& spec,
                   const dep_states* known) {
  auto& st = self->state;
  auto& info = e.info;
  gate g;
  g.condition = spec.condition;
  // A requeued job that ran an attempt had its dependencies met and its
  // start time reached; what is left is its backoff.
  bool first = info.attempt == 0;
  if (first && spec.start_at <= now_ms()
      && delegates_dependencies(self, e, spec)) {
    // Its kind makes it wait for them where they run: no gate here.
    job_hold left;
    left.reason = pending_reasons::cluster;
    tell(self, e, std::move(left));
    return false;
  }
  if (first) {
    std::set<std::string> seen;
    for (auto& dep : spec.depends_on) {
      if (!seen.insert(dep).second)
        continue;
      g.deps.emplace_back(dep, state_of(self, dep, known));
      st.dependents[dep].push_back(info.id);
    }
    if (spec.start_at > now_ms())
      g.timed = true;
  }
  if (info.next_attempt_at > 0) {
    g.timed = true;
    g.time_reason = pending_reasons::backoff;
  }
  if (g.deps.empty() && !g.timed) {
    // Its status may still say why it would have waited (a start time
    // that passed since it was created).
    if (info.pending_reason != pending_reasons::queued)
      tell(self, e, job_hold{});
    return false;
  }
  auto id = info.id;
  st.held.emplace(id, std::move(g));
  evaluate(self, id, true);
  return is_held(self, id);
}

void on_retrying(self_ptr self, entry& e, job_status previous,
                 job_status told) {
  auto& st = self->state;
  if (previous == job_status::running && !e.slotless) {
    --st.running;
    running_ended(self, e.info.session_id);
    if (auto i = st.sessions.find(e.info.session_id); i != st.sessions.end())
      self->send(i->second.handle, atom::finished_v, e.info.id);
  }
  e.announced = false;
  log::info("job " + e.info.id + " attempt " + std::to_string(e.info.attempt)
            + " failed; next attempt at "
            + std::to_string(e.info.next_attempt_at));
  publish(self, {transition::retrying, told, e.info, nullptr});
  gate g;
  g.timed = true;
  g.time_reason = pending_reasons::backoff;
  // The job armed its own timer and says retry_backoff already.
  g.told_reason = pending_reasons::backoff;
  auto id = e.info.id;
  self->state.held[id] = std::move(g);
  // A backoff of 0: the job said `queued` before this; the event that did
  // follows and releases it.
  if (e.info.pending_reason == pending_reasons::queued)
    held_job_updated(self, e);
}

void held_job_updated(self_ptr self, entry& e) {
  auto& st = self->state;
  auto h = st.held.find(e.info.id);
  if (h == st.held.end() || !h->second.timed
      || e.info.pending_reason != pending_reasons::queued)
    return;
  h->second.timed = false;
  evaluate(self, e.info.id);
}

void dependency_ended(self_ptr self, const job_info& job) {
  auto& st = self->state;
  st.held.erase(job.id);
  auto i = st.dependents.find(job.id);
  if (i == st.dependents.end())
    return;
  auto waiting = std::move(i->second);
  st.dependents.erase(i);
  for (auto& id : waiting) {
    auto h = st.held.find(id);
    if (h == st.held.end())
      continue;
    for (auto& d : h->second.deps)
      if (d.first == job.id)
        d.second = job.status;
    evaluate(self, id);
  }
}

void drop_gates(self_ptr self, const std::string& id) {
  self->state.held.erase(id);
}

} // namespace jobd

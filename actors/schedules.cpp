#include "actors/schedules.hpp"

#include "actors/logger.hpp"
#include "actors/unexpected.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <chrono>

namespace jobd {

namespace {

using self_ptr = schedules_actor::stateful_pointer<schedules_state>;
using entry = schedules_state::entry;

schedules_state::entry* find(self_ptr self, const std::string& id) {
  auto i = self->state.schedules.find(id);
  return i == self->state.schedules.end() ? nullptr : &i->second;
}

void persist(self_ptr self, const schedule_spec& spec) {
  self
    ->request(self->state.config.store, caf::infinite, atom::schedules_v,
              atom::put_v, spec)
    .then([](bool) {},
          [self, id = spec.id](caf::error& err) {
            log::error("schedules: could not store " + id + ": "
                       + self->system().render(err));
          });
}

void tell_metrics(self_ptr self, uint64_t fired, uint64_t skipped,
                  uint64_t missed) {
  if (self->state.config.metrics)
    self->send(self->state.config.metrics, atom::schedules_v, fired, skipped,
               missed);
}

// The next firing after `after`, 0 if none.
int64_t next_firing(const entry& e, int64_t after) {
  return protocol::next_after(e.expr, e.zone, after).value_or(0);
}

// One timer for the earliest firing, at most max_timer_step_ms ahead (the
// wall clock may jump meanwhile); a new arming makes older ticks stale.
void arm(self_ptr self) {
  auto& st = self->state;
  auto gen = ++st.generation;
  std::optional<int64_t> earliest;
  // Firings only where this instance fires them: one that does not lead
  // would find them due on every tick until the next resync.
  if (st.leading)
    for (auto& [id, e] : st.schedules)
      if (!e.busy && e.spec.enabled && e.next != 0)
        earliest = std::min(earliest.value_or(e.next), e.next);
  // Sharing a state directory: look at the STORE (and the lead) again
  // now and then, whether or not anything is due here (a resync under way
  // arms again when it is done).
  if (st.config.lead && !st.syncing)
    earliest = std::min(earliest.value_or(INT64_MAX),
                        st.synced_at + resync_interval_ms);
  if (!earliest)
    return;
  auto delay
    = std::clamp<int64_t>(*earliest - st.config.now(), 0, max_timer_step_ms);
  if (delay == 0)
    self->send(self, atom::tick_v, gen);
  else
    self->delayed_send(self, std::chrono::milliseconds{delay}, atom::tick_v,
                       gen);
}

void start_firing(self_ptr self, const std::string& id, int64_t now);

// A firing was handled: the next one of this schedule may be due already
// (it came due meanwhile): it goes next, in order.
void done(self_ptr self, const std::string& id) {
  auto e = find(self, id);
  if (!e)
    return;
  e->busy = false;
  auto now = self->state.config.now();
  if (e->spec.enabled && e->next != 0 && e->next <= now)
    start_firing(self, id, now);
  else
    arm(self);
}

void refused(self_ptr self, const std::string& id, const tool_error& err) {
  auto e = find(self, id);
  if (!e)
    return;
  e->spec.last_error = err.code + ": " + err.message;
  log::warning("schedules: the job of " + id
               + " was refused: " + e->spec.last_error);
  persist(self, e->spec);
  done(self, id);
}

void submit(self_ptr self, const std::string& id, job_spec spec) {
  self
    ->request(self->state.config.scheduler, caf::infinite, atom::submit_v,
              std::move(spec))
    .then(
      [self, id](submit_result& r) {
        auto e = find(self, id);
        if (!e)
          return;
        e->spec.last_job_id = r.job_id;
        ++e->spec.fired;
        persist(self, e->spec);
        tell_metrics(self, 1, 0, 0);
        done(self, id);
      },
      [self, id](caf::error& err) {
        refused(self, id, to_tool_error(self->system(), err));
      });
}

// Handles the firing at `firing`: its time is stored first (so it is
// handled at most once, whatever happens next), then the job goes out
// with the overlap rule against the previous firing's job.
void fire(self_ptr self, const std::string& id, int64_t firing) {
  auto& e = *find(self, id);
  e.busy = true;
  e.spec.last_fired_at = firing;
  e.next = next_firing(e, firing);
  persist(self, e.spec);
  job_spec spec;
  tool_error err;
  auto& parse = self->state.config.parse_job;
  if (!parse) {
    refused(self, id, {codes::internal_error, "no job parser", {}});
    return;
  }
  if (!parse(e.spec.job, spec, err)) {
    refused(self, id, err);
    return;
  }
  spec.schedule_id = id;
  spec.tags["scheduleId"] = json_quote(id);
  spec.start_at = firing;
  auto previous = e.spec.last_job_id;
  if (previous.empty()) {
    submit(self, id, std::move(spec));
    return;
  }
  auto& scheduler = self->state.config.scheduler;
  auto overlap = e.spec.overlap;
  if (overlap == overlap_policy::cancel_previous) {
    // Answered once the previous job ended; an error (it had ended, or
    // is gone) leaves nothing to cancel.
    auto go = [self, id, spec](auto&&...) mutable {
      if (find(self, id))
        submit(self, id, std::move(spec));
    };
    self
      ->request(scheduler, caf::infinite, atom::cancel_v, previous,
                int64_t{use_default})
      .then([go](cancel_result&) mutable { go(); },
            [go](caf::error&) mutable { go(); });
    return;
  }
  self->request(scheduler, caf::infinite, atom::status_v, previous)
    .then(
      [self, id, spec, previous, overlap](job_info& info) mutable {
        auto e = find(self, id);
        if (!e)
          return;
        if (!is_terminal(info.status)) {
          if (overlap == overlap_policy::skip) {
            ++e->spec.skipped;
            persist(self, e->spec);
            tell_metrics(self, 0, 1, 0);
            done(self, id);
            return;
          }
          spec.depends_on = {previous};
          spec.condition = dependency_condition::finish;
        }
        submit(self, id, std::move(spec));
      },
      // The previous job is gone (removed): nothing to wait for.
      [self, id, spec](caf::error&) mutable {
        if (find(self, id))
          submit(self, id, std::move(spec));
      });
}

void start_firing(self_ptr self, const std::string& id, int64_t now) {
  auto& e = *find(self, id);
  auto firing = e.next;
  // Many more firings due than a schedule may run in a row (the clock
  // jumped): all but the latest count as missed.
  auto c
    = protocol::count_firings(e.expr, e.zone, firing, now, max_counted_missed);
  if (c.count >= max_firing_backlog) {
    e.spec.missed += c.count;
    tell_metrics(self, 0, 0, c.count);
    firing = c.latest;
  }
  fire(self, id, firing);
}

// Every due firing starts (each schedule's in order), then the timer is
// armed for the next.
void run_due(self_ptr self) {
  auto now = self->state.config.now();
  if (!self->state.leading) {
    arm(self);
    return;
  }
  std::vector<std::string> due;
  for (auto& [id, e] : self->state.schedules)
    if (!e.busy && e.spec.enabled && e.next != 0 && e.next <= now)
      due.push_back(id);
  for (auto& id : due)
    start_firing(self, id, now);
  arm(self);
}

caf::error invalid(const char* field, std::string message) {
  return make_tool_error(codes::invalid_arguments, std::move(message),
                         {{"field", json_quote(field)}});
}

// Checks a schedule's cron, time zone and job; fills its expression and
// zone.
caf::error check(self_ptr self, entry& e) {
  std::string err;
  if (!protocol::parse_cron(e.spec.cron, e.expr, err))
    return invalid("cron", err);
  if (!protocol::find_zone(e.spec.timezone, e.zone, err))
    return invalid("timezone", err);
  if (auto& parse = self->state.config.parse_job) {
    job_spec spec;
    tool_error te;
    if (!parse(e.spec.job, spec, te)) {
      te.details.emplace("field", json_quote("job"));
      return make_tool_error(te.code.c_str(), te.message, te.details);
    }
  }
  return {};
}

schedule_info info_of(const entry& e) {
  schedule_info info;
  info.spec = e.spec;
  if (e.spec.enabled && e.next != 0) {
    info.next_firings.push_back(e.next);
    for (auto t : protocol::next_n(e.expr, e.zone, e.next, 4))
      info.next_firings.push_back(t);
  }
  return info;
}

std::string make_id(self_ptr self) {
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto& st = self->state;
  std::uniform_int_distribution<int> pick{0, 35};
  while (true) {
    auto id = "sched-" + std::to_string(st.next_serial++) + "-";
    for (int i = 0; i < 5; ++i)
      id += digits[pick(st.rng)];
    if (!st.schedules.count(id))
      return id;
  }
}

// The number of an id "sched-<n>-<random>"; 0 if it has none.
uint64_t serial_of(const std::string& id) {
  if (id.rfind("sched-", 0) != 0)
    return 0;
  uint64_t n = 0;
  for (size_t i = 6; i < id.size() && i < 24 && id[i] >= '0' && id[i] <= '9';
       ++i)
    n = n * 10 + static_cast<uint64_t>(id[i] - '0');
  return n;
}

// At start: every stored schedule; firings missed while jobd was down run
// once (catch_up) or are counted as missed.
// Takes the STORE's schedules as they are (at start, and on every resync:
// other instances may have changed them); a firing in flight keeps its
// entry. With `settle`, firings missed since each schedule's last handled
// one are caught up or counted (at start, or when this instance takes
// over the firing from one that ended).
void load(self_ptr self, schedule_list& stored, bool settle) {
  auto& st = self->state;
  auto now = st.config.now();
  st.synced_at = now;
  std::vector<std::string> catch_up;
  std::map<std::string, entry> kept;
  for (auto& [id, e] : st.schedules)
    if (e.busy)
      kept.emplace(id, std::move(e));
  st.schedules = std::move(kept);
  for (auto& s : stored.schedules) {
    auto& spec = s.spec;
    st.next_serial = std::max(st.next_serial, serial_of(spec.id) + 1);
    if (st.schedules.count(spec.id) != 0)
      continue;
    entry e;
    e.spec = std::move(spec);
    std::string err;
    if (!protocol::parse_cron(e.spec.cron, e.expr, err)
        || !protocol::find_zone(e.spec.timezone, e.zone, err)) {
      // Stored by an older jobd, or the zone left the tzdb: listed, never
      // fired, until an update fixes it.
      log::error("schedules: " + e.spec.id + " cannot fire: " + err);
      e.spec.last_error = err;
      st.schedules[e.spec.id] = std::move(e);
      continue;
    }
    // Everything before the last change was handled by the jobd running
    // then (a disabled stretch included).
    auto base
      = std::max({e.spec.last_fired_at, e.spec.created_at, e.spec.updated_at});
    if (e.spec.enabled && !settle) {
      e.next = next_firing(e, base);
    } else if (e.spec.enabled) {
      auto c = protocol::count_firings(e.expr, e.zone, base, now,
                                       max_counted_missed);
      if (c.count > 0 && e.spec.catch_up) {
        e.next = c.latest;
        catch_up.push_back(e.spec.id);
      } else if (c.count > 0) {
        e.spec.missed += c.count;
        e.spec.last_fired_at = c.latest;
        e.next = next_firing(e, c.latest);
        persist(self, e.spec);
        tell_metrics(self, 0, 0, c.count);
      } else {
        e.next = next_firing(e, base);
      }
    }
    st.schedules[e.spec.id] = std::move(e);
  }
  for (auto& id : catch_up)
    start_firing(self, id, now);
  arm(self);
}

// Asks the lock (if any) whether this instance fires.
bool leads(self_ptr self) {
  auto& lead = self->state.config.lead;
  return !lead || lead();
}

// Reads the STORE's schedules again (see load), then fires what is due.
void resync(self_ptr self, bool took_over) {
  auto& st = self->state;
  st.syncing = true;
  self->request(st.config.store, caf::infinite, atom::schedules_v, atom::list_v)
    .then(
      [self, took_over](schedule_list& stored) {
        self->state.syncing = false;
        load(self, stored, took_over);
        run_due(self);
      },
      [self](caf::error& err) {
        self->state.syncing = false;
        self->state.synced_at = self->state.config.now();
        log::warning("schedules: could not read the stored schedules: "
                     + self->system().render(err));
        run_due(self);
      });
}

} // namespace

schedules_actor::behavior_type
schedules(schedules_actor::stateful_pointer<schedules_state> self,
          schedules_config config) {
  self->set_default_handler(log_and_drop);
  self->state.config = std::move(config);
  self->state.leading = leads(self);
  // Every request waits until the stored schedules are in (await holds the
  // mailbox), so none is answered from a half-loaded set.
  self
    ->request(self->state.config.store, caf::infinite, atom::schedules_v,
              atom::list_v)
    .await(
      [self](schedule_list& stored) {
        load(self, stored, self->state.leading);
      },
      [self](caf::error& err) {
        log::error("schedules: could not load the stored schedules: "
                   + self->system().render(err));
      });
  return {
    // console_create_schedule.
    [self](atom::schedules, atom::submit,
           schedule_spec& spec) -> caf::result<schedule_info> {
      auto& st = self->state;
      entry e;
      e.spec = std::move(spec);
      if (auto err = check(self, e))
        return err;
      auto now = st.config.now();
      e.spec.id = make_id(self);
      e.spec.created_at = now;
      e.spec.updated_at = now;
      e.spec.last_fired_at = 0;
      e.spec.last_job_id.clear();
      e.spec.last_error.clear();
      e.spec.fired = e.spec.skipped = e.spec.missed = 0;
      e.next = e.spec.enabled ? next_firing(e, now) : 0;
      persist(self, e.spec);
      auto info = info_of(e);
      st.schedules[e.spec.id] = std::move(e);
      arm(self);
      return info;
    },
    // console_update_schedule: the given fields, checked as on creation.
    [self](atom::schedules, atom::put,
           schedule_update& u) -> caf::result<schedule_info> {
      auto current = find(self, u.id);
      if (!current)
        return make_tool_error(codes::schedule_not_found, "no schedule " + u.id,
                               {{"scheduleId", json_quote(u.id)}});
      auto e = *current;
      auto& v = u.values;
      bool timing = (u.has_cron && v.cron != e.spec.cron)
                    || (u.has_timezone && v.timezone != e.spec.timezone)
                    || (u.has_enabled && v.enabled != e.spec.enabled);
      if (u.has_name)
        e.spec.name = v.name;
      if (u.has_cron)
        e.spec.cron = v.cron;
      if (u.has_timezone)
        e.spec.timezone = v.timezone;
      if (u.has_job)
        e.spec.job = v.job;
      if (u.has_overlap)
        e.spec.overlap = v.overlap;
      if (u.has_catch_up)
        e.spec.catch_up = v.catch_up;
      if (u.has_enabled)
        e.spec.enabled = v.enabled;
      if (auto err = check(self, e))
        return err;
      auto now = self->state.config.now();
      e.spec.updated_at = now;
      e.spec.last_error.clear();
      // New times apply from now on (a re-enabled schedule does not make
      // up for the time it was off).
      if (!e.spec.enabled)
        e.next = 0;
      else if (timing || e.next == 0)
        e.next = next_firing(e, std::max(now, e.spec.last_fired_at));
      *current = std::move(e);
      persist(self, current->spec);
      arm(self);
      return info_of(*current);
    },
    // console_list_schedules: in creation order.
    [self](atom::schedules, atom::list) {
      std::vector<const entry*> all;
      for (auto& [id, e] : self->state.schedules)
        all.push_back(&e);
      std::sort(all.begin(), all.end(), [](const entry* a, const entry* b) {
        return a->spec.created_at != b->spec.created_at
                 ? a->spec.created_at < b->spec.created_at
                 : a->spec.id < b->spec.id;
      });
      schedule_list out;
      out.schedules.reserve(all.size());
      for (auto e : all)
        out.schedules.push_back(info_of(*e));
      return out;
    },
    // console_delete_schedule: a firing in flight submits nothing more.
    [self](atom::schedules, atom::erase,
           const std::string& id) -> caf::result<delete_result> {
      if (!self->state.schedules.erase(id))
        return make_tool_error(codes::schedule_not_found, "no schedule " + id,
                               {{"scheduleId", json_quote(id)}});
      self
        ->request(self->state.config.store, caf::infinite, atom::schedules_v,
                  atom::erase_v, id)
        .then([](bool) {},
              [self, id](caf::error& err) {
                log::error("schedules: could not remove " + id + ": "
                           + self->system().render(err));
              });
      arm(self);
      return delete_result{id, true, true};
    },
    // The timer: due firings start; stale armings are ignored.
    [self](atom::tick, uint64_t gen) {
      auto& st = self->state;
      if (gen != st.generation)
        return;
      bool was = st.leading;
      st.leading = leads(self);
      bool took_over = st.leading && !was;
      if (st.config.lead && !st.syncing
          && (took_over
              || st.config.now() >= st.synced_at + resync_interval_ms))
        return resync(self, took_over);
      run_due(self);
    },
  };
}

} // namespace jobd

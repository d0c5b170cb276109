// SCHEDULES: the recurring schedules (console_*_schedule). Keeps every
// schedule in memory and in the STORE, arms one timer for the earliest next
// firing, and at each firing submits the schedule's job to SCHEDULER with
// its overlap rule. The cron engine is protocol/cron.hpp.
#pragma once

#include "actors/actors.hpp"
#include "protocol/cron.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>

namespace jobd {

struct schedules_config {
  store_actor store;
  scheduler_actor scheduler;
  /// Told the firing counts; may be null.
  metrics_actor metrics;
  /// Turns a schedule's job text (console_execute_async's command, args
  /// and options as a JSON object) into a job_spec, or says why not. The
  /// app binds protocol::parse_job_object with the tool catalog.
  std::function<bool(const std::string& job_json, job_spec&, tool_error&)>
    parse_job;
  /// The wall clock, ms since the epoch (tests move it with the actor
  /// clock).
  std::function<int64_t()> now = [] { return now_ms(); };
  /// Whether this jobd fires schedules: of the instances sharing a state
  /// directory only one may (the app holds a lock for it); asked on every
  /// tick, so another takes over when the one firing ends. Null: always.
  std::function<bool()> lead;
};

/// Firings counted at most per schedule and start (or clock jump): beyond
/// this the rest are not counted, and the latest is found near now (see
/// protocol::count_firings). 10,000 is a week of minutely firings.
inline constexpr uint64_t max_counted_missed = 10000;

/// Due firings of one schedule handled in order before the rest counts as
/// missed (a wall clock that jumped forward, or a SCHEDULER slower than the
/// schedule): at most this many run one after the other.
inline constexpr uint64_t max_firing_backlog = 10;

/// The longest the timer sleeps: the wall clock may jump, so it looks at
/// `now()` again at least this often.
inline constexpr int64_t max_timer_step_ms = 60000;

/// How often the STORE's schedules are read again: other instances on the
/// same state directory may have created, changed or deleted some.
inline constexpr int64_t resync_interval_ms = 30000;

struct schedules_state {
  struct entry {
    schedule_spec spec;
    protocol::cron_expr expr;
    protocol::cron_zone zone;
    /// The next firing not handled yet; 0: none (disabled, never again, or
    /// an expression that no longer parses).
    int64_t next = 0;
    /// A firing is being handled (SCHEDULER asked): later ones wait.
    bool busy = false;
  };

  schedules_config config;
  std::map<std::string, entry> schedules;
  /// Numbers ids: one more than the highest loaded.
  uint64_t next_serial = 1;
  /// The latest timer arming; older ticks are stale.
  uint64_t generation = 0;
  /// This instance fires (config.lead said so at the last tick).
  bool leading = false;
  /// When the STORE's schedules were last read (config.now()).
  int64_t synced_at = 0;
  bool syncing = false;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "schedules";
};

/// @param config the actors it works with, the job parser and the clock.
schedules_actor::behavior_type
schedules(schedules_actor::stateful_pointer<schedules_state> self,
          schedules_config config);

} // namespace jobd

// METRICS: counters fed by lifecycle events; answers console_get_job_metrics
// without touching the scheduler or the jobs.
#pragma once

#include "actors/actors.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>
#include <unordered_map>

namespace jobd {

struct metrics_state {
  /// Counters, and the usage totals of the finished jobs held now.
  metrics_snapshot totals;
  /// Per session, the jobs it holds now (erased with its last job), with
  /// the usage totals of its finished ones.
  std::map<std::string, session_metrics> sessions;
  /// Per kind that takes no local slot (a Slurm job's): counted apart.
  std::map<std::string, kind_metrics> kinds;
  /// Sum and count of run times of jobs that started and finished.
  double run_ms_sum = 0;
  uint64_t run_count = 0;
  /// Per job that started and has not finished, the output bytes (stdout
  /// and stderr) already counted in totals.output_bytes: its later events
  /// and output news add only what grew since.
  std::unordered_map<std::string, uint64_t> live_output;
  std::chrono::steady_clock::time_point started_at;
  /// Where the history is (totals, sessions, retained jobs); null: none.
  store_actor store;
  static inline const char* name = "metrics";
};

/// @param max_running the global limit, reported as concurrency.maximum.
/// @param per_session the per-session limit, reported per session.
/// @param apart the kinds that take no local slot (job_kind::takes_slot):
/// counted apart, and not in concurrency.current.
metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self,
        uint64_t max_running, uint64_t per_session, store_actor store,
        std::vector<std::string> apart);

/// One-minute load average divided by the number of CPUs (0 if unknown).
double system_load();

} // namespace jobd

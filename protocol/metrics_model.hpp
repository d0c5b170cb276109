// What METRICS answers (console_get_metrics, the metrics resource and the
// Prometheus exposition): counts per session and per kind, resource usage
// totals. Plain C++, part of protocol/model.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace jobd {

/// Resource usage summed over finished jobs whose usage is known (the
/// seed's "job performance statistics"); averages are these over `jobs`.
struct usage_totals {
  uint64_t jobs = 0;
  int64_t cpu_user_ms = 0;
  int64_t cpu_system_ms = 0;
  /// The largest max_rss_kb of any of them.
  int64_t max_rss_kb = 0;
  /// Their run time, for CPU use per second of run time.
  int64_t run_ms = 0;
  /// The sum of their max_rss_kb, for the average peak per job.
  int64_t max_rss_kb_sum = 0;
};

struct session_metrics {
  std::string session_id;
  uint64_t total = 0;
  uint64_t pending = 0;
  uint64_t running = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t cancelled = 0;
  uint64_t limit = 0;
  /// Of the session's finished jobs that are retained.
  usage_totals usage;
};

/// The jobs of a kind that runs outside jobd and takes no slot (a Slurm
/// job), counted apart from the local concurrency.
struct kind_metrics {
  std::string kind;
  /// Now: held in jobd or queued by the cluster, and running there.
  uint64_t pending = 0;
  uint64_t running = 0;
  /// Since this jobd started.
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t cancelled = 0;
};

struct metrics_snapshot {
  uint64_t total_jobs = 0;
  uint64_t running_jobs = 0;
  uint64_t completed_jobs = 0;
  uint64_t failed_jobs = 0;
  uint64_t cancelled_jobs = 0;
  uint64_t queue_size = 0;
  uint64_t concurrency_current = 0;
  uint64_t concurrency_maximum = 0;
  /// Mean run time of finished jobs, milliseconds.
  double average_execution_ms = 0;
  /// One-minute load average divided by the number of CPUs.
  double system_load = 0;
  int64_t uptime_ms = 0;
  uint64_t retained_jobs = 0;
  std::vector<session_metrics> sessions;
  /// "ok", "degraded" (writes fail: `persistence_error` says why) or
  /// "ephemeral" (--ephemeral: nothing is kept on disk).
  std::string persistence = "ephemeral";
  std::string persistence_error;
  /// Of every finished job that is retained.
  usage_totals usage;
  /// Workflows, since this jobd started: attempts started again after a
  /// failure, jobs ended by DEPENDENCY_FAILED, schedule firings that
  /// submitted a job, and firings skipped (overlap) or missed (down).
  uint64_t retries = 0;
  uint64_t dependency_failures = 0;
  uint64_t schedule_firings = 0;
  uint64_t schedule_skips = 0;
  uint64_t schedule_misses = 0;
  /// Since this jobd started (never replaced by the store's history):
  /// attempts that started (every `started` event, retries included: its
  /// rate is the spawn rate), and bytes of output (stdout and stderr) its
  /// jobs produced, finished and running ones alike, dropped bytes included.
  uint64_t started_jobs = 0;
  uint64_t output_bytes = 0;
  /// Kinds other than "process", each apart; their running jobs are in
  /// running_jobs but not in concurrency_current.
  std::vector<kind_metrics> kinds;
};

} // namespace jobd

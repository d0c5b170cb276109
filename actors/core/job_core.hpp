// The JOB core: one implementation of the job interface for every kind.
// Waiters and pattern matching, the timeout, cancel escalation, output
// buffering, progress coalescing and lifecycle bookkeeping live here once;
// a kind supplies a job_backend (start, signal, kill) whose work reports
// backend_events back to the core.
#pragma once

#include "actors/actors.hpp"
#include "actors/core/job_record.hpp"
#include "actors/job_factory.hpp"
#include "protocol/progress.hpp"

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace jobd {

struct job_core_state {
  using time_point = caf::actor_clock::time_point;

  /// Why the job is being stopped, if it is.
  enum class stop_reason { none, cancel, timeout, shutdown };

  struct waiter {
    wait_query query;
    pattern compiled;
    caf::typed_response_promise<wait_result> promise;
    /// Output up to this sequence number was already checked.
    uint64_t scanned = 0;
    time_point expires;
  };

  job_context ctx;
  std::unique_ptr<job_backend> backend;
  job_info info;
  /// Shared with SCHEDULER's record once the job finished (then immutable).
  std::shared_ptr<output_buffer> buffer;
  std::shared_ptr<std::atomic<int64_t>> in_flight
    = std::make_shared<std::atomic<int64_t>>(0);

  /// The backend reported `spawned`.
  bool spawned = false;
  /// The backend reported `exited`: its last event.
  bool exited = false;
  int32_t wait_status = 0;
  bool eof[2] = {false, false};
  bool flush_scheduled = false;
  /// The `started` event was sent.
  bool announced = false;
  /// An `output` event is scheduled.
  bool progress_scheduled = false;
  /// The last sequence number an `output` event told.
  uint64_t announced_sequence = 0;
  /// The last chunk sent to the STORE.
  uint64_t stored_sequence = 0;
  /// An output message to the STORE was not taken yet.
  bool storing = false;
  /// Output goes to the STORE no earlier than this (a job whose output
  /// outruns its window is stored once a second), and a progress tick is
  /// due for it then.
  time_point store_again_at;
  bool store_retry_scheduled = false;
  stop_reason stopping = stop_reason::none;
  int64_t grace_ms = 0;
  /// When the job started, on the steady clock (for run_ms).
  int64_t started_steady_ms = 0;

  // Deadlines, on the actor clock; one `tick` timer serves them all.
  std::optional<time_point> timeout_at;
  std::optional<time_point> escalate_at;
  /// When the armed tick fires; its generation tells it from stale ones.
  std::optional<time_point> tick_at;
  uint64_t tick_generation = 0;

  std::vector<caf::typed_response_promise<cancel_result>> cancellers;
  std::vector<caf::typed_response_promise<bool>> stoppers;
  /// Status requests that arrived between start and spawn.
  std::vector<caf::typed_response_promise<job_info>> pid_waiters;
  std::map<uint64_t, waiter> waiters;
  uint64_t next_waiter = 1;

  // -- working with the running job (job_control.cpp) ---------------------
  /// Input that arrived before the work was spawned, and whether stdin is
  /// to be closed after it; handed to the backend on `spawned`.
  std::string early_input;
  bool early_close = false;
  /// What is left of the timeout while the job is paused.
  std::optional<time_point::duration> timeout_left;
  /// When the job was paused, on the steady clock (ms).
  int64_t paused_steady_ms = 0;
  /// The end of each stream's output, where progress is read from.
  std::string tail[2];
  /// The stream that wrote last (0 stdout, 1 stderr): read first.
  int last_tail = 0;
  /// Output arrived since progress was last read.
  bool progress_dirty = false;
  /// options.progressPattern, compiled; empty: the heuristic.
  progress_pattern progress_re;

  // -- workflows (job_retry.cpp) -------------------------------------------
  /// The retry jitter's random source: splitmix64's 8 bytes of state
  /// (mt19937_64 would add 2.5 KB to every job), seeded on the first draw
  /// from job_defaults::retry_seed or std::random_device.
  uint64_t jitter_state = 0;
  bool jitter_seeded = false;
  /// While pending: when the start time or the backoff that SCHEDULER holds
  /// the job for is reached (on the actor clock), and that wall-clock time.
  std::optional<time_point> release_at;
  timestamp_ms release_target = 0;
  /// release_at is a saturated deadline (a target more than a century
  /// ahead): when reached, the rest is measured again.
  bool release_saturated = false;
  static inline const char* name = "job_core";
};

/// The longest a tick timer is armed for: a long deadline is reached in
/// steps, so a job that ends leaves no timer (and no reference to itself)
/// behind for longer than this.
inline constexpr auto max_tick = std::chrono::seconds{5};

/// @param ctx the job's id, spec, defaults and kind (`ctx.kind` set).
job_core_actor::behavior_type
job_core(job_core_actor::stateful_pointer<job_core_state> self,
         job_context ctx);

} // namespace jobd

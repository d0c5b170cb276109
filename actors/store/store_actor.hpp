// STORE: the one actor that touches the database. It batches the rows and
// output that jobs and SCHEDULER send and commits them together (a lone
// write at once, under load every 25 ms, or at once past 512 writes or
// 4 MiB), answers the queries
// about jobs that SCHEDULER does not hold, and keeps jobd running when the
// disk refuses: persistence "degraded", one warning, a retry every second.
#pragma once

#include "actors/actors.hpp"
#include "actors/store/job_store.hpp"
#include "protocol/pattern.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jobd {

struct store_state {
  /// One write waiting for the next commit, in arrival order.
  struct write {
    /// A row, with the spec when it is the job's first.
    std::optional<job_info> row;
    std::optional<job_spec> spec;
    /// Or output.
    std::optional<stored_output> output;
  };
  struct remote_wait {
    wait_query query;
    pattern compiled;
    caf::typed_response_promise<wait_result> promise;
    std::chrono::steady_clock::time_point expires;
  };

  std::shared_ptr<job_store> db;
  std::vector<write> batch;
  uint64_t batch_bytes = 0;
  bool tick_scheduled = false;
  /// When the last batch was committed (commits are at least 25 ms apart
  /// under load).
  std::chrono::steady_clock::time_point last_commit;
  /// Why writes fail, while they do.
  std::string degraded;
  /// Output dropped while degraded (its batch was full).
  uint64_t lost_bytes = 0;
  /// Takes the pending jobs of dead instances found by queries.
  requeue_target requeuer;
  /// Serials handed out while the database refused writes (0: none yet).
  uint64_t fallback_serial = 0;
  /// Waits on jobs other instances run, polled on each tick.
  std::vector<remote_wait> remote_waits;
  /// Why the store could not be opened on disk (it runs in memory then).
  std::string unopened;
  int64_t max_wait_ms = 60000;
  int64_t retention_ms = 86400000;
  static inline const char* name = "store";
};

using store_ptr = store_actor::stateful_pointer<store_state>;

/// @param db the opened store (app/ opens it, so a refused file stops the
///        start); nullptr is not allowed.
/// @param max_wait_ms the cap of a wait's timeout.
/// @param retention_ms the default age of cleanup.
/// @param unopened why the state directory could not be used (then `db`
///        is an in-memory store and persistence stays "degraded").
store_actor::behavior_type store(store_ptr self, std::shared_ptr<job_store> db,
                                 int64_t max_wait_ms, int64_t retention_ms,
                                 std::string unopened);

} // namespace jobd

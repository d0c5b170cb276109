// SCHEDULER: admission, the global limit, the ready queue and the job index.
// It is the only actor that starts jobs, one decision per message.
#pragma once

#include "actors/actors.hpp"
#include "actors/job_factory.hpp"
#include "actors/session.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <caf/typed_response_promise.hpp>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobd {

struct scheduler_config {
  /// Jobs running at once, over all sessions.
  size_t max_running = 10;
  /// Jobs running at once per session.
  size_t max_running_per_session = 5;
  job_defaults defaults;
};

/// Where a pending job stands in the queue: priority, then arrival.
struct queue_key {
  int32_t priority;
  uint64_t serial;
  bool operator<(const queue_key& other) const {
    return priority != other.priority ? priority > other.priority
                                      : serial < other.serial;
  }
};

/// Every pending job in queue order, with O(log n) rank queries for the
/// queue positions that status, list and submit report.
using pending_queue
  = __gnu_pbds::tree<queue_key, __gnu_pbds::null_type, std::less<queue_key>,
                     __gnu_pbds::rb_tree_tag,
                     __gnu_pbds::tree_order_statistics_node_update>;

struct scheduler_state {
  struct entry {
    job_actor handle;
    /// The job's status as of its last event; what list and cleanup see.
    job_info info;
  };

  scheduler_config config;
  factory_ptr factory;
  std::unordered_map<std::string, entry> jobs;
  /// Job ids by creation serial: list and cleanup walk it newest first.
  std::map<uint64_t, std::string> by_serial;
  pending_queue pending;
  /// Offered candidates, best first.
  std::set<candidate, candidate_order> ready;
  std::unordered_map<std::string, session_actor> sessions;
  std::vector<event_listener> listeners;
  size_t running = 0;
  uint64_t next_serial = 1;
  bool shutting_down = false;
  static inline const char* name = "scheduler";
};

/// @param config limits and job defaults.
/// @param factory the job kinds jobs are created from.
scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self,
          scheduler_config config, factory_ptr factory);

} // namespace jobd

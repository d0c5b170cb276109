// SWEEPER: every interval, asks SCHEDULER to remove finished jobs older than
// the retention.
#pragma once

#include "actors/actors.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace jobd {

struct sweeper_state {
  scheduler_actor scheduler;
  std::chrono::milliseconds interval{3600000};
  int64_t retention_ms = 86400000;
  static inline const char* name = "sweeper";
};

/// @param scheduler owns the jobs.
/// @param interval time between sweeps.
/// @param retention_ms finished jobs older than this are removed.
sweeper_actor::behavior_type
sweeper(sweeper_actor::stateful_pointer<sweeper_state> self,
        scheduler_actor scheduler, std::chrono::milliseconds interval,
        int64_t retention_ms);

} // namespace jobd

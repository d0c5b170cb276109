// WAIT GROUP: one console_wait_job with jobIds. Waits on each job through
// SCHEDULER (so a job held by its actor, a record or the store is waited on
// by the same rules as a single wait) and answers when any or all ended or
// the time is up; then it quits. SCHEDULER stays a hub: it only spawns it.
#pragma once

#include "actors/actors.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <optional>
#include <string>
#include <vector>

namespace jobd {

struct wait_group_state {
  scheduler_actor scheduler;
  int64_t max_wait_ms = 60000;
  wait_many_query query;
  caf::typed_response_promise<wait_many_result> promise;
  /// Each job's status as of its answer, in the order asked.
  std::vector<std::optional<job_info>> jobs;
  size_t answered = 0;
  size_t ended = 0;
  /// Status requests still out: first the check that every job exists,
  /// later the refresh of those not answered before the answer.
  size_t refreshing = 0;
  std::string reason;
  bool done = false;
  static inline const char* name = "wait_group";
};

/// @param scheduler where the single waits go.
/// @param max_wait_ms the server's cap of a wait's timeout.
wait_group_actor::behavior_type
wait_group(wait_group_actor::stateful_pointer<wait_group_state> self,
           scheduler_actor scheduler, int64_t max_wait_ms);

} // namespace jobd

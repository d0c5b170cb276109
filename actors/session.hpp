// SESSION: one per sessionId. Holds the per-session limit by offering the
// SCHEDULER at most (limit - running) of its pending jobs, best first.
#pragma once

#include "actors/actors.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <set>
#include <string>

namespace jobd {

/// Orders candidates as the ready queue does: priority 10 first, then arrival.
struct candidate_order {
  bool operator()(const candidate& x, const candidate& y) const {
    return x.priority != y.priority ? x.priority > y.priority
                                    : x.serial < y.serial;
  }
};

struct session_state {
  std::string id;
  size_t limit = 5;
  scheduler_actor scheduler;
  /// Pending jobs, best first (offered ones included).
  std::set<candidate, candidate_order> pending;
  std::map<std::string, candidate> by_id;
  /// Offered to SCHEDULER and not taken back.
  std::set<std::string> offered;
  /// Withdrawals not answered yet: they hold a slot until answered.
  std::set<std::string> withdrawing;
  std::set<std::string> running;
  static inline const char* name = "session";
};

/// @param id the sessionId.
/// @param limit how many of its jobs may run at once.
/// @param scheduler receives offers and withdrawals.
session_actor::behavior_type
session(session_actor::stateful_pointer<session_state> self, std::string id,
        size_t limit, scheduler_actor scheduler);

} // namespace jobd

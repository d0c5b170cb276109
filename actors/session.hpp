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
  /// Where a job of this session stands.
  enum class place { waiting, offered, withdrawing, running };

  std::string id;
  size_t limit = 5;
  scheduler_actor scheduler;
  /// Every job of the session that has not ended, with its place.
  std::map<std::string, std::pair<candidate, place>> jobs;
  /// Pending jobs not offered, best first.
  std::set<candidate, candidate_order> waiting;
  /// Offered to SCHEDULER and not taken back, best first.
  std::set<candidate, candidate_order> offered;
  /// Withdrawals not answered yet: each holds a slot until answered.
  size_t withdrawing = 0;
  size_t running = 0;
  static inline const char* name = "session";
};

/// @param id the sessionId.
/// @param limit how many of its jobs may run at once.
/// @param scheduler receives offers and withdrawals.
session_actor::behavior_type
session(session_actor::stateful_pointer<session_state> self, std::string id,
        size_t limit, scheduler_actor scheduler);

} // namespace jobd

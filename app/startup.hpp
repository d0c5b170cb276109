// What serve() does before the actor system runs: the scheduler's settings
// from the configuration, opening the store, taking stdout for the
// protocol, raising the descriptor limit.
#pragma once

#include "actors/actors.hpp"
#include "actors/scheduler.hpp"
#include "actors/store/job_store.hpp"
#include "app/config.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace jobd {

/// SCHEDULER's limits and job defaults from the configuration.
scheduler_config to_scheduler_config(const config& cfg);

/// Serials reserved from the store at a time.
inline constexpr uint64_t serial_block = 64;

/// What opening the store gave: the store (null: jobd must not start, exit
/// code 2), the jobs of dead instances to queue again, the first serials
/// reserved, and why nothing is kept if the state directory refused.
struct opened_store {
  std::shared_ptr<job_store> db;
  requeue_list requeue;
  uint64_t first_serial = 0;
  std::string degraded;
};

/// Opens the store (null for a file jobd must not touch), takes over what
/// dead instances left (their running jobs end INTERRUPTED, their pending
/// ones come back in `requeue`) and reserves the first serials. A state
/// directory the disk refuses (read-only, full) still lets jobd run, with
/// nothing kept: `degraded` says why.
opened_store open_store(const config& cfg, const std::string& cgroups);

/// stdout is the protocol channel, and only the sink writes it: the sink
/// gets a descriptor of its own for it (returned), and fd 1 then points at
/// stderr. What a library prints on stdout (CAF's "*** unhandled down
/// message", say) lands among the diagnostics instead of between replies.
int take_stdout();

/// Raises the soft descriptor limit to the hard one (each running job holds
/// a few: pipes, pidfd, cgroup files) and checks that the configured
/// concurrency fits. False with a message if it cannot.
bool raise_fd_limit(const config& cfg, std::string& message);

} // namespace jobd

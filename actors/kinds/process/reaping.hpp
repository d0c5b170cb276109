// Waiting for a job's leader and reaping what its tree leaves behind. jobd
// is a child subreaper (app/main.cpp): processes a job orphans are
// re-parented to it, and their zombies are ours to reap. The leaders are
// reaped by the reactor alone (their raw status is the job's result), so
// every reap of an adopted zombie must leave them alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include <sys/resource.h>
#include <sys/types.h>

namespace jobd {

/// Reported when someone else reaped our child and its status is lost.
constexpr int32_t lost_status = 255 << 8;

enum class exit_state {
  /// Still running.
  running,
  /// Exited and waiting to be reaped.
  exited,
  /// Not our child (any more): reaped behind our back.
  gone,
};

/// Peeks whether our child `pid` exited, without reaping it (WNOWAIT).
exit_state peek_exit(pid_t pid);

/// Reaps our exited child `pid`: its raw wait status, or `lost_status`.
/// With `usage`, its resource usage (itself and the children it waited
/// for) is stored there (wait4), and `*reaped` tells whether it was.
int32_t reap_exited(pid_t pid, struct rusage* usage = nullptr,
                    bool* reaped = nullptr);

/// Reaps our zombie children in process group `pgid` (WNOHANG): orphans of
/// the job whose group that is. The caller guarantees that no leader it
/// waits for has the pid `pgid` (a new leader could only get it once the
/// old group was gone).
size_t reap_group(pid_t pgid);

/// Reaps our zombie children for which `is_leader` is false, peeking at
/// each first (WNOWAIT); stops at the first zombie that is a leader (its
/// own exit handler reaps it soon, and the next call gets past it).
size_t reap_zombies(const std::function<bool(pid_t)>& is_leader);

/// Children a thread of jobd waits for itself (the Slurm kind's commands):
/// reap_zombies leaves them alone. `spawn` runs under the registry's lock
/// and returns the new child's pid (or -1), which is claimed before any
/// sweep can see it exit; release it once waited for.
pid_t spawn_claimed(const std::function<pid_t()>& spawn);
void release_claim(pid_t pid);

/// True once process group `pgid` has no process left, zombies included
/// (kill(-pgid, 0) fails with ESRCH). Sends no signal.
bool group_gone(pid_t pgid);

} // namespace jobd

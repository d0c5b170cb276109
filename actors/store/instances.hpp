// The jobd instances that share a state directory. Each holds an exclusive
// flock on `<state dir>/instances/<id>.lock` for its whole life: the kernel
// drops it when the process dies (even by SIGKILL), so "the lock is free"
// is "the instance is dead", with no pid to trust. And what a dead instance
// leaves behind: its jobs' cgroups and process groups. No CAF.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace jobd {

struct instance_info {
  std::string id;
  int64_t pid = 0;
  int64_t started_at = 0;
  /// /proc/sys/kernel/random/boot_id: process start times are per boot.
  std::string boot_id;
  /// Where its jobs' cgroups are (empty: none).
  std::string cgroup_parent;
};

/// Holds an instance's lock file, exclusively, until destroyed.
class instance_lock {
public:
  /// Makes `<dir>/<id>.lock` and locks it; throws std::runtime_error.
  instance_lock(const std::string& dir, const std::string& id);
  ~instance_lock();
  instance_lock(const instance_lock&) = delete;
  instance_lock& operator=(const instance_lock&) = delete;

private:
  std::string path_;
  int fd_ = -1;
};

/// A fresh instance id ("i" and 12 hex digits, random).
std::string new_instance_id();

/// This boot's id (empty if unknown).
std::string boot_id();

/// "<boot id>:<start time in clock ticks>" of a process, from
/// /proc/<pid>/stat; empty if it is gone.
std::string process_start(int64_t pid);

/// Whether the instance holding `<dir>/<id>.lock` is alive: true while the
/// lock is held. When it is free, `take` keeps it held by the caller (the
/// returned fd, else -1) so two survivors never recover one instance twice.
bool instance_alive(const std::string& dir, const std::string& id, int& taken);

/// Releases a lock taken by instance_alive and removes the file.
void release_dead_lock(const std::string& dir, const std::string& id, int fd);

/// Marks `parent` (this instance's cgroup parent, if any) as instance
/// `id`'s (`user.jobd.instance`).
void label_cgroup_parent(const std::string& parent, const std::string& id);

/// The job cgroups below the cgroup parent of the dead instance `id`, by
/// the job each holds: the `user.jobd.job` label, else (a cgroup of an
/// older jobd) the directory's name. Emptied cgroups kept for reuse carry
/// no label. None if the directory is now another instance's (its
/// `user.jobd.instance` names another id: same pid, after the dead one's
/// directory went).
using job_cgroups = std::map<std::string, std::vector<std::string>>;
job_cgroups find_job_cgroups(const std::string& parent, const std::string& id);

/// SIGKILLs what is left of a job of a dead instance: its cgroups (from
/// `cgroups`), else its process group when the group leader is still the
/// process that was recorded (same boot, same start time). Says whether
/// anything of the job was found, and what was done.
struct leftovers {
  bool found = false;
  std::string what;
};
leftovers kill_leftovers(const job_cgroups& cgroups, const std::string& job_id,
                         int64_t pid, const std::string& recorded_start);

/// Removes the cgroup parent of the dead instance `id`: while it carries
/// that id, SIGKILLs whatever still runs in it (cgroup.kill) and removes
/// every cgroup below it and itself; without a label (an older jobd's) it
/// is only removed if empty; another instance's is left alone.
void remove_cgroup_parent(const std::string& path, const std::string& id);

} // namespace jobd

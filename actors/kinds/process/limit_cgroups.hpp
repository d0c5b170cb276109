// Memory and process-count limits in the cgroup v1 hierarchies (`memory`,
// `pids`), for machines whose cgroup v2 has no such controllers: a
// directory `jobd-<pid>` per reactor in each hierarchy, one cgroup per job
// below it that the child enters (writes "0" to its cgroup.procs) before
// it execs. The job's processes are tracked and killed through its v2
// cgroup or process group as before; these cgroups only hold limits and
// count what hit them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <sys/types.h>

namespace jobd {

/// One job's cgroup in a v1 hierarchy. Not thread-safe.
class v1_cgroup {
public:
  ~v1_cgroup();

  v1_cgroup(const v1_cgroup&) = delete;
  v1_cgroup& operator=(const v1_cgroup&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// Writes `value` to the file `file`: 0 or the errno.
  int set(const char* file, const std::string& value) const;

  bool has(const char* file) const;

  /// The number a file holds (memory.failcnt); -1 if unreadable.
  int64_t value(const char* file) const;

  /// N of "key N" in `file` (memory.oom_control oom_kill, pids.events
  /// max); -1 if unreadable or absent.
  int64_t counter(const char* file, const char* key) const;

  /// cgroup.procs opened for writing (O_CLOEXEC) on first call, for the
  /// child to enter; -1 with errno if it cannot be opened.
  int procs_fd();
  void close_procs();

  /// True while any process is in it.
  bool populated() const;

  /// SIGKILLs its processes: each pid listed is pinned by a pidfd and
  /// checked (/proc/<pid>/cgroup) to be a member still. How many.
  size_t kill_members() const;

  /// rmdir; false while a process is in it. Idempotent.
  bool remove();

private:
  friend class v1_hierarchy;
  v1_cgroup(std::string path, std::string relative, const char* controller,
            int dir_fd);

  std::string path_;
  /// The path as /proc/<pid>/cgroup names it in this hierarchy.
  std::string relative_;
  const char* controller_;
  int dir_fd_;
  int procs_fd_ = -1;
  bool removed_ = false;
};

/// jobd's directory in one v1 hierarchy.
class v1_hierarchy {
public:
  /// Finds the v1 mount of `controller` ("memory", "pids"; a string
  /// literal) in /proc/self/mounts and makes `jobd-<pid>` (or
  /// `jobd-<pid>-N`) at its root, which also proves it writable. nullptr,
  /// with the reason in `why`, if either fails.
  static std::unique_ptr<v1_hierarchy> create(const char* controller,
                                              std::string& why);

  /// Removes the directory; fails quietly while job cgroups are left.
  ~v1_hierarchy();

  v1_hierarchy(const v1_hierarchy&) = delete;
  v1_hierarchy& operator=(const v1_hierarchy&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// Makes the cgroup of one job, named like cgroup_parent::make_child
  /// names it. nullptr, with the reason in `why`. Thread-safe.
  std::unique_ptr<v1_cgroup> make_child(const std::string& name,
                                        std::string& why);

private:
  v1_hierarchy(std::string path, std::string relative, const char* controller,
               int fd);

  std::string path_;
  std::string relative_;
  const char* controller_;
  int fd_;
  std::atomic<unsigned long> serial_{0};
};

} // namespace jobd

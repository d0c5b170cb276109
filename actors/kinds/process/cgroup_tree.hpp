// Process trees as cgroup v2 directories: one per running job, below a
// directory `jobd-<pid>` that the reactor makes in its own cgroup. A cgroup
// is the one tree that setsid, setpgid and double forks cannot leave:
// cgroup.kill ends all of it, cgroup.events says when nothing of it is alive
// any more. A cgroup that a job left as it was made is kept for a later job
// (cgroup_parent::recycle): its directory is named `tree-N`, and the
// extended attribute `user.jobd.job` names the job it holds.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/types.h>

namespace jobd {

class cgroup_tree;

/// Small helpers for cgroup files (also the v1 ones of limit_cgroups.cpp).
namespace cgroup_files {
/// The extended attribute of a job cgroup that names the job in it (a
/// recovering jobd finds a dead instance's jobs by it: actors/store).
inline constexpr const char* job_label = "user.jobd.job";
/// The extended attribute of `jobd-<pid>` that names the store instance
/// whose directory it is: a recovering jobd ends what is in a dead
/// instance's directory only while it still carries that instance's id.
inline constexpr const char* instance_label = "user.jobd.instance";
/// Reads a small file whole (relative to `dir_fd`, or a path with -1).
bool read(int dir_fd, const char* name, std::string& out);
/// Writes `text` to the file `name` below `dir_fd`: 0 or the errno.
int write(int dir_fd, const char* name, const std::string& text);
/// N of the line "key N" in `text` (memory.events, pids.events,
/// memory.oom_control); -1 if there is none.
int64_t keyed(const std::string& text, const char* key);
/// The first mount point of file-system `type` whose options include
/// `option` (null: any), from /proc/self/mounts; "" if none.
std::string find_mount(const char* type, const char* option);
/// True for a cgroup name of 1-100 letters, digits, '-' and '_'.
bool valid_name(const std::string& name);
/// Makes a job's directory below `parent_fd` (whose path is
/// `parent_path`): named `name` (an invalid one becomes "job"), with `-N`
/// from `serial` appended while the name is taken. Its O_DIRECTORY
/// descriptor, with its name in `leaf`; -1 with the reason in `why`.
/// Makes jobd's own directory `jobd-<pid>` (`jobd-<pid>-N` if taken: a
/// second reactor in one process, or one left by an earlier process with
/// our pid) below `base`, with each of `writable` writable in it. Its
/// O_DIRECTORY descriptor, with its name in `name`; -1 with the reason in
/// `why` (the directory is removed again).
int make_jobd_dir(const std::string& base,
                  std::initializer_list<const char*> writable,
                  std::string& name, std::string& why);
int make_job_dir(int parent_fd, const std::string& parent_path,
                 const std::string& name, std::atomic<unsigned long>& serial,
                 std::string& leaf, std::string& why);
} // namespace cgroup_files

/// The directory below which the reactor makes one cgroup per job.
class cgroup_parent {
public:
  /// Finds the cgroup2 mount (/proc/self/mounts) and this process's own
  /// cgroup (the `0::` line of /proc/self/cgroup), and makes `jobd-<pid>`
  /// there (`jobd-<pid>-N` if that exists). nullptr, with the reason in
  /// `why`, where no writable cgroup v2 with cgroup.kill is found.
  static std::unique_ptr<cgroup_parent> create(std::string& why);

  /// Removes the directory; fails quietly while job cgroups are left.
  ~cgroup_parent();

  cgroup_parent(const cgroup_parent&) = delete;
  cgroup_parent& operator=(const cgroup_parent&) = delete;

  /// Absolute path of the directory.
  const std::string& path() const {
    return path_;
  }

  /// The cgroup for the job `job`, labelled with its name (`job_label`):
  /// one kept by recycle() if there is one, else a new directory `tree-N`.
  /// nullptr, with the reason in `why`, on failure. Thread-safe.
  std::unique_ptr<cgroup_tree> make_child(const std::string& job,
                                          std::string& why);

  /// Takes back the cgroup of a job whose tree was found empty, for a
  /// later make_child: a cgroup that held a job takes the next one for a
  /// fraction of what mkdir, rmdir and the kernel's set-up of a fresh
  /// cgroup cost (docs/performance.md). Kept only while no controller is
  /// enabled for the job cgroups (a job could have changed its limits),
  /// fewer than max_free() are kept, and cgroup_tree::reusable() holds;
  /// else it is handed back, for the caller to remove. Thread-safe.
  std::unique_ptr<cgroup_tree> recycle(std::unique_ptr<cgroup_tree> cgroup);

  /// How many emptied cgroups recycle() keeps at most (0: none).
  size_t max_free() const {
    return max_free_;
  }
  void set_max_free(size_t n) {
    max_free_ = n;
  }

  /// Makes `controller` (e.g. "memory", "pids") available to the job
  /// cgroups: true if this directory's cgroup.subtree_control lists it or
  /// it could be enabled there (cgroup.controllers offers it).
  bool enable_controller(const char* controller);

private:
  cgroup_parent(std::string path, std::string relative, int fd);

  std::string path_;
  /// The directory, O_DIRECTORY: job cgroups are made relative to it
  /// (mkdirat, openat), which spares a lookup of the whole path per job.
  int fd_;
  /// The same directory as /proc/<pid>/cgroup names it.
  std::string relative_;
  /// Numbers the `tree-N` directories.
  std::atomic<unsigned long> serial_{0};
  /// A controller is enabled for the job cgroups: none is recycled.
  std::atomic<bool> controllers_{false};
  std::atomic<size_t> max_free_{128};
  std::mutex free_mtx_;
  /// Emptied cgroups for the next jobs (the last one first: its kernel
  /// state is the most likely to be cached still).
  std::vector<std::unique_ptr<cgroup_tree>> free_;
};

/// One job's cgroup. Not thread-safe: the reactor serializes its calls.
class cgroup_tree {
public:
  /// Closes its descriptors; the directory stays until `remove()`.
  ~cgroup_tree();

  cgroup_tree(const cgroup_tree&) = delete;
  cgroup_tree& operator=(const cgroup_tree&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// The cgroup's directory (O_DIRECTORY, O_CLOEXEC): where clone3 with
  /// CLONE_INTO_CGROUP starts the child.
  int dir_fd() const {
    return dir_fd_;
  }

  /// cgroup.procs opened for writing (O_CLOEXEC) on first call: the
  /// vforked child writes "0" to it to enter the cgroup before it execs
  /// (where clone3 cannot start it there). -1, with errno, if it cannot be
  /// opened.
  int procs_fd();

  /// Closes `procs_fd()`, once the child started.
  void close_procs();

  /// The path of cgroup.events, whose modification (inotify IN_MODIFY)
  /// tells that `populated` may have changed.
  std::string events_path() const;

  /// True while any process of the cgroup or of a cgroup below it runs
  /// (`populated 1`; zombies do not count). False if it cannot be read.
  bool populated() const;

  /// SIGKILLs every process of the cgroup and below (cgroup.kill): nothing
  /// can escape it. False if the write failed. A cgroup once killed is
  /// never reusable (see reusable()).
  bool kill();

  /// Sends `sig` to every process of the cgroup and below except `skip`.
  /// Each pid read from cgroup.procs is pinned by a pidfd and checked to be
  /// a member still before it is signalled, so a pid that ended and was
  /// reused meanwhile is never hit. Returns how many took the signal.
  size_t signal_members(int sig, pid_t skip) const;

  /// Writes "1" (freeze) or "0" (thaw) to cgroup.freeze; false if the
  /// write failed. Frozen processes still die of cgroup.kill.
  bool freeze(bool frozen) const;

  /// CPU time of everything that ran in the cgroup and below since its
  /// current job took it (cpu.stat user_usec, system_usec, less what they
  /// were at rebase()); false if unreadable.
  bool cpu_usage(int64_t& user_usec, int64_t& system_usec) const;

  /// Names the job it holds (`cgroup_files::job_label`); false if the
  /// attribute could not be set.
  bool label(const std::string& job);

  /// True if nothing a job may change in its own cgroup differs from a
  /// new one: nothing alive in it, no cgroup below, not frozen, a domain,
  /// no depth or descendant limit; and it was never killed. (Linux compares the
  /// kill count of the cgroup a clone3 with CLONE_INTO_CGROUP goes to with the
  /// one of the parent's own cgroup: a child born into a cgroup that saw a
  /// cgroup.kill is SIGKILLed at once, on 6.18 at least.)
  bool reusable() const;

  /// Readies an emptied cgroup for its next job: the label goes, and
  /// cpu_usage() counts from zero again (from what it read last, right
  /// after the tree was found empty, else from cpu.stat now). False if
  /// cpu.stat is unreadable.
  bool rebase();

  /// memory.peak in bytes (only with the memory controller); -1 if none.
  int64_t memory_peak() const;

  /// Writes `value` to the cgroup's file `file` (memory.max, pids.max):
  /// 0 or the errno.
  int set(const char* file, const std::string& value) const;

  /// Whether the cgroup has the file `file`.
  bool has(const char* file) const;

  /// N of "key N" in the cgroup's file `file` (memory.events oom_kill,
  /// pids.events max); -1 if unreadable or absent.
  int64_t counter(const char* file, const char* key) const;

  /// The members' pids (of the cgroup and below), as listed right now.
  std::vector<pid_t> members() const;

  /// Removes the directory (and any cgroup a job made below it); false
  /// while any process is left in it. Idempotent.
  bool remove();

private:
  friend class cgroup_parent;
  cgroup_tree(std::string path, std::string relative, int dir_fd);

  std::string path_;
  std::string relative_;
  int dir_fd_;
  int procs_fd_ = -1;
  bool removed_ = false;
  /// cgroup.kill was written.
  bool killed_ = false;
  /// cpu.stat at rebase(): what earlier jobs used.
  int64_t base_user_usec_ = 0;
  int64_t base_system_usec_ = 0;
  /// cpu.stat as cpu_usage() last read it.
  mutable int64_t raw_user_usec_ = 0;
  mutable int64_t raw_system_usec_ = 0;
  mutable bool raw_known_ = false;
};

} // namespace jobd

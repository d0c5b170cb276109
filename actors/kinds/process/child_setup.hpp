// What a job's child does between vfork and execve. The child shares the
// reactor's memory until it execs, so everything here is a plain system call
// on data prepared by the parent: no allocation, no locks, no exceptions.
#pragma once

#include <boost/process/v2/detail/config.hpp>

#include <vector>

#include <cerrno>
#include <sys/resource.h>
#include <unistd.h>

// Code that runs in a child sharing our memory is not instrumented by a
// sanitizer: its frames would leave poisoned shadow memory behind.
#if defined(__GNUC__)
#define JOBD_CHILD_CODE __attribute__((no_sanitize_address))
#else
#define JOBD_CHILD_CODE
#endif

namespace jobd {

/// Resets every signal disposition to its default and empties the signal
/// mask: ignored signals and the mask survive execve.
void reset_signals_in_child();

/// Writes "0" to `procs_fd` (a cgroup's cgroup.procs), which moves the
/// calling process into that cgroup; 0 or the errno of the failure.
int enter_cgroup_in_child(int procs_fd);

/// setpgid(0, 0): the child leads its own process group; 0 or the errno.
int lead_group_in_child();

/// setsid() and TIOCSCTTY on fd 0 (a terminal's slave): the child leads
/// its own session and process group (pgid == pid still) and that terminal
/// is its controlling terminal; 0 or the errno.
int lead_session_in_child();

/// Closes every descriptor not in `keep` (sorted in place).
void close_unlisted_in_child(std::vector<int>& keep);

/// Closes every descriptor from `first` up.
void close_from_in_child(int first);

/// One setrlimit of a job's child.
struct child_rlimit {
  decltype(RLIMIT_CPU) resource = RLIMIT_CORE;
  struct rlimit value {};
};

/// A job's confinement as its child applies it, prepared by the parent
/// (job_confinement.hpp): descriptors and values only.
struct child_confinement {
  static constexpr int max_cgroups = 2;
  static constexpr int max_rlimits = 4;
  /// cgroup.procs of the v1 memory and pids cgroups to enter.
  int cgroup_procs[max_cgroups] = {-1, -1};
  int cgroup_count = 0;
  /// RLIMIT_CORE (always), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_AS.
  child_rlimit rlimits[max_rlimits];
  int rlimit_count = 0;
  /// RLIMIT_NOFILE, set only once the descriptors above 2 are closed (the
  /// fallback that closes them one by one stops at that limit).
  bool limit_open_files = false;
  struct rlimit open_files {};
  /// A Landlock ruleset to restrict the child to, last; -1 for none.
  int landlock_fd = -1;
  /// The job's (v2) cgroup holds limits: not entering it fails the launch.
  bool cgroup_required = false;
};

/// The step of a child's confinement that failed, as the child reports it
/// (into the parent's memory: both launchers share it until execve).
enum class confine_step : int {
  none,
  job_cgroup,
  cgroup,
  rlimit,
  open_files,
  landlock,
};

struct confine_failure {
  confine_step step = confine_step::none;
  /// Which cgroup (cgroup_procs) or rlimit (rlimits) it was.
  int index = 0;
  int error = 0;
};

/// In the child, in this order: enters the extra cgroups, sets the
/// rlimits, restricts itself to the Landlock ruleset (after which no
/// cgroup file can be written). 0, or the errno of the failed step (which
/// `failed` names).
int confine_in_child(const child_confinement& c, confine_failure& failed);

/// RLIMIT_NOFILE, once the fds above 2 are closed; 0 or the errno.
int limit_files_in_child(const child_confinement& c, confine_failure& failed);

/// The hooks Boost.Process runs in the vforked child.
struct child_setup {
  /// cgroup.procs of the job's cgroup, or -1 for process-group tracking.
  int cgroup_procs_fd = -1;
  /// Where the child stores why it could not enter the cgroup (0: it did).
  /// Points into the parent's stack: under vfork the child writes the
  /// parent's memory, which is how the parent learns the outcome.
  int* cgroup_error = nullptr;
  /// A terminal job: stdio is the slave; see lead_session_in_child().
  bool new_session = false;
  /// Limits and sandbox to apply (never null when the child is started).
  const child_confinement* confine = nullptr;
  /// Where the child tells which step failed (the parent's memory).
  confine_failure* confine_failed = nullptr;
  /// If >= 0: the child fchdirs to it (the job's checked working
  /// directory) before the descriptors are closed.
  int working_directory_fd = -1;

  template <class Launcher>
  boost::process::v2::error_code
  on_exec_setup(Launcher& launcher, const boost::process::v2::filesystem::path&,
                const char* const*) {
    // First, so that nothing of the job ever runs outside its cgroup. A
    // failure is not fatal: the parent then tracks this job by its group.
    // Unless its limits live in that cgroup.
    if (cgroup_procs_fd >= 0 && cgroup_error != nullptr) {
      *cgroup_error = enter_cgroup_in_child(cgroup_procs_fd);
      if (*cgroup_error != 0 && confine->cgroup_required) {
        confine_failed->step = confine_step::job_cgroup;
        confine_failed->error = *cgroup_error;
        return boost::process::v2::error_code{
          *cgroup_error, boost::process::v2::system_category()};
      }
    }
    reset_signals_in_child();
    // Own process group (or session, for a terminal job), so the job can
    // signal the whole tree (and the pgroup fallback can track it).
    if (const int lead
        = new_session ? lead_session_in_child() : lead_group_in_child())
      return boost::process::v2::error_code{
        lead, boost::process::v2::system_category()};
    if (working_directory_fd >= 0 && ::fchdir(working_directory_fd) != 0)
      return boost::process::v2::error_code{
        errno, boost::process::v2::system_category()};
    // Before the descriptors are closed: the ruleset's is among them.
    if (const int confined = confine_in_child(*confine, *confine_failed))
      return boost::process::v2::error_code{
        confined, boost::process::v2::system_category()};
    close_unlisted_in_child(launcher.fd_whitelist);
    if (const int limited = limit_files_in_child(*confine, *confine_failed))
      return boost::process::v2::error_code{
        limited, boost::process::v2::system_category()};
    return {};
  }

  // Boost 1.81 bug 2: a non-variadic error hook is never called. Bug 3: the
  // child would call exit() and flush the parent's copied stdio buffers.
  template <class... Args> void on_exec_error(Args&&...) {
    ::_exit(127);
  }
};

} // namespace jobd

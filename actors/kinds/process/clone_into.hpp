// Starting a job's leader directly inside its cgroup: clone3 with
// CLONE_INTO_CGROUP (Linux >= 5.7), sharing our memory until execve like
// vfork. Writing "0" to cgroup.procs in the child instead (what the vfork
// launcher does) migrates a running process, which takes the kernel's
// cgroup write locks and cost about 100 us per job here; a child born in
// its cgroup costs nothing extra. Only on x86-64 (a few lines of assembly
// run the child on its own stack); elsewhere clone_into_supported() is
// false and the vfork launcher is used.
#pragma once

#include "actors/kinds/process/child_setup.hpp"
#include "actors/kinds/process/process_launcher.hpp"

#include <sys/types.h>

namespace jobd {

/// What the child needs, all prepared by the parent (the child allocates
/// nothing).
struct clone_into_request {
  const char* executable = nullptr;
  const char* const* argv = nullptr;
  const char* const* envp = nullptr;
  /// chdir before execve; null or "" for none.
  const char* working_directory = nullptr;
  /// If >= 0: fchdir to it instead (before the descriptors are closed).
  int working_directory_fd = -1;
  /// Become the child's fds 0, 1, 2.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  /// An O_DIRECTORY descriptor of the job's cgroup.
  int cgroup_fd = -1;
  /// A terminal job: the child calls setsid() instead of setpgid(0, 0) and
  /// makes its stdin (a terminal's slave) its controlling terminal.
  bool new_session = false;
  /// Applied after the process group is made, before the descriptors
  /// above 2 are closed (RLIMIT_NOFILE after that); null for none.
  const child_confinement* confine = nullptr;
};

struct clone_into_result {
  /// The child's pid, or -1.
  pid_t pid = -1;
  /// clone3 failed with this errno (nothing started)...
  int clone_error = 0;
  /// ...or the child started but could not exec (it exits with 127 and is
  /// not reaped yet): the errno of the failed step.
  int exec_error = 0;
  /// With an exec_error: the step of the confinement that failed, if any.
  confine_failure confine_failed;
};

/// True where clone_into() is implemented.
bool clone_into_supported();

/// True for a clone3 errno that says this kernel or sandbox cannot do
/// clone3 with CLONE_INTO_CGROUP at all (the caller then stops trying).
bool clone_into_unavailable(int clone_error);

/// Starts the child in `req.cgroup_fd`: stdio from the request, every
/// signal disposition default and an empty mask, its own process group
/// (or session, with `new_session`), its confinement, only fds 0-2 open,
/// then execve. Returns
/// once the child exec'd or failed. Thread-safe; no locks.
clone_into_result clone_into(const clone_into_request& req);

} // namespace jobd

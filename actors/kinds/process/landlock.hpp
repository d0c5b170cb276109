// Landlock (Linux >= 5.13): a job confined to where it may write and read.
// The ruleset is built in the parent before the child starts; the child
// only calls prctl(PR_SET_NO_NEW_PRIVS) and landlock_restrict_self right
// before execve (both plain system calls, safe under vfork). The calls are
// raw syscalls (444-446): glibc 2.36 has no wrappers, <linux/landlock.h>
// has the structures.
#pragma once

#include "protocol/model.hpp"

#include <cstdint>
#include <string>

namespace jobd {

/// The Landlock ABI version of the running kernel (asked once, then
/// cached); 0 where Landlock is not built in or not enabled (then no job
/// can be sandboxed).
int32_t landlock_abi_version();

/// A ruleset for `security`: every file-system access right the kernel's
/// ABI knows is handled (network and scope rights are not: a sandboxed job
/// keeps its network). `security.writable` directories get all of them;
/// `security.readable` ones (or `/`, when empty) read, list and execute
/// (and device ioctls, for terminals). Also always allowed, where they
/// exist: reading and writing /dev/null, /dev/zero, /dev/full, /dev/tty,
/// /dev/ptmx, /dev/random, /dev/urandom and the terminals under /dev/pts.
/// A rule on a file rather than a directory keeps only the file rights.
/// Returns the ruleset's descriptor (O_CLOEXEC; the caller closes it), or
/// -1 with the reason in `error` (a writable or readable path that cannot
/// be opened is an error naming it, not a rule left out).
int make_landlock_ruleset(const job_security& security, std::string& error);

/// In the child, right before execve (plain system calls, vfork-safe):
/// no_new_privs, then restricts the calling process (and everything it
/// starts) to `ruleset_fd`. 0 or the errno of the failure.
int landlock_restrict_in_child(int ruleset_fd);

} // namespace jobd

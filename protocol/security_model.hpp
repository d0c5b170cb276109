// The security controls a job runs under (docs/security.md): its resource
// limits, its file-system confinement and its environment policy, as asked
// for (options.limits, options.sandbox) and as the server applied them.
// Plain C++, part of model.hpp, which includes this.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace jobd {

/// options.limits: 0 = no limit. The server fills unset ones from its
/// --limit-... defaults and refuses values over its maxima.
struct resource_limits {
  /// RLIMIT_CPU of every process of the job (SIGXCPU, then SIGKILL).
  int64_t cpu_seconds = 0;
  /// The job's memory: a memory cgroup (v2 memory.max, or v1
  /// memory.limit_in_bytes) where there is one; the OOM killer stops it.
  int64_t memory_bytes = 0;
  /// Processes (and threads) of the job at once: a pids cgroup (pids.max).
  int64_t max_processes = 0;
  /// RLIMIT_NOFILE of every process.
  int64_t open_files = 0;
  /// RLIMIT_FSIZE: the largest file a process may write (SIGXFSZ).
  int64_t file_size_bytes = 0;

  bool any() const {
    return cpu_seconds > 0 || memory_bytes > 0 || max_processes > 0
           || open_files > 0 || file_size_bytes > 0;
  }
};

/// The names of the limits as the tools spell them (options.limits keys,
/// LIMIT_EXCEEDED's `limit`, status's `security.limits` keys).
namespace limit_names {
inline constexpr const char* cpu_seconds = "cpuSeconds";
inline constexpr const char* memory_bytes = "memoryBytes";
inline constexpr const char* max_processes = "maxProcesses";
inline constexpr const char* open_files = "openFiles";
inline constexpr const char* file_size_bytes = "fileSizeBytes";
} // namespace limit_names

/// How the controls of one job are enforced; filled by its kind when the
/// job is submitted (job_kind::validate), kept with the job, shown in its
/// status as `security`.
struct job_security {
  /// The limits in force (0 = none).
  resource_limits limits;
  /// Limit name (limit_names) -> what enforces it: "rlimit",
  /// "cgroup-v2", "cgroup-v1". Only limits in force appear.
  std::map<std::string, std::string> enforced_by;
  /// Confined by Landlock (--sandbox-fs or options.sandbox).
  bool sandboxed = false;
  /// The Landlock ABI version used (0 when not sandboxed).
  int32_t landlock_abi = 0;
  /// Where a sandboxed job may write (real paths).
  std::vector<std::string> writable;
  /// Where it may read: empty = everywhere.
  std::vector<std::string> readable;
  /// The environment policy it got: "inherit", "clean" or "allowlist".
  std::string env_policy = "inherit";
};

} // namespace jobd

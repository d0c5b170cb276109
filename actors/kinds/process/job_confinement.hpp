// One launch's controls (launch_spec::security) on the parent's side: the
// rlimits and the Landlock ruleset the child applies (child_confinement),
// the memory and pids cgroups that hold its limits, and afterwards which
// limit stopped the job (resource_usage::limit_exceeded).
#pragma once

#include "actors/kinds/process/child_setup.hpp"
#include "actors/kinds/process/limit_cgroups.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace jobd {

class cgroup_parent;
class cgroup_tree;

/// Where a reactor puts memory and pids limits, decided once at start-up.
struct limit_support {
  /// "cgroup-v2", "cgroup-v1" or "" (see process_reactor).
  std::string memory;
  std::string pids;
  /// jobd's directories in the v1 hierarchies, with "cgroup-v1".
  std::shared_ptr<v1_hierarchy> memory_v1;
  std::shared_ptr<v1_hierarchy> pids_v1;

  /// v2 where the job cgroups' parent `v2` (null: none) has the controller
  /// or can enable it, else v1 where its hierarchy is mounted and
  /// writable.
  static limit_support detect(cgroup_parent* v2);
};

/// What tells which limit stopped a job, gathered once its tree ended.
struct limit_evidence {
  /// The leader's raw wait status.
  int32_t status = 0;
  /// The leader's CPU time (user + system, itself and the children it
  /// waited for); -1 if unknown.
  int64_t leader_cpu_ms = -1;
  /// OOM kills in the job's memory cgroup; -1 if unknown.
  int64_t oom_kills = -1;
  /// The memory cgroup's peak usage in bytes; -1 if unknown.
  int64_t memory_peak = -1;
  /// Forks the pids cgroup refused (pids.events max); -1 if unknown.
  int64_t forks_refused = -1;
};

/// The limit (limit_names) that stopped a job under `limits`, or "": an
/// OOM kill, SIGXCPU (or SIGKILL at the CPU limit, or a shell's exit code
/// 128 + SIGXCPU), SIGXFSZ (likewise), refused forks of a job that did not
/// exit 0.
std::string judge_limits(const resource_limits& limits,
                         const limit_evidence& evidence);

/// One launch's confinement. Lives with its tree until the tree ended.
class job_confinement {
public:
  job_confinement() = default;
  /// Closes what is open; removes cgroups still held (an empty one).
  ~job_confinement();

  job_confinement(const job_confinement&) = delete;
  job_confinement& operator=(const job_confinement&) = delete;

  /// Prepares `security` for a job named `name`: the rlimits (RLIMIT_CORE
  /// 0 always; none above the current hard limits), its v1 cgroups made
  /// and set, its limits written into its v2 cgroup `cgroup` (null: none),
  /// its Landlock ruleset. False, with the whole message in `why`, if any
  /// control in force cannot be applied.
  bool prepare(const job_security& security, const std::string& name,
               const limit_support& support, cgroup_tree* cgroup,
               std::string& why);

  /// Opens the v1 cgroups' cgroup.procs for the child; false with `why`.
  bool open_for_child(std::string& why);

  /// For the child (valid while this lives).
  const child_confinement& child() const {
    return child_;
  }

  /// Once the child started or failed: closes the ruleset and the
  /// cgroup.procs descriptors.
  void started();

  /// The message for a child's failed step.
  std::string describe(const confine_failure& failed) const;

  /// What the tree's end says (its v2 cgroup, null if none, and the v1
  /// cgroups); read before the cgroups are removed.
  limit_evidence evidence(int32_t status, const struct rusage* leader,
                          const cgroup_tree* cgroup) const;

  const resource_limits& limits() const {
    return limits_;
  }

  /// The v1 memory cgroup's peak (memory.max_usage_in_bytes); -1 if none.
  int64_t v1_memory_peak() const;

  /// The v1 cgroups, to remove once the tree is gone.
  std::vector<std::unique_ptr<v1_cgroup>> take_cgroups();

private:
  bool limit_v1_memory(const limit_support& support, const std::string& name,
                       int64_t bytes, std::string& why);
  bool limit_v1_pids(const limit_support& support, const std::string& name,
                     int64_t count, std::string& why);
  void add_rlimit(decltype(RLIMIT_CPU) resource, int64_t soft, int64_t hard);

  resource_limits limits_;
  std::string memory_by;
  std::string pids_by;
  std::unique_ptr<v1_cgroup> memory_;
  std::unique_ptr<v1_cgroup> pids_;
  /// The v1 cgroups in the order of child_.cgroup_procs.
  std::vector<v1_cgroup*> entered_;
  child_confinement child_;
};

} // namespace jobd

#include "actors/kinds/process/job_confinement.hpp"

#include "actors/kinds/process/cgroup_tree.hpp"
#include "actors/kinds/process/landlock.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace jobd {

namespace {

std::string describe_errno(int err) {
  return std::system_category().message(err);
}

const char* rlimit_name(decltype(RLIMIT_CPU) resource) {
  switch (resource) {
    case RLIMIT_CORE:
      return "RLIMIT_CORE";
    case RLIMIT_CPU:
      return "RLIMIT_CPU";
    case RLIMIT_FSIZE:
      return "RLIMIT_FSIZE";
    case RLIMIT_AS:
      return "RLIMIT_AS";
    case RLIMIT_NOFILE:
      return "RLIMIT_NOFILE";
    default:
      return "an rlimit";
  }
}

/// `wanted`, but never above `ceiling` (a limit we may not raise).
rlim_t at_most(int64_t wanted, rlim_t ceiling) {
  const auto value = static_cast<rlim_t>(wanted);
  return ceiling != RLIM_INFINITY && value > ceiling ? ceiling : value;
}

constexpr const char* apply_failed = "cannot apply limits: ";

} // namespace

// -- limit_support ------------------------------------------------------------

limit_support limit_support::detect(cgroup_parent* v2) {
  limit_support s;
  std::string why; // the answer says enough: "" where neither works
  if (v2 != nullptr && v2->enable_controller("memory")) {
    s.memory = "cgroup-v2";
  } else if (auto made = v1_hierarchy::create("memory", why)) {
    s.memory_v1 = std::move(made);
    s.memory = "cgroup-v1";
  }
  if (v2 != nullptr && v2->enable_controller("pids")) {
    s.pids = "cgroup-v2";
  } else if (auto made = v1_hierarchy::create("pids", why)) {
    s.pids_v1 = std::move(made);
    s.pids = "cgroup-v1";
  }
  return s;
}

// -- judging ------------------------------------------------------------------

std::string judge_limits(const resource_limits& limits,
                         const limit_evidence& e) {
  const bool exited = WIFEXITED(e.status);
  const int code = exited ? WEXITSTATUS(e.status) : -1;
  const bool signaled = WIFSIGNALED(e.status);
  const int sig = signaled ? WTERMSIG(e.status) : 0;
  if (exited && code == 0)
    return {}; // whatever it met, it did not stop the job
  // The leader died of the signal, or is a shell that reports its child's.
  auto ended_by = [&](int s) {
    return (signaled && sig == s) || (exited && code == 128 + s);
  };
  if (limits.cpu_seconds > 0 && ended_by(SIGXCPU))
    return limit_names::cpu_seconds;
  if (limits.file_size_bytes > 0 && ended_by(SIGXFSZ))
    return limit_names::file_size_bytes;
  if (limits.memory_bytes > 0) {
    if (e.oom_kills > 0)
      return limit_names::memory_bytes;
    if (e.oom_kills < 0 && sig == SIGKILL && e.memory_peak >= 0
        && e.memory_peak >= limits.memory_bytes)
      return limit_names::memory_bytes;
  }
  // The hard RLIMIT_CPU (one second above the soft one) SIGKILLs a process
  // that ignored SIGXCPU.
  if (limits.cpu_seconds > 0 && sig == SIGKILL
      && e.leader_cpu_ms >= limits.cpu_seconds * 1000)
    return limit_names::cpu_seconds;
  if (limits.max_processes > 0 && e.forks_refused > 0)
    return limit_names::max_processes;
  return {};
}

// -- job_confinement ----------------------------------------------------------

job_confinement::~job_confinement() {
  started();
  for (auto* cgroup : {memory_.get(), pids_.get()})
    if (cgroup != nullptr)
      cgroup->remove();
}

void job_confinement::add_rlimit(decltype(RLIMIT_CPU) resource, int64_t soft,
                                 int64_t hard) {
  struct rlimit now {};
  if (::getrlimit(resource, &now) != 0)
    now.rlim_max = RLIM_INFINITY;
  auto& slot = child_.rlimits[child_.rlimit_count++];
  slot.resource = resource;
  slot.value.rlim_max = at_most(hard, now.rlim_max);
  slot.value.rlim_cur = at_most(soft, slot.value.rlim_max);
}

bool job_confinement::prepare(const job_security& security,
                              const std::string& name,
                              const limit_support& support, cgroup_tree* cgroup,
                              std::string& why) {
  limits_ = security.limits;
  auto enforcement = [&security](const char* limit) {
    auto i = security.enforced_by.find(limit);
    return i == security.enforced_by.end() ? std::string{} : i->second;
  };
  const auto& l = limits_;
  add_rlimit(RLIMIT_CORE, 0, 0);
  if (l.cpu_seconds > 0)
    add_rlimit(RLIMIT_CPU, l.cpu_seconds, l.cpu_seconds + 1);
  if (l.file_size_bytes > 0)
    add_rlimit(RLIMIT_FSIZE, l.file_size_bytes, l.file_size_bytes);
  if (l.open_files > 0) {
    struct rlimit now {};
    if (::getrlimit(RLIMIT_NOFILE, &now) != 0)
      now.rlim_max = RLIM_INFINITY;
    child_.limit_open_files = true;
    child_.open_files.rlim_max = at_most(l.open_files, now.rlim_max);
    child_.open_files.rlim_cur = child_.open_files.rlim_max;
  }
  if (l.memory_bytes > 0) {
    memory_by = enforcement(limit_names::memory_bytes);
    if (memory_by == "rlimit-as") {
      add_rlimit(RLIMIT_AS, l.memory_bytes, l.memory_bytes);
    } else if (memory_by == "cgroup-v1") {
      if (!limit_v1_memory(support, name, l.memory_bytes, why))
        return false;
    } else if (memory_by == "cgroup-v2") {
      if (cgroup == nullptr) {
        why = std::string{apply_failed}
              + "memoryBytes needs the job's cgroup v2, which it has not";
        return false;
      }
      int error = cgroup->set("memory.max", std::to_string(l.memory_bytes));
      if (error == 0 && cgroup->has("memory.swap.max"))
        error = cgroup->set("memory.swap.max", "0");
      if (error != 0) {
        why = std::string{apply_failed} + "cannot write memory.max in "
              + cgroup->path() + ": " + describe_errno(error);
        return false;
      }
      child_.cgroup_required = true;
    } else {
      why = std::string{apply_failed} + "memoryBytes has no enforcement";
      return false;
    }
  }
  if (l.max_processes > 0) {
    pids_by = enforcement(limit_names::max_processes);
    if (pids_by == "cgroup-v1") {
      if (!limit_v1_pids(support, name, l.max_processes, why))
        return false;
    } else if (pids_by == "cgroup-v2" && cgroup != nullptr) {
      if (const int error
          = cgroup->set("pids.max", std::to_string(l.max_processes))) {
        why = std::string{apply_failed} + "cannot write pids.max in "
              + cgroup->path() + ": " + describe_errno(error);
        return false;
      }
      child_.cgroup_required = true;
    } else {
      why = std::string{apply_failed} + "maxProcesses needs a pids cgroup"
            + (pids_by == "cgroup-v2" ? " v2, which the job has not" : "");
      return false;
    }
  }
  if (security.sandboxed) {
    std::string error;
    child_.landlock_fd = make_landlock_ruleset(security, error);
    if (child_.landlock_fd < 0) {
      why = "cannot apply the sandbox: " + error;
      return false;
    }
  }
  return true;
}

bool job_confinement::limit_v1_memory(const limit_support& support,
                                      const std::string& name, int64_t bytes,
                                      std::string& why) {
  if (!support.memory_v1) {
    why = std::string{apply_failed}
          + "memoryBytes needs a cgroup v1 memory hierarchy, which this "
            "server has not";
    return false;
  }
  std::string problem;
  memory_ = support.memory_v1->make_child(name, problem);
  if (!memory_) {
    why = apply_failed + problem;
    return false;
  }
  const auto value = std::to_string(bytes);
  // memsw (memory + swap) may not be below the memory limit: set it after.
  const char* failed = nullptr;
  int error = memory_->set("memory.limit_in_bytes", value);
  if (error != 0)
    failed = "memory.limit_in_bytes";
  if (error == 0 && memory_->has("memory.memsw.limit_in_bytes")
      && (error = memory_->set("memory.memsw.limit_in_bytes", value)) != 0)
    failed = "memory.memsw.limit_in_bytes";
  if (error == 0 && memory_->has("memory.swappiness"))
    memory_->set("memory.swappiness", "0"); // best effort: swap is capped
  if (failed != nullptr) {
    why = std::string{apply_failed} + "cannot write " + failed + " in "
          + memory_->path() + ": " + describe_errno(error);
    return false;
  }
  return true;
}

bool job_confinement::limit_v1_pids(const limit_support& support,
                                    const std::string& name, int64_t count,
                                    std::string& why) {
  if (!support.pids_v1) {
    why = std::string{apply_failed}
          + "maxProcesses needs a cgroup v1 pids hierarchy, which this "
            "server has not";
    return false;
  }
  std::string problem;
  pids_ = support.pids_v1->make_child(name, problem);
  if (!pids_) {
    why = apply_failed + problem;
    return false;
  }
  if (const int error = pids_->set("pids.max", std::to_string(count))) {
    why = std::string{apply_failed} + "cannot write pids.max in "
          + pids_->path() + ": " + describe_errno(error);
    return false;
  }
  return true;
}

bool job_confinement::open_for_child(std::string& why) {
  child_.cgroup_count = 0;
  entered_.clear();
  for (auto* cgroup : {memory_.get(), pids_.get()}) {
    if (cgroup == nullptr)
      continue;
    const int fd = cgroup->procs_fd();
    if (fd < 0) {
      why = std::string{apply_failed} + "cannot open " + cgroup->path()
            + "/cgroup.procs: " + describe_errno(errno);
      return false;
    }
    child_.cgroup_procs[child_.cgroup_count++] = fd;
    entered_.push_back(cgroup);
  }
  return true;
}

void job_confinement::started() {
  if (child_.landlock_fd >= 0)
    ::close(child_.landlock_fd);
  child_.landlock_fd = -1;
  for (auto* cgroup : entered_)
    cgroup->close_procs();
  for (int& fd : child_.cgroup_procs)
    fd = -1;
}

std::string job_confinement::describe(const confine_failure& failed) const {
  const auto error = describe_errno(failed.error);
  switch (failed.step) {
    case confine_step::job_cgroup:
      return std::string{apply_failed}
             + "cannot enter the job's cgroup: " + error;
    case confine_step::cgroup:
      if (failed.index >= 0
          && static_cast<size_t>(failed.index) < entered_.size())
        return std::string{apply_failed} + "cannot enter "
               + entered_[static_cast<size_t>(failed.index)]->path() + ": "
               + error;
      return std::string{apply_failed} + "cannot enter a cgroup: " + error;
    case confine_step::rlimit:
      if (failed.index >= 0 && failed.index < child_.rlimit_count)
        return std::string{apply_failed} + "setrlimit("
               + rlimit_name(child_.rlimits[failed.index].resource)
               + "): " + error;
      return std::string{apply_failed} + "setrlimit: " + error;
    case confine_step::open_files:
      return std::string{apply_failed} + "setrlimit(RLIMIT_NOFILE): " + error;
    case confine_step::landlock:
      return "cannot apply the sandbox: landlock_restrict_self: " + error;
    case confine_step::none:
      break;
  }
  return std::string{apply_failed} + error;
}

limit_evidence job_confinement::evidence(int32_t status,
                                         const struct rusage* leader,
                                         const cgroup_tree* cgroup) const {
  limit_evidence e;
  e.status = status;
  if (leader != nullptr)
    e.leader_cpu_ms
      = (leader->ru_utime.tv_sec + leader->ru_stime.tv_sec) * 1000
        + (leader->ru_utime.tv_usec + leader->ru_stime.tv_usec) / 1000;
  if (memory_) {
    e.oom_kills = memory_->counter("memory.oom_control", "oom_kill");
    e.memory_peak = memory_->value("memory.max_usage_in_bytes");
  } else if (memory_by == "cgroup-v2" && cgroup != nullptr) {
    e.oom_kills = cgroup->counter("memory.events", "oom_kill");
    e.memory_peak = cgroup->memory_peak();
  }
  if (pids_)
    e.forks_refused = pids_->counter("pids.events", "max");
  else if (pids_by == "cgroup-v2" && cgroup != nullptr)
    e.forks_refused = cgroup->counter("pids.events", "max");
  return e;
}

int64_t job_confinement::v1_memory_peak() const {
  return memory_ ? memory_->value("memory.max_usage_in_bytes") : -1;
}

std::vector<std::unique_ptr<v1_cgroup>> job_confinement::take_cgroups() {
  std::vector<std::unique_ptr<v1_cgroup>> out;
  entered_.clear();
  for (auto* held : {&memory_, &pids_})
    if (*held)
      out.push_back(std::move(*held));
  return out;
}

} // namespace jobd

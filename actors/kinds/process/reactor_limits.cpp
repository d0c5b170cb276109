// The reactor's part of options.limits: where memory and pids limits go
// (decided once at start-up), which limit stopped a job (the `usage` sent
// before `exited`), and the v1 cgroups that held them, removed once their
// tree is gone.
#include "actors/kinds/process/reactor_impl.hpp"

#include <chrono>
#include <thread>

namespace jobd {

namespace {

/// How long stop() waits for the processes of lingering v1 cgroups to end.
constexpr auto lingering_limits_wait = std::chrono::milliseconds{1000};

} // namespace

std::string process_reactor::memory_limit_support() const {
  impl_->wait_ready();
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->limits ? impl_->limits->memory : std::string{};
}

std::string process_reactor::pids_limit_support() const {
  impl_->wait_ready();
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->limits ? impl_->limits->pids : std::string{};
}

void process_reactor::impl::set_up_limits(cgroup_parent* v2) {
  std::shared_ptr<const limit_support> made;
  try {
    made = std::make_shared<const limit_support>(limit_support::detect(v2));
  } catch (...) {
    made = std::make_shared<const limit_support>(); // no cgroup limits
  }
  std::lock_guard<std::mutex> guard{mtx};
  limits = std::move(made);
}

void process_reactor::impl::judge_usage(const job_tree& t,
                                        resource_usage& u) const {
  if (!t.confinement || !t.leader_done)
    return;
  const auto& c = *t.confinement;
  // The v1 memory cgroup's peak where the v2 cgroup has no memory.peak.
  const int64_t peak = c.v1_memory_peak();
  if (peak >= 0 && (!t.cgroup || t.cgroup->memory_peak() < 0)) {
    u.known = true;
    u.max_rss_kb = peak / 1024;
  }
  u.limit_exceeded = judge_limits(
    c.limits(),
    c.evidence(t.status, t.rusage_known ? &t.rusage : nullptr, t.cgroup.get()));
}

void process_reactor::impl::release_limits(job_tree& t, bool empty) {
  if (!t.confinement)
    return;
  auto cgroups = t.confinement->take_cgroups();
  t.confinement.reset();
  if (cgroups.empty())
    return;
  if (!empty) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& cgroup : cgroups)
      lingering_limits.push_back(std::move(cgroup));
    return;
  }
  bool was_idle;
  {
    std::lock_guard<std::mutex> guard{janitor_mtx};
    was_idle = to_remove.empty() && limits_to_remove.empty();
    for (auto& cgroup : cgroups)
      limits_to_remove.push_back(std::move(cgroup));
  }
  if (was_idle)
    janitor_cv.notify_one();
}

void process_reactor::impl::remove_limits(
  std::vector<std::unique_ptr<v1_cgroup>> batch) {
  for (auto& cgroup : batch) {
    if (!cgroup->remove()) {
      // A process of the job is still in it (one that left the tree).
      std::lock_guard<std::mutex> guard{mtx};
      lingering_limits.push_back(std::move(cgroup));
    }
  }
}

void process_reactor::impl::end_limits() {
  std::vector<std::unique_ptr<v1_cgroup>> left;
  {
    std::lock_guard<std::mutex> guard{mtx};
    left = std::move(lingering_limits);
    lingering_limits.clear();
  }
  for (auto& cgroup : left)
    cgroup->kill_members();
  const auto deadline
    = std::chrono::steady_clock::now() + lingering_limits_wait;
  for (auto& cgroup : left) {
    while (!cgroup->remove() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  left.clear();
  std::lock_guard<std::mutex> guard{mtx};
  limits.reset(); // removes jobd-<pid> in the v1 hierarchies
}

} // namespace jobd

#include "app/startup.hpp"

#include "actors/logger.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace jobd {

scheduler_config to_scheduler_config(const config& cfg) {
  scheduler_config sc;
  sc.max_running = cfg.max_concurrent_jobs;
  sc.max_running_per_session = cfg.max_concurrent_jobs_per_session;
  sc.max_running_per_principal = cfg.max_concurrent_jobs_per_principal;
  sc.max_pending = cfg.max_pending_jobs;
  sc.output_total_bytes = cfg.output_total_bytes;
  sc.defaults.timeout_ms = cfg.job_timeout_ms;
  sc.defaults.kill_grace_ms = cfg.kill_grace_ms;
  sc.defaults.max_wait_ms = cfg.max_wait_ms;
  sc.defaults.max_stdin_bytes = cfg.max_stdin_bytes;
  sc.defaults.output.max_chunks = cfg.output_buffer_size;
  sc.defaults.output.max_bytes = cfg.output_buffer_bytes;
  sc.retention_ms = cfg.retention_ms;
  sc.max_queued_per_session = cfg.max_queued_per_session;
  sc.max_retained_per_session = cfg.max_retained_per_session;
  sc.max_output_bytes_per_session = cfg.max_output_bytes_per_session;
  return sc;
}

opened_store open_store(const config& cfg, const std::string& cgroups) {
  opened_store out;
  store_options opts;
  opts.state_dir = cfg.state_dir;
  opts.ephemeral = cfg.ephemeral;
  opts.max_bytes = cfg.store_max_bytes;
  opts.requeue = cfg.requeue;
  opts.cgroup_parent = cgroups;
  try {
    out.db = std::make_shared<job_store>(opts);
    out.requeue.jobs = out.db->recover();
    out.first_serial = out.db->reserve_serials(serial_block);
  } catch (const store_refused& e) {
    log::error(std::string{"cannot start: "} + e.what());
    out.db = nullptr;
  } catch (const std::exception& e) {
    out.degraded = std::string{"cannot use the store in "} + cfg.state_dir
                   + ": " + e.what();
    log::warning(out.degraded + "; jobs are kept in memory only");
    out.requeue.jobs.clear();
    opts.ephemeral = true;
    out.db = std::make_shared<job_store>(opts);
    out.first_serial = out.db->reserve_serials(serial_block);
  }
  return out;
}

int take_stdout() {
  int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return STDOUT_FILENO; // closed: the sink reports it
  if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    ::close(fd);
    return STDOUT_FILENO;
  }
  return fd;
}

bool raise_fd_limit(const config& cfg, std::string& message) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return true;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  // Per running job: two pipes, a pidfd, a cgroup directory and its events
  // file, with room to spare; plus the server's own.
  constexpr rlim_t per_job = 8;
  constexpr rlim_t reserve = 64;
  auto needed
    = static_cast<rlim_t>(cfg.max_concurrent_jobs) * per_job + reserve;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    message = "--max-concurrent-jobs " + std::to_string(cfg.max_concurrent_jobs)
              + " needs about " + std::to_string(needed)
              + " file descriptors, but RLIMIT_NOFILE allows "
              + std::to_string(lim.rlim_cur)
              + " (raise it with ulimit -n, or lower the concurrency)";
    return false;
  }
  return true;
}

} // namespace jobd

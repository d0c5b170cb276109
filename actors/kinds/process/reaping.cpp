#include "actors/kinds/process/reaping.hpp"

#include <cerrno>
#include <csignal>
#include <mutex>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unordered_set>

namespace jobd {

namespace {

std::mutex& claims_mutex() {
  static std::mutex m;
  return m;
}

// Guarded by claims_mutex().
std::unordered_set<pid_t>& claims() {
  static std::unordered_set<pid_t> pids;
  return pids;
}

} // namespace

pid_t spawn_claimed(const std::function<pid_t()>& spawn) {
  std::lock_guard<std::mutex> guard{claims_mutex()};
  auto pid = spawn();
  if (pid > 0)
    claims().insert(pid);
  return pid;
}

void release_claim(pid_t pid) {
  std::lock_guard<std::mutex> guard{claims_mutex()};
  claims().erase(pid);
}

exit_state peek_exit(pid_t pid) {
  siginfo_t info{};
  int res;
  do
    res = ::waitid(P_PID, static_cast<id_t>(pid), &info,
                   WEXITED | WNOHANG | WNOWAIT);
  while (res != 0 && errno == EINTR);
  if (res != 0)
    return exit_state::gone; // ECHILD
  return info.si_pid == pid ? exit_state::exited : exit_state::running;
}

int32_t reap_exited(pid_t pid, struct rusage* usage, bool* reaped) {
  int status = 0;
  struct rusage ignored {};
  pid_t res;
  do
    res = ::wait4(pid, &status, WNOHANG, usage != nullptr ? usage : &ignored);
  while (res < 0 && errno == EINTR);
  if (reaped != nullptr)
    *reaped = res == pid;
  return res == pid ? status : lost_status;
}

size_t reap_group(pid_t pgid) {
  if (pgid <= 1)
    return 0; // P_PGID 0 would mean our own group
  size_t reaped = 0;
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PGID, static_cast<id_t>(pgid), &info,
                 WEXITED | WNOHANG | __WALL)
        != 0) {
      if (errno == EINTR)
        continue;
      return reaped; // ECHILD: none left
    }
    if (info.si_pid == 0)
      return reaped; // members left, none exited
    ++reaped;
  }
}

size_t reap_zombies(const std::function<bool(pid_t)>& is_leader) {
  size_t reaped = 0;
  std::lock_guard<std::mutex> guard{claims_mutex()};
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) {
      if (errno == EINTR)
        continue;
      return reaped;
    }
    const pid_t pid = info.si_pid;
    if (pid <= 0 || is_leader(pid) || claims().count(pid) > 0)
      return reaped;
    if (::waitid(P_PID, static_cast<id_t>(pid), &info,
                 WEXITED | WNOHANG | __WALL)
        != 0)
      return reaped;
    ++reaped;
  }
}

bool group_gone(pid_t pgid) {
  if (pgid <= 1)
    return true;
  return ::kill(-pgid, 0) != 0 && errno == ESRCH;
}

} // namespace jobd

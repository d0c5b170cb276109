#include "actors/kinds/process/child_setup.hpp"

#include "actors/kinds/process/landlock.hpp"

#include <algorithm>

#include <cerrno>
#include <csignal>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace jobd {

namespace {

JOBD_CHILD_CODE void close_fds(unsigned int first, unsigned int last) {
  if (::close_range(first, last, 0) == 0)
    return;
  // Kernel without close_range (< 5.9): close one by one.
  struct rlimit lim {};
  unsigned int end = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
      && lim.rlim_cur < end)
    end = static_cast<unsigned int>(lim.rlim_cur);
  for (unsigned int fd = first; fd <= last && fd < end; ++fd)
    ::close(static_cast<int>(fd));
}

} // namespace

JOBD_CHILD_CODE void reset_signals_in_child() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

JOBD_CHILD_CODE int enter_cgroup_in_child(int procs_fd) {
  for (;;) {
    if (::write(procs_fd, "0", 1) == 1)
      return 0;
    if (errno != EINTR)
      return errno != 0 ? errno : EIO;
  }
}

namespace {

JOBD_CHILD_CODE int record(confine_failure& failed, confine_step step,
                           int index, int error) {
  failed.step = step;
  failed.index = index;
  failed.error = error != 0 ? error : EIO;
  return failed.error;
}

} // namespace

JOBD_CHILD_CODE int confine_in_child(const child_confinement& c,
                                     confine_failure& failed) {
  for (int i = 0; i < c.cgroup_count; ++i)
    if (const int error = enter_cgroup_in_child(c.cgroup_procs[i]))
      return record(failed, confine_step::cgroup, i, error);
  for (int i = 0; i < c.rlimit_count; ++i)
    if (::setrlimit(c.rlimits[i].resource, &c.rlimits[i].value) != 0)
      return record(failed, confine_step::rlimit, i, errno);
  // Last: once restricted, the child could not write cgroup files.
  if (c.landlock_fd >= 0)
    if (const int error = landlock_restrict_in_child(c.landlock_fd))
      return record(failed, confine_step::landlock, 0, error);
  return 0;
}

JOBD_CHILD_CODE int limit_files_in_child(const child_confinement& c,
                                         confine_failure& failed) {
  if (!c.limit_open_files || ::setrlimit(RLIMIT_NOFILE, &c.open_files) == 0)
    return 0;
  return record(failed, confine_step::open_files, 0, errno);
}

JOBD_CHILD_CODE int lead_group_in_child() {
  return ::setpgid(0, 0) == 0 ? 0 : errno;
}

JOBD_CHILD_CODE int lead_session_in_child() {
  if (::setsid() < 0)
    return errno;
  return ::ioctl(STDIN_FILENO, TIOCSCTTY, 0) == 0 ? 0 : errno;
}

// Boost 1.81 close_all (close_range variant) compares each whitelist entry
// with itself, so every descriptor between 2 and the launcher's error pipe
// stays open in the child: close them here. Runs after process_stdio set up
// 0-2; keeps the launcher's error pipe.
JOBD_CHILD_CODE void close_unlisted_in_child(std::vector<int>& keep) {
  std::sort(keep.begin(), keep.end()); // in place: no allocation
  unsigned int low = 0;
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned int>(fd) < low)
      continue;
    if (static_cast<unsigned int>(fd) > low)
      close_fds(low, static_cast<unsigned int>(fd) - 1);
    low = static_cast<unsigned int>(fd) + 1;
  }
  close_fds(low, ~0U);
}

JOBD_CHILD_CODE void close_from_in_child(int first) {
  close_fds(static_cast<unsigned int>(first), ~0U);
}

} // namespace jobd

#include "actors/kinds/process/limit_cgroups.hpp"

#include "actors/kinds/process/cgroup_tree.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace jobd {

namespace {

/// Is `controller` among the comma-separated `list`?
bool lists(const std::string& list, const char* controller) {
  const std::string wanted{controller};
  for (size_t at = 0; at <= list.size();) {
    size_t end = list.find(',', at);
    if (end == std::string::npos)
      end = list.size();
    if (list.compare(at, end - at, wanted) == 0)
      return true;
    at = end + 1;
  }
  return false;
}

/// The path of `pid`'s cgroup in the v1 hierarchy of `controller` (its
/// "N:controllers:/path" line of /proc/<pid>/cgroup), or "".
std::string v1_path_of(pid_t pid, const char* controller) {
  char file[64];
  std::snprintf(file, sizeof file, "/proc/%d/cgroup", static_cast<int>(pid));
  std::string text;
  if (!cgroup_files::read(-1, file, text))
    return {};
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos)
      end = text.size();
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b != std::string::npos
        && lists(line.substr(a + 1, b - a - 1), controller))
      return line.substr(b + 1);
  }
  return {};
}

std::vector<pid_t> listed_pids(int dir_fd) {
  std::vector<pid_t> pids;
  std::string text;
  if (!cgroup_files::read(dir_fd, "cgroup.procs", text))
    return pids;
  const char* p = text.c_str();
  char* end = nullptr;
  for (long pid = std::strtol(p, &end, 10); end != p;
       pid = std::strtol(p, &end, 10)) {
    if (pid > 0)
      pids.push_back(static_cast<pid_t>(pid));
    p = end;
  }
  return pids;
}

} // namespace

// -- v1_cgroup ----------------------------------------------------------------

v1_cgroup::v1_cgroup(std::string path, std::string relative,
                     const char* controller, int dir_fd)
  : path_(std::move(path)), relative_(std::move(relative)),
    controller_(controller), dir_fd_(dir_fd) {}

v1_cgroup::~v1_cgroup() {
  close_procs();
  if (dir_fd_ >= 0)
    ::close(dir_fd_);
}

int v1_cgroup::set(const char* file, const std::string& value) const {
  return removed_ ? ENOENT : cgroup_files::write(dir_fd_, file, value);
}

bool v1_cgroup::has(const char* file) const {
  return !removed_ && ::faccessat(dir_fd_, file, F_OK, 0) == 0;
}

int64_t v1_cgroup::value(const char* file) const {
  std::string text;
  if (removed_ || !cgroup_files::read(dir_fd_, file, text) || text.empty())
    return -1;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  return end != text.c_str() && value >= 0 ? value : -1;
}

int64_t v1_cgroup::counter(const char* file, const char* key) const {
  std::string text;
  if (removed_ || !cgroup_files::read(dir_fd_, file, text))
    return -1;
  return cgroup_files::keyed(text, key);
}

int v1_cgroup::procs_fd() {
  if (procs_fd_ < 0 && !removed_)
    procs_fd_ = ::openat(dir_fd_, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  return procs_fd_;
}

void v1_cgroup::close_procs() {
  if (procs_fd_ >= 0)
    ::close(procs_fd_);
  procs_fd_ = -1;
}

bool v1_cgroup::populated() const {
  return !removed_ && !listed_pids(dir_fd_).empty();
}

size_t v1_cgroup::kill_members() const {
  size_t killed = 0;
  if (removed_)
    return killed;
  for (pid_t pid : listed_pids(dir_fd_)) {
    if (pid <= 1)
      continue;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0)
      continue; // gone already
    // While the pidfd's process lives, /proc/<pid> is that process.
    if (v1_path_of(pid, controller_) == relative_
        && ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0)
      ++killed;
    ::close(pidfd);
  }
  return killed;
}

bool v1_cgroup::remove() {
  if (removed_)
    return true;
  if (::rmdir(path_.c_str()) != 0 && errno != ENOENT)
    return false;
  removed_ = true;
  close_procs();
  return true;
}

// -- v1_hierarchy -------------------------------------------------------------

v1_hierarchy::v1_hierarchy(std::string path, std::string relative,
                           const char* controller, int fd)
  : path_(std::move(path)), relative_(std::move(relative)),
    controller_(controller), fd_(fd) {}

v1_hierarchy::~v1_hierarchy() {
  ::close(fd_);
  ::rmdir(path_.c_str());
}

std::unique_ptr<v1_hierarchy> v1_hierarchy::create(const char* controller,
                                                   std::string& why) {
  const auto mount = cgroup_files::find_mount("cgroup", controller);
  if (mount.empty()) {
    why
      = std::string{"no cgroup v1 hierarchy of "} + controller + " is mounted";
    return nullptr;
  }
  std::string name;
  const int fd
    = cgroup_files::make_jobd_dir(mount, {"cgroup.procs"}, name, why);
  if (fd < 0)
    return nullptr;
  return std::unique_ptr<v1_hierarchy>{
    new v1_hierarchy{mount + "/" + name, "/" + name, controller, fd}};
}

std::unique_ptr<v1_cgroup> v1_hierarchy::make_child(const std::string& name,
                                                    std::string& why) {
  std::string leaf;
  const int dir_fd
    = cgroup_files::make_job_dir(fd_, path_, name, serial_, leaf, why);
  if (dir_fd < 0)
    return nullptr;
  return std::unique_ptr<v1_cgroup>{new v1_cgroup{
    path_ + "/" + leaf, relative_ + "/" + leaf, controller_, dir_fd}};
}

} // namespace jobd

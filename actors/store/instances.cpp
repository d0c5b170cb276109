#include "actors/store/instances.hpp"

#include "actors/kinds/process/cgroup_tree.hpp"
#include "actors/logger.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <random>
#include <signal.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

namespace jobd {

namespace {

std::string lock_path(const std::string& dir, const std::string& id) {
  return dir + "/" + id + ".lock";
}

/// A small file read whole ("" if it cannot be read).
std::string read_small(const char* path) {
  std::string text;
  return cgroup_files::read(-1, path, text) ? text : std::string{};
}

// Field `n` (1-based) of /proc/<pid>/stat, after the command name (which
// may contain spaces and parentheses: it ends at the last ')'). Read for
// every job that starts (its start time goes into the store): no streams.
std::string stat_field(int64_t pid, int n) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%lld/stat",
                static_cast<long long>(pid));
  const auto line = read_small(path);
  auto at = line.rfind(')');
  if (at == std::string::npos || n < 3)
    return {};
  // The text after ") " starts with field 3 (state).
  at += 2;
  for (int i = 3; i < n && at < line.size(); ++i) {
    at = line.find(' ', at);
    if (at == std::string::npos)
      return {};
    ++at;
  }
  if (at >= line.size())
    return {};
  const auto end = line.find_first_of(" \n", at);
  return line.substr(at, end == std::string::npos ? end : end - at);
}

bool cgroup_populated(const std::string& dir) {
  return read_small((dir + "/cgroup.events").c_str()).find("populated 1")
         != std::string::npos;
}

bool write_file(const std::string& path, const char* text) {
  auto fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  auto n = ::write(fd, text, std::strlen(text));
  ::close(fd);
  return n > 0;
}

/// The names of the sub-directories (cgroups) of `dir`.
std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* entry = ::readdir(d))
      if (entry->d_type == DT_DIR && std::strcmp(entry->d_name, ".") != 0
          && std::strcmp(entry->d_name, "..") != 0)
        names.emplace_back(entry->d_name);
    ::closedir(d);
  }
  return names;
}

/// Whose `jobd-<pid>` directory `dir` is, by its `user.jobd.instance`.
enum class owner { self, unknown, other };
owner owner_of(const std::string& dir, const std::string& id) {
  char value[128];
  const auto n = ::getxattr(dir.c_str(), cgroup_files::instance_label, value,
                            sizeof value);
  if (n < 0)
    return errno == ENODATA ? owner::unknown : owner::other;
  return std::string(value, static_cast<size_t>(n)) == id ? owner::self
                                                          : owner::other;
}

/// cgroup.kill, then a moment for the kernel (it is asynchronous).
void kill_cgroup(const std::string& dir) {
  write_file(dir + "/cgroup.kill", "1");
  for (int i = 0; i < 200 && cgroup_populated(dir); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

/// Removes the cgroup `dir` and every cgroup below it, deepest first (a
/// job may have made some below its own). Bounded like the reactor's.
void remove_cgroup(const std::string& dir, int depth = 0) {
  if (depth < 16)
    for (auto& name : subdirectories(dir))
      remove_cgroup(dir + "/" + name, depth + 1);
  ::rmdir(dir.c_str());
}

} // namespace

instance_lock::instance_lock(const std::string& dir, const std::string& id)
  : path_(lock_path(dir, id)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot create " + path_ + ": "
                             + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot lock " + path_ + ": "
                             + std::strerror(errno));
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::write(fd_, pid.data(), pid.size()) < 0) {
    // The pid in the file is for people; the lock is what counts.
  }
}

instance_lock::~instance_lock() {
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::string new_instance_id() {
  std::random_device rd;
  std::mt19937_64 rng{(uint64_t{rd()} << 32) ^ rd()
                      ^ static_cast<uint64_t>(::getpid())};
  char buf[16];
  std::snprintf(buf, sizeof buf, "i%012llx",
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return buf;
}

std::string boot_id() {
  // One per boot, so one per process: read once.
  static const std::string id = [] {
    auto text = read_small("/proc/sys/kernel/random/boot_id");
    return text.substr(0, text.find('\n'));
  }();
  return id;
}

std::string process_start(int64_t pid) {
  if (pid <= 0)
    return {};
  auto ticks = stat_field(pid, 22);
  if (ticks.empty())
    return {};
  return boot_id() + ":" + ticks;
}

bool instance_alive(const std::string& dir, const std::string& id, int& taken) {
  taken = -1;
  auto path = lock_path(dir, id);
  auto fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return false; // no lock file: it ended (cleanly, or its file went)
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return true;
  }
  taken = fd;
  return false;
}

void release_dead_lock(const std::string& dir, const std::string& id, int fd) {
  if (fd < 0)
    return;
  ::unlink(lock_path(dir, id).c_str());
  ::close(fd);
}

void label_cgroup_parent(const std::string& parent, const std::string& id) {
  if (!parent.empty()
      && ::setxattr(parent.c_str(), cgroup_files::instance_label, id.data(),
                    id.size(), 0)
           != 0)
    log::warning("store: cannot label " + parent + ": " + std::strerror(errno)
                 + " (a later recovery then only removes it if empty)");
}

job_cgroups find_job_cgroups(const std::string& parent, const std::string& id) {
  job_cgroups found;
  if (parent.empty() || owner_of(parent, id) == owner::other)
    return found;
  for (auto& name : subdirectories(parent)) {
    auto dir = parent + "/" + name;
    char label[512];
    const auto n
      = ::getxattr(dir.c_str(), cgroup_files::job_label, label, sizeof label);
    if (n >= 0)
      found[std::string(label, static_cast<size_t>(n))].push_back(dir);
    else if (errno == ENODATA && name.rfind("tree-", 0) != 0)
      found[name].push_back(dir); // named after its job by an older jobd
  }
  return found;
}

leftovers kill_leftovers(const job_cgroups& cgroups, const std::string& job_id,
                         int64_t pid, const std::string& recorded_start) {
  if (auto i = cgroups.find(job_id); i != cgroups.end()) {
    for (auto& dir : i->second) {
      kill_cgroup(dir);
      remove_cgroup(dir);
    }
    return {true, "cgroup killed"};
  }
  // Not in a cgroup (there was none for it), or its cgroup went with it.
  if (pid <= 0 || recorded_start.empty())
    return {false, "no process recorded"};
  // The group leader must still be the very process jobd started: same
  // boot, same start time, still leading its own group.
  if (process_start(pid) != recorded_start
      || stat_field(pid, 5) != std::to_string(pid))
    return {false, "process group gone"};
  ::kill(static_cast<pid_t>(-pid), SIGKILL);
  return {true, "process group killed"};
}

void remove_cgroup_parent(const std::string& path, const std::string& id) {
  if (path.empty())
    return;
  switch (owner_of(path, id)) {
    case owner::self:
      // Nothing in it is any live instance's: its kept cgroups, and
      // anything of its jobs that kill_leftovers did not find.
      kill_cgroup(path);
      remove_cgroup(path);
      return;
    case owner::unknown:
      ::rmdir(path.c_str());
      return;
    case owner::other:
      return;
  }
}

} // namespace jobd

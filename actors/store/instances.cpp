#include "actors/store/instances.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace jobd {

namespace {

std::string lock_path(const std::string& dir, const std::string& id) {
  return dir + "/" + id + ".lock";
}

// Field `n` (1-based) of /proc/<pid>/stat, after the command name (which
// may contain spaces and parentheses: it ends at the last ')').
std::string stat_field(int64_t pid, int n) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return {};
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream rest{line.substr(close + 2)};
  std::string field;
  // The text after ')' starts with field 3 (state).
  for (int i = 3; i <= n; ++i)
    if (!(rest >> field))
      return {};
  return field;
}

bool cgroup_populated(const std::string& dir) {
  std::ifstream in{dir + "/cgroup.events"};
  std::string key;
  int value = 0;
  while (in >> key >> value)
    if (key == "populated")
      return value != 0;
  return false;
}

bool write_file(const std::string& path, const char* text) {
  auto fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  auto n = ::write(fd, text, std::strlen(text));
  ::close(fd);
  return n > 0;
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
  std::ifstream in{"/proc/sys/kernel/random/boot_id"};
  std::string id;
  std::getline(in, id);
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

leftovers kill_leftovers(const instance_info& owner, const std::string& job_id,
                         int64_t pid, const std::string& recorded_start) {
  if (!owner.cgroup_parent.empty()) {
    auto dir = owner.cgroup_parent + "/" + job_id;
    struct stat sb {};
    if (::stat(dir.c_str(), &sb) != 0)
      return {false, "no cgroup left"};
    write_file(dir + "/cgroup.kill", "1");
    // cgroup.kill is asynchronous: give the kernel a moment.
    for (int i = 0; i < 200 && cgroup_populated(dir); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ::rmdir(dir.c_str());
    return {true, "cgroup killed"};
  }
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

void remove_cgroup_parent(const std::string& path) {
  if (!path.empty())
    ::rmdir(path.c_str());
}

} // namespace jobd

#include "actors/kinds/process/cgroup_tree.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <system_error>
#include <unistd.h>

namespace jobd {

namespace {

/// Deeper cgroups than this below a job's are not searched (a job that
/// nests that deep is killed by cgroup.kill all the same).
constexpr int max_depth = 16;

bool write_file(int dir_fd, const char* name, const char* text) {
  const int fd = ::openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  const size_t len = std::strlen(text);
  ssize_t n;
  do
    n = ::write(fd, text, len);
  while (n < 0 && errno == EINTR);
  ::close(fd);
  return n == static_cast<ssize_t>(len);
}

/// The unified-hierarchy path in a /proc/<pid>/cgroup text (its `0::`
/// line), or "".
std::string unified_path(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    if (text.compare(pos, 3, "0::") == 0)
      return text.substr(pos + 3, end - pos - 3);
    pos = end + 1;
  }
  return {};
}

} // namespace

namespace {

/// Calls `f(name, sub_fd)` for each child cgroup (sub-directory) of
/// `dir_fd`; `sub_fd` is closed after the call.
template <class F> void for_each_child(int dir_fd, F&& f) {
  const int list_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0)
    return;
  DIR* dir = ::fdopendir(list_fd); // owns list_fd from here
  if (dir == nullptr) {
    ::close(list_fd);
    return;
  }
  while (auto* entry = ::readdir(dir)) {
    if (entry->d_type != DT_DIR || std::strcmp(entry->d_name, ".") == 0
        || std::strcmp(entry->d_name, "..") == 0)
      continue;
    const int sub
      = ::openat(dir_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sub >= 0) {
      f(entry->d_name, sub);
      ::close(sub);
    }
  }
  ::closedir(dir);
}

/// Calls `f(dir_fd)` for the cgroup `dir_fd` and every cgroup below it.
template <class F> void for_each_cgroup(int dir_fd, int depth, F& f) {
  f(dir_fd);
  if (depth >= max_depth)
    return;
  for_each_child(
    dir_fd, [&](const char*, int sub) { for_each_cgroup(sub, depth + 1, f); });
}

/// Removes every cgroup below `dir_fd`, deepest first.
void remove_below(int dir_fd, int depth) {
  if (depth >= max_depth)
    return;
  for_each_child(dir_fd, [&](const char* name, int sub) {
    remove_below(sub, depth + 1);
    ::unlinkat(dir_fd, name, AT_REMOVEDIR);
  });
}

/// Is the process of `pid` in the cgroup `relative` or below it?
bool is_member(pid_t pid, const std::string& relative) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/cgroup", static_cast<int>(pid));
  std::string text;
  if (!cgroup_files::read(-1, path, text))
    return false;
  const auto where = unified_path(text);
  return where == relative
         || (where.size() > relative.size()
             && where.compare(0, relative.size(), relative) == 0
             && where[relative.size()] == '/');
}

} // namespace

// -- cgroup_parent ------------------------------------------------------------

cgroup_parent::cgroup_parent(std::string path, std::string relative, int fd)
  : path_(std::move(path)), fd_(fd), relative_(std::move(relative)) {}

cgroup_parent::~cgroup_parent() {
  for (auto& cgroup : free_)
    cgroup->remove();
  free_.clear();
  ::close(fd_);
  ::rmdir(path_.c_str());
}

std::unique_ptr<cgroup_parent> cgroup_parent::create(std::string& why) {
  const auto mount = cgroup_files::find_mount("cgroup2", nullptr);
  if (mount.empty()) {
    why = "no cgroup2 file system is mounted";
    return nullptr;
  }
  std::string self;
  auto own = cgroup_files::read(-1, "/proc/self/cgroup", self)
               ? unified_path(self)
               : std::string{};
  if (own.empty() || own.front() != '/') {
    why = "/proc/self/cgroup names no cgroup v2 path";
    return nullptr;
  }
  if (own.back() == '/')
    own.pop_back(); // the root, "/"
  const auto base = mount + own;
  // cgroup.kill came with Linux 5.14; without it a tree cannot be ended
  // reliably, so the process group is the better choice.
  std::string name;
  const int fd = cgroup_files::make_jobd_dir(
    base, {"cgroup.kill", "cgroup.procs"}, name, why);
  if (fd < 0)
    return nullptr;
  return std::unique_ptr<cgroup_parent>{
    new cgroup_parent{base + "/" + name, own + "/" + name, fd}};
}

std::unique_ptr<cgroup_tree> cgroup_parent::make_child(const std::string& job,
                                                       std::string& why) {
  std::unique_ptr<cgroup_tree> cgroup;
  {
    std::lock_guard<std::mutex> guard{free_mtx_};
    if (!free_.empty()) {
      cgroup = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!cgroup) {
    std::string leaf;
    const int dir_fd = cgroup_files::make_job_dir(
      fd_, path_, "tree-" + std::to_string(++serial_), serial_, leaf, why);
    if (dir_fd < 0)
      return nullptr;
    cgroup.reset(
      new cgroup_tree{path_ + "/" + leaf, relative_ + "/" + leaf, dir_fd});
  }
  if (!cgroup->label(job)) {
    why = "cannot label " + cgroup->path() + " (" + cgroup_files::job_label
          + "): " + std::system_category().message(errno);
    cgroup->remove();
    return nullptr;
  }
  return cgroup;
}

std::unique_ptr<cgroup_tree>
cgroup_parent::recycle(std::unique_ptr<cgroup_tree> cgroup) {
  const size_t most = max_free_;
  auto full = [&] {
    std::lock_guard<std::mutex> guard{free_mtx_};
    return free_.size() >= most;
  };
  if (!cgroup || controllers_ || full() || !cgroup->reusable()
      || !cgroup->rebase())
    return cgroup;
  std::lock_guard<std::mutex> guard{free_mtx_};
  if (free_.size() >= most)
    return cgroup;
  free_.push_back(std::move(cgroup));
  return nullptr;
}

bool cgroup_parent::enable_controller(const char* controller) {
  std::string text;
  auto listed = [&](const char* file) {
    if (!cgroup_files::read(fd_, file, text))
      return false;
    for (size_t at = 0; at < text.size();) {
      const size_t end = std::min(text.find_first_of(" \n", at), text.size());
      if (text.compare(at, end - at, controller) == 0)
        return true;
      at = end + 1;
    }
    return false;
  };
  const bool enabled = listed("cgroup.subtree_control")
                       || (listed("cgroup.controllers")
                           && cgroup_files::write(fd_, "cgroup.subtree_control",
                                                  std::string{"+"} + controller)
                                == 0
                           && listed("cgroup.subtree_control"));
  if (enabled)
    controllers_ = true;
  return enabled;
}

// -- cgroup_tree --------------------------------------------------------------

cgroup_tree::cgroup_tree(std::string path, std::string relative, int dir_fd)
  : path_(std::move(path)), relative_(std::move(relative)), dir_fd_(dir_fd) {}

cgroup_tree::~cgroup_tree() {
  close_procs();
  if (dir_fd_ >= 0)
    ::close(dir_fd_);
}

int cgroup_tree::procs_fd() {
  if (procs_fd_ < 0 && !removed_)
    procs_fd_ = ::openat(dir_fd_, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  return procs_fd_;
}

void cgroup_tree::close_procs() {
  if (procs_fd_ >= 0)
    ::close(procs_fd_);
  procs_fd_ = -1;
}

std::string cgroup_tree::events_path() const {
  return path_ + "/cgroup.events";
}

bool cgroup_tree::populated() const {
  std::string text;
  if (removed_ || !cgroup_files::read(dir_fd_, "cgroup.events", text))
    return false;
  return text.find("populated 1") != std::string::npos;
}

bool cgroup_tree::kill() {
  if (removed_)
    return false;
  killed_ = true; // even if the write fails: it may have killed some
  return write_file(dir_fd_, "cgroup.kill", "1");
}

bool cgroup_tree::freeze(bool frozen) const {
  return !removed_ && write_file(dir_fd_, "cgroup.freeze", frozen ? "1" : "0");
}

bool cgroup_tree::cpu_usage(int64_t& user_usec, int64_t& system_usec) const {
  std::string text;
  if (removed_ || !cgroup_files::read(dir_fd_, "cpu.stat", text))
    return false;
  const int64_t user = cgroup_files::keyed(text, "user_usec");
  const int64_t system = cgroup_files::keyed(text, "system_usec");
  if (user < 0 || system < 0)
    return false;
  raw_user_usec_ = user;
  raw_system_usec_ = system;
  raw_known_ = true;
  user_usec = std::max<int64_t>(user - base_user_usec_, 0);
  system_usec = std::max<int64_t>(system - base_system_usec_, 0);
  return true;
}

bool cgroup_tree::label(const std::string& job) {
  return !removed_
         && ::fsetxattr(dir_fd_, cgroup_files::job_label, job.data(),
                        job.size(), 0)
              == 0;
}

bool cgroup_tree::reusable() const {
  if (removed_ || killed_)
    return false;
  // A job may have made cgroups below its own (a cgroupfs directory links
  // 2 + its sub-directories), frozen it, made it threaded or limited its
  // nesting. Each read of a cgroup file costs several microseconds:
  // cgroup.events tells both emptiness and freezing.
  struct stat st {};
  if (::fstat(dir_fd_, &st) != 0 || st.st_nlink != 2)
    return false;
  std::string text;
  auto reads = [&](const char* file, const char* expected) {
    return cgroup_files::read(dir_fd_, file, text) && text == expected;
  };
  return cgroup_files::read(dir_fd_, "cgroup.events", text)
         && cgroup_files::keyed(text, "populated") == 0
         && cgroup_files::keyed(text, "frozen") <= 0
         && reads("cgroup.type", "domain\n")
         && reads("cgroup.max.depth", "max\n")
         && reads("cgroup.max.descendants", "max\n");
}

bool cgroup_tree::rebase() {
  ::fremovexattr(dir_fd_, cgroup_files::job_label);
  // The figures the job's usage was read from (right after its tree was
  // found empty) are the next job's zero, unless they were never read.
  if (!raw_known_) {
    int64_t user = 0;
    int64_t system = 0;
    if (!cpu_usage(user, system))
      return false;
  }
  base_user_usec_ = raw_user_usec_;
  base_system_usec_ = raw_system_usec_;
  raw_known_ = false;
  return true;
}

int64_t cgroup_tree::memory_peak() const {
  std::string text;
  if (removed_ || !cgroup_files::read(dir_fd_, "memory.peak", text)
      || text.empty())
    return -1;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  return end != text.c_str() && value >= 0 ? value : -1;
}

int cgroup_tree::set(const char* file, const std::string& value) const {
  return removed_ ? ENOENT : cgroup_files::write(dir_fd_, file, value);
}

bool cgroup_tree::has(const char* file) const {
  return !removed_ && ::faccessat(dir_fd_, file, F_OK, 0) == 0;
}

int64_t cgroup_tree::counter(const char* file, const char* key) const {
  std::string text;
  if (removed_ || !cgroup_files::read(dir_fd_, file, text))
    return -1;
  return cgroup_files::keyed(text, key);
}

std::vector<pid_t> cgroup_tree::members() const {
  std::vector<pid_t> pids;
  if (removed_)
    return pids;
  auto collect = [&pids](int dir_fd) {
    std::string text;
    if (!cgroup_files::read(dir_fd, "cgroup.procs", text))
      return;
    const char* p = text.c_str();
    char* end = nullptr;
    for (long pid = std::strtol(p, &end, 10); end != p;
         pid = std::strtol(p, &end, 10)) {
      if (pid > 0)
        pids.push_back(static_cast<pid_t>(pid));
      p = end;
    }
  };
  for_each_cgroup(dir_fd_, 0, collect);
  return pids;
}

size_t cgroup_tree::signal_members(int sig, pid_t skip) const {
  size_t signalled = 0;
  for (pid_t pid : members()) {
    if (pid == skip || pid <= 1)
      continue;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0)
      continue; // gone already
    // While the pidfd's process lives, /proc/<pid> is that process; if it
    // ended, the send below fails whatever /proc showed.
    if (is_member(pid, relative_)
        && ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0)
      ++signalled;
    ::close(pidfd);
  }
  return signalled;
}

bool cgroup_tree::remove() {
  if (removed_)
    return true;
  // Cgroups a job made below its own are rare: look for them only when
  // the plain rmdir fails (listing a cgroup directory costs more than it).
  if (::rmdir(path_.c_str()) != 0 && errno != ENOENT) {
    if (errno != ENOTEMPTY && errno != EBUSY)
      return false;
    if (dir_fd_ >= 0)
      remove_below(dir_fd_, 0);
    if (::rmdir(path_.c_str()) != 0 && errno != ENOENT)
      return false;
  }
  removed_ = true;
  return true;
}

} // namespace jobd

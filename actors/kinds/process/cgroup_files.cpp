// The small file operations of cgroup directories (cgroup_tree.hpp's
// cgroup_files): whole reads and writes of cgroup files, keyed counters,
// mount points, and the directories jobd makes for itself and its jobs.
#include "actors/kinds/process/cgroup_tree.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace jobd {

namespace {

std::string describe(int err) {
  return std::system_category().message(err);
}

/// Reads a small file whole with read(2) (cgroup and proc files report no
/// size); false if it cannot be opened or read.
bool read_file(int dir_fd, const char* name, std::string& out) {
  out.clear();
  const int fd = dir_fd >= 0 ? ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC)
                             : ::open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

/// Undoes the octal escapes (\040 for a space) of /proc/self/mounts.
std::string unescape_mount_path(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const std::string digits = text.substr(i + 1, 3);
      char* end = nullptr;
      const long value = std::strtol(digits.c_str(), &end, 8);
      if (end == digits.c_str() + 3) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

/// Is `option` one of the comma-separated `options`?
bool has_option(const std::string& options, const char* option) {
  const std::string wanted{option};
  for (size_t at = 0; at <= options.size();) {
    const size_t end = std::min(options.find(',', at), options.size());
    if (options.compare(at, end - at, wanted) == 0)
      return true;
    at = end + 1;
  }
  return false;
}

} // namespace

bool cgroup_files::read(int dir_fd, const char* name, std::string& out) {
  return read_file(dir_fd, name, out);
}

int cgroup_files::write(int dir_fd, const char* name, const std::string& text) {
  const int fd = ::openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  ssize_t n;
  do
    n = ::write(fd, text.data(), text.size());
  while (n < 0 && errno == EINTR);
  const int error = n < 0 ? errno : 0;
  ::close(fd);
  if (error != 0)
    return error;
  return n == static_cast<ssize_t>(text.size()) ? 0 : EIO;
}

int64_t cgroup_files::keyed(const std::string& text, const char* key) {
  const std::string name = std::string{key} + " ";
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    if (text.compare(at, name.size(), name) == 0)
      return std::strtoll(text.c_str() + at + name.size(), nullptr, 10);
    at = end + 1;
  }
  return -1;
}

bool cgroup_files::valid_name(const std::string& name) {
  if (name.empty() || name.size() > 100)
    return false;
  for (char ch : name)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
          || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
      return false;
  return true;
}

int cgroup_files::make_jobd_dir(const std::string& base,
                                std::initializer_list<const char*> writable,
                                std::string& name, std::string& why) {
  const auto stem = "jobd-" + std::to_string(::getpid());
  for (int attempt = 1; attempt <= 100; ++attempt) {
    name = attempt == 1 ? stem : stem + "-" + std::to_string(attempt);
    const auto path = base + "/" + name;
    if (::mkdir(path.c_str(), 0755) != 0) {
      if (errno == EEXIST)
        continue;
      why = "cannot create " + path + ": " + describe(errno);
      return -1;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      why = "cannot open " + path + ": " + describe(errno);
      ::rmdir(path.c_str());
      return -1;
    }
    for (const char* file : writable)
      if (::faccessat(fd, file, W_OK, 0) != 0) {
        why = path + " has no writable " + file;
        ::close(fd);
        ::rmdir(path.c_str());
        return -1;
      }
    return fd;
  }
  why = "no free name for jobd's cgroup below " + base;
  return -1;
}

int cgroup_files::make_job_dir(int parent_fd, const std::string& parent_path,
                               const std::string& name,
                               std::atomic<unsigned long>& serial,
                               std::string& leaf, std::string& why) {
  const auto stem = valid_name(name) ? name : std::string{"job"};
  for (int attempt = 0; attempt < 100; ++attempt) {
    leaf = attempt == 0 && stem != "job"
             ? stem
             : stem + "-" + std::to_string(++serial);
    if (::mkdirat(parent_fd, leaf.c_str(), 0755) != 0) {
      if (errno == EEXIST)
        continue;
      why
        = "cannot create " + parent_path + "/" + leaf + ": " + describe(errno);
      return -1;
    }
    const int dir_fd
      = ::openat(parent_fd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
      why = "cannot open " + parent_path + "/" + leaf + ": " + describe(errno);
      ::unlinkat(parent_fd, leaf.c_str(), AT_REMOVEDIR);
      return -1;
    }
    return dir_fd;
  }
  why = "no free name for a job cgroup below " + parent_path;
  return -1;
}

std::string cgroup_files::find_mount(const char* type, const char* option) {
  std::string mounts;
  if (!read_file(-1, "/proc/self/mounts", mounts))
    return {};
  size_t pos = 0;
  while (pos < mounts.size()) {
    auto end = mounts.find('\n', pos);
    if (end == std::string::npos)
      end = mounts.size();
    const std::string line = mounts.substr(pos, end - pos);
    pos = end + 1;
    // device mount-point type options dump pass
    const auto a = line.find(' ');
    const auto b = a == std::string::npos ? a : line.find(' ', a + 1);
    const auto c = b == std::string::npos ? b : line.find(' ', b + 1);
    if (c == std::string::npos)
      continue;
    if (line.compare(b + 1, c - b - 1, type) != 0)
      continue;
    const auto d = line.find(' ', c + 1);
    if (option != nullptr
        && !has_option(line.substr(c + 1, d == std::string::npos
                                            ? std::string::npos
                                            : d - c - 1),
                       option))
      continue;
    return unescape_mount_path(line.substr(a + 1, b - a - 1));
  }
  return {};
}

} // namespace jobd

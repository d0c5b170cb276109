// Helpers of the security integration tests (security_test.cpp,
// security_limits_test.cpp).
#pragma once

#include "jobd_harness.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <cstdlib>

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace jobd_it::security {

/// Where test directories go: outside the temporary directories, which a
/// sandboxed job may always write and read (a checkout under /tmp, as CI
/// makes one, must not place them there). The test's working directory,
/// else $HOME, else /var/cache, whichever is the first outside them and
/// writable.
inline std::string outside_temp_base() {
  namespace fs = std::filesystem;
  std::vector<std::string> temp = {"/tmp", "/var/tmp", "/dev/shm"};
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t == '/')
    temp.emplace_back(t);
  std::vector<std::string> candidates = {fs::current_path().string()};
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/')
    candidates.emplace_back(home);
  candidates.emplace_back("/var/cache");
  for (auto& c : candidates) {
    std::error_code ec;
    auto real = fs::canonical(c, ec).string();
    if (ec || ::access(real.c_str(), W_OK) != 0)
      continue;
    bool in_temp = false;
    for (auto& t : temp) {
      auto rt = fs::canonical(t, ec).string();
      if (!ec && (real == rt || real.rfind(rt + "/", 0) == 0))
        in_temp = true;
    }
    if (!in_temp)
      return real;
  }
  return fs::current_path().string();
}

/// A directory below outside_temp_base(), removed at the end. Its path is
/// real (no symlinks).
struct work_dir {
  std::string path;
  explicit work_dir(const char* name) {
    namespace fs = std::filesystem;
    static const std::string base = outside_temp_base();
    auto tmpl = base + "/" + name + "-XXXXXX";
    path = fs::canonical(::mkdtemp(tmpl.data())).string();
  }
  work_dir(const work_dir&) = delete;
  work_dir& operator=(const work_dir&) = delete;
  ~work_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const {
    return path + "/" + name;
  }
};

/// Whether this kernel has Landlock, as the test sees it (not jobd): the
/// LSM list where securityfs is mounted, else the ABI query of
/// landlock_create_ruleset.
inline bool kernel_has_landlock() {
  std::ifstream lsm{"/sys/kernel/security/lsm"};
  if (std::string list; std::getline(lsm, list))
    return ("," + list + ",").find(",landlock,") != std::string::npos;
  // LANDLOCK_CREATE_RULESET_VERSION = 1
  return ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1U) > 0;
}

} // namespace jobd_it::security

/// Skips a sandbox test where the kernel has no Landlock; fails it where
/// the kernel has Landlock but jobd says it is unavailable (a broken probe
/// must not pass as a machine without the control).
#define JOBD_IT_SKIP_WITHOUT_LANDLOCK(why)                                     \
  do {                                                                         \
    if (jobd_it::security::kernel_has_landlock())                              \
      FAIL() << "this kernel has Landlock, but jobd has none: " << (why);      \
    GTEST_SKIP() << "no Landlock here: " << (why);                             \
  } while (false)

// Helpers of the security integration tests (security_test.cpp,
// security_limits_test.cpp).
#pragma once

#include "jobd_harness.hpp"

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <cstdlib>

#include <stdlib.h>
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

} // namespace jobd_it::security

// Helpers of the security integration tests (security_test.cpp,
// security_limits_test.cpp).
#pragma once

#include "jobd_harness.hpp"

#include <filesystem>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace jobd_it::security {

/// A directory below the test's working directory, removed at the end: not
/// one of the temporary directories, which a sandboxed job may always
/// write. Its path is real (no symlinks).
struct work_dir {
  std::string path;
  explicit work_dir(const char* name) {
    namespace fs = std::filesystem;
    auto tmpl = (fs::current_path() / (std::string{name} + "-XXXXXX")).string();
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

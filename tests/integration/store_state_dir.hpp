// A temporary state directory for the store's integration tests
// (store_test.cpp, store_recovery_test.cpp).
#pragma once

#include "jobd_harness.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace jobd_it {

/// A temporary state directory, removed at the end.
struct state_dir {
  std::string path;
  state_dir() {
    char tmpl[] = "/tmp/jobd-store-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~state_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string db() const {
    return path + "/jobd.db";
  }
  jobd_options options(std::vector<std::string> extra = {}) const {
    jobd_options o;
    o.args = {"--state-dir", path};
    o.args.insert(o.args.end(), extra.begin(), extra.end());
    return o;
  }
};

} // namespace jobd_it

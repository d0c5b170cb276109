// What the store tests share: a temporary state directory, the options of a
// store in it, and finding a session's figures in a metrics snapshot.
#pragma once

#include "actors/store/job_store.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace jobd::test {

/// A fresh directory below /tmp, removed with everything in it.
struct temp_dir {
  std::string path;
  explicit temp_dir(const char* prefix = "jobd-store") {
    std::string tmpl = std::string{"/tmp/"} + prefix + "-XXXXXX";
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// A store in `d`.
inline store_options at(const temp_dir& d) {
  store_options o;
  o.state_dir = d.path;
  return o;
}

/// The figures of session `id`, or null.
inline const session_metrics* session_of(const metrics_snapshot& m,
                                         const std::string& id) {
  for (auto& s : m.sessions)
    if (s.session_id == id)
      return &s;
  return nullptr;
}

} // namespace jobd::test

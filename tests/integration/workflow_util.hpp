// Helpers of the workflow integration tests (workflow_test.cpp,
// schedule_template_test.cpp).
#pragma once

#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace jobd_it::workflow {

namespace fs = std::filesystem;

/// A temporary directory (a state directory or a job's working directory),
/// removed at the end.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/jobd-workflow-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  jobd_options options(std::vector<std::string> extra = {}) const {
    jobd_options o;
    o.args = {"--state-dir", path};
    o.args.insert(o.args.end(), extra.begin(), extra.end());
    return o;
  }
};

inline std::string id_args(const std::string& id,
                           const std::string& more = "") {
  return "{\"jobId\":" + q(id) + more + "}";
}

inline std::string ids(std::initializer_list<std::string> list) {
  std::string out = "[";
  for (auto& id : list)
    out += (out.size() > 1 ? "," : "") + q(id);
  return out + "]";
}

/// Polls the job's status until `pred` holds; the last status.
template <class Pred>
tool_result poll(jobd_process& j, const std::string& id, Pred pred,
                 int timeout_ms = 10000) {
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    auto s = j.status(id);
    if ((s.ok() && pred(*at(*s, "job"))) || now_ms() > deadline)
      return s;
    sleep_ms(20);
  }
}

inline std::string status_of(jobd_process& j, const std::string& id) {
  auto s = j.status(id);
  return s.ok() ? str(*s, "job.status") : "?";
}

inline size_t array_size(const Value& v, const std::string& path) {
  auto a = at(v, path);
  return a != nullptr && a->IsArray() ? a->Size() : 0;
}

// Runs SQL on a database file directly (as another program would).
inline bool sql_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  bool ok
    = sqlite3_open(path.c_str(), &db) == SQLITE_OK
      && sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

/// A script that fails until its `n`th run (counted in a file of `dir`).
inline std::string flaky(const std::string& dir, int succeed_at) {
  return "n=$(cat " + dir
         + "/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + dir
         + "/count; echo attempt $n; [ $n -ge " + std::to_string(succeed_at)
         + " ]";
}

/// Milliseconds since the epoch on the wall clock, `ago_ms` back.
inline std::string wall_ms_ago(int64_t ago_ms) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()
                        - ago_ms);
}

} // namespace jobd_it::workflow

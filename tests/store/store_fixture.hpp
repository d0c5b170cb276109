// What the store tests share: a temporary state directory, the options of a
// store in it, and finding a session's figures in a metrics snapshot.
#pragma once

#include "actors/actors.hpp"
#include "actors/store/job_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

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

/// A job row as the store keeps it: `job-<serial>-<suffix>`, created at
/// 1000 + serial, and if `status` is terminal finished 5 ms later (exit
/// code 0).
inline job_info stored_job(uint64_t serial, std::string session = "s",
                           job_status status = job_status::completed,
                           const std::string& suffix = "test") {
  job_info j;
  j.serial = serial;
  j.id = "job-" + std::to_string(serial) + "-" + suffix;
  j.kind = "process";
  j.command = "true";
  j.status = status;
  j.session_id = std::move(session);
  j.created_at = 1000 + static_cast<int64_t>(serial);
  j.started_at = j.created_at;
  if (is_terminal(status)) {
    j.finished_at = j.created_at + 5;
    j.run_ms = 5;
    j.exit_code = 0;
  }
  return j;
}

/// The figures of session `id`, or null.
inline const session_metrics* session_of(const metrics_snapshot& m,
                                         const std::string& id) {
  for (auto& s : m.sessions)
    if (s.session_id == id)
      return &s;
  return nullptr;
}

/// A real actor system (two threads) and a scoped actor that asks.
struct actor_system_test : ::testing::Test {
  static caf::actor_system_config& config() {
    static caf::actor_system_config cfg = [] {
      caf::actor_system_config c;
      c.add_message_types<caf::id_block::jobd>();
      c.set("scheduler.max-threads", 2);
      return c;
    }();
    return cfg;
  }
  caf::actor_system sys{config()};
  caf::scoped_actor self{sys};

  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& h, Ts&&... xs) {
    caf::expected<T> out{caf::error{}};
    self->request(h, caf::infinite, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

} // namespace jobd::test

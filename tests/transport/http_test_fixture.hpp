// A real http_server on 127.0.0.1 (port 0) whose sessions are served by a
// small fake ENDPOINT (typed as endpoint_actor) that answers each request
// through its sink, and helpers to talk to it with the raw client.
#pragma once

#include "actors/actors.hpp"
#include "actors/transport/http_server.hpp"
#include "http_test_client.hpp"
#include "protocol/jsonrpc.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <rapidjson/document.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace jobd::test::http {

inline constexpr const char* alice_token = "alice-token-0123456789";
inline constexpr const char* bob_token = "bob-token-0123456789abc";

/// What the fake ENDPOINTs saw, shared with the test.
struct fake_world {
  std::mutex mtx;
  std::vector<std::string> lines;
  std::vector<std::string> principals;
  std::vector<std::string> session_ids;
  std::vector<std::shared_ptr<line_sink>> sinks;
  std::atomic<int> opened{0};
  std::atomic<int> closed{0};

  size_t line_count() {
    std::lock_guard<std::mutex> guard{mtx};
    return lines.size();
  }
  std::shared_ptr<line_sink> sink(size_t i) {
    std::lock_guard<std::mutex> guard{mtx};
    return i < sinks.size() ? sinks[i] : nullptr;
  }
};

struct fake_http_endpoint_state {
  std::shared_ptr<line_sink> out;
  std::vector<std::string> held;
  static inline const char* name = "fake_http_endpoint";
};

inline std::string fake_reply(const std::string& id,
                              const std::string& result) {
  return R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":)" + result + "}";
}

inline std::string fake_log_line(const std::string& data) {
  return R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":)"
         + data + "}}";
}

inline std::string fake_progress(const std::string& token, int n) {
  return R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":)"
         + token + R"(,"progress":)" + std::to_string(n) + "}}";
}

/// Answers `initialize`, `test/slow` ({ms}), `test/progress` ({count, ms}),
/// `test/notify`, `test/hold` (answered at the notification
/// `test/release`) and anything else with {"method": ...}; the
/// notification `test/emit` ({count}) sends log messages.
inline endpoint_actor::behavior_type fake_http_endpoint(
  endpoint_actor::stateful_pointer<fake_http_endpoint_state> self,
  std::shared_ptr<line_sink> out, std::shared_ptr<fake_world> world) {
  self->state.out = out;
  caf::weak_actor_ptr weak{self->ctrl()};
  out->attach({[weak] {
                 if (auto h = caf::actor_cast<endpoint_actor>(weak))
                   caf::anon_send(h, atom::shutdown_v);
               },
               [](uint64_t dropped) {
                 return fake_log_line(R"({"dropped":)" + std::to_string(dropped)
                                      + "}");
               }});
  self->attach_functor([out] { out->attach({}); });
  return {
    [self, world](atom::line, const std::string& line) {
      auto& out = self->state.out;
      if (!line.empty() && line[0] == '!') {
        out->send(line.substr(1), message_kind::reply);
        return;
      }
      {
        std::lock_guard<std::mutex> guard{world->mtx};
        world->lines.push_back(line);
      }
      rapidjson::Document doc;
      doc.Parse(line.data(), line.size());
      if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("method"))
        return;
      std::string method = doc["method"].GetString();
      static const rapidjson::Value empty(rapidjson::kObjectType);
      const rapidjson::Value& params
        = doc.HasMember("params") ? doc["params"] : empty;
      auto number = [&](const char* key, int fallback) {
        return params.IsObject() && params.HasMember(key) && params[key].IsInt()
                 ? params[key].GetInt()
                 : fallback;
      };
      if (!doc.HasMember("id")) {
        if (method == "test/release") {
          for (auto& r : self->state.held)
            out->send(r, message_kind::reply);
          self->state.held.clear();
        } else if (method == "test/emit") {
          for (int i = 0; i < number("count", 1); ++i)
            out->send(fake_log_line(R"({"n":)" + std::to_string(i) + "}"),
                      message_kind::notification);
        }
        return;
      }
      std::string id;
      protocol::id_to_json(doc["id"], id);
      if (method == "initialize" && params.HasMember("protocolVersion")
          && !params["protocolVersion"].IsString()) {
        out->send(protocol::rpc_error(id, protocol::rpc_code::invalid_params,
                                      "bad protocolVersion"),
                  message_kind::reply);
      } else if (method == "initialize") {
        std::string version = "2025-11-25";
        if (params.IsObject() && params.HasMember("protocolVersion")
            && params["protocolVersion"].IsString())
          version = params["protocolVersion"].GetString();
        out->send(
          fake_reply(
            id,
            R"({"protocolVersion":")" + version
              + R"(","capabilities":{},"serverInfo":{"name":"fake","version":"0"}})"),
          message_kind::reply);
      } else if (method == "test/slow") {
        self->delayed_send(self, std::chrono::milliseconds{number("ms", 300)},
                           atom::line_v, "!" + fake_reply(id, "{}"));
      } else if (method == "test/progress") {
        std::string token;
        if (params.IsObject() && params.HasMember("_meta")
            && params["_meta"].HasMember("progressToken"))
          protocol::id_to_json(params["_meta"]["progressToken"], token);
        for (int i = 1; i <= number("count", 1); ++i)
          out->send(fake_progress(token, i), message_kind::notification,
                    "progress " + token);
        self->delayed_send(self, std::chrono::milliseconds{number("ms", 0)},
                           atom::line_v, "!" + fake_reply(id, "{}"));
      } else if (method == "test/notify") {
        out->send(fake_log_line(R"({"about":)" + id + "}"),
                  message_kind::notification);
        out->send(fake_reply(id, "{}"), message_kind::reply);
      } else if (method == "test/hold") {
        self->state.held.push_back(fake_reply(id, R"({"held":true})"));
      } else {
        out->send(fake_reply(id, R"({"method":")" + method + R"("})"),
                  message_kind::reply);
      }
    },
    [](atom::line, uint64_t) {},
    [self, world](atom::shutdown) {
      world->closed++;
      self->quit();
    },
    [](atom::event, const job_event&) {},
    [](atom::output, const output_news&) {},
    [](atom::tick) {},
    [](atom::start, scheduler_actor&, metrics_actor&, store_actor&,
       schedules_actor&) {},
  };
}

using headers = std::vector<std::pair<std::string, std::string>>;

inline std::string initialize_body(int id = 1,
                                   const std::string& version = "2025-11-25") {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id)
         + R"(,"method":"initialize","params":{"protocolVersion":")" + version
         + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
}

inline std::string request_body(const std::string& id,
                                const std::string& method,
                                const std::string& params = "{}") {
  return R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":")" + method
         + R"(","params":)" + params + "}";
}

inline std::string notification_body(const std::string& method,
                                     const std::string& params = "{}") {
  return R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" + params
         + "}";
}

class http_fixture : public ::testing::Test {
protected:
  http_fixture() : sys(init(cfg)) {}
  ~http_fixture() override {
    if (server)
      server->stop();
  }

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.add_message_types<caf::id_block::jobd>();
    return c;
  }

  static http_options defaults() {
    http_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tokens = {{"alice", alice_token}, {"bob", bob_token}};
    o.request_timeout_ms = 2000;
    o.idle_timeout_ms = 5000;
    return o;
  }

  void start(http_options o = defaults()) {
    http_hooks hooks;
    auto w = world;
    auto* system = &sys;
    hooks.open_session
      = [w, system](const std::string& principal, const std::string& sid,
                    std::shared_ptr<line_sink> out) {
          {
            std::lock_guard<std::mutex> guard{w->mtx};
            w->principals.push_back(principal);
            w->session_ids.push_back(sid);
            w->sinks.push_back(out);
          }
          w->opened++;
          return system->spawn(fake_http_endpoint, out, w);
        };
    hooks.metrics
      = [](protocol::http_stats s, std::function<void(std::string)> done) {
          done("jobd_http_requests_total " + std::to_string(s.requests) + "\n");
        };
    hooks.health = [](std::function<void(bool, std::string)> done) {
      done(true, R"({"status":"ok"})");
    };
    server = std::make_unique<http_server>(std::move(o), std::move(hooks));
    std::string why;
    ASSERT_TRUE(server->start(why)) << why;
  }

  uint16_t port() const {
    return server->port();
  }

  /// The standard headers of a POST, with a token and a session.
  headers post_headers(const std::string& sid = {},
                       const std::string& token = alice_token) {
    headers h{{"Content-Type", "application/json"},
              {"Accept", "application/json, text/event-stream"}};
    if (!token.empty())
      h.emplace_back("Authorization", "Bearer " + token);
    if (!sid.empty())
      h.emplace_back("Mcp-Session-Id", sid);
    return h;
  }

  std::string post_request(const std::string& body, const std::string& sid = {},
                           const std::string& token = alice_token) {
    return make_request("POST", "/mcp", post_headers(sid, token), body, port());
  }

  std::string get_request(const std::string& sid,
                          const std::string& last_event_id = {},
                          const std::string& token = alice_token) {
    headers h{{"Accept", "text/event-stream"},
              {"Authorization", "Bearer " + token},
              {"Mcp-Session-Id", sid}};
    if (!last_event_id.empty())
      h.emplace_back("Last-Event-ID", last_event_id);
    return make_request("GET", "/mcp", h, {}, port());
  }

  /// One request on a new connection, its whole response.
  std::optional<reply> exchange(const std::string& text,
                                milliseconds timeout = 2000ms) {
    client c{port()};
    if (!c.connected() || !c.send(text))
      return std::nullopt;
    return c.read_response(timeout);
  }

  /// A new session of the token's principal; its id.
  std::string initialize(const std::string& token = alice_token) {
    auto r = exchange(post_request(initialize_body(), {}, token));
    if (!r || r->status != 200)
      return {};
    return r->header("mcp-session-id");
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::shared_ptr<fake_world> world = std::make_shared<fake_world>();
  std::unique_ptr<http_server> server;
};

} // namespace jobd::test::http

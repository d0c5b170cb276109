#include "app/http_setup.hpp"

#include "actors/endpoint.hpp"
#include "actors/logger.hpp"
#include "protocol/principal.hpp"
#include "protocol/prometheus.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sys/stat.h>

namespace jobd {

bool load_tokens(const std::string& path, std::vector<http_token>& out,
                 std::string& why) {
  std::ifstream in{path};
  if (!in) {
    why = "cannot read --auth-token-file " + path;
    return false;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    log::warning("--auth-token-file " + path
                 + " can be read by other users (chmod 600 it)");
  std::set<std::string> seen;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#')
      continue;
    auto where
      = "--auth-token-file " + path + " line " + std::to_string(number);
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      why = where + ": expected principal:token";
      return false;
    }
    http_token t{line.substr(0, colon), line.substr(colon + 1)};
    if (!protocol::valid_principal(t.principal)) {
      why = where
            + ": the principal must be 1-64 of A-Z a-z 0-9 _ . @ - (starting "
              "with a letter or digit)";
      return false;
    }
    bool printable = std::all_of(t.token.begin(), t.token.end(),
                                 [](char c) { return c > ' ' && c < 127; });
    if (t.token.size() < 16 || !printable) {
      why = where
            + ": the token must be at least 16 printable characters without "
              "spaces";
      return false;
    }
    if (!seen.insert(t.token).second) {
      why = where + ": this token is given twice";
      return false;
    }
    out.push_back(std::move(t));
  }
  if (out.empty()) {
    why = "--auth-token-file " + path + " holds no token";
    return false;
  }
  return true;
}

http_options http_options_of(const config& cfg, bool mcp) {
  http_options o;
  split_host_port(mcp ? cfg.http : cfg.metrics_listen, o.host, o.port);
  o.mcp = mcp;
  o.metrics = true;
  o.no_auth = cfg.http_no_auth || !mcp;
  o.allowed_origins = cfg.http_allow_origins;
  o.allowed_hosts = cfg.http_allow_hosts;
  o.max_body_bytes = cfg.max_line_bytes;
  o.request_timeout_ms = cfg.http_request_timeout_ms;
  o.idle_timeout_ms = cfg.http_idle_timeout_ms;
  o.rate_per_second = static_cast<double>(cfg.http_rate_limit);
  o.rate_burst = static_cast<uint32_t>(cfg.http_rate_burst);
  o.max_sessions = cfg.http_max_sessions;
  o.session_idle_ms = cfg.http_session_idle_ms;
  o.max_connections = cfg.http_max_connections;
  return o;
}

namespace {

// Asks METRICS for a snapshot and SCHEDULER for an (empty) owner list, each
// within 2 s, and hands what came to `done` on a short-lived actor: the
// HTTP thread never waits. A snapshot that did not come is null.
template <class Done> void gather(const http_wiring& w, Done done) {
  // The handles go in as spawn arguments: CAF 0.17 dereferences a null
  // argument tuple when a function actor is spawned with none (UBSan).
  w.system->spawn(
    [done = std::move(done)](caf::event_based_actor* self,
                             metrics_actor metrics, scheduler_actor scheduler) {
      struct answers {
        int pending = 2;
        std::optional<metrics_snapshot> snapshot;
        bool scheduler_ok = false;
      };
      auto got = std::make_shared<answers>();
      auto finish = [self, got, done] {
        if (--got->pending > 0)
          return;
        done(got->snapshot ? &*got->snapshot : nullptr, got->scheduler_ok);
        self->quit();
      };
      self->request(metrics, std::chrono::seconds(2), atom::metrics_v)
        .then(
          [got, finish](metrics_snapshot& m) {
            got->snapshot = std::move(m);
            finish();
          },
          [finish](caf::error&) { finish(); });
      self
        ->request(scheduler, std::chrono::seconds(2), atom::owner_v,
                  owner_list{})
        .then(
          [got, finish](owner_list&) {
            got->scheduler_ok = true;
            finish();
          },
          [finish](caf::error&) { finish(); });
    },
    w.metrics, w.scheduler);
}

} // namespace

http_hooks http_hooks_of(const http_wiring& wiring) {
  http_hooks hooks;
  hooks.open_session
    = [w = wiring](const std::string& principal, const std::string& session_id,
                   std::shared_ptr<line_sink> out) {
        auto cfg = w.base;
        cfg.out = std::move(out);
        cfg.input = nullptr;
        cfg.principal = principal;
        cfg.scoped = true;
        cfg.admin = std::find(w.admins.begin(), w.admins.end(), principal)
                    != w.admins.end();
        cfg.owns_server = false;
        cfg.on_stopped = nullptr;
        // The audit log names the connection in its principal's namespace.
        cfg.session_id = principal + "/http-" + session_id;
        cfg.latency = w.latency;
        auto ep = w.system->spawn(endpoint, w.scheduler, w.metrics, cfg);
        caf::anon_send(w.scheduler, atom::subscribe_v, event_listener{ep});
        return ep;
      };
  hooks.metrics = [w = wiring](protocol::http_stats stats,
                               std::function<void(std::string)> done) {
    if (w.mcp_stats)
      stats = w.mcp_stats();
    gather(w, [stats, done, latency = w.latency](metrics_snapshot* m, bool) {
      // Without a snapshot the HTTP and latency figures still show, and
      // jobd_store_up says 0.
      metrics_snapshot none;
      none.persistence = "unknown";
      done(protocol::render_prometheus(m ? *m : none, stats, latency.get()));
    });
  };
  hooks.health = [w = wiring](std::function<void(bool, std::string)> done) {
    gather(w, [done](metrics_snapshot* m, bool scheduler_ok) {
      bool healthy = false;
      auto body = protocol::render_health(m, scheduler_ok, healthy);
      done(healthy, std::move(body));
    });
  };
  return hooks;
}

namespace {

// http://HOST:PORT with an IPv6 host in brackets.
std::string url_of(const std::string& host, uint16_t port) {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + std::to_string(port);
}

} // namespace

bool http_service::start(const config& cfg,
                         const std::vector<http_token>& tokens,
                         http_wiring wiring, std::string& why) {
  auto options = http_options_of(cfg, true);
  options.tokens = tokens;
  auto host = options.host;
  mcp_
    = std::make_unique<http_server>(std::move(options), http_hooks_of(wiring));
  if (!mcp_->start(why))
    return false;
  log::info("serving MCP over HTTP at " + url_of(host, mcp_->port()) + "/mcp");
  if (cfg.http_no_auth)
    log::warning("--http-no-auth: HTTP requests are not authenticated; every "
                 "client on this machine is principal `local`");
  if (cfg.metrics_listen.empty())
    return true;
  wiring.mcp_stats = [server = mcp_.get()] { return server->stats(); };
  auto metrics_options = http_options_of(cfg, false);
  host = metrics_options.host;
  metrics_ = std::make_unique<http_server>(std::move(metrics_options),
                                           http_hooks_of(wiring));
  if (!metrics_->start(why))
    return false;
  log::info("serving metrics at " + url_of(host, metrics_->port())
            + "/metrics");
  return true;
}

void http_service::stop() {
  if (metrics_)
    metrics_->stop();
  if (mcp_)
    mcp_->stop();
}

} // namespace jobd

// The HTTP service's start-up (docs/http.md): the token file, the options
// of each listener, and the hooks that give every MCP session its ENDPOINT
// and answer /metrics and /healthz.
#pragma once

#include "actors/actors.hpp"
#include "actors/endpoint.hpp"
#include "actors/transport/http_server.hpp"
#include "app/config.hpp"

#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobd {

/// Reads --auth-token-file: lines `principal:token` (blank lines and `#`
/// comments skipped). False with `why` (naming the line, never a token)
/// for a file that cannot be read, a bad principal, a token shorter than 16
/// or with spaces or control characters, or a token given twice.
bool load_tokens(const std::string& path, std::vector<http_token>& out,
                 std::string& why);

/// The options of the --http listener (`mcp`) or of --metrics-listen.
http_options http_options_of(const config& cfg, bool mcp);

/// What the hooks need to make an ENDPOINT and gather figures.
struct http_wiring {
  caf::actor_system* system = nullptr;
  scheduler_actor scheduler;
  metrics_actor metrics;
  /// Every HTTP session's ENDPOINT starts from this (out, principal, admin
  /// and owns_server are set per session).
  endpoint_config base;
  std::vector<std::string> admins;
  std::shared_ptr<protocol::latency_histograms> latency;
  /// The MCP listener's counters, for a /metrics served elsewhere
  /// (--metrics-listen); null: the counters of the listener asked.
  std::function<protocol::http_stats()> mcp_stats;
};

/// The hooks of a listener: sessions (for the MCP listener), /metrics and
/// /healthz.
http_hooks http_hooks_of(const http_wiring& wiring);

/// The listeners of one jobd: --http and, if given, --metrics-listen.
class http_service {
public:
  /// Starts both (logging where each serves); false with `why` if an
  /// address cannot be used.
  bool start(const config& cfg, const std::vector<http_token>& tokens,
             http_wiring wiring, std::string& why);

  /// Ends every session and closes both; idempotent.
  void stop();

private:
  std::unique_ptr<http_server> mcp_;
  std::unique_ptr<http_server> metrics_;
};

} // namespace jobd

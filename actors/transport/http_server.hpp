// The MCP Streamable HTTP transport (protocol revision 2025-11-25) on
// Boost.Beast: POST /mcp answered as JSON or as an SSE stream, GET /mcp for
// the server's own notifications, DELETE /mcp to end a session, resumable
// SSE streams (Last-Event-ID), and GET /metrics and /healthz. One ENDPOINT
// per MCP session (made through `http_hooks::open_session`), whose
// line_sink routes each reply to the request that asked for it. Bearer
// tokens, Origin/Host checks, size and time bounds and per-principal rate
// limits are checked here, before any line reaches an ENDPOINT. See
// docs/http.md.
#pragma once

#include "actors/actors.hpp"
#include "actors/transport/line_sink.hpp"
#include "protocol/prometheus.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobd {

/// One line of --auth-token-file: `principal:token`.
struct http_token {
  std::string principal;
  std::string token;
};

struct http_options {
  /// Where to listen: an IPv4 or IPv6 literal or "localhost"; port 0 picks
  /// a free one (see port()).
  std::string host = "127.0.0.1";
  uint16_t port = 8765;
  /// Serve /mcp; false for the --metrics-listen listener (only /metrics
  /// and /healthz, without authentication).
  bool mcp = true;
  /// Serve /metrics and /healthz here (behind the same authentication as
  /// /mcp on the MCP listener).
  bool metrics = true;
  /// Bearer tokens. Required on the MCP listener unless `no_auth`.
  std::vector<http_token> tokens;
  /// --http-no-auth (loopback only): every request is principal "local".
  bool no_auth = false;
  /// Origins accepted besides the loopback ones (http or https, localhost,
  /// 127.0.0.1 or [::1], any port); a request with another Origin is 403.
  std::vector<std::string> allowed_origins;
  /// Host header values accepted besides the loopback names and the
  /// listening address (with or without the port); others are 403.
  std::vector<std::string> allowed_hosts;
  /// A request body larger than this is 413.
  uint64_t max_body_bytes = 16 * 1024 * 1024;
  /// Request line and headers larger than this are 431.
  uint32_t max_header_bytes = 16 * 1024;
  /// Time to receive one whole request (headers and body); a slower client
  /// is disconnected.
  int64_t request_timeout_ms = 30000;
  /// An idle keep-alive connection is closed after this.
  int64_t idle_timeout_ms = 60000;
  /// Requests per second per principal (a token bucket of `rate_burst`);
  /// beyond it 429 with Retry-After. 0 = no limit.
  double rate_per_second = 200;
  uint32_t rate_burst = 400;
  /// MCP sessions open at once (503 beyond), and how long one without an
  /// open stream or a request lives.
  size_t max_sessions = 1000;
  int64_t session_idle_ms = 30 * 60 * 1000;
  /// TCP connections open at once (new ones are closed beyond).
  size_t max_connections = 512;
  /// SSE events kept per session (of all its streams, the newest) for a
  /// client that reconnects with Last-Event-ID, and their bytes at most.
  size_t replay_events = 1024;
  uint64_t replay_bytes = 8 * 1024 * 1024;
  /// A reply that comes within this time of its request, before any
  /// notification for it, is answered as application/json; later ones (and
  /// all of a request that gets progress) on an SSE stream. 0: always SSE.
  int64_t json_window_ms = 200;
  /// Queued notifications of a stream (bytes) above which keyless ones are
  /// dropped, oldest first (as the stdio sink does).
  uint64_t notification_high_bytes = 1024 * 1024;
  /// Keep-alive comments on an SSE stream that had nothing to say.
  int64_t sse_keepalive_ms = 15000;
  /// The reconnection delay SSE clients are told (`retry:`).
  int64_t sse_retry_ms = 1000;
  /// A connection whose write makes no progress for this long is closed.
  int64_t write_stall_ms = 30000;
};

struct http_hooks {
  /// Makes the ENDPOINT of a new MCP session (at `initialize`): it serves
  /// `principal`, is known to the client as `session_id`, and writes to
  /// `out`. The ENDPOINT stops when `out` reports it closed (DELETE, idle
  /// expiry, server stop); it never stops the server. Runs on the server's
  /// thread.
  std::function<endpoint_actor(const std::string& principal,
                               const std::string& session_id,
                               std::shared_ptr<line_sink> out)>
    open_session;
  /// The /metrics page: call `done` with the text, on any thread.
  std::function<void(protocol::http_stats stats,
                     std::function<void(std::string text)> done)>
    metrics;
  /// /healthz: call `done` with whether jobd is healthy and a JSON body.
  std::function<void(std::function<void(bool ok, std::string body)> done)>
    health;
};

class http_server {
public:
  http_server(http_options options, http_hooks hooks);
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens, then serves on a thread of its own. False with
  /// `why` if the address cannot be used (taken port, bad address).
  bool start(std::string& why);

  /// The port listened on (after start: the real one when 0 was asked).
  uint16_t port() const;

  /// The transport's counters, for /metrics.
  protocol::http_stats stats() const;

  /// Ends every session (each ENDPOINT hears its sink closed), closes every
  /// connection and joins the thread. Idempotent; the destructor calls it.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace jobd

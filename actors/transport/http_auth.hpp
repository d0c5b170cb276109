// The HTTP transport's checks that do not depend on a connection: bearer
// tokens (compared in constant time over all of them), Origin and Host
// (DNS rebinding), the per-principal rate limit, and the header values the
// Streamable HTTP transport requires (Accept, Content-Type,
// MCP-Protocol-Version, Mcp-Session-Id).
#pragma once

#include "actors/transport/http_server.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jobd::http_detail {

/// The principal of an `Authorization` header value.
class token_check {
public:
  explicit token_check(std::vector<http_token> tokens);

  /// True with the principal if `authorization` is `Bearer <token>` for a
  /// configured token. Every configured token is compared, each in time
  /// that depends only on its own length and the given one's.
  bool find(std::string_view authorization, std::string& principal) const;

private:
  std::vector<http_token> tokens_;
};

/// An Origin value is acceptable: a loopback origin (http or https,
/// localhost, 127.0.0.1 or [::1], any port) or one of `extra`.
bool origin_allowed(std::string_view origin,
                    const std::vector<std::string>& extra);

/// Which Host header values a listener accepts.
class host_check {
public:
  /// Loopback names, the listening address and `extra` (with or without a
  /// port). `any`: every value (a wildcard address behind authentication).
  host_check(const std::string& bound_host, std::vector<std::string> extra,
             bool any);

  bool allowed(std::string_view host) const;

private:
  std::vector<std::string> names_;
  bool any_ = false;
};

/// A token bucket per principal.
class rate_limiter {
public:
  rate_limiter(double per_second, uint32_t burst);

  /// 0 if `principal` may make a request now (it is counted), else the
  /// seconds to wait (Retry-After, at least 1).
  int64_t take(const std::string& principal,
               std::chrono::steady_clock::time_point now);

private:
  struct bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  double rate_;
  double burst_;
  std::unordered_map<std::string, bucket> buckets_;
};

/// An Accept header value allows `type` ("text/event-stream"), directly or
/// through `text/*` or `*/*`.
bool accepts(std::string_view accept, std::string_view type);

/// The media type of a Content-Type value, lowercase, without parameters.
std::string media_type(std::string_view content_type);

/// A protocol revision the HTTP transport serves (MCP-Protocol-Version).
bool http_protocol_version(std::string_view version);

/// 32 lowercase hex characters, as this server makes them.
bool valid_session_id(std::string_view id);

/// `s` in lowercase ASCII.
std::string lowercase(std::string_view s);

} // namespace jobd::http_detail

// GET /metrics: jobd's figures in the Prometheus text exposition format
// (version 0.0.4), and the tool-call latency histograms ENDPOINTs feed.
#pragma once

#include "protocol/model.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace jobd::protocol {

/// Counters of the HTTP transport (all zero when HTTP is off).
struct http_stats {
  bool enabled = false;
  /// MCP sessions open now, and TCP connections open now.
  uint64_t sessions = 0;
  uint64_t connections = 0;
  /// Requests answered, by outcome.
  uint64_t requests = 0;
  uint64_t unauthorized = 0;  // 401
  uint64_t forbidden = 0;     // 403 (Origin, Host)
  uint64_t rate_limited = 0;  // 429
  uint64_t too_large = 0;     // 413, 431
  uint64_t timed_out = 0;     // connections closed for a slow client
  uint64_t bad_requests = 0;  // 400, 404, 405, 406, 415
};

/// Tool-call latency, one histogram per tool, shared by every ENDPOINT
/// (thread-safe, lock-free on the hot path: each tool's slot is fixed once
/// the catalog is known).
class latency_histograms {
public:
  /// Upper bounds of the buckets, in seconds (the last one is +Inf).
  static constexpr std::array<double, 12> bounds{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30};

  /// One histogram per name (the tools of the catalog); names not given
  /// here are counted under "other".
  explicit latency_histograms(std::vector<std::string> tools);
  ~latency_histograms();

  /// One call of `tool` that took `seconds` (its reply was written).
  void observe(std::string_view tool, double seconds);

  /// The Prometheus text of every histogram (jobd_tool_call_seconds).
  void render(std::string& out) const;

private:
  struct histogram;
  std::vector<std::string> names_;
  std::unique_ptr<histogram[]> slots_;
};

/// The whole /metrics page: job counts by state, the queue, jobs started
/// (a counter: its rate is the spawn rate), output bytes, sessions, the
/// store's state, the HTTP counters and the latency histograms.
std::string render_prometheus(const metrics_snapshot& m, const http_stats& http,
                              const latency_histograms* latency);

} // namespace jobd::protocol

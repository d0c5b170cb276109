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

/// The Content-Type of the page render_prometheus makes.
inline constexpr std::string_view prometheus_content_type
  = "text/plain; version=0.0.4; charset=utf-8";

/// Counters of the HTTP transport (all zero when HTTP is off).
struct http_stats {
  bool enabled = false;
  /// MCP sessions open now, and TCP connections open now.
  uint64_t sessions = 0;
  uint64_t connections = 0;
  /// Requests answered, by outcome.
  uint64_t requests = 0;
  uint64_t unauthorized = 0; // 401
  uint64_t forbidden = 0;    // 403 (Origin, Host)
  uint64_t rate_limited = 0; // 429
  uint64_t too_large = 0;    // 413, 431
  uint64_t timed_out = 0;    // connections closed for a slow client
  uint64_t bad_requests = 0; // 400, 404, 405, 406, 415
};

/// Tool-call latency, one histogram per tool, shared by every ENDPOINT
/// (thread-safe, lock-free on the hot path: each tool's slot is fixed once
/// the catalog is known).
class latency_histograms {
public:
  /// Upper bounds of the buckets, in seconds (the last one is +Inf).
  static constexpr std::array<double, 12> bounds{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30};

  /// One histogram per name (the tools of the catalog; duplicates count
  /// once); names not given here are counted under "other".
  explicit latency_histograms(std::vector<std::string> tools);
  ~latency_histograms();

  latency_histograms(const latency_histograms&) = delete;
  latency_histograms& operator=(const latency_histograms&) = delete;

  /// One call of `tool` that took `seconds` (its reply was written).
  /// Negative or NaN durations count as 0. Any thread, lock-free.
  void observe(std::string_view tool, double seconds);

  /// The Prometheus text of every histogram (jobd_tool_call_seconds, with
  /// its HELP and TYPE lines). Any thread, concurrently with observe: each
  /// histogram's +Inf bucket always equals its _count.
  void render(std::string& out) const;

private:
  struct histogram;
  /// The slot of a name: its place in names_ (sorted), else other_.
  size_t slot_of(std::string_view tool) const;

  std::vector<std::string> names_;
  size_t other_ = 0;
  std::unique_ptr<histogram[]> slots_;
};

/// The whole /metrics page: job counts by state, the queue, jobs started
/// (a counter: its rate is the spawn rate), output bytes, sessions, the
/// store's state, the HTTP counters and the latency histograms (none when
/// `latency` is null).
std::string render_prometheus(const metrics_snapshot& m, const http_stats& http,
                              const latency_histograms* latency);

/// The body of GET /healthz: `{"status":"ok"|"unavailable","store":...}`.
/// `m` is METRICS' answer (null: it did not answer in time);
/// `scheduler_ok` whether SCHEDULER answered in time. Healthy (200) iff
/// both answered; `healthy` says so.
std::string render_health(const metrics_snapshot* m, bool scheduler_ok,
                          bool& healthy);

} // namespace jobd::protocol

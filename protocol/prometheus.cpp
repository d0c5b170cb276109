#include "protocol/prometheus.hpp"

#include "protocol/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace jobd::protocol {

namespace {

constexpr size_t bucket_count = latency_histograms::bounds.size() + 1;

// Durations are summed as integral nanoseconds: exact and independent of
// the order of concurrent observations (2^64 ns is 584 years).
constexpr double ns_per_second = 1e9;
constexpr uint64_t max_ns = uint64_t{1} << 62;

// A sample value as Prometheus reads it (Go's ParseFloat): shortest
// round-trip digits, never the locale's, "+Inf", "-Inf" and "NaN".
void put_double(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
    return;
  }
  if (std::isinf(x)) {
    out += x > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

void put_uint(std::string& out, uint64_t x) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

// A label value: backslash, double quote and line feed escaped.
void put_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// HELP and TYPE of a family; HELP texts are constants here, with no
// backslash or line feed to escape.
void family(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// One sample: `name{label="value"} x`, or `name x` without a label.
void sample(std::string& out, std::string_view name, std::string_view label,
            std::string_view value, double x) {
  out += name;
  if (!label.empty()) {
    out += '{';
    out += label;
    out += "=\"";
    put_label_value(out, value);
    out += "\"}";
  }
  out += ' ';
  put_double(out, x);
  out += '\n';
}

void sample(std::string& out, std::string_view name, uint64_t x) {
  out += name;
  out += ' ';
  put_uint(out, x);
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view label,
            std::string_view value, uint64_t x) {
  out += name;
  out += '{';
  out += label;
  out += "=\"";
  put_label_value(out, value);
  out += "\"} ";
  put_uint(out, x);
  out += '\n';
}

void gauge(std::string& out, std::string_view name, std::string_view help,
           uint64_t x) {
  family(out, name, "gauge", help);
  sample(out, name, x);
}

void gauge(std::string& out, std::string_view name, std::string_view help,
           double x) {
  family(out, name, "gauge", help);
  sample(out, name, {}, {}, x);
}

void counter(std::string& out, std::string_view name, std::string_view help,
             uint64_t x) {
  family(out, name, "counter", help);
  sample(out, name, x);
}

} // namespace

// One tool's histogram: a count per bucket (not cumulative: render sums
// them, so +Inf always equals _count however observations interleave) and
// the sum in nanoseconds. Own cache lines: tools do not share them.
struct alignas(64) latency_histograms::histogram {
  std::array<std::atomic<uint64_t>, bucket_count> buckets{};
  std::atomic<uint64_t> sum_ns{0};
};

latency_histograms::latency_histograms(std::vector<std::string> tools)
  : names_(std::move(tools)) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  auto i = std::lower_bound(names_.begin(), names_.end(), "other");
  other_ = static_cast<size_t>(i - names_.begin());
  if (i == names_.end() || *i != "other") {
    // "other" is a slot of its own after the tools.
    other_ = names_.size();
  }
  slots_ = std::make_unique<histogram[]>(names_.size() + 1);
}

latency_histograms::~latency_histograms() = default;

size_t latency_histograms::slot_of(std::string_view tool) const {
  auto i = std::lower_bound(names_.begin(), names_.end(), tool,
                            [](const std::string& a, std::string_view b) {
                              return std::string_view{a} < b;
                            });
  if (i != names_.end() && std::string_view{*i} == tool)
    return static_cast<size_t>(i - names_.begin());
  return other_;
}

void latency_histograms::observe(std::string_view tool, double seconds) {
  if (!(seconds > 0)) // negative, zero or NaN
    seconds = 0;
  auto& h = slots_[slot_of(tool)];
  // The first bucket whose upper bound holds it (`le`: less or equal).
  auto b = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  h.buckets[static_cast<size_t>(b - bounds.begin())].fetch_add(
    1, std::memory_order_relaxed);
  auto ns = seconds * ns_per_second;
  h.sum_ns.fetch_add(ns >= static_cast<double>(max_ns)
                       ? max_ns
                       : static_cast<uint64_t>(std::llround(ns)),
                     std::memory_order_relaxed);
}

void latency_histograms::render(std::string& out) const {
  constexpr std::string_view name = "jobd_tool_call_seconds";
  family(out, name, "histogram",
         "Time from a tools/call request's arrival to its reply being "
         "written, by tool");
  auto one = [&](std::string_view tool, const histogram& h) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < bucket_count; ++b) {
      cumulative += h.buckets[b].load(std::memory_order_relaxed);
      out += "jobd_tool_call_seconds_bucket{tool=\"";
      put_label_value(out, tool);
      out += "\",le=\"";
      if (b < bounds.size())
        put_double(out, bounds[b]);
      else
        out += "+Inf";
      out += "\"} ";
      put_uint(out, cumulative);
      out += '\n';
    }
    out += "jobd_tool_call_seconds_sum{tool=\"";
    put_label_value(out, tool);
    out += "\"} ";
    put_double(out,
               static_cast<double>(h.sum_ns.load(std::memory_order_relaxed))
                 / ns_per_second);
    out += "\njobd_tool_call_seconds_count{tool=\"";
    put_label_value(out, tool);
    out += "\"} ";
    put_uint(out, cumulative);
    out += '\n';
  };
  for (size_t i = 0; i < names_.size(); ++i)
    one(names_[i], slots_[i]);
  if (other_ == names_.size())
    one("other", slots_[other_]);
}

std::string render_prometheus(const metrics_snapshot& m, const http_stats& http,
                              const latency_histograms* latency) {
  std::string out;
  out.reserve(8192);

  family(out, "jobd_jobs", "gauge",
         "Jobs of this jobd not yet ended, by state");
  sample(out, "jobd_jobs", "state", "pending", m.queue_size);
  sample(out, "jobd_jobs", "state", "running", m.running_jobs);
  if (!m.kinds.empty()) {
    family(out, "jobd_kind_jobs", "gauge",
           "Jobs of kinds that run outside jobd (slurm) not yet ended, by "
           "kind and state (also in jobd_jobs; they take no local slot)");
    for (auto& k : m.kinds)
      for (auto [state, n] :
           {std::pair<const char*, uint64_t>{"pending", k.pending},
            {"running", k.running}}) {
        out += "jobd_kind_jobs{kind=\"";
        put_label_value(out, k.kind);
        out += "\",state=\"";
        out += state;
        out += "\"} ";
        put_uint(out, n);
        out += '\n';
      }
  }
  gauge(out, "jobd_queue_length",
        "Jobs waiting to start (pending: queued, held or backing off)",
        m.queue_size);
  gauge(out, "jobd_jobs_retained",
        "Jobs kept in the history (every instance sharing the store)",
        m.retained_jobs);
  counter(out, "jobd_jobs_created_total",
          "Jobs submitted (every instance sharing the store)", m.total_jobs);
  counter(out, "jobd_jobs_started_total",
          "Job attempts that started since this jobd started (retries "
          "included): its rate is the spawn rate",
          m.started_jobs);
  family(out, "jobd_jobs_finished_total", "counter",
         "Jobs that ended, by final status (every instance sharing the "
         "store)");
  sample(out, "jobd_jobs_finished_total", "status", "completed",
         m.completed_jobs);
  sample(out, "jobd_jobs_finished_total", "status", "failed", m.failed_jobs);
  sample(out, "jobd_jobs_finished_total", "status", "cancelled",
         m.cancelled_jobs);
  counter(out, "jobd_job_retries_total",
          "Job attempts started again after a failure, since this jobd "
          "started",
          m.retries);
  counter(out, "jobd_dependency_failures_total",
          "Jobs ended by DEPENDENCY_FAILED, since this jobd started",
          m.dependency_failures);
  family(out, "jobd_schedule_firings_total", "counter",
         "Schedule firings since this jobd started, by outcome");
  sample(out, "jobd_schedule_firings_total", "outcome", "submitted",
         m.schedule_firings);
  sample(out, "jobd_schedule_firings_total", "outcome", "skipped",
         m.schedule_skips);
  sample(out, "jobd_schedule_firings_total", "outcome", "missed",
         m.schedule_misses);
  counter(out, "jobd_output_bytes_total",
          "Bytes of output (stdout and stderr) jobs produced since this "
          "jobd started",
          m.output_bytes);
  gauge(out, "jobd_sessions", "Job sessions holding jobs",
        static_cast<uint64_t>(m.sessions.size()));
  gauge(out, "jobd_mcp_sessions", "MCP sessions open over HTTP", http.sessions);
  gauge(out, "jobd_concurrency_limit",
        "Jobs that may run at once (--max-concurrent-jobs)",
        m.concurrency_maximum);
  gauge(out, "jobd_concurrency_current", "Jobs running now",
        m.concurrency_current);
  gauge(out, "jobd_job_duration_seconds_average",
        "Mean run time of finished jobs", m.average_execution_ms / 1000.0);
  gauge(out, "jobd_system_load",
        "One-minute load average divided by the number of CPUs", m.system_load);
  gauge(out, "jobd_store_up",
        "1 when the store keeps the state (ok, or ephemeral by choice), 0 "
        "when degraded or unknown",
        uint64_t{m.persistence == "ok" || m.persistence == "ephemeral"});
  family(out, "jobd_store_info", "gauge",
         "The store's state: ok, degraded or ephemeral (the one present is "
         "1)");
  sample(out, "jobd_store_info", "state", m.persistence, uint64_t{1});
  gauge(out, "jobd_uptime_seconds", "Seconds since this jobd started",
        static_cast<double>(m.uptime_ms) / 1000.0);

  gauge(out, "jobd_http_connections", "TCP connections open on --http",
        http.connections);
  counter(out, "jobd_http_requests_total", "HTTP requests answered",
          http.requests);
  family(out, "jobd_http_rejected_total", "counter",
         "HTTP requests refused and connections closed, by reason");
  sample(out, "jobd_http_rejected_total", "reason", "unauthorized",
         http.unauthorized);
  sample(out, "jobd_http_rejected_total", "reason", "forbidden",
         http.forbidden);
  sample(out, "jobd_http_rejected_total", "reason", "rate_limited",
         http.rate_limited);
  sample(out, "jobd_http_rejected_total", "reason", "too_large",
         http.too_large);
  sample(out, "jobd_http_rejected_total", "reason", "timed_out",
         http.timed_out);
  sample(out, "jobd_http_rejected_total", "reason", "bad_request",
         http.bad_requests);

  if (latency != nullptr)
    latency->render(out);
  return out;
}

std::string render_health(const metrics_snapshot* m, bool scheduler_ok,
                          bool& healthy) {
  healthy = m != nullptr && scheduler_ok;
  rapidjson::StringBuffer sb;
  json_writer w{sb};
  w.StartObject();
  write_key(w, "status");
  write_string(w, healthy ? "ok" : "unavailable");
  write_key(w, "store");
  write_string(w, m != nullptr ? std::string_view{m->persistence} : "unknown");
  if (m != nullptr && !m->persistence_error.empty()) {
    write_key(w, "storeError");
    write_string(w, m->persistence_error);
  }
  write_key(w, "scheduler");
  write_string(w, scheduler_ok ? "ok" : "not answering");
  write_key(w, "metrics");
  write_string(w, m != nullptr ? "ok" : "not answering");
  if (m != nullptr) {
    write_key(w, "uptimeMs");
    w.Int64(m->uptime_ms);
    write_key(w, "runningJobs");
    w.Uint64(m->running_jobs);
    write_key(w, "pendingJobs");
    w.Uint64(m->queue_size);
  }
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

} // namespace jobd::protocol

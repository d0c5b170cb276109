// GET /metrics: the Prometheus text exposition format (0.0.4) checked by a
// strict parser of its own, the figures of a snapshot, label escaping, and
// the latency histograms under concurrent observation; /healthz's body.
#include "protocol/prometheus.hpp"
#include "protocol/render.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace jobd;
using namespace jobd::protocol;

namespace prom_test {

using labels = std::map<std::string, std::string>;

struct series {
  std::string name;
  labels tags;
  double value = 0;
};

struct page {
  /// Family name -> type ("counter", "gauge", "histogram").
  std::map<std::string, std::string> types;
  std::vector<series> samples;
  /// Errors found; empty when the page is valid.
  std::vector<std::string> errors;

  /// The value of `name{tags}`; NaN when absent.
  double get(const std::string& name, const labels& tags = {}) const {
    for (auto& s : samples)
      if (s.name == name && s.tags == tags)
        return s.value;
    return std::nan("");
  }
  bool has(const std::string& name, const labels& tags = {}) const {
    for (auto& s : samples)
      if (s.name == name && s.tags == tags)
        return true;
    return false;
  }
};

const std::regex metric_name{"[a-zA-Z_:][a-zA-Z0-9_:]*"};
const std::regex label_name{"[a-zA-Z_][a-zA-Z0-9_]*"};
// What Go's strconv.ParseFloat reads, as Prometheus writes it.
const std::regex float_value{
  R"([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]Inf|NaN)"};

double to_double(const std::string& v) {
  if (v == "+Inf")
    return HUGE_VAL;
  if (v == "-Inf")
    return -HUGE_VAL;
  if (v == "NaN")
    return std::nan("");
  return std::strtod(v.c_str(), nullptr);
}

// Labels `{a="x",b="y"}` from `text` at `pos` (just after '{'); unescapes
// the values. False (with `why`) if anything is off.
bool parse_labels(const std::string& text, size_t& pos, labels& out,
                  std::string& why) {
  if (pos < text.size() && text[pos] == '}') {
    ++pos;
    return true;
  }
  for (;;) {
    auto eq = text.find('=', pos);
    if (eq == std::string::npos) {
      why = "label without '='";
      return false;
    }
    auto name = text.substr(pos, eq - pos);
    if (!std::regex_match(name, label_name) || name.rfind("__", 0) == 0) {
      why = "bad label name '" + name + "'";
      return false;
    }
    pos = eq + 1;
    if (pos >= text.size() || text[pos] != '"') {
      why = "label value not quoted";
      return false;
    }
    ++pos;
    std::string value;
    for (;;) {
      if (pos >= text.size()) {
        why = "unterminated label value";
        return false;
      }
      char c = text[pos++];
      if (c == '"')
        break;
      if (c == '\n') {
        why = "raw line feed in a label value";
        return false;
      }
      if (c == '\\') {
        if (pos >= text.size()) {
          why = "dangling backslash";
          return false;
        }
        char e = text[pos++];
        if (e == 'n')
          value += '\n';
        else if (e == '\\' || e == '"')
          value += e;
        else {
          why = std::string{"bad escape \\"} + e;
          return false;
        }
        continue;
      }
      value += c;
    }
    if (!out.emplace(name, value).second) {
      why = "label '" + name + "' twice";
      return false;
    }
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      if (pos < text.size() && text[pos] == '}') { // a trailing comma is ok
        ++pos;
        return true;
      }
      continue;
    }
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    why = "expected ',' or '}' after a label";
    return false;
  }
}

// The family a sample belongs to, given the families declared.
std::string family_of(const std::string& sample, const page& p) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s{suffix};
    if (sample.size() > s.size()
        && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      auto base = sample.substr(0, sample.size() - s.size());
      auto t = p.types.find(base);
      if (t != p.types.end() && t->second == "histogram")
        return base;
    }
  }
  return sample;
}

// The strict checker: every line a HELP, a TYPE or a sample; each family
// declared once with HELP then TYPE before its samples, which follow
// together; counters end in _total; no series twice; histograms'
// buckets cumulative, ordered, ending in +Inf equal to _count.
page parse_page(const std::string& text) {
  page p;
  auto fail = [&](size_t line, const std::string& why) {
    p.errors.push_back("line " + std::to_string(line) + ": " + why);
  };
  if (text.empty() || text.back() != '\n')
    fail(0, "the page does not end with a line feed");
  std::set<std::string> helped, finished_families, seen_series;
  std::string current; // the family whose samples come now
  std::istringstream in{text};
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) {
      fail(n, "empty line");
      continue;
    }
    if (line[0] == '#') {
      std::smatch m;
      static const std::regex help{"# HELP ([^ ]+) (.*)"};
      static const std::regex type{"# TYPE ([^ ]+) ([a-z]+)"};
      if (std::regex_match(line, m, help)) {
        auto name = m[1].str();
        if (!std::regex_match(name, metric_name))
          fail(n, "bad family name " + name);
        if (!helped.insert(name).second)
          fail(n, "second HELP of " + name);
        if (p.types.count(name) != 0)
          fail(n, "HELP after TYPE for " + name);
        if (!current.empty() && current != name)
          finished_families.insert(current);
        if (finished_families.count(name) != 0)
          fail(n, "family " + name + " again");
        current = name;
        auto h = m[2].str();
        for (size_t i = 0; i < h.size(); ++i)
          if (h[i] == '\\'
              && (i + 1 == h.size() || (h[i + 1] != '\\' && h[i + 1] != 'n')))
            fail(n, "bad escape in HELP");
      } else if (std::regex_match(line, m, type)) {
        auto name = m[1].str();
        auto t = m[2].str();
        if (t != "counter" && t != "gauge" && t != "histogram" && t != "summary"
            && t != "untyped")
          fail(n, "bad type " + t);
        if (helped.count(name) == 0 || current != name)
          fail(n, "TYPE of " + name + " without its HELP just before");
        if (!p.types.emplace(name, t).second)
          fail(n, "second TYPE of " + name);
        if (t == "counter"
            && (name.size() < 6 || name.compare(name.size() - 6, 6, "_total")))
          fail(n, "counter " + name + " does not end in _total");
      } else {
        fail(n, "comment that is neither HELP nor TYPE: " + line);
      }
      continue;
    }
    // A sample: name, optional labels, one space, the value (no timestamp).
    size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ')
      ++pos;
    series s;
    s.name = line.substr(0, pos);
    if (!std::regex_match(s.name, metric_name)) {
      fail(n, "bad sample name '" + s.name + "'");
      continue;
    }
    std::string why;
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      if (!parse_labels(line, pos, s.tags, why)) {
        fail(n, why);
        continue;
      }
    }
    if (pos >= line.size() || line[pos] != ' ') {
      fail(n, "no single space before the value");
      continue;
    }
    auto value = line.substr(pos + 1);
    if (!std::regex_match(value, float_value)) {
      fail(n, "bad value '" + value + "'");
      continue;
    }
    s.value = to_double(value);
    auto fam = family_of(s.name, p);
    auto t = p.types.find(fam);
    if (t == p.types.end() || helped.count(fam) == 0)
      fail(n, "sample of " + fam + " before its HELP and TYPE");
    else if (fam != current)
      fail(n, "sample of " + fam + " outside its family's lines");
    else if (t->second != "histogram" && s.name != fam)
      fail(n, "sample name " + s.name + " of family " + fam);
    if (t != p.types.end() && t->second == "histogram"
        && (s.name == fam + "_bucket") != (s.tags.count("le") != 0))
      fail(n, "le on a histogram line that is not a bucket, or missing");
    std::string key = s.name;
    for (auto& [k, v] : s.tags)
      key += "|" + k + "=" + v;
    if (!seen_series.insert(key).second)
      fail(n, "series twice: " + key);
    p.samples.push_back(std::move(s));
  }
  // Histograms: per series (labels but le), buckets in order, cumulative,
  // the last +Inf, equal to _count; a _sum and a _count each.
  for (auto& [fam, t] : p.types) {
    if (t != "histogram")
      continue;
    std::map<labels, std::vector<std::pair<double, double>>> buckets;
    std::map<labels, double> counts;
    std::set<labels> sums;
    for (auto& s : p.samples) {
      auto tags = s.tags;
      if (s.name == fam + "_bucket") {
        auto le = to_double(tags.at("le"));
        tags.erase("le");
        buckets[tags].emplace_back(le, s.value);
      } else if (s.name == fam + "_count") {
        counts[tags] = s.value;
      } else if (s.name == fam + "_sum") {
        sums.insert(tags);
      }
    }
    for (auto& [tags, bs] : buckets) {
      std::string who = fam + " " + std::to_string(tags.size()) + " labels";
      for (size_t i = 1; i < bs.size(); ++i) {
        if (!(bs[i].first > bs[i - 1].first))
          fail(0, who + ": buckets out of order");
        if (bs[i].second < bs[i - 1].second)
          fail(0, who + ": buckets not cumulative");
      }
      if (bs.empty() || !std::isinf(bs.back().first))
        fail(0, who + ": no +Inf bucket last");
      else if (counts.count(tags) == 0 || counts[tags] != bs.back().second)
        fail(0, who + ": +Inf bucket is not _count");
      if (sums.count(tags) == 0)
        fail(0, who + ": no _sum");
    }
    for (auto& [tags, c] : counts)
      if (buckets.count(tags) == 0)
        fail(0, fam + ": a _count without buckets");
  }
  return p;
}

metrics_snapshot sample_snapshot() {
  metrics_snapshot m;
  m.total_jobs = 120;
  m.running_jobs = 3;
  m.completed_jobs = 100;
  m.failed_jobs = 7;
  m.cancelled_jobs = 5;
  m.queue_size = 5;
  m.concurrency_current = 3;
  m.concurrency_maximum = 8;
  m.average_execution_ms = 1500;
  m.system_load = 0.25;
  m.uptime_ms = 120500;
  m.retained_jobs = 40;
  m.sessions.resize(4);
  m.persistence = "ok";
  m.retries = 2;
  m.dependency_failures = 1;
  m.schedule_firings = 9;
  m.schedule_skips = 4;
  m.schedule_misses = 6;
  m.started_jobs = 105;
  m.output_bytes = uint64_t{1} << 40;
  m.kinds.push_back({"slurm", 2, 1, 4, 1, 0});
  return m;
}

http_stats sample_http() {
  http_stats h;
  h.enabled = true;
  h.sessions = 2;
  h.connections = 3;
  h.requests = 1000;
  h.unauthorized = 11;
  h.forbidden = 12;
  h.rate_limited = 13;
  h.too_large = 14;
  h.timed_out = 15;
  h.bad_requests = 16;
  return h;
}

std::string errors_of(const page& p) {
  std::string all;
  for (auto& e : p.errors)
    all += e + "\n";
  return all;
}

TEST(prometheus, the_checker_refuses_what_prometheus_would) {
  EXPECT_TRUE(parse_page("# HELP a_total x\n# TYPE a_total counter\n"
                         "a_total 1\n")
                .errors.empty());
  for (const char* bad : {
         "a 1\n",                                              // no HELP/TYPE
         "# HELP a x\n# TYPE a gauge\na 1",                    // no final \n
         "# HELP a x\n# TYPE a counter\na 1\n",                // _total
         "# HELP a x\n# TYPE a gauge\na 1,5\n",                // locale
         "# HELP a x\n# TYPE a gauge\na inf\n",                // not +Inf
         "# HELP a x\n# TYPE a gauge\na{b=\"c} 1\n",           // unterminated
         "# HELP a x\n# TYPE a gauge\na{b=\"\\t\"} 1\n",       // bad escape
         "# HELP a x\n# TYPE a gauge\na 1\na 2\n",             // series twice
         "# HELP a x\n# TYPE a gauge\n# HELP a x\n",           // family twice
         "# TYPE a gauge\n# HELP a x\na 1\n",                  // TYPE first
         "# HELP a x\n# TYPE a gauge\na  1\n",                 // two spaces
         "# HELP a x\n# TYPE a gauge\na{b=\"1\",b=\"2\"} 1\n", // label twice
         "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
         "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // not cumulative
         "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
         "h_sum 1\nh_count 1\n", // no +Inf
         "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n"
         "h_sum 1\nh_count 1\n", // +Inf is not _count
       })
    EXPECT_FALSE(parse_page(bad).errors.empty()) << bad;
}

TEST(prometheus, the_page_is_valid_exposition_format_with_the_figures) {
  latency_histograms latency{{"console_execute_async", "console_list_jobs"}};
  latency.observe("console_execute_async", 0.004);
  latency.observe("console_execute_async", 2);
  latency.observe("no_such_tool", 0.0001);
  auto text = render_prometheus(sample_snapshot(), sample_http(), &latency);
  auto p = parse_page(text);
  ASSERT_TRUE(p.errors.empty()) << errors_of(p) << text;

  EXPECT_EQ(p.types.at("jobd_jobs"), "gauge");
  EXPECT_EQ(p.get("jobd_jobs", {{"state", "pending"}}), 5);
  EXPECT_EQ(p.get("jobd_jobs", {{"state", "running"}}), 3);
  EXPECT_EQ(p.types.at("jobd_kind_jobs"), "gauge");
  EXPECT_EQ(p.get("jobd_kind_jobs", {{"kind", "slurm"}, {"state", "pending"}}),
            2);
  EXPECT_EQ(p.get("jobd_kind_jobs", {{"kind", "slurm"}, {"state", "running"}}),
            1);
  EXPECT_EQ(p.get("jobd_queue_length"), 5);
  EXPECT_EQ(p.get("jobd_jobs_retained"), 40);
  EXPECT_EQ(p.types.at("jobd_jobs_created_total"), "counter");
  EXPECT_EQ(p.get("jobd_jobs_created_total"), 120);
  EXPECT_EQ(p.get("jobd_jobs_started_total"), 105);
  EXPECT_EQ(p.get("jobd_jobs_finished_total", {{"status", "completed"}}), 100);
  EXPECT_EQ(p.get("jobd_jobs_finished_total", {{"status", "failed"}}), 7);
  EXPECT_EQ(p.get("jobd_jobs_finished_total", {{"status", "cancelled"}}), 5);
  EXPECT_EQ(p.get("jobd_job_retries_total"), 2);
  EXPECT_EQ(p.get("jobd_dependency_failures_total"), 1);
  EXPECT_EQ(p.get("jobd_schedule_firings_total", {{"outcome", "submitted"}}),
            9);
  EXPECT_EQ(p.get("jobd_schedule_firings_total", {{"outcome", "skipped"}}), 4);
  EXPECT_EQ(p.get("jobd_schedule_firings_total", {{"outcome", "missed"}}), 6);
  EXPECT_EQ(p.get("jobd_output_bytes_total"), std::ldexp(1.0, 40));
  EXPECT_NE(text.find("\njobd_output_bytes_total 1099511627776\n"),
            std::string::npos);
  EXPECT_EQ(p.get("jobd_sessions"), 4);
  EXPECT_EQ(p.get("jobd_mcp_sessions"), 2);
  EXPECT_EQ(p.get("jobd_concurrency_limit"), 8);
  EXPECT_EQ(p.get("jobd_concurrency_current"), 3);
  EXPECT_EQ(p.get("jobd_job_duration_seconds_average"), 1.5);
  EXPECT_EQ(p.get("jobd_system_load"), 0.25);
  EXPECT_EQ(p.get("jobd_store_up"), 1);
  EXPECT_EQ(p.get("jobd_store_info", {{"state", "ok"}}), 1);
  EXPECT_EQ(p.get("jobd_uptime_seconds"), 120.5);
  EXPECT_EQ(p.get("jobd_http_connections"), 3);
  EXPECT_EQ(p.get("jobd_http_requests_total"), 1000);
  EXPECT_EQ(p.get("jobd_http_rejected_total", {{"reason", "unauthorized"}}),
            11);
  EXPECT_EQ(p.get("jobd_http_rejected_total", {{"reason", "forbidden"}}), 12);
  EXPECT_EQ(p.get("jobd_http_rejected_total", {{"reason", "rate_limited"}}),
            13);
  EXPECT_EQ(p.get("jobd_http_rejected_total", {{"reason", "too_large"}}), 14);
  EXPECT_EQ(p.get("jobd_http_rejected_total", {{"reason", "timed_out"}}), 15);
  EXPECT_EQ(p.get("jobd_http_rejected_total", {{"reason", "bad_request"}}), 16);

  EXPECT_EQ(p.types.at("jobd_tool_call_seconds"), "histogram");
  const labels exec{{"tool", "console_execute_async"}};
  EXPECT_EQ(p.get("jobd_tool_call_seconds_count", exec), 2);
  EXPECT_DOUBLE_EQ(p.get("jobd_tool_call_seconds_sum", exec), 2.004);
  auto bucket = [&](const std::string& tool, const std::string& le) {
    return p.get("jobd_tool_call_seconds_bucket", {{"tool", tool}, {"le", le}});
  };
  EXPECT_EQ(bucket("console_execute_async", "0.0025"), 0);
  EXPECT_EQ(bucket("console_execute_async", "0.005"), 1);
  EXPECT_EQ(bucket("console_execute_async", "1"), 1);
  EXPECT_EQ(bucket("console_execute_async", "5"), 2);
  EXPECT_EQ(bucket("console_execute_async", "+Inf"), 2);
  // A tool of the catalog that was never called: zeros, all 13 buckets.
  EXPECT_EQ(bucket("console_list_jobs", "+Inf"), 0);
  EXPECT_EQ(bucket("console_list_jobs", "30"), 0);
  // A name outside the catalog counts under "other".
  EXPECT_EQ(bucket("other", "0.001"), 1);
  EXPECT_FALSE(
    p.has("jobd_tool_call_seconds_count", {{"tool", "no_such_tool"}}));
  size_t bucket_lines = 0;
  for (auto& s : p.samples)
    bucket_lines += s.name == "jobd_tool_call_seconds_bucket";
  EXPECT_EQ(bucket_lines, 3 * 13u); // two tools and "other"
}

TEST(prometheus, every_family_has_its_help_and_type_once) {
  latency_histograms latency{{"a"}};
  auto text = render_prometheus(sample_snapshot(), sample_http(), &latency);
  for (const char* family :
       {"jobd_jobs", "jobd_queue_length", "jobd_jobs_created_total",
        "jobd_jobs_started_total", "jobd_jobs_finished_total",
        "jobd_output_bytes_total", "jobd_sessions", "jobd_mcp_sessions",
        "jobd_store_up", "jobd_store_info", "jobd_concurrency_limit",
        "jobd_uptime_seconds", "jobd_http_requests_total",
        "jobd_http_rejected_total", "jobd_tool_call_seconds"}) {
    std::string help = std::string{"# HELP "} + family + " ";
    std::string type = std::string{"# TYPE "} + family + " ";
    auto h = text.find(help);
    ASSERT_NE(h, std::string::npos) << family;
    EXPECT_EQ(text.find(help, h + 1), std::string::npos) << family;
    auto t = text.find(type);
    ASSERT_NE(t, std::string::npos) << family;
    EXPECT_LT(h, t) << family;
  }
}

TEST(prometheus, without_latency_there_is_no_histogram) {
  auto text = render_prometheus(metrics_snapshot{}, http_stats{}, nullptr);
  auto p = parse_page(text);
  ASSERT_TRUE(p.errors.empty()) << errors_of(p) << text;
  EXPECT_EQ(text.find("jobd_tool_call_seconds"), std::string::npos);
  // A default snapshot: ephemeral, which is not degraded.
  EXPECT_EQ(p.get("jobd_store_up"), 1);
  EXPECT_EQ(p.get("jobd_store_info", {{"state", "ephemeral"}}), 1);
  EXPECT_EQ(p.get("jobd_mcp_sessions"), 0);
}

TEST(prometheus, a_degraded_store_is_down) {
  auto m = sample_snapshot();
  m.persistence = "degraded";
  m.persistence_error = "disk full";
  auto p = parse_page(render_prometheus(m, http_stats{}, nullptr));
  ASSERT_TRUE(p.errors.empty()) << errors_of(p);
  EXPECT_EQ(p.get("jobd_store_up"), 0);
  EXPECT_EQ(p.get("jobd_store_info", {{"state", "degraded"}}), 1);
  EXPECT_FALSE(p.has("jobd_store_info", {{"state", "ok"}}));
  // METRICS did not answer (app/ renders what it has): not up either.
  m.persistence = "unknown";
  p = parse_page(render_prometheus(m, http_stats{}, nullptr));
  EXPECT_EQ(p.get("jobd_store_up"), 0);
}

TEST(prometheus, label_values_are_escaped) {
  const std::string weird = "a\\b\"c\nd";
  latency_histograms latency{{weird, "plain"}};
  latency.observe(weird, 0.01);
  auto m = sample_snapshot();
  m.persistence = weird;
  auto text = render_prometheus(m, http_stats{}, &latency);
  auto p = parse_page(text);
  ASSERT_TRUE(p.errors.empty()) << errors_of(p) << text;
  EXPECT_NE(text.find(R"(tool="a\\b\"c\nd")"), std::string::npos) << text;
  EXPECT_EQ(p.get("jobd_store_info", {{"state", weird}}), 1);
  EXPECT_EQ(p.get("jobd_tool_call_seconds_count", {{"tool", weird}}), 1);
  EXPECT_EQ(
    p.get("jobd_tool_call_seconds_bucket", {{"tool", weird}, {"le", "0.01"}}),
    1);
}

TEST(prometheus, floats_parse_whatever_their_value) {
  auto m = sample_snapshot();
  m.system_load = std::nan("");
  m.average_execution_ms = HUGE_VAL;
  m.uptime_ms = 1;
  auto text = render_prometheus(m, http_stats{}, nullptr);
  auto p = parse_page(text);
  ASSERT_TRUE(p.errors.empty()) << errors_of(p) << text;
  EXPECT_NE(text.find("\njobd_system_load NaN\n"), std::string::npos);
  EXPECT_NE(text.find("\njobd_job_duration_seconds_average +Inf\n"),
            std::string::npos);
  EXPECT_EQ(p.get("jobd_uptime_seconds"), 0.001);
}

TEST(prometheus, observations_land_in_the_bucket_of_their_upper_bound) {
  latency_histograms latency{{"t"}};
  for (double b : latency_histograms::bounds)
    latency.observe("t", b); // exactly on each bound: le is "<="
  latency.observe("t", 31);
  latency.observe("t", -1);           // counted as 0
  latency.observe("t", std::nan("")); // counted as 0
  std::string text;
  latency.render(text);
  auto p = parse_page(text);
  ASSERT_TRUE(p.errors.empty()) << errors_of(p) << text;
  const auto& bounds = latency_histograms::bounds;
  for (size_t i = 0; i < bounds.size(); ++i) {
    std::ostringstream le;
    le << bounds[i];
    EXPECT_EQ(
      p.get("jobd_tool_call_seconds_bucket", {{"tool", "t"}, {"le", le.str()}}),
      static_cast<double>(i + 3))
      << le.str();
  }
  EXPECT_EQ(
    p.get("jobd_tool_call_seconds_bucket", {{"tool", "t"}, {"le", "+Inf"}}),
    static_cast<double>(bounds.size() + 3));
  double sum = 31;
  for (double b : bounds)
    sum += b;
  EXPECT_NEAR(p.get("jobd_tool_call_seconds_sum", {{"tool", "t"}}), sum, 1e-9);
  // Nothing else was seen: "other" is all zeros, duplicates count once.
  EXPECT_EQ(p.get("jobd_tool_call_seconds_count", {{"tool", "other"}}), 0);
  latency_histograms twice{{"x", "x", "other"}};
  twice.observe("y", 1);
  std::string t2;
  twice.render(t2);
  auto p2 = parse_page(t2);
  ASSERT_TRUE(p2.errors.empty()) << errors_of(p2) << t2;
  EXPECT_EQ(p2.get("jobd_tool_call_seconds_count", {{"tool", "other"}}), 1);
  EXPECT_EQ(p2.get("jobd_tool_call_seconds_count", {{"tool", "x"}}), 0);
}

TEST(prometheus, concurrent_observations_sum_exactly) {
  const std::vector<std::string> tools{"alpha", "beta", "gamma"};
  latency_histograms latency{tools};
  constexpr int threads = 4;
  constexpr int per_thread = 50000;
  std::atomic<bool> done{false};
  std::atomic<int> bad_pages{0};
  // Rendering meanwhile: every page valid (+Inf equals _count).
  std::thread reader{[&] {
    while (!done.load()) {
      std::string text;
      latency.render(text);
      if (!parse_page(text).errors.empty())
        ++bad_pages;
    }
  }};
  const std::string unknown = "unknown";
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        // 1, 2 or 3 ms: whole nanoseconds, so the sum is exact.
        const auto& tool = i % 4 == 3 ? unknown : tools[i % 3];
        latency.observe(tool, 0.001 * (1 + (i + t) % 3));
      }
    });
  for (auto& w : writers)
    w.join();
  done = true;
  reader.join();
  EXPECT_EQ(bad_pages.load(), 0);

  // What each tool should have: replay the same sequence.
  std::map<std::string, uint64_t> count, sum_us;
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; ++i) {
      auto tool = i % 4 == 3 ? std::string{"other"} : tools[i % 3];
      ++count[tool];
      sum_us[tool] += 1000 * static_cast<uint64_t>(1 + (i + t) % 3);
    }
  std::string text;
  latency.render(text);
  auto p = parse_page(text);
  ASSERT_TRUE(p.errors.empty()) << errors_of(p);
  uint64_t total = 0;
  for (auto& [tool, c] : count) {
    EXPECT_EQ(p.get("jobd_tool_call_seconds_count", {{"tool", tool}}),
              static_cast<double>(c))
      << tool;
    EXPECT_EQ(p.get("jobd_tool_call_seconds_sum", {{"tool", tool}}),
              static_cast<double>(sum_us[tool]) / 1e6)
      << tool;
    total += c;
  }
  EXPECT_EQ(total, uint64_t{threads} * per_thread);
}

TEST(prometheus, health_needs_both_answers) {
  bool healthy = false;
  auto m = sample_snapshot();
  rapidjson::Document d;
  auto body = render_health(&m, true, healthy);
  EXPECT_TRUE(healthy);
  d.Parse(body.c_str());
  ASSERT_FALSE(d.HasParseError()) << body;
  EXPECT_STREQ(d["status"].GetString(), "ok");
  EXPECT_STREQ(d["store"].GetString(), "ok");
  EXPECT_EQ(d["runningJobs"].GetUint64(), 3u);

  m.persistence = "degraded";
  m.persistence_error = "disk full";
  body = render_health(&m, true, healthy);
  EXPECT_TRUE(healthy); // a degraded store still serves
  d.Parse(body.c_str());
  EXPECT_STREQ(d["store"].GetString(), "degraded");
  EXPECT_STREQ(d["storeError"].GetString(), "disk full");

  body = render_health(&m, false, healthy);
  EXPECT_FALSE(healthy);
  d.Parse(body.c_str());
  EXPECT_STREQ(d["status"].GetString(), "unavailable");
  EXPECT_STREQ(d["scheduler"].GetString(), "not answering");

  body = render_health(nullptr, true, healthy);
  EXPECT_FALSE(healthy);
  d.Parse(body.c_str());
  ASSERT_FALSE(d.HasParseError()) << body;
  EXPECT_STREQ(d["store"].GetString(), "unknown");
  EXPECT_STREQ(d["metrics"].GetString(), "not answering");
}

TEST(prometheus, console_get_job_metrics_shows_the_new_counters) {
  auto m = sample_snapshot();
  rapidjson::Document d;
  auto json = structured_json(tool_result{m});
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  EXPECT_EQ(d["metrics"]["startedJobs"].GetUint64(), 105u);
  EXPECT_EQ(d["metrics"]["outputBytes"].GetUint64(), uint64_t{1} << 40);
}

} // namespace prom_test

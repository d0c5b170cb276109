// 50 HTTP clients at once against one jobd (issue 14): each its own
// principal and its own MCP session, 100 jobs each (run-and-wait, three
// in flight per client), --max-concurrent-jobs 10 and
// --max-concurrent-jobs-per-session 2. Every client gets exactly its 100 jobs,
// completed, with its own output; never sees another client's job in a list
// or a notification (each holds a GET stream with logging at info); the
// global limit holds (/metrics polled, and the jobs' start and end times) and
// so does the per-session one. Bounded: the whole run must end within 100 s.
#include "http_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace http_load_t {

using namespace jobd_it;

constexpr int kClients = 50;
constexpr int kJobs = 100;
constexpr int kInFlight = 3;
constexpr int kGlobal = 10;
constexpr int kPerSession = 2;
// A bound against a hang, not a speed target (jobd_http_load measures
// speed): about 15 s here, a few times that under ASan.
constexpr int64_t kBudgetMs = 100000;

struct job_seen {
  std::string id;
  int64_t started = -1;
  int64_t finished = -1;
};

struct client_state {
  std::string principal;
  std::unique_ptr<mcp_http> mcp;
  std::mutex mtx;
  std::vector<job_seen> jobs;
  std::vector<std::string> errors;
  std::string stream_text; // every SSE data of its GET stream
  std::atomic<bool> stream_ok{false};
};

/// Job ids ("job-...") mentioned in `text`.
std::set<std::string> job_ids_in(const std::string& text) {
  std::set<std::string> out;
  size_t pos = 0;
  while ((pos = text.find("job-", pos)) != std::string::npos) {
    size_t end = pos + 4;
    while (end < text.size()
           && (std::isalnum(static_cast<unsigned char>(text[end]))
               || text[end] == '-' || text[end] == '_'))
      ++end;
    out.insert(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

/// At no instant more than `limit` of the intervals overlap (an end at the
/// same millisecond as a start counts first). Returns the peak.
int peak_overlap(const std::vector<job_seen>& jobs) {
  std::vector<std::pair<int64_t, int>> edges;
  for (auto& j : jobs) {
    edges.emplace_back(j.started, 1);
    edges.emplace_back(j.finished, -1);
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, peak = 0;
  for (auto& e : edges)
    peak = std::max(peak, now += e.second);
  return peak;
}

TEST(HttpLoad, FiftyClientsHundredJobsEach) {
  http_jobd_options o;
  o.tokens.clear();
  for (int i = 0; i < kClients; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "c%02d", i);
    o.tokens.emplace_back(name, std::string(name) + "-token-0123456789abcdef");
  }
  o.tokens.emplace_back("watcher", "watcher-token-0123456789abcdef");
  o.args = {"--max-concurrent-jobs",
            std::to_string(kGlobal),
            "--max-concurrent-jobs-per-session",
            std::to_string(kPerSession),
            "--http-rate-limit",
            "0",
            "--admin",
            "watcher",
            "--max-wait-ms",
            "60000"};
  http_jobd j(o);
  ASSERT_TRUE(j.ready());
  int64_t t0 = now_ms();
  std::atomic<bool> stop{false};

  std::vector<std::unique_ptr<client_state>> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = std::make_unique<client_state>();
    c->principal = o.tokens[static_cast<size_t>(i)].first;
    c->mcp = std::make_unique<mcp_http>(j.port(), j.token(c->principal));
    clients.push_back(std::move(c));
  }

  // The global limit, as /metrics shows it.
  std::atomic<int> max_running{0};
  std::atomic<int> scrapes{0};
  std::thread poller([&] {
    while (!stop) {
      double v = j.metric("jobd_jobs{state=\"running\"}", "watcher");
      if (v >= 0) {
        ++scrapes;
        int n = static_cast<int>(v);
        int m = max_running.load();
        while (n > m && !max_running.compare_exchange_weak(m, n)) {
        }
      }
      sleep_ms(25);
    }
  });

  std::vector<std::thread> streams;
  std::vector<std::thread> workers;
  for (auto& cp : clients) {
    client_state* c = cp.get();
    if (!c->mcp->initialize()) {
      stop = true;
      break;
    }
    auto lvl = c->mcp->request("logging/setLevel", "{\"level\":\"info\"}");
    EXPECT_TRUE(lvl && has(*lvl, "result"));
    // Its GET stream: every notification not tied to a request.
    streams.emplace_back([c, &stop, port = j.port()] {
      http_conn g(port);
      auto h = c->mcp->headers();
      h.push_back("Accept: text/event-stream");
      http_response r;
      if (!g.send_all(http_request("GET", "/mcp", h)) || !g.read_head(r, 5000)
          || r.status != 200) {
        std::lock_guard<std::mutex> guard(c->mtx);
        c->errors.push_back("GET stream: HTTP " + std::to_string(r.status));
        return;
      }
      c->stream_ok = true;
      while (!stop) {
        if (g.read_body(r, 200, [](const std::string&) { return false; }))
          break;
      }
      std::lock_guard<std::mutex> guard(c->mtx);
      c->stream_text = r.body;
    });
  }
  ASSERT_FALSE(stop) << "a client could not initialize";

  std::vector<std::unique_ptr<std::atomic<int>>> counters;
  for (auto& cp : clients) {
    client_state* c = cp.get();
    counters.push_back(std::make_unique<std::atomic<int>>(0));
    std::atomic<int>* next = counters.back().get();
    for (int w = 0; w < kInFlight; ++w) {
      workers.emplace_back([c, next, w, &t0] {
        (void) w;
        for (;;) {
          int n = (*next)++;
          if (n >= kJobs)
            break;
          if (now_ms() - t0 > kBudgetMs) {
            std::lock_guard<std::mutex> guard(c->mtx);
            c->errors.push_back("out of time");
            break;
          }
          std::string want = c->principal + "-" + std::to_string(n);
          auto r = c->mcp->tool(
            "console_execute_async",
            "{\"command\":\"echo\",\"args\":[" + q(want)
              + "],\"options\":{\"sessionId\":\"load\",\"waitMs\":50000}}",
            55000);
          std::lock_guard<std::mutex> guard(c->mtx);
          if (!r.ok()) {
            c->errors.push_back("job " + want + ": " + r.dump());
            continue;
          }
          auto tail = at(*r, "output.tail");
          auto started = at(*r, "job.startedAt");
          auto finished = at(*r, "job.finishedAt");
          bool fin = has(*r, "finished") && at(*r, "finished")->IsBool()
                     && at(*r, "finished")->GetBool();
          if (!fin || !tail || !tail->IsString()
              || std::string(tail->GetString()) != want + "\n" || !started
              || !started->IsString() || !finished || !finished->IsString()) {
            c->errors.push_back("job " + want + ": " + r.dump().substr(0, 800));
            continue;
          }
          job_seen s;
          s.id = at(*r, "jobId")->GetString();
          s.started = parse_iso_ms(started->GetString());
          s.finished = parse_iso_ms(finished->GetString());
          c->jobs.push_back(s);
        }
      });
    }
  }
  for (auto& w : workers)
    w.join();
  int64_t took = now_ms() - t0;
  sleep_ms(300); // the last lifecycle log messages
  stop = true;
  poller.join();
  for (auto& s : streams)
    s.join();

  std::map<std::string, std::string> owner; // job id -> principal
  std::vector<job_seen> everything;
  for (auto& c : clients)
    for (auto& s : c->jobs) {
      owner[s.id] = c->principal;
      everything.push_back(s);
    }
  int failed_clients = 0;
  for (auto& c : clients) {
    SCOPED_TRACE(c->principal);
    if (!c->errors.empty() && ++failed_clients <= 3)
      ADD_FAILURE() << c->errors.size() << " errors, first: " << c->errors[0];
    EXPECT_EQ(c->jobs.size(), static_cast<size_t>(kJobs));
    EXPECT_LE(peak_overlap(c->jobs), kPerSession) << "per-session limit";
    // Its list: exactly its own jobs.
    auto l = c->mcp->tool("console_list_jobs", "{\"options\":{\"limit\":1000}}",
                          20000);
    ASSERT_TRUE(l.ok()) << l.dump().substr(0, 500);
    EXPECT_EQ(num(*l, "total"), kJobs);
    std::set<std::string> listed;
    for (auto& jv : at(*l, "jobs")->GetArray()) {
      listed.insert(str(jv, "id"));
      EXPECT_EQ(str(jv, "sessionId"), c->principal + "/load");
      EXPECT_EQ(str(jv, "status"), "completed");
    }
    std::set<std::string> mine;
    for (auto& s : c->jobs)
      mine.insert(s.id);
    EXPECT_EQ(listed, mine);
    // Notifications: only its own jobs, and some about them.
    EXPECT_TRUE(c->stream_ok);
    size_t own = 0;
    for (auto& id : job_ids_in(c->stream_text)) {
      auto it = owner.find(id);
      if (it == owner.end())
        continue;
      if (it->second != c->principal)
        ADD_FAILURE() << "a notification about " << it->second << "'s " << id;
      else
        ++own;
    }
    EXPECT_GT(own, 0u) << "no notification about its own jobs on its GET "
                          "stream";
  }
  EXPECT_EQ(everything.size(), static_cast<size_t>(kClients * kJobs));
  EXPECT_GT(scrapes.load(), 0) << "/metrics never answered";
  EXPECT_LE(max_running.load(), kGlobal) << "/metrics: global limit";
  EXPECT_LE(peak_overlap(everything), kGlobal) << "by start and end times";
  std::printf("http_load: %d clients x %d jobs in %lld ms; max running %d "
              "(/metrics, %d scrapes), %d (by times)\n",
              kClients, kJobs, static_cast<long long>(took), max_running.load(),
              scrapes.load(), peak_overlap(everything));
}

} // namespace http_load_t

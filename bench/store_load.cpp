// jobd_store_load: the store at scale (issue 10). Fills a fresh state
// directory with N finished jobs straight through jobd::job_store (big
// transactions, as many rows as a long-lived jobd collects), then starts the
// real jobd on it over pipes and prints one table: start-up, memory, list
// pages, status of old jobs, metrics, a cleanup and the file size. Prints
// figures; never asserts them.
//
//   jobd_store_load [--jobd PATH] [--jobs N=1000000] [--keep] [--store-only]
//
// --keep leaves the state directory behind (its path goes to stderr);
// --store-only stops after the in-process figures (no jobd binary needed).
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <poll.h>
#include <random>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern "C" {
extern char** environ;
}

#ifndef JOBD_DEFAULT_BINARY
#define JOBD_DEFAULT_BINARY "jobd"
#endif

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t)
    .count();
}

// The state directory to remove when the run gives up (unless --keep).
std::string doomed_dir;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "jobd_store_load: %s\n", what.c_str());
  if (!doomed_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(doomed_dir, ec);
  }
  std::exit(1); // a running jobd sees its stdin close and exits
}

void progress(const std::string& what) {
  std::fprintf(stderr, "jobd_store_load: %s\n", what.c_str());
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto rank = p / 100.0 * static_cast<double>(v.size() - 1);
  auto lo = static_cast<size_t>(rank);
  auto hi = std::min(lo + 1, v.size() - 1);
  auto frac = rank - static_cast<double>(lo);
  return v[lo] * (1 - frac) + v[hi] * frac;
}

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

long proc_status_kb(pid_t pid, const char* field) {
  auto path = "/proc/" + std::to_string(pid) + "/status";
  auto f = std::fopen(path.c_str(), "r");
  if (f == nullptr)
    return -1;
  char line[256];
  long value = -1;
  auto len = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      value = std::strtol(line + len + 1, nullptr, 10);
      break;
    }
  std::fclose(f);
  return value;
}

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// -- filling the store --------------------------------------------------------

constexpr int sessions = 100;
// Finish times spread over 10 h before now: inside jobd's default retention
// (24 h), so its sweeper removes nothing while the benchmark runs.
constexpr int64_t span_ms = 10LL * 3600 * 1000;

struct filled {
  std::vector<std::string> old_ids; // every 1000th job of the older half
  double seconds = 0;
  int64_t oldest_finished = 0;
};

filled fill(const std::string& dir, uint64_t n) {
  using namespace jobd;
  filled out;
  auto start = clock_type::now();
  store_options opts;
  opts.state_dir = dir;
  job_store db{opts};
  auto first = db.reserve_serials(n);
  std::mt19937_64 rng{42};
  static const char* commands[] = {"make", "pytest", "npm", "cargo", "/bin/sh"};
  static const char* teams[] = {"\"build\"", "\"ml\"", "\"web\"", "\"infra\""};
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto now = now_ms();
  out.oldest_finished = now - span_ms;
  constexpr uint64_t per_tx = 20000;
  for (uint64_t i = 0; i < n; ++i) {
    if (i % per_tx == 0)
      db.begin();
    job_info j;
    j.serial = first + i;
    j.id = "job-" + std::to_string(j.serial) + "-";
    for (int k = 0; k < 5; ++k)
      j.id += alphabet[rng() % (sizeof alphabet - 1)];
    if (i < n / 2 && i % 1000 == 0)
      out.old_ids.push_back(j.id);
    j.kind = "process";
    auto c = i % 5;
    j.command = commands[c];
    j.args = c == 4 ? std::vector<std::string>{"-c", "./ci.sh step "
                                                       + std::to_string(i % 37)}
                    : std::vector<std::string>{
                      "test", "--jobs=2", "target-" + std::to_string(i % 53)};
    j.shell = false;
    j.session_id = "session-" + std::to_string(rng() % sessions);
    j.working_directory = "/home/dev/project-" + std::to_string(i % sessions);
    j.priority = 5;
    if (i % 3 == 0) {
      j.tags["team"] = teams[(i / 3) % 4];
      j.tags["ci"] = "true";
    }
    j.finished_at
      = out.oldest_finished
        + static_cast<int64_t>(static_cast<double>(span_ms) * i / n);
    j.run_ms = static_cast<int64_t>(rng() % 5000);
    j.started_at = j.finished_at - j.run_ms;
    j.created_at = j.started_at - 3;
    j.pid = static_cast<int64_t>(10000 + rng() % 50000);
    j.tracking = "cgroup";
    j.process_start = "9f1c:" + std::to_string(rng() % 1000000);
    // Issue 11: one job in ten with an idempotency key, one in twenty
    // with a stdin pipe.
    if (i % 10 == 0)
      j.idempotency_key = "deploy-" + std::to_string(i % 5000);
    if (i % 20 == 0)
      j.input = stdin_mode::pipe;
    // The rows a real job leaves: submitted (with its spec), then finished.
    j.status = job_status::running;
    job_spec spec;
    spec.command = j.command;
    spec.args = j.args;
    spec.session_id = j.session_id;
    spec.tags = j.tags;
    spec.input = j.input;
    spec.idempotency_key = j.idempotency_key;
    db.put_job(j, &spec);
    auto roll = rng() % 100;
    if (roll < 80) {
      j.status = job_status::completed;
      j.exit_code = 0;
    } else if (roll < 95) {
      j.status = job_status::failed;
      j.exit_code = 1;
      if (roll >= 93) {
        j.exit_code = -1;
        j.signal = 9;
        j.error_code = "TIMEOUT";
        j.error = "Job timed out after 60000 ms";
      }
    } else {
      j.status = job_status::cancelled;
      j.signal = 15;
      j.error_code = "CANCELLED";
      j.error = "Cancelled by the client";
    }
    // Usage known for nine finished jobs in ten (as the process kind
    // reports it), progress read from one in four.
    if (i % 10 != 9) {
      j.usage.known = true;
      j.usage.cpu_user_ms = static_cast<int64_t>(rng() % 4000);
      j.usage.cpu_system_ms = static_cast<int64_t>(rng() % 500);
      j.usage.max_rss_kb = static_cast<int64_t>(2000 + rng() % 500000);
    }
    if (i % 4 == 0) {
      j.progress.known = true;
      j.progress.percent = 100;
      j.progress.text = "[12/12] done";
      j.progress.at = j.finished_at;
    }
    std::vector<output_chunk> chunks;
    if (i % 10 == 0) {
      chunks.push_back({1, j.started_at + 1, stream_kind::out,
                        "building " + j.args.back() + "\n"});
      chunks.push_back({2, j.finished_at - 1,
                        j.exit_code == 0 ? stream_kind::out : stream_kind::err,
                        j.exit_code == 0 ? "ok, 12 tests passed\n"
                                         : "error: 1 test failed\n"});
      for (auto& ch : chunks) {
        (ch.stream == stream_kind::out ? j.output.stdout_bytes
                                       : j.output.stderr_bytes)
          += ch.content.size();
        j.output.buffered_bytes += ch.content.size();
      }
      j.output.chunks = j.output.last_sequence = chunks.size();
    }
    db.put_job(j, nullptr);
    if (!chunks.empty())
      db.put_output(j.serial, chunks, 1, j.output);
    if (i % per_tx == per_tx - 1 || i + 1 == n) {
      db.commit();
      if ((i + 1) % 200000 == 0)
        progress("filled " + std::to_string(i + 1) + " jobs");
    }
  }
  out.seconds = ms_since(start) / 1000;
  return out; // db's destructor marks its instance ended
}

// -- a jobd over pipes (one request at a time) --------------------------------

class jobd_client {
public:
  jobd_client(const std::string& binary, const std::string& dir) {
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      die("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{binary, "--state-dir=" + dir};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    spawned_ = clock_type::now();
    auto rc = ::posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(),
                            environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
      die("cannot start " + binary + ": " + std::strerror(rc));
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  jobd_client(const jobd_client&) = delete;
  jobd_client& operator=(const jobd_client&) = delete;

  ~jobd_client() {
    stop();
  }

  pid_t pid() const {
    return pid_;
  }
  clock_type::time_point spawned() const {
    return spawned_;
  }

  /// Closes jobd's stdin and waits; SIGKILLs its pid (only it) after 30 s.
  void stop() {
    if (pid_ <= 0)
      return;
    ::close(to_);
    auto deadline = clock_type::now() + std::chrono::seconds(30);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (clock_type::now() > deadline) {
        progress("jobd did not exit, killing pid " + std::to_string(pid_));
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      ::usleep(5000);
    }
    ::close(from_);
    pid_ = -1;
  }

  /// Sends a request and returns its reply line.
  std::string call(const std::string& method, const std::string& params) {
    auto id = std::to_string(next_id_++);
    auto line = R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":")" + method
                + R"(","params":)" + params + "}\n";
    send_raw(line);
    auto key = R"("id":)" + id + ",";
    for (;;) {
      auto reply = read_line();
      if (reply.find(key) != std::string::npos && reply.find(key) < 32)
        return reply;
      if (reply.find(R"("id":null)") != std::string::npos)
        die("jobd could not read a request: " + reply.substr(0, 300));
    }
  }

  void send_raw(const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
      auto n = ::write(to_, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die(std::string{"write to jobd failed: "} + std::strerror(errno));
      off += static_cast<size_t>(n);
    }
  }

private:
  std::string read_line() {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd pfd{from_, POLLIN, 0};
      if (::poll(&pfd, 1, 300000) == 0)
        die("no reply from jobd within 300 s");
      char chunk[65536];
      auto n = ::read(from_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die("jobd closed its output");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  int64_t next_id_ = 1;
  std::string buf_;
  clock_type::time_point spawned_;
};

const char* init_params
  = R"({"protocolVersion":"2025-06-18","capabilities":{},)"
    R"("clientInfo":{"name":"jobd_store_load","version":"1"}})";

/// initialize + initialized; returns ms from exec to the reply.
double initialize(jobd_client& c) {
  c.call("initialize", init_params);
  auto ms = ms_since(c.spawned());
  c.send_raw(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
             "\n");
  return ms;
}

std::string tool(const std::string& name, const std::string& args) {
  return R"({"name":")" + name + R"(","arguments":)" + args + "}";
}

/// A reply that is an error (JSON-RPC or a tool's isError).
bool failed(const std::string& reply) {
  return reply.find(R"("error":{)") != std::string::npos
         || reply.find(R"("isError":true)") != std::string::npos;
}

struct row {
  std::string what, value, target, met;
};

struct timing {
  double p50 = 0;
  double p99 = 0;
  std::string sample; // the first reply
};

/// `calls` calls one after the other: p50/p99 latency, as a row of the
/// table (met: p50 below `target_ms`, if one is given).
timing measure(jobd_client& c, std::vector<row>& rows, const std::string& what,
               int calls, double target_ms,
               const std::function<std::string(int)>& args_of) {
  std::vector<double> lat;
  timing t;
  for (int i = 0; i < calls; ++i) {
    auto start = clock_type::now();
    auto reply = c.call("tools/call", args_of(i));
    lat.push_back(ms_since(start));
    if (i == 0)
      t.sample = reply;
    if (failed(reply))
      die(what + " failed: " + reply.substr(0, 400));
  }
  t.p50 = percentile(lat, 50);
  t.p99 = percentile(lat, 99);
  auto value = fmt("%.3f", t.p50) + fmt(" / %.3f ms", t.p99);
  progress(what + ": p50 / p99 " + value);
  rows.push_back({what + ", p50 / p99", value,
                  target_ms > 0 ? fmt("< %g ms", target_ms) : "",
                  target_ms > 0 ? (t.p50 < target_ms ? "yes" : "NO") : "-"});
  return t;
}

long long int_field(const std::string& body, const char* key) {
  auto pat = std::string{"\\\""} + key + "\\\":";
  auto p = body.find(pat);
  if (p == std::string::npos) {
    pat = std::string{"\""} + key + "\":";
    p = body.find(pat);
  }
  return p == std::string::npos
           ? -1
           : std::strtoll(body.c_str() + p + pat.size(), nullptr, 10);
}

void print_table(const std::vector<row>& rows) {
  size_t w0 = 6;
  size_t w1 = 5;
  size_t w2 = 6;
  for (auto& r : rows) {
    w0 = std::max(w0, r.what.size());
    w1 = std::max(w1, r.value.size());
    w2 = std::max(w2, r.target.size());
  }
  auto line = [&](const row& r) {
    std::printf("| %-*s | %*s | %-*s | %-4s |\n", static_cast<int>(w0),
                r.what.c_str(), static_cast<int>(w1), r.value.c_str(),
                static_cast<int>(w2), r.target.c_str(), r.met.c_str());
  };
  line({"figure", "value", "target", "met"});
  std::printf("|%s|%s|%s|------|\n", std::string(w0 + 2, '-').c_str(),
              std::string(w1 + 2, '-').c_str(),
              std::string(w2 + 2, '-').c_str());
  for (auto& r : rows)
    line(r);
}

const char* yes_no(bool ok) {
  return ok ? "yes" : "NO";
}

std::string mb(double bytes) {
  return fmt("%.1f MB", bytes / (1024.0 * 1024.0));
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string binary = JOBD_DEFAULT_BINARY;
  uint64_t n = 1000000;
  bool keep = false;
  bool store_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--jobd" && i + 1 < argc) {
      binary = argv[++i];
    } else if (a == "--jobs" && i + 1 < argc) {
      n = std::strtoull(argv[++i], nullptr, 10);
      if (n < 1000)
        die("--jobs must be at least 1000");
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--store-only") {
      store_only = true;
    } else {
      std::printf("usage: jobd_store_load [--jobd PATH] [--jobs N=1000000] "
                  "[--keep] [--store-only]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (!store_only && ::access(binary.c_str(), X_OK) != 0)
    die("jobd binary not found: " + binary + " (use --jobd PATH)");
  char tmpl[] = "/tmp/jobd-store-load-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    die("mkdtemp failed");
  const std::string dir = tmpl;
  if (!keep)
    doomed_dir = dir;
  const std::string db_path = dir + "/jobd.db";
  std::vector<row> rows;
  const auto N = std::to_string(n);

  // Fill.
  progress("filling " + dir + " with " + N + " finished jobs ...");
  auto f = fill(dir, n);
  auto filled_bytes = file_size(db_path) + file_size(db_path + "-wal");
  progress("filled in " + fmt("%.1f", f.seconds) + " s");
  rows.push_back({"fill: " + N + " finished jobs via job_store (20k per tx)",
                  fmt("%.1f s", f.seconds), "", "-"});
  rows.push_back(
    {"  database file (+ WAL) after the fill", mb(filled_bytes), "", "-"});

  // What the open costs, in this process: PRAGMA quick_check, the whole
  // job_store constructor (which runs it), and recover().
  {
    jobd::sql::database raw{db_path, false};
    auto t = clock_type::now();
    raw.exec("PRAGMA quick_check");
    auto qc = ms_since(t);
    t = clock_type::now();
    raw.exec("PRAGMA integrity_check");
    auto ic = ms_since(t);
    rows.push_back({"  PRAGMA quick_check (run by every open)",
                    fmt("%.0f ms", qc), "", "-"});
    rows.push_back({"  PRAGMA integrity_check (for comparison)",
                    fmt("%.0f ms", ic), "", "-"});
  }
  {
    jobd::store_options opts;
    opts.state_dir = dir;
    auto t = clock_type::now();
    jobd::job_store db{opts};
    auto open_ms = ms_since(t);
    t = clock_type::now();
    db.recover();
    auto rec_ms = ms_since(t);
    rows.push_back({"  job_store open (incl. quick_check) / recover()",
                    fmt("%.0f", open_ms) + fmt(" / %.1f ms", rec_ms), "", "-"});
    // The STORE's own share of the calls issue 11 added, in process: the
    // figures (usage totals from session_usage), the spec of an old
    // finished job (restart), the idempotency lookup.
    auto timed = [&](const std::string& what, int calls,
                     const std::function<void(int)>& call) {
      std::vector<double> lat;
      for (int i = 0; i < calls; ++i) {
        auto t0 = clock_type::now();
        call(i);
        lat.push_back(ms_since(t0));
      }
      auto value = fmt("%.3f", percentile(lat, 50))
                   + fmt(" / %.3f ms", percentile(lat, 99));
      progress(what + ": p50 / p99 " + value);
      rows.push_back({what + ", p50 / p99", value, "", "-"});
    };
    uint64_t usage_jobs = 0;
    timed("  job_store::figures() (counters, sessions, usage)", 50,
          [&](int) { usage_jobs = db.figures().usage.jobs; });
    if (usage_jobs == 0)
      die("figures() counted no usage");
    timed("  job_store::spec_of(old finished job)", 1000, [&](int i) {
      bool found = false;
      if (!db.spec_of(f.old_ids[static_cast<size_t>(i) % f.old_ids.size()],
                      found))
        die("no spec kept for an old job");
    });
    timed("  job_store::find_by_key(session, key)", 1000, [&](int i) {
      db.find_by_key("session-" + std::to_string(i % sessions),
                     "deploy-" + std::to_string((i * 37) % 5000));
    });
  }
  if (store_only) {
    std::printf("\njobd store at scale: %s jobs, in process only\n\n",
                N.c_str());
    print_table(rows);
    if (!keep) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    return 0;
  }

  // Start-up, median of 5.
  std::vector<double> starts;
  for (int i = 0; i < 5; ++i) {
    jobd_client c{binary, dir};
    starts.push_back(initialize(c));
  }
  auto start_med = percentile(starts, 50);
  progress("start-up median " + fmt("%.1f", start_med) + " ms");
  rows.push_back({"start-up: exec -> initialize reply (median of 5)",
                  fmt("%.1f ms", start_med), "< 1 s",
                  yes_no(start_med < 1000)});

  jobd_client c{binary, dir};
  initialize(c);
  auto list = [](const std::string& options) {
    return tool("console_list_jobs", R"({"options":{)" + options + "}}");
  };
  const int L = 200;
  auto first = measure(c, rows,
                       "console_list_jobs, first page, default limit "
                       "(100)",
                       L, 10, [&](int) { return list(""); });
  auto page50 = measure(c, rows, "  limit 50, first page", L, 10,
                        [&](int) { return list(R"("limit":50)"); });
  // A page deep into the jobs: the cursor names the serial to continue
  // below (c<serial>); a mid-store serial skips paging 10,000 times.
  auto total = int_field(first.sample, "total");
  std::string deep_cursor;
  {
    // structuredContent carries it unescaped: "nextCursor":"c<serial>".
    auto p = page50.sample.find(R"("nextCursor":"c)");
    if (p == std::string::npos)
      die("no nextCursor in a list page: " + page50.sample.substr(0, 400));
    auto at = std::strtoull(page50.sample.c_str() + p + 15, nullptr, 10);
    deep_cursor = "c" + std::to_string(at - n / 2);
  }
  measure(
    c, rows, "  limit 50, a page in the middle (cursor)", L, 10,
    [&](int) { return list(R"("limit":50,"cursor":")" + deep_cursor + "\""); });
  measure(c, rows, "  limit 50, status cancelled (5%)", L, 10,
          [&](int) { return list(R"("limit":50,"status":"cancelled")"); });
  measure(c, rows, "  limit 50, one session of 100", L, 10,
          [&](int) { return list(R"("limit":50,"sessionId":"session-7")"); });
  measure(c, rows, "  limit 50, tag team=ml (1 job in 12)", L, 10,
          [&](int) { return list(R"("limit":50,"tags":{"team":"ml"})"); });
  std::mt19937 rng{7};
  measure(c, rows, "console_get_job_status, old job (1000 random)", 1000, 1,
          [&](int) {
            auto& id = f.old_ids[rng() % f.old_ids.size()];
            return tool("console_get_job_status", R"({"jobId":")" + id + "\"}");
          });
  auto rss = proc_status_kb(c.pid(), "VmRSS");
  auto hwm = proc_status_kb(c.pid(), "VmHWM");
  measure(c, rows, "console_get_job_output, old job", 200, 0, [&](int i) {
    auto& id = f.old_ids[static_cast<size_t>(i) % f.old_ids.size()];
    return tool("console_get_job_output", R"({"jobId":")" + id + "\"}");
  });
  measure(c, rows, "console_get_job_metrics", 50, 0,
          [&](int) { return tool("console_get_job_metrics", "{}"); });
  rows.push_back({"jobd VmRSS / VmHWM after lists and status calls",
                  mb(rss * 1024.0) + " / " + mb(hwm * 1024.0), "< 64 MB",
                  yes_no(rss < 64 * 1024 && hwm < 64 * 1024)});

  // Cleanup of the oldest tenth by age.
  auto max_age = static_cast<int64_t>(static_cast<double>(span_ms) * 0.9);
  auto t = clock_type::now();
  auto reply = c.call("tools/call", tool("console_cleanup_jobs",
                                         R"({"options":{"maxAge":)"
                                           + std::to_string(max_age) + "}}"));
  auto cleanup_ms = ms_since(t);
  if (failed(reply))
    die("cleanup failed: " + reply.substr(0, 400));
  auto cleaned = int_field(reply, "cleaned");
  progress("cleanup: " + std::to_string(cleaned) + " in "
           + fmt("%.0f", cleanup_ms) + " ms");
  rows.push_back({"console_cleanup_jobs maxAge (" + std::to_string(cleaned)
                    + " of " + std::to_string(total) + " removed)",
                  fmt("%.0f ms", cleanup_ms), "", "-"});
  measure(c, rows, "  list limit 50 after it", 50, 10,
          [&](int) { return list(R"("limit":50)"); });
  auto rss_end = proc_status_kb(c.pid(), "VmRSS");
  auto hwm_end = proc_status_kb(c.pid(), "VmHWM");
  rows.push_back({"  jobd VmRSS / VmHWM after the cleanup",
                  mb(rss_end * 1024.0) + " / " + mb(hwm_end * 1024.0),
                  "< 64 MB", yes_no(hwm_end < 64 * 1024)});
  c.stop();
  rows.push_back(
    {"  database file (+ WAL) after cleanup and jobd's exit",
     mb(static_cast<double>(file_size(db_path) + file_size(db_path + "-wal"))),
     "", "-"});

  std::printf("\njobd store at scale: %s jobs, %s\n\n", N.c_str(),
              binary.c_str());
  print_table(rows);
  if (keep) {
    progress("kept " + dir);
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}

// jobd_load: the end-to-end load driver. Starts the real jobd over pipes
// (posix_spawn), pipelines JSON-RPC requests from the main thread (and a
// pacer thread), matches replies by id on a reader thread, and prints one
// table of figures measured in this one run. Plain C++17 and POSIX: no CAF.
//
//   jobd_load [--jobd PATH] [--jobs N] [--concurrency C] [--quick]
//             [--status-calls K] [--log-level L] [--skip-1gib]
//
// Phases (each on a fresh jobd unless said otherwise):
//   1. start-up: exec -> `initialize` reply, median of several starts;
//   2. N `/bin/true` jobs pipelined with --max-concurrent-jobs C, until all
//      finished (console_wait_job), against posix_spawn + waitpid of the same
//      N with the same parallelism (measured before and after, averaged);
//   3. (same jobd) console_get_job_status pipelined with a window of 256:
//      calls/s and latency p50/p99;
//   4. status calls at a steady 1000/s while 1000 jobs print a line every
//      10 ms for 2 s (limit raised to 1000): p50/p99/max;
//   5. (same jobd as 4) 1000 `sleep` jobs: time until all run (metrics
//      runningJobs), jobd's CPU over 2 s while they sleep;
//   6. VmRSS idle, and after 10,000 finished jobs are retained;
//   7. one job writing 1 GiB to stdout: peak VmHWM growth and drain time,
//      against `sh -c 'head -c 1073741824 /dev/zero > /dev/null'`; then the
//      same job on a jobd with --ephemeral, and the ratio of the two rates.
//
// Every jobd gets a temporary state directory of its own (a persistent
// store, removed afterwards) unless its flags say --ephemeral.
//
// The printing jobs of phase 4 are this binary itself in `--emit` mode (one
// process per job, no fork per line), so the phase measures jobd and not
// 200,000 forks of `sleep 0.01`.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

extern "C" {
extern char** environ;
}

#ifndef JOBD_DEFAULT_BINARY
#define JOBD_DEFAULT_BINARY "jobd"
#endif

namespace {

using clock_type = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

double ms_since(int64_t start_ns) {
  return static_cast<double>(now_ns() - start_ns) / 1e6;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "jobd_load: %s\n", what.c_str());
  std::exit(1);
}

// -- options
// --------------------------------------------------------------------

struct options {
  std::string jobd = JOBD_DEFAULT_BINARY;
  bool quick = false;
  long jobs = 2000;
  long concurrency = 0; // 0: 4 x CPUs
  long status_calls = 100000;
  long status_window = 256;
  long steady_jobs = 1000;
  long steady_rate = 1000; // calls per second
  long emit_lines = 200;
  long emit_interval_ms = 10;
  long sleep_jobs = 1000;
  long retained_jobs = 10000;
  long long big_bytes = 1LL << 30;
  int startups = 7;
  std::string log_level; // empty: jobd's default
  /// Every jobd runs with --ephemeral (no store): to compare with a build
  /// that has none.
  bool ephemeral = false;
  bool skip_big = false;
  /// Phases to run: startup, jobs (with status), steady (with sleep),
  /// memory, big; empty: all.
  std::string only;
  std::string self_exe;

  bool runs(const char* phase) const {
    if (only.empty())
      return true;
    return ("," + only + ",").find(std::string{","} + phase + ",")
           != std::string::npos;
  }
};

long to_long(const char* text, const char* flag) {
  char* end = nullptr;
  errno = 0;
  auto v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v <= 0)
    die(std::string{"bad value for "} + flag + ": " + text);
  return v;
}

// -- /proc
// ----------------------------------------------------------------------

/// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"); -1 if absent.
long proc_status_kb(pid_t pid, const char* field) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  auto f = std::fopen(path, "r");
  if (f == nullptr)
    return -1;
  char line[256];
  long value = -1;
  auto len = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      value = std::strtol(line + len + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

/// utime + stime of `pid` in clock ticks; -1 if unknown.
long long proc_cpu_ticks(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  auto f = std::fopen(path, "r");
  if (f == nullptr)
    return -1;
  char buf[1024];
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  auto p = std::strrchr(buf, ')');
  if (p == nullptr)
    return -1;
  // Fields after the command: state(3) ... utime(14) stime(15).
  ++p;
  long long fields[13] = {};
  char state = 0;
  if (std::sscanf(p,
                  " %c %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld"
                  " %lld",
                  &state, &fields[0], &fields[1], &fields[2], &fields[3],
                  &fields[4], &fields[5], &fields[6], &fields[7], &fields[8],
                  &fields[9], &fields[10], &fields[11])
      != 13)
    return -1;
  return fields[10] + fields[11]; // utime + stime
}

// -- statistics
// -----------------------------------------------------------------

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

// -- a jobd over pipes
// ------------------------------------------------------------

/// Requests carry a group; the reader counts replies per group, so a phase
/// can keep its own window while another thread sends too.
constexpr int max_groups = 16;

/// A reply later than this means jobd is stuck: give up (and say so).
constexpr std::chrono::seconds reply_timeout{120};

class jobd_client {
public:
  static constexpr int64_t max_ids = 1 << 20;

  jobd_client(const options& opt, std::vector<std::string> flags)
    : slots_(new slot[max_ids]) {
    int in_pipe[2];
    int out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)
      die("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{opt.jobd};
    if (!opt.log_level.empty())
      args.push_back("--log-level=" + opt.log_level);
    // A store of its own (measured as a user runs jobd), unless the phase
    // asks for --ephemeral or a directory.
    bool chosen = false;
    for (auto& f : flags)
      chosen = chosen || f == "--ephemeral" || f.rfind("--state-dir", 0) == 0;
    if (!chosen && opt.ephemeral) {
      args.push_back("--ephemeral");
    } else if (!chosen) {
      char tmpl[] = "/tmp/jobd-bench-state-XXXXXX";
      if (::mkdtemp(tmpl) != nullptr) {
        state_dir_ = tmpl;
        args.push_back("--state-dir=" + state_dir_);
      }
    }
    for (auto& f : flags)
      args.push_back(std::move(f));
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    spawned_ns_ = now_ns();
    auto rc = ::posix_spawn(&pid_, opt.jobd.c_str(), &fa, nullptr, argv.data(),
                            environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
      die("cannot start " + opt.jobd + ": " + std::strerror(rc));
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    to_jobd_ = in_pipe[1];
    from_jobd_ = out_pipe[0];
    reader_ = std::thread{[this] { read_loop(); }};
  }

  ~jobd_client() {
    stop();
    if (!state_dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(state_dir_, ec);
    }
  }

  pid_t pid() const {
    return pid_;
  }
  int64_t spawned_ns() const {
    return spawned_ns_;
  }

  /// Closes jobd's stdin and waits for it to exit; SIGKILLs its pid (and
  /// only it) after `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(15)) {
    if (pid_ <= 0)
      return;
    if (to_jobd_ >= 0) {
      ::close(to_jobd_);
      to_jobd_ = -1;
    }
    auto deadline = clock_type::now() + grace;
    int status = 0;
    for (;;) {
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR))
        break;
      if (clock_type::now() > deadline) {
        std::fprintf(stderr, "jobd_load: jobd %d did not exit, killing it\n",
                     static_cast<int>(pid_));
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    // EOF should follow jobd's exit at once; if a process jobd started
    // still holds its stdout, do not hang on it.
    auto eof_deadline = clock_type::now() + std::chrono::seconds(3);
    for (;;) {
      {
        std::lock_guard<std::mutex> guard{mu_};
        if (eof_)
          break;
      }
      if (clock_type::now() > eof_deadline) {
        std::fprintf(stderr,
                     "jobd_load: jobd exited but its stdout is still open "
                     "(held by a process it started)\n");
        abandon_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (reader_.joinable())
      reader_.join();
    ::close(from_jobd_);
  }

  /// Sends one request; returns its id. `params` is the JSON of params.
  int64_t send(std::string_view method, std::string_view params, int group,
               bool keep = false) {
    std::string line;
    auto id = append_request(line, method, params, group, keep);
    write_all(line, {id});
    return id;
  }

  /// Builds one request line (with its newline) into `out`; returns the id.
  int64_t append_request(std::string& out, std::string_view method,
                         std::string_view params, int group, bool keep) {
    auto id = next_id_.fetch_add(1);
    if (id >= max_ids)
      die("too many requests");
    auto& s = slots_[id];
    s.group = group;
    s.keep = keep;
    out += R"({"jsonrpc":"2.0","id":)";
    out += std::to_string(id);
    out += R"(,"method":")";
    out += method;
    out += '"';
    if (!params.empty()) {
      out += R"(,"params":)";
      out += params;
    }
    out += "}\n";
    return id;
  }

  /// Writes prepared lines at once, stamping their send time.
  void write_all(const std::string& text, const std::vector<int64_t>& ids) {
    std::lock_guard<std::mutex> guard{write_mu_};
    auto t = now_ns();
    for (auto id : ids)
      slots_[id].sent_ns.store(t, std::memory_order_relaxed);
    size_t off = 0;
    while (off < text.size()) {
      auto n = ::write(to_jobd_, text.data() + off, text.size() - off);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        die(std::string{"write to jobd failed: "} + std::strerror(errno));
      }
      off += static_cast<size_t>(n);
    }
  }

  /// Blocks until the reply to `id` arrived; returns it if it was kept.
  std::string wait_reply(int64_t id) {
    std::unique_lock<std::mutex> lock{mu_};
    if (!cv_.wait_for(lock, reply_timeout, [&] {
          return slots_[id].recv_ns.load(std::memory_order_acquire) != 0
                 || eof_;
        }))
      die("no reply to request " + std::to_string(id) + " within "
          + std::to_string(reply_timeout.count()) + " s");
    if (slots_[id].recv_ns.load() == 0)
      die("jobd closed its output before replying to request "
          + std::to_string(id));
    auto i = bodies_.find(id);
    if (i == bodies_.end())
      return {};
    auto body = std::move(i->second);
    bodies_.erase(i);
    return body;
  }

  /// A kept reply that arrived already (after waiting for it).
  std::string take(int64_t id) {
    return wait_reply(id);
  }

  uint64_t answered(int group) const {
    return group_done_[group].load(std::memory_order_acquire);
  }

  /// Blocks until `group` has at least `count` replies.
  void wait_answered(int group, uint64_t count) {
    std::unique_lock<std::mutex> lock{mu_};
    if (!cv_.wait_for(lock, reply_timeout,
                      [&] { return answered(group) >= count || eof_; }))
      die("replies missing after " + std::to_string(reply_timeout.count())
          + " s");
    if (answered(group) < count)
      die("jobd closed its output early");
  }

  /// Latency (ms) of an answered request.
  double latency_ms(int64_t id) const {
    auto& s = slots_[id];
    return static_cast<double>(s.recv_ns.load() - s.sent_ns.load()) / 1e6;
  }

  int64_t recv_ns(int64_t id) const {
    return slots_[id].recv_ns.load();
  }

  /// Pipelines `count` requests of `group`, keeping at most `window` of
  /// them unanswered; `make(i, out)` appends request i via append_request
  /// and returns its id. Returns the ids in order.
  std::vector<int64_t>
  pipeline(uint64_t count, uint64_t window, int group,
           const std::function<int64_t(uint64_t, std::string&)>& make) {
    std::vector<int64_t> ids;
    ids.reserve(count);
    auto base = answered(group);
    std::string batch;
    std::vector<int64_t> batch_ids;
    uint64_t sent = 0;
    while (sent < count) {
      uint64_t room;
      {
        std::unique_lock<std::mutex> lock{mu_};
        if (!cv_.wait_for(lock, reply_timeout, [&] {
              return sent - (answered(group) - base) < window || eof_;
            }))
          die("no progress within " + std::to_string(reply_timeout.count())
              + " s");
        if (eof_)
          die("jobd closed its output early");
        room = window - (sent - (answered(group) - base));
      }
      batch.clear();
      batch_ids.clear();
      for (uint64_t k = 0; k < room && sent < count; ++k, ++sent) {
        auto id = make(sent, batch);
        batch_ids.push_back(id);
        ids.push_back(id);
      }
      write_all(batch, batch_ids);
    }
    wait_answered(group, base + count);
    return ids;
  }

private:
  struct slot {
    std::atomic<int64_t> sent_ns{0};
    std::atomic<int64_t> recv_ns{0};
    int group = 0;
    bool keep = false;
  };

  void read_loop() {
    std::vector<char> buf(256 * 1024);
    std::string line;
    for (;;) {
      pollfd pfd{from_jobd_, POLLIN, 0};
      auto pr = ::poll(&pfd, 1, 100);
      if (pr == 0) {
        // jobd exited but something (a leaked child) still holds its
        // stdout open: stop reading once stop() gave up waiting for EOF.
        if (abandon_.load())
          break;
        continue;
      }
      auto n = ::read(from_jobd_, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        break;
      auto t = now_ns();
      const char* p = buf.data();
      const char* end = p + n;
      bool any = false;
      while (p < end) {
        auto nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        if (nl == nullptr) {
          line.append(p, end);
          break;
        }
        line.append(p, nl);
        any = handle_line(line, t) || any;
        line.clear();
        p = nl + 1;
      }
      if (any) {
        // Taking the lock orders the notify after a waiter's predicate check.
        { std::lock_guard<std::mutex> guard{mu_}; }
        cv_.notify_all();
      }
    }
    {
      std::lock_guard<std::mutex> guard{mu_};
      eof_ = true;
    }
    cv_.notify_all();
  }

  bool handle_line(const std::string& line, int64_t t) {
    // Replies start {"jsonrpc":"2.0","id":N,...; notifications have no id.
    auto pos = line.find("\"id\":");
    if (pos == std::string::npos || pos > 32)
      return false;
    char* end = nullptr;
    auto id = std::strtoll(line.c_str() + pos + 5, &end, 10);
    if (end == line.c_str() + pos + 5 || id <= 0 || id >= max_ids)
      return false;
    auto& s = slots_[id];
    if (s.keep) {
      std::lock_guard<std::mutex> guard{mu_};
      bodies_[id] = line;
    }
    s.recv_ns.store(t, std::memory_order_release);
    group_done_[s.group].fetch_add(1, std::memory_order_acq_rel);
    return true;
  }

  pid_t pid_ = -1;
  std::string state_dir_;
  int64_t spawned_ns_ = 0;
  int to_jobd_ = -1;
  int from_jobd_ = -1;
  std::thread reader_;
  std::unique_ptr<slot[]> slots_;
  std::atomic<int64_t> next_id_{1};
  std::atomic<uint64_t> group_done_[max_groups] = {};
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<int64_t, std::string> bodies_;
  bool eof_ = false;
  std::atomic<bool> abandon_{false};
};

// -- requests
// -------------------------------------------------------------------

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string call_params(std::string_view tool, std::string_view args) {
  std::string p = R"({"name":")";
  p += tool;
  p += R"(","arguments":)";
  p += args;
  p += "}";
  return p;
}

std::string execute_args(const std::string& command,
                         const std::vector<std::string>& args) {
  std::string a = R"({"command":)" + json_string(command) + R"(,"args":[)";
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0)
      a += ',';
    a += json_string(args[i]);
  }
  return a + "]}";
}

std::string status_params(const std::string& job_id) {
  return call_params("console_get_job_status",
                     R"({"jobId":)" + json_string(job_id) + "}");
}

std::string wait_params(const std::string& job_id) {
  return call_params("console_wait_job", R"({"jobId":)" + json_string(job_id)
                                           + R"(,"timeoutMs":60000})");
}

/// The string value of `"key":"..."` in a reply (first occurrence).
std::string string_field(const std::string& body, const char* key) {
  std::string pat = std::string{"\""} + key + "\":\"";
  auto p = body.find(pat);
  if (p == std::string::npos)
    return {};
  p += pat.size();
  auto e = body.find('"', p);
  return e == std::string::npos ? std::string{} : body.substr(p, e - p);
}

long long int_field(const std::string& body, const char* key) {
  std::string pat = std::string{"\""} + key + "\":";
  auto p = body.find(pat);
  if (p == std::string::npos)
    return -1;
  return std::strtoll(body.c_str() + p + pat.size(), nullptr, 10);
}

enum groups : int {
  g_setup = 0,
  g_submit,
  g_wait,
  g_status,
  g_steady,
  g_poll,
};

const std::string initialize_params
  = R"({"protocolVersion":"2025-06-18","capabilities":{},)"
    R"("clientInfo":{"name":"jobd_load","version":"1"}})";

/// initialize + notifications/initialized; returns ms from exec to the reply.
double initialize(jobd_client& c) {
  auto id = c.send("initialize", initialize_params, g_setup);
  c.wait_reply(id);
  auto ms = static_cast<double>(c.recv_ns(id) - c.spawned_ns()) / 1e6;
  std::string note = R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
                     "\n";
  c.write_all(note, {});
  return ms;
}

/// Submits `count` jobs pipelined (window 256); returns their ids.
std::vector<std::string>
submit_jobs(jobd_client& c, uint64_t count,
            const std::function<std::string(uint64_t)>& args_of,
            uint64_t* failures) {
  auto ids
    = c.pipeline(count, 256, g_submit, [&](uint64_t i, std::string& out) {
        return c.append_request(
          out, "tools/call", call_params("console_execute_async", args_of(i)),
          g_submit, true);
      });
  std::vector<std::string> jobs;
  jobs.reserve(count);
  for (auto id : ids) {
    auto body = c.take(id);
    auto job = string_field(body, "jobId");
    if (job.empty()) {
      if (failures)
        ++*failures;
      if (jobs.empty())
        std::fprintf(stderr, "jobd_load: submit failed: %s\n", body.c_str());
      continue;
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

/// Waits (console_wait_job, all in flight) until every job finished; counts
/// those that did not complete.
uint64_t wait_jobs(jobd_client& c, const std::vector<std::string>& jobs) {
  uint64_t bad = 0;
  std::vector<std::string> left = jobs;
  while (!left.empty()) {
    auto ids = c.pipeline(
      left.size(), left.size(), g_wait, [&](uint64_t i, std::string& out) {
        return c.append_request(out, "tools/call", wait_params(left[i]), g_wait,
                                true);
      });
    std::vector<std::string> again;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto body = c.take(ids[i]);
      auto reason = string_field(body, "reason");
      if (reason == "timeout") {
        again.push_back(left[i]);
        continue;
      }
      if (body.find(R"("status":"completed")") == std::string::npos) {
        if (bad == 0)
          std::fprintf(stderr,
                       "jobd_load: a job did not complete: %s (%s, exit %lld)"
                       "\n",
                       string_field(body, "error").c_str(),
                       string_field(body, "errorCode").c_str(),
                       int_field(body, "exitCode"));
        ++bad;
      }
    }
    left = std::move(again);
  }
  return bad;
}

// -- the baseline
// ---------------------------------------------------------------

/// Runs `count` copies of argv with at most `parallel` at once (posix_spawn,
/// waitpid); returns the seconds taken.
double spawn_baseline(const std::vector<std::string>& cmd, uint64_t count,
                      uint64_t parallel,
                      const char* stdout_path = "/dev/null") {
  std::vector<std::string> args = cmd;
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, stdout_path, O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  auto start = now_ns();
  uint64_t started = 0;
  uint64_t running = 0;
  std::vector<pid_t> mine;
  while (started < count || running > 0) {
    while (started < count && running < parallel) {
      pid_t pid = 0;
      auto rc
        = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
      if (rc != 0)
        die(std::string{"posix_spawn failed: "} + std::strerror(rc));
      mine.push_back(pid);
      ++started;
      ++running;
    }
    int status = 0;
    // Reap only our own children (jobd instances are children too).
    pid_t r = -1;
    for (;;) {
      r = ::waitpid(-1, &status, 0);
      if (r > 0 || errno != EINTR)
        break;
    }
    if (r < 0)
      die("waitpid failed");
    auto i = std::find(mine.begin(), mine.end(), r);
    if (i != mine.end()) {
      *i = mine.back();
      mine.pop_back();
      --running;
    }
  }
  posix_spawn_file_actions_destroy(&fa);
  return static_cast<double>(now_ns() - start) / 1e9;
}

// -- the table
// -------------------------------------------------------------------

struct row {
  std::string what;
  std::string jobd;
  std::string baseline;
  std::string target;
  std::string verdict; // "yes", "NO", or "-"
};

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string mb(long kb) {
  return fmt("%.1f MB", static_cast<double>(kb) / 1024.0);
}

void print_table(const std::vector<row>& rows) {
  size_t w[4] = {6, 4, 8, 6};
  for (auto& r : rows) {
    w[0] = std::max(w[0], r.what.size());
    w[1] = std::max(w[1], r.jobd.size());
    w[2] = std::max(w[2], r.baseline.size());
    w[3] = std::max(w[3], r.target.size());
  }
  auto line
    = [&](const std::string& a, const std::string& b, const std::string& c,
          const std::string& d, const std::string& e) {
        std::printf("| %-*s | %*s | %*s | %-*s | %-4s |\n",
                    static_cast<int>(w[0]), a.c_str(), static_cast<int>(w[1]),
                    b.c_str(), static_cast<int>(w[2]), c.c_str(),
                    static_cast<int>(w[3]), d.c_str(), e.c_str());
      };
  line("figure", "jobd", "baseline", "target", "met");
  std::printf("|%s|%s|%s|%s|------|\n", std::string(w[0] + 2, '-').c_str(),
              std::string(w[1] + 2, '-').c_str(),
              std::string(w[2] + 2, '-').c_str(),
              std::string(w[3] + 2, '-').c_str());
  for (auto& r : rows)
    line(r.what, r.jobd, r.baseline, r.target, r.verdict);
}

const char* yes_no(bool ok) {
  return ok ? "yes" : "NO";
}

void progress(const char* fmt_text, ...) __attribute__((format(printf, 1, 2)));
void progress(const char* fmt_text, ...) {
  va_list ap;
  va_start(ap, fmt_text);
  std::fprintf(stderr, "jobd_load: ");
  std::vfprintf(stderr, fmt_text, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

// -- --emit: the printing job
// -------------------------------------------------------

int emit(long lines, long interval_ms) {
  char buf[64];
  for (long i = 1; i <= lines; ++i) {
    auto n = std::snprintf(buf, sizeof buf, "line %ld\n", i);
    if (::write(1, buf, static_cast<size_t>(n)) < 0)
      return 1;
    timespec ts{interval_ms / 1000, (interval_ms % 1000) * 1000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  return 0;
}

std::string self_path() {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    die("cannot read /proc/self/exe");
  buf[n] = '\0';
  return buf;
}

// -- the phases
// ----------------------------------------------------------------------

std::vector<std::string> limit_flags(long limit) {
  return {"--max-concurrent-jobs=" + std::to_string(limit),
          "--max-concurrent-jobs-per-session=" + std::to_string(limit)};
}

void usage() {
  std::printf(
    "usage: jobd_load [--jobd PATH] [--jobs N=2000] [--concurrency C=4xCPUs]\n"
    "                 [--status-calls K=100000] [--quick] [--skip-1gib]\n"
    "                 [--log-level LEVEL] [--only PHASE,...] [--ephemeral]\n"
    "PHASE: startup, jobs (N jobs and status calls), steady (status under\n"
    "load and sleeping jobs), memory, big.\n"
    "Starts jobd over pipes and prints one table of measured figures.\n"
    "--quick shrinks every figure about 10x (~30 s).\n"
    "--ephemeral runs every jobd without a store (as a build without one).\n");
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc >= 4 && std::strcmp(argv[1], "--emit") == 0)
    return emit(to_long(argv[2], "--emit"), std::atol(argv[3]));
  options opt;
  bool jobs_set = false;
  bool calls_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc)
        die(std::string{"missing value for "} + flag);
      return argv[++i];
    };
    if (a == "--jobd") {
      opt.jobd = value("--jobd");
    } else if (a == "--jobs") {
      opt.jobs = to_long(value("--jobs"), "--jobs");
      jobs_set = true;
    } else if (a == "--concurrency") {
      opt.concurrency = to_long(value("--concurrency"), "--concurrency");
    } else if (a == "--status-calls") {
      opt.status_calls = to_long(value("--status-calls"), "--status-calls");
      calls_set = true;
    } else if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--skip-1gib") {
      opt.skip_big = true;
    } else if (a == "--only") {
      opt.only = value("--only");
    } else if (a == "--log-level") {
      opt.log_level = value("--log-level");
    } else if (a == "--ephemeral") {
      opt.ephemeral = true;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (opt.concurrency == 0)
    opt.concurrency = 4 * std::max(1u, std::thread::hardware_concurrency());
  if (opt.quick) {
    if (!jobs_set)
      opt.jobs = 200;
    if (!calls_set)
      opt.status_calls = 10000;
    opt.steady_jobs = 100;
    opt.sleep_jobs = 100;
    opt.retained_jobs = 1000;
    opt.big_bytes = 100LL << 20;
    opt.startups = 3;
  }
  opt.self_exe = self_path();
  if (::access(opt.jobd.c_str(), X_OK) != 0)
    die("jobd binary not found: " + opt.jobd + " (use --jobd PATH)");
  const auto N = static_cast<uint64_t>(opt.jobs);
  const auto C = static_cast<uint64_t>(opt.concurrency);
  std::vector<row> rows;
  auto total_start = now_ns();

  // 1. start-up -------------------------------------------------------------
  if (opt.runs("startup")) {
    std::vector<double> times;
    for (int i = 0; i < opt.startups; ++i) {
      jobd_client c{opt, {}};
      times.push_back(initialize(c));
      c.stop();
    }
    auto med = percentile(times, 50);
    progress("start-up: median %.2f ms of %d", med, opt.startups);
    rows.push_back({"start-up: exec -> initialize reply (median of "
                      + std::to_string(opt.startups) + ")",
                    fmt("%.1f ms", med), "", "< 50 ms", yes_no(med < 50)});
  }

  // 2. N true jobs against posix_spawn ---------------------------------------
  std::string status_target;
  double jobs_per_s = 0;
  if (opt.runs("jobs")) {
    const std::vector<std::string> true_cmd{"/bin/true"};
    auto base1 = spawn_baseline(true_cmd, N, C);
    jobd_client c{opt, limit_flags(opt.concurrency)};
    initialize(c);
    progress("%llu /bin/true jobs, concurrency %llu ...",
             static_cast<unsigned long long>(N),
             static_cast<unsigned long long>(C));
    auto start = now_ns();
    uint64_t failed_submits = 0;
    auto jobs = submit_jobs(
      c, N, [](uint64_t) { return execute_args("/bin/true", {}); },
      &failed_submits);
    auto submitted_ms = ms_since(start);
    auto bad = wait_jobs(c, jobs) + failed_submits;
    auto secs = static_cast<double>(now_ns() - start) / 1e9;
    jobs_per_s = static_cast<double>(N) / secs;
    progress("jobd %.0f jobs/s (all submitted after %.0f ms, %llu not "
             "completed)",
             jobs_per_s, submitted_ms, static_cast<unsigned long long>(bad));
    status_target = jobs.empty() ? "job-none" : jobs.back();

    // 3. status calls pipelined, on the same jobd (N jobs retained) ----------
    const auto K = static_cast<uint64_t>(opt.status_calls);
    const auto W = static_cast<uint64_t>(opt.status_window);
    auto params = status_params(status_target);
    // Warm-up.
    c.pipeline(std::min<uint64_t>(K / 10, 5000), W, g_status,
               [&](uint64_t, std::string& out) {
                 return c.append_request(out, "tools/call", params, g_status,
                                         false);
               });
    auto s_start = now_ns();
    auto ids = c.pipeline(K, W, g_status, [&](uint64_t, std::string& out) {
      return c.append_request(out, "tools/call", params, g_status, false);
    });
    auto s_secs = static_cast<double>(now_ns() - s_start) / 1e9;
    std::vector<double> lat;
    lat.reserve(ids.size());
    for (auto id : ids)
      lat.push_back(c.latency_ms(id));
    auto rate = static_cast<double>(K) / s_secs;
    auto p50 = percentile(lat, 50);
    auto p99 = percentile(lat, 99);
    progress("status: %.0f calls/s, p50 %.3f ms, p99 %.3f ms", rate, p50, p99);
    rows.push_back({"console_get_job_status, " + std::to_string(K)
                      + " pipelined (window " + std::to_string(W)
                      + "), calls/s",
                    fmt("%.0f", rate), "", ">= 30000", yes_no(rate >= 30000)});
    rows.push_back({"  latency p50 / p99 at that window",
                    fmt("%.2f", p50) + " / " + fmt("%.2f ms", p99), "", "",
                    "-"});
    c.stop();
    // The second baseline runs with no jobd alive (waitpid(-1) reaps any
    // child).
    auto base2 = spawn_baseline(true_cmd, N, C);
    auto base = (base1 + base2) / 2;
    auto base_rate = static_cast<double>(N) / base;
    auto ratio = jobs_per_s / base_rate;
    progress("posix_spawn %.0f and %.0f jobs/s", static_cast<double>(N) / base1,
             static_cast<double>(N) / base2);
    rows.insert(rows.begin() + (opt.runs("startup") ? 1 : 0),
                {{std::to_string(N) + " /bin/true jobs, concurrency "
                    + std::to_string(C) + " (jobs/s)",
                  fmt("%.0f", jobs_per_s), fmt("%.0f", base_rate), "", "-"},
                 {"  ratio jobd / posix_spawn baseline", fmt("%.2f", ratio), "",
                  ">= 0.6", yes_no(ratio >= 0.6 && bad == 0)}});
    if (bad > 0)
      rows.insert(rows.begin() + (opt.runs("startup") ? 3 : 2),
                  row{"  jobs that did not complete", std::to_string(bad), "",
                      "0", "NO"});
  }

  // 4. steady status calls while jobs print; 5. sleeping jobs ----------------
  if (opt.runs("steady")) {
    const long limit = std::max(opt.steady_jobs, opt.sleep_jobs);
    jobd_client c{opt, limit_flags(limit)};
    initialize(c);
    // A finished job to query until the printing jobs have ids.
    auto first = submit_jobs(
      c, 1, [](uint64_t) { return execute_args("/bin/true", {}); }, nullptr);
    wait_jobs(c, first);
    std::vector<std::string> targets = first;
    std::mutex targets_mu;
    std::atomic<bool> pacing{true};
    std::vector<int64_t> steady_ids;
    const auto interval
      = std::chrono::nanoseconds(1000000000L / opt.steady_rate);
    std::thread pacer{[&] {
      auto next = clock_type::now();
      uint64_t k = 0;
      steady_ids.reserve(100000);
      while (pacing.load()) {
        std::string params;
        {
          std::lock_guard<std::mutex> guard{targets_mu};
          params = status_params(targets[k % targets.size()]);
        }
        ++k;
        steady_ids.push_back(c.send("tools/call", params, g_steady));
        next += interval;
        std::this_thread::sleep_until(next);
      }
    }};
    progress("%ld jobs printing %ld lines every %ld ms, status at %ld/s ...",
             opt.steady_jobs, opt.emit_lines, opt.emit_interval_ms,
             opt.steady_rate);
    auto load_start = now_ns();
    const auto emit_lines = std::to_string(opt.emit_lines);
    const auto emit_ms = std::to_string(opt.emit_interval_ms);
    auto printers = submit_jobs(
      c, static_cast<uint64_t>(opt.steady_jobs),
      [&](uint64_t) {
        return execute_args(opt.self_exe, {"--emit", emit_lines, emit_ms});
      },
      nullptr);
    {
      std::lock_guard<std::mutex> guard{targets_mu};
      targets = printers;
    }
    auto bad = wait_jobs(c, printers);
    auto load_secs = static_cast<double>(now_ns() - load_start) / 1e9;
    pacing = false;
    pacer.join();
    c.wait_answered(g_steady, steady_ids.size());
    std::vector<double> lat;
    for (auto id : steady_ids)
      lat.push_back(c.latency_ms(id));
    auto p50 = percentile(lat, 50);
    auto p99 = percentile(lat, 99);
    auto mx = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
    progress("steady status: %zu calls over %.1f s, p50 %.3f p99 %.3f max %.3f "
             "ms; %llu printers did not complete",
             lat.size(), load_secs, p50, p99, mx,
             static_cast<unsigned long long>(bad));
    rows.push_back({"status p99 at " + std::to_string(opt.steady_rate)
                      + " calls/s while " + std::to_string(opt.steady_jobs)
                      + " jobs print (" + fmt("%.1f s", load_secs) + ")",
                    fmt("%.2f ms", p99), "", "< 5 ms", yes_no(p99 < 5)});
    rows.push_back({"  p50 / max",
                    fmt("%.2f", p50) + " / " + fmt("%.1f ms", mx), "", "",
                    "-"});

    // 5. sleeping jobs.
    progress("%ld sleep jobs ...", opt.sleep_jobs);
    auto sl_start = now_ns();
    auto sleepers = submit_jobs(
      c, static_cast<uint64_t>(opt.sleep_jobs),
      [](uint64_t) { return execute_args("sleep", {"60"}); }, nullptr);
    // All running: METRICS counts a job running once its process started.
    double all_running_ms = -1;
    long long running = 0;
    for (int polls = 0; polls < 30000; ++polls) {
      auto id
        = c.send("tools/call", call_params("console_get_job_metrics", "{}"),
                 g_poll, true);
      auto body = c.wait_reply(id);
      running = int_field(body, "runningJobs");
      if (running >= opt.sleep_jobs) {
        all_running_ms = ms_since(sl_start);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto t0 = proc_cpu_ticks(c.pid());
    auto w0 = now_ns();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto t1 = proc_cpu_ticks(c.pid());
    auto wall = static_cast<double>(now_ns() - w0) / 1e9;
    auto cpu_pct = 100.0 * static_cast<double>(t1 - t0)
                   / static_cast<double>(::sysconf(_SC_CLK_TCK)) / wall;
    auto rss_sleeping = proc_status_kb(c.pid(), "VmRSS");
    progress("sleepers: %lld running after %.0f ms; CPU %.2f %% while "
             "sleeping; RSS %ld kB",
             running, all_running_ms, cpu_pct, rss_sleeping);
    rows.push_back(
      {std::to_string(opt.sleep_jobs) + " sleep jobs: time until all run",
       all_running_ms < 0 ? std::string{"not reached"}
                          : fmt("%.0f ms", all_running_ms),
       "", "", "-"});
    rows.push_back({"  jobd CPU over 2 s while they sleep",
                    fmt("%.2f %%", cpu_pct), "", "", "-"});
    rows.push_back(
      {"  jobd VmRSS with them running", mb(rss_sleeping), "", "", "-"});
    c.stop();
  }

  // 6. memory: idle and with retained jobs
  // --------------------------------------
  if (opt.runs("memory")) {
    jobd_client c{opt, limit_flags(opt.concurrency)};
    initialize(c);
    auto id = c.send("tools/list", "{}", g_setup);
    c.wait_reply(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto idle = proc_status_kb(c.pid(), "VmRSS");
    progress("idle VmRSS %ld kB; %ld true jobs to retain ...", idle,
             opt.retained_jobs);
    auto start = now_ns();
    auto jobs = submit_jobs(
      c, static_cast<uint64_t>(opt.retained_jobs),
      [](uint64_t) { return execute_args("/bin/true", {}); }, nullptr);
    wait_jobs(c, jobs);
    auto secs = static_cast<double>(now_ns() - start) / 1e9;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto full = proc_status_kb(c.pid(), "VmRSS");
    progress("%zu retained jobs (%.0f jobs/s): VmRSS %ld kB", jobs.size(),
             static_cast<double>(jobs.size()) / secs, full);
    rows.push_back({"jobd VmRSS idle (after initialize)", mb(idle), "",
                    "< 20 MB", yes_no(idle < 20 * 1024)});
    rows.push_back({"jobd VmRSS with " + std::to_string(jobs.size())
                      + " finished jobs retained",
                    mb(full), "", "< 64 MB", yes_no(full < 64 * 1024)});
    rows.push_back(
      {"  (" + std::to_string(jobs.size()) + " true jobs at concurrency "
         + std::to_string(opt.concurrency) + ", jobs/s)",
       fmt("%.0f", static_cast<double>(jobs.size()) / secs), "", "", "-"});
    c.stop();
  }

  // 7. one job writing a lot to stdout
  // -------------------------------------------
  if (!opt.skip_big && opt.runs("big")) {
    const auto bytes = std::to_string(opt.big_bytes);
    const double mib = static_cast<double>(opt.big_bytes) / (1 << 20);
    auto base = spawn_baseline(
      {"/bin/sh", "-c", "head -c " + bytes + " /dev/zero > /dev/null"}, 1, 1);
    auto base_rate = mib / base;
    struct drained {
      double rate = 0;
      long growth = 0;
      uint64_t bad = 0;
    };
    // The same job on a jobd with a store of its own, then with --ephemeral
    // (the store keeps no output): what persisting the output costs.
    auto drain = [&](std::vector<std::string> flags, const char* mode) {
      jobd_client c{opt, std::move(flags)};
      initialize(c);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto rss0 = proc_status_kb(c.pid(), "VmRSS");
      auto hwm0 = proc_status_kb(c.pid(), "VmHWM");
      progress("a job writing %.0f MiB (%s) ...", mib, mode);
      auto start = now_ns();
      auto jobs = submit_jobs(
        c, 1,
        [&](uint64_t) {
          return execute_args("head", {"-c", bytes, "/dev/zero"});
        },
        nullptr);
      drained d;
      d.bad = wait_jobs(c, jobs);
      auto secs = static_cast<double>(now_ns() - start) / 1e9;
      auto hwm1 = proc_status_kb(c.pid(), "VmHWM");
      auto rss1 = proc_status_kb(c.pid(), "VmRSS");
      d.growth = hwm1 - rss0;
      d.rate = mib / secs;
      progress("big job (%s): %.2f s (%.0f MiB/s), baseline %.2f s (%.0f "
               "MiB/s); RSS %ld -> %ld kB, HWM %ld -> %ld kB",
               mode, secs, d.rate, base, base_rate, rss0, rss1, hwm0, hwm1);
      c.stop();
      return d;
    };
    auto stored = drain({}, "store");
    auto eph = drain({"--ephemeral"}, "--ephemeral");
    auto label = fmt("%.0f MiB", mib);
    rows.push_back({"job writing " + label
                      + " to stdout: peak memory growth "
                        "(VmHWM - idle VmRSS)",
                    mb(stored.growth), "", "< 64 MB",
                    yes_no(stored.growth < 64 * 1024)});
    rows.push_back({"  drain rate (MiB/s), baseline: same producer > /dev/null",
                    fmt("%.0f", stored.rate), fmt("%.0f", base_rate),
                    ">= 0.5 x",
                    yes_no(stored.rate >= 0.5 * base_rate && stored.bad == 0)});
    rows.push_back({"  drain ratio jobd / baseline",
                    fmt("%.2f", stored.rate / base_rate), "", ">= 0.5",
                    yes_no(stored.rate / base_rate >= 0.5 && stored.bad == 0)});
    rows.push_back({"  drain rate (MiB/s), --ephemeral", fmt("%.0f", eph.rate),
                    fmt("%.0f", base_rate), "", "-"});
    rows.push_back({"    its peak memory growth", mb(eph.growth), "", "", "-"});
    rows.push_back({"  drain ratio store / --ephemeral",
                    fmt("%.2f", stored.rate / eph.rate), "", ">= 0.8",
                    yes_no(stored.rate >= 0.8 * eph.rate && stored.bad == 0
                           && eph.bad == 0)});
  }

  std::printf("\njobd load run: %s, %u CPUs, %s (%.0f s)\n\n",
              opt.quick ? "quick" : "full", std::thread::hardware_concurrency(),
              opt.jobd.c_str(),
              static_cast<double>(now_ns() - total_start) / 1e9);
  print_table(rows);
  return 0;
}

// A client that stops reading stdout must stall nothing in jobd: jobs keep
// their timeouts while the client does not read, every reply arrives once it
// reads again, and a client that only sends meets backpressure (jobd stops
// reading its requests) instead of growing jobd's memory.
//
// jobd_process reads stdout on a thread of its own and cannot stop, so this
// file drives the binary over its own pipes and uses the harness's JSON and
// time helpers.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#ifndef JOBD_BINARY
#define JOBD_BINARY "jobd"
#endif

extern char** environ;

namespace {

using namespace jobd_it;

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

// jobd over three pipes; stdout is read only when the test asks.
class raw_jobd {
public:
  explicit raw_jobd(std::vector<std::string> args = {}) {
    signal(SIGPIPE, SIG_IGN);
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0
        || pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t def, empty;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    std::vector<std::string> argv_s{JOBD_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto rc = posix_spawn(&pid_, JOBD_BINARY, &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in_ = in[1];
    out_ = out[0];
    err_ = err[0];
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn: " << std::strerror(rc);
      pid_ = -1;
      return;
    }
    ::fcntl(in_, F_SETFL, ::fcntl(in_, F_GETFL) | O_NONBLOCK);
    // stderr is always drained: a full stderr pipe must not be what stalls.
    err_thread_ = std::thread{[this] {
      char buf[4096];
      for (;;) {
        auto n = ::read(err_, buf, sizeof buf);
        if (n <= 0)
          return;
        std::lock_guard<std::mutex> guard{err_mtx_};
        err_text_.append(buf, static_cast<size_t>(n));
      }
    }};
  }

  ~raw_jobd() {
    close_stdin();
    if (pid_ > 0 && !exited_ && !wait_exit(5000)) {
      ADD_FAILURE() << "jobd did not exit within 5 s of stdin EOF";
      ::kill(pid_, SIGKILL);
      wait_exit(5000);
    }
    close_stdout();
    if (err_thread_.joinable())
      err_thread_.join();
    ::close(err_);
  }

  pid_t pid() const {
    return pid_;
  }

  // Writes a line; false if jobd took none of it for `timeout_ms`.
  bool send(const std::string& line, int timeout_ms = 10000) {
    auto data = line + "\n";
    size_t off = 0;
    while (off < data.size()) {
      auto n = ::write(in_, data.data() + off, data.size() - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return false;
      pollfd pfd{in_, POLLOUT, 0};
      if (::poll(&pfd, 1, timeout_ms) == 0) {
        // A started line must be finished before anything else is sent.
        EXPECT_EQ(off, 0u) << "jobd stopped reading inside a line";
        return false;
      }
    }
    return true;
  }

  int64_t request(const std::string& method, const std::string& params = "") {
    auto id = next_id_++;
    auto line = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id)
                + ",\"method\":" + q(method)
                + (params.empty() ? "" : ",\"params\":" + params) + "}";
    EXPECT_TRUE(send(line)) << "jobd does not read its stdin";
    sent_.insert(id);
    return id;
  }

  int64_t tool(const std::string& name, const std::string& args,
               const std::string& progress_token = "") {
    std::string params = "{\"name\":" + q(name) + ",\"arguments\":" + args;
    if (!progress_token.empty())
      params += ",\"_meta\":{\"progressToken\":" + q(progress_token) + "}";
    return request("tools/call", params + "}");
  }

  // The next line of stdout, or nullopt on timeout or EOF.
  std::optional<std::string> read_line(int timeout_ms) {
    auto deadline = now_ms() + timeout_ms;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = deadline - now_ms();
      if (left <= 0)
        return std::nullopt;
      pollfd pfd{out_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) <= 0)
        continue;
      char chunk[65536];
      auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0)
        return std::nullopt;
      buf_.append(chunk, static_cast<size_t>(n));
      bytes_read_ += static_cast<uint64_t>(n);
    }
  }

  uint64_t bytes_read() const {
    return bytes_read_;
  }

  // Reads until the response to `id` arrives; everything read is kept.
  DocPtr await(int64_t id, int timeout_ms = 10000) {
    auto deadline = now_ms() + timeout_ms;
    while (responses_.count(id) == 0) {
      auto left = deadline - now_ms();
      if (left <= 0)
        return nullptr;
      auto line = read_line(static_cast<int>(left));
      if (!line)
        return nullptr;
      take(*line);
    }
    return responses_[id];
  }

  // Reads until every request sent so far was answered.
  // Reads until every request is answered. The bound is on silence, not on
  // the whole: under ASan on a loaded machine thousands of tools/list
  // replies take minutes, but a lost reply still fails after `idle_ms`.
  bool await_all(int idle_ms, int cap_ms = 200000) {
    auto deadline = now_ms() + cap_ms;
    while (responses_.size() < sent_.size()) {
      auto left = std::min<int64_t>(deadline - now_ms(), idle_ms);
      if (left <= 0)
        return false;
      auto line = read_line(static_cast<int>(left));
      if (!line)
        return false;
      take(*line);
    }
    return true;
  }

  // Bytes jobd wrote that we did not read yet.
  int unread_bytes() const {
    int n = 0;
    ::ioctl(out_, FIONREAD, &n);
    return n;
  }

  void handshake() {
    auto id = request(
      "initialize",
      R"({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"slow","version":"1"}})");
    ASSERT_TRUE(await(id)) << stderr_text();
    send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  }

  void close_stdout() {
    if (out_ >= 0)
      ::close(out_);
    out_ = -1;
  }

  void close_stdin() {
    if (in_ >= 0)
      ::close(in_);
    in_ = -1;
  }

  bool wait_exit(int timeout_ms) {
    auto deadline = now_ms() + timeout_ms;
    while (!exited_) {
      int status = 0;
      auto rc = ::waitpid(pid_, &status, WNOHANG);
      // ECHILD: another suite's reaper (the harness is a subreaper) took it.
      if (rc == pid_ || (rc < 0 && errno == ECHILD)) {
        exited_ = true;
        break;
      }
      if (now_ms() > deadline)
        return false;
      sleep_ms(10);
    }
    return true;
  }

  std::string stderr_text() {
    std::lock_guard<std::mutex> guard{err_mtx_};
    return err_text_;
  }

  // Every response by id, and every notification in arrival order, with
  // the index of the line it came in.
  std::map<int64_t, DocPtr> responses_;
  std::map<int64_t, size_t> response_line_;
  std::vector<std::pair<size_t, DocPtr>> notifications_;
  std::set<int64_t> sent_;
  int duplicates = 0;
  int bad_lines = 0;

private:
  void take(const std::string& line) {
    auto doc = parse(line);
    ++lines_;
    if (doc->HasParseError() || !doc->IsObject()
        || str(*doc, "jsonrpc") != "2.0") {
      ++bad_lines;
      ADD_FAILURE() << "not a JSON-RPC message: " << line.substr(0, 300);
      return;
    }
    if (!has(*doc, "id")) {
      notifications_.emplace_back(lines_, doc);
      return;
    }
    auto& id = (*doc)["id"];
    if (!id.IsInt64()) {
      ADD_FAILURE() << "unexpected id: " << line.substr(0, 300);
      return;
    }
    if (!responses_.emplace(id.GetInt64(), doc).second)
      ++duplicates;
    response_line_[id.GetInt64()] = lines_;
  }

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  bool exited_ = false;
  std::string buf_;
  uint64_t bytes_read_ = 0;
  size_t lines_ = 0;
  int64_t next_id_ = 1;
  std::thread err_thread_;
  std::mutex err_mtx_;
  std::string err_text_;
};

const Value& structured(const DocPtr& doc) {
  static const Value empty(rapidjson::kObjectType);
  auto sc = doc ? at(*doc, "result.structuredContent") : nullptr;
  if (sc == nullptr) {
    ADD_FAILURE() << "no structuredContent in "
                  << (doc ? to_json(*doc).substr(0, 500) : "<none>");
    return empty;
  }
  return *sc;
}

std::string execute_args(const std::string& script,
                         const std::string& options = "{}") {
  return "{\"command\":\"sh\",\"args\":[\"-c\"," + q(script)
         + "],\"options\":" + options + "}";
}

TEST(SlowClient, JobsKeepTheirTimeoutsAndEveryReplyArrives) {
  raw_jobd jobd{{"--max-concurrent-jobs", "20"}};
  ASSERT_GT(jobd.pid(), 0);
  jobd.handshake();
  ASSERT_TRUE(
    jobd.await(jobd.request("logging/setLevel", R"({"level":"debug"})")));
  // Jobs that print during the stall, submitted while still reading.
  std::vector<std::string> printers;
  for (int i = 0; i < 8; ++i) {
    auto id = jobd.tool(
      "console_execute_async",
      execute_args("sleep 0.2; i=0; while [ $i -lt 20 ]; do echo line $i; "
                   "i=$((i+1)); sleep 0.02; done"));
    auto reply = jobd.await(id);
    ASSERT_TRUE(reply);
    printers.push_back(str(structured(reply), "jobId"));
  }

  // From here on nothing is read for 2 s.
  auto stall_start = wall_ms();
  auto timeout_submit = jobd.tool(
    "console_execute_async", execute_args("sleep 5", R"({"timeout":500})"));
  auto short_submit
    = jobd.tool("console_execute_async", execute_args("sleep 0.2"));
  std::map<int64_t, std::string> waits; // request id -> progress token
  for (size_t i = 0; i < printers.size(); ++i) {
    auto token = "tok-" + std::to_string(i);
    waits[jobd.tool("console_wait_job",
                    "{\"jobId\":" + q(printers[i]) + ",\"until\":\"exit\"}",
                    token)]
      = token;
  }
  std::vector<int64_t> true_submits;
  for (int i = 0; i < 100; ++i)
    true_submits.push_back(
      jobd.tool("console_execute_async", R"({"command":"true"})"));
  // Large replies, so that the stdout pipe is full well before the end.
  for (int i = 0; i < 60; ++i)
    jobd.request("tools/list");
  for (int i = 0; i < 100; ++i) {
    jobd.request("ping");
    jobd.tool("console_get_job_status",
              "{\"jobId\":" + q(printers[i % printers.size()]) + "}");
  }
  auto requests = jobd.sent_.size();
  EXPECT_GE(requests, 370u);
  sleep_ms(
    static_cast<int>(std::max<int64_t>(0, stall_start + 2000 - wall_ms())));
  auto resumed = wall_ms();
  // The pipe is full (a pipe's pages are not always filled to the byte)
  // and most of what jobd had to say waited in jobd: it did not block.
  auto unread = jobd.unread_bytes();
  auto read_before = jobd.bytes_read();
  EXPECT_GE(unread, 32768) << "the client really did not read";

  ASSERT_TRUE(jobd.await_all(20000))
    << jobd.responses_.size() << " of " << jobd.sent_.size()
    << " replies arrived; stderr: " << jobd.stderr_text();
  EXPECT_EQ(jobd.duplicates, 0);
  EXPECT_EQ(jobd.bad_lines, 0);
  EXPECT_GT(jobd.bytes_read() - read_before, 10 * static_cast<uint64_t>(unread))
    << "the replies of the stall should be far more than the pipe holds";
  for (auto id : jobd.sent_)
    EXPECT_EQ(jobd.responses_.count(id), 1u) << "no reply to " << id;

  // The timeout fired on time although nobody read for the whole stall.
  auto timeout_id = str(structured(jobd.responses_[timeout_submit]), "jobId");
  auto status = jobd.await(
    jobd.tool("console_get_job_status", "{\"jobId\":" + q(timeout_id) + "}"));
  ASSERT_TRUE(status);
  auto& job = structured(status)["job"];
  EXPECT_EQ(str(job, "status"), "failed") << to_json(job);
  EXPECT_EQ(str(job, "errorCode"), "TIMEOUT") << to_json(job);
  auto started = parse_iso_ms(str(job, "startedAt"));
  auto finished = parse_iso_ms(str(job, "finishedAt"));
  EXPECT_GE(finished - started, 450) << to_json(job);
  EXPECT_LE(finished - started, 1200) << to_json(job);
  EXPECT_LT(finished, resumed) << "ended only once the client read again";

  auto short_id = str(structured(jobd.responses_[short_submit]), "jobId");
  status = jobd.await(
    jobd.tool("console_get_job_status", "{\"jobId\":" + q(short_id) + "}"));
  ASSERT_TRUE(status);
  auto& short_job = structured(status)["job"];
  EXPECT_EQ(str(short_job, "status"), "completed") << to_json(short_job);
  EXPECT_LT(parse_iso_ms(str(short_job, "finishedAt")), resumed);

  // Each wait ended with its job, during the stall; no progress notification
  // of a wait follows its reply, and progress only grows.
  std::map<std::string, size_t> reply_line;
  for (auto& [id, token] : waits) {
    auto& result = structured(jobd.responses_[id]);
    auto& waited = result["job"];
    EXPECT_EQ(str(waited, "status"), "completed") << to_json(result);
    EXPECT_LT(parse_iso_ms(str(waited, "finishedAt")), resumed);
    reply_line[token] = jobd.response_line_[id];
  }
  std::map<std::string, double> last_progress;
  for (auto& [line, note] : jobd.notifications_) {
    if (str(*note, "method") != "notifications/progress")
      continue;
    auto token = str(*note, "params.progressToken");
    ASSERT_TRUE(reply_line.count(token)) << to_json(*note);
    EXPECT_LT(line, reply_line[token]) << "progress after the reply";
    auto progress = at(*note, "params.progress")->GetDouble();
    EXPECT_GT(progress, last_progress[token]) << to_json(*note);
    last_progress[token] = progress;
  }
  for (auto submit : true_submits)
    EXPECT_TRUE(has(structured(jobd.responses_[submit]), "jobId"));
}

TEST(SlowClient, RequestsWithoutReadingMeetBackpressure) {
  raw_jobd jobd;
  ASSERT_GT(jobd.pid(), 0);
  jobd.handshake();
  // tools/list replies are several KiB: the 64 MiB of queued replies at
  // which jobd stops reading come after some thousands of requests.
  int64_t sent = 0;
  bool stalled = false;
  while (sent < 40000) {
    auto line = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(100000 + sent)
                + ",\"method\":\"tools/list\"}";
    if (!jobd.send(line, 2000)) {
      stalled = true;
      break;
    }
    jobd.sent_.insert(100000 + sent);
    ++sent;
  }
  ASSERT_TRUE(stalled) << "jobd read " << sent << " requests without a stop";
  auto rss = vm_rss_kib(jobd.pid());
  if (!under_asan) {
    // 64 MiB of replies, the replies to one block of requests read before
    // the reader paused, and the server itself.
    EXPECT_LT(rss, 200 * 1024)
      << "VmRSS " << rss << " KiB after " << sent << " requests";
  }
  EXPECT_NE(jobd.stderr_text().find("reading requests paused"),
            std::string::npos);
  ASSERT_TRUE(jobd.await_all(20000))
    << jobd.responses_.size() << " of " << sent << " replies";
  EXPECT_EQ(jobd.duplicates, 0);
  // Reading resumed: jobd serves as before.
  ASSERT_TRUE(jobd.await(jobd.request("ping"), 5000));
  std::cerr << "backpressure after " << sent << " requests, VmRSS " << rss
            << " KiB\n";
}

TEST(SlowClient, ExitWithANonReadingClientIsBounded) {
  raw_jobd jobd;
  ASSERT_GT(jobd.pid(), 0);
  jobd.handshake();
  for (int i = 0; i < 200; ++i)
    jobd.request("tools/list");
  sleep_ms(200);
  auto start = now_ms();
  jobd.close_stdin();
  // At most 1 s of flushing to a client that does not read, plus shutdown.
  EXPECT_TRUE(jobd.wait_exit(4000));
  EXPECT_LT(now_ms() - start, 4000);
  EXPECT_NE(jobd.stderr_text().find("not sent at exit"), std::string::npos)
    << jobd.stderr_text();
}

TEST(SlowClient, ClientGoneStopsJobd) {
  raw_jobd jobd;
  ASSERT_GT(jobd.pid(), 0);
  jobd.handshake();
  auto id = jobd.tool("console_execute_async", execute_args("sleep 30"));
  ASSERT_TRUE(jobd.await(id));
  // The client closes its end of stdout but keeps stdin open: the next
  // reply cannot be written, and jobd shuts down as on stdin EOF.
  jobd.close_stdout();
  auto start = now_ms();
  jobd.request("ping");
  EXPECT_TRUE(jobd.wait_exit(5000)) << jobd.stderr_text();
  EXPECT_LT(now_ms() - start, 5000);
  EXPECT_NE(jobd.stderr_text().find("cannot write to the client"),
            std::string::npos)
    << jobd.stderr_text();
}

} // namespace

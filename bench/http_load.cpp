// jobd_http_load: the HTTP transport against stdio, in one jobd and one run.
// Starts the real jobd with stdio and `--http 127.0.0.1:0` both on, then
// measures the same work over each and prints one table. Plain C++17 and
// POSIX sockets: no CAF, no HTTP library (the client is deliberately naive:
// one request at a time per keep-alive connection).
//
//   jobd_http_load [--jobd PATH] [--clients N] [--jobs-per-client M]
//                  [--pings K] [--quick]
//
// Phases:
//   1. `ping` one at a time: over stdio, then over one HTTP connection:
//      calls/s and latency p50/p99 (the cost of HTTP framing, auth and
//      routing on top of the same ENDPOINT work);
//   2. `ping` from 16 HTTP clients at once (a session each): calls/s, p50/p99;
//   3. N clients x M `/bin/true` jobs over HTTP, each client one session,
//      each job one `console_execute_async` with `options.waitMs` (run and
//      wait), --max-concurrent-jobs 10: wall time and jobs/s; then the same
//      N x M jobs over stdio with N requests in flight.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
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

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "jobd_http_load: %s\n", what.c_str());
  std::exit(1);
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

const char* token = "bench:jobd-http-load-bench-token";
const char* bearer = "jobd-http-load-bench-token";

// -- jobd, with its stdio on pipes
// ---------------------------------------------

struct jobd_process {
  pid_t pid = -1;
  int in = -1;  // its stdin
  int out = -1; // its stdout
  std::string buffer;
  uint16_t port = 0;
  std::filesystem::path dir;

  jobd_process(const std::string& binary, long limit) {
    char tmpl[] = "/tmp/jobd-http-load-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      die("mkdtemp failed");
    dir = tmpl;
    auto tokens = dir / "tokens";
    std::ofstream{tokens} << token << "\n";
    ::chmod(tokens.c_str(), 0600);
    auto err = dir / "stderr";
    int in_pipe[2];
    int out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)
      die("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> args{binary,
                                  "--ephemeral",
                                  "--http",
                                  "127.0.0.1:0",
                                  "--auth-token-file",
                                  tokens.string(),
                                  "--http-rate-limit",
                                  "0",
                                  "--max-concurrent-jobs",
                                  std::to_string(limit),
                                  "--max-concurrent-jobs-per-session",
                                  std::to_string(limit)};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), environ)
        != 0)
      die("cannot start " + binary);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    in = in_pipe[1];
    out = out_pipe[0];
    // The port, from the line `serving MCP over HTTP at http://H:P/mcp`.
    auto deadline = clock_type::now() + std::chrono::seconds(10);
    const std::string mark = "serving MCP over HTTP at http://127.0.0.1:";
    while (port == 0) {
      if (clock_type::now() > deadline)
        die("jobd did not say where it serves HTTP");
      std::ifstream f{err};
      std::string text{std::istreambuf_iterator<char>(f), {}};
      if (auto at = text.find(mark); at != std::string::npos)
        port
          = static_cast<uint16_t>(std::atoi(text.c_str() + at + mark.size()));
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ~jobd_process() {
    if (in >= 0)
      ::close(in);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (out >= 0)
      ::close(out);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  void send(const std::string& line) {
    auto text = line + "\n";
    size_t off = 0;
    while (off < text.size()) {
      auto n = ::write(in, text.data() + off, text.size() - off);
      if (n <= 0)
        die("write to jobd failed");
      off += static_cast<size_t>(n);
    }
  }

  std::string read_line() {
    for (;;) {
      if (auto nl = buffer.find('\n'); nl != std::string::npos) {
        auto line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        return line;
      }
      char chunk[65536];
      auto n = ::read(out, chunk, sizeof chunk);
      if (n <= 0)
        die("jobd closed stdout");
      buffer.append(chunk, static_cast<size_t>(n));
    }
  }

  /// The next response (skips notifications).
  std::string read_response() {
    for (;;) {
      auto line = read_line();
      if (line.find("\"id\":") != std::string::npos
          && line.find("\"method\":") == std::string::npos)
        return line;
    }
  }
};

// -- a naive HTTP/1.1 client
// ---------------------------------------------------

class http_client {
public:
  explicit http_client(uint16_t port) : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      die("cannot connect to jobd's HTTP port");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~http_client() {
    ::close(fd_);
  }

  /// POSTs one message; answers the JSON-RPC response in the reply (the
  /// JSON body, or the SSE event that carries the response).
  std::string post(const std::string& body) {
    std::string req
      = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_)
        + "\r\nAuthorization: Bearer " + bearer
        + "\r\nContent-Type: application/json\r\nAccept: "
          "application/json, text/event-stream\r\n";
    if (!session_.empty())
      req += "Mcp-Session-Id: " + session_
             + "\r\nMCP-Protocol-Version: 2025-11-25\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    write_all(req);
    auto head = read_until("\r\n\r\n");
    auto lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (head.compare(0, 12, "HTTP/1.1 200") != 0
        && head.compare(0, 12, "HTTP/1.1 202") != 0)
      die("HTTP error: " + head.substr(0, head.find('\r')));
    if (auto at = lower.find("mcp-session-id:"); at != std::string::npos) {
      auto v = head.substr(at + 15, head.find('\r', at) - at - 15);
      v.erase(0, v.find_first_not_of(' '));
      session_ = v;
    }
    std::string content;
    if (auto at = lower.find("content-length:"); at != std::string::npos) {
      content
        = read_exactly(std::strtoull(head.c_str() + at + 15, nullptr, 10));
    } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        auto size_line = read_until("\r\n");
        auto size = std::strtoull(size_line.c_str(), nullptr, 16);
        content += read_exactly(size);
        read_exactly(2);
        if (size == 0)
          break;
      }
    }
    if (lower.find("content-type: text/event-stream") == std::string::npos)
      return content;
    // The SSE event that carries the response.
    std::string found;
    size_t pos = 0;
    while ((pos = content.find("data:", pos)) != std::string::npos) {
      auto end = content.find('\n', pos);
      auto data = content.substr(pos + 5, end - pos - 5);
      if (data.find("\"result\"") != std::string::npos
          || data.find("\"error\"") != std::string::npos)
        found = data;
      pos = end;
    }
    return found;
  }

private:
  void write_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        die("HTTP send failed");
      off += static_cast<size_t>(n);
    }
  }
  void fill() {
    char chunk[65536];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0)
      die("jobd closed the HTTP connection");
    buf_.append(chunk, static_cast<size_t>(n));
  }
  std::string read_until(const char* mark) {
    for (;;) {
      if (auto at = buf_.find(mark); at != std::string::npos) {
        auto out = buf_.substr(0, at + std::strlen(mark));
        buf_.erase(0, at + std::strlen(mark));
        return out;
      }
      fill();
    }
  }
  std::string read_exactly(size_t n) {
    while (buf_.size() < n)
      fill();
    auto out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  uint16_t port_;
  int fd_ = -1;
  std::string buf_;
  std::string session_;
};

std::string request(int id, const std::string& method,
                    const std::string& params = {}) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")"
         + method + "\"" + (params.empty() ? "" : ",\"params\":" + params)
         + "}";
}

const std::string init_params
  = R"({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"jobd_http_load","version":"1"}})";
const std::string initialized
  = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";

std::string run_true(const std::string& session) {
  return R"({"name":"console_execute_async","arguments":{"command":"/bin/true","options":{"sessionId":")"
         + session + R"(","waitMs":60000}}})";
}

void handshake(http_client& c) {
  c.post(request(0, "initialize", init_params));
  c.post(initialized);
}

struct row {
  std::string what;
  double per_second;
  double p50;
  double p99;
};

row measure_pings(const char* what, size_t clients, size_t pings,
                  uint16_t port) {
  std::vector<std::vector<double>> lat(clients);
  auto start = clock_type::now();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      http_client c{port};
      handshake(c);
      for (size_t k = 0; k < pings; ++k) {
        auto t = clock_type::now();
        c.post(request(static_cast<int>(k + 1), "ping"));
        lat[i].push_back(ms_between(t, clock_type::now()));
      }
    });
  for (auto& t : threads)
    t.join();
  auto total = ms_between(start, clock_type::now());
  std::vector<double> all;
  for (auto& v : lat)
    all.insert(all.end(), v.begin(), v.end());
  return {what, static_cast<double>(all.size()) * 1000 / total,
          percentile(all, 50), percentile(all, 99)};
}

} // namespace

int main(int argc, char** argv) {
  std::string binary = JOBD_DEFAULT_BINARY;
  size_t clients = 50;
  size_t jobs_per_client = 100;
  size_t pings = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc)
        die(a + " needs a value");
      return std::string{argv[++i]};
    };
    if (a == "--jobd")
      binary = value();
    else if (a == "--clients")
      clients = std::stoul(value());
    else if (a == "--jobs-per-client")
      jobs_per_client = std::stoul(value());
    else if (a == "--pings")
      pings = std::stoul(value());
    else if (a == "--quick") {
      clients = 10;
      jobs_per_client = 20;
      pings = 300;
    } else
      die("usage: jobd_http_load [--jobd PATH] [--clients N] "
          "[--jobs-per-client M] [--pings K] [--quick]");
  }
  std::signal(SIGPIPE, SIG_IGN);
  constexpr long limit = 10;
  jobd_process jobd{binary, limit};
  std::vector<row> rows;

  // 1. ping one at a time, stdio then HTTP.
  jobd.send(request(0, "initialize", init_params));
  jobd.read_response();
  jobd.send(initialized);
  {
    std::vector<double> lat;
    auto start = clock_type::now();
    for (size_t k = 0; k < pings; ++k) {
      auto t = clock_type::now();
      jobd.send(request(static_cast<int>(k + 1), "ping"));
      jobd.read_response();
      lat.push_back(ms_between(t, clock_type::now()));
    }
    auto total = ms_between(start, clock_type::now());
    rows.push_back({"ping, one at a time, stdio",
                    static_cast<double>(pings) * 1000 / total,
                    percentile(lat, 50), percentile(lat, 99)});
  }
  rows.push_back(
    measure_pings("ping, one at a time, HTTP", 1, pings, jobd.port));
  // 2. many HTTP clients at once.
  rows.push_back(
    measure_pings("ping, 16 HTTP clients at once", 16, pings / 4, jobd.port));

  // 3. N x M jobs: HTTP clients, then stdio with N in flight.
  auto total_jobs = clients * jobs_per_client;
  {
    std::vector<std::vector<double>> lat(clients);
    std::atomic<size_t> failures{0};
    auto start = clock_type::now();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients; ++i)
      threads.emplace_back([&, i] {
        http_client c{jobd.port};
        handshake(c);
        auto session = "c" + std::to_string(i);
        for (size_t k = 0; k < jobs_per_client; ++k) {
          auto t = clock_type::now();
          auto reply = c.post(
            request(static_cast<int>(k + 1), "tools/call", run_true(session)));
          if (reply.find("\"completed\"") == std::string::npos)
            ++failures;
          lat[i].push_back(ms_between(t, clock_type::now()));
        }
      });
    for (auto& t : threads)
      t.join();
    auto total = ms_between(start, clock_type::now());
    std::vector<double> all;
    for (auto& v : lat)
      all.insert(all.end(), v.begin(), v.end());
    if (failures > 0)
      std::fprintf(stderr, "jobd_http_load: %zu HTTP jobs did not complete\n",
                   failures.load());
    rows.push_back({std::to_string(clients) + " HTTP clients x "
                      + std::to_string(jobs_per_client) + " jobs (run+wait)",
                    static_cast<double>(total_jobs) * 1000 / total,
                    percentile(all, 50), percentile(all, 99)});
  }
  {
    // stdio: `clients` calls in flight, one per session, as many calls.
    std::vector<clock_type::time_point> sent(total_jobs + 1);
    std::vector<double> lat;
    auto start = clock_type::now();
    size_t next = 0;
    size_t done = 0;
    size_t failures = 0;
    auto send_next = [&] {
      auto session = "s" + std::to_string(next % clients);
      ++next;
      sent[next] = clock_type::now();
      jobd.send(
        request(static_cast<int>(next), "tools/call", run_true(session)));
    };
    while (next < std::min(clients, total_jobs))
      send_next();
    while (done < total_jobs) {
      auto line = jobd.read_response();
      auto at = line.find("\"id\":");
      auto id = std::strtoul(line.c_str() + at + 5, nullptr, 10);
      if (id > 0 && id <= total_jobs)
        lat.push_back(ms_between(sent[id], clock_type::now()));
      if (line.find("\"completed\"") == std::string::npos)
        ++failures;
      ++done;
      if (next < total_jobs)
        send_next();
    }
    auto total = ms_between(start, clock_type::now());
    if (failures > 0)
      std::fprintf(stderr, "jobd_http_load: %zu stdio jobs did not complete\n",
                   failures);
    rows.push_back({"stdio, " + std::to_string(clients) + " calls in flight, "
                      + std::to_string(total_jobs) + " jobs (run+wait)",
                    static_cast<double>(total_jobs) * 1000 / total,
                    percentile(lat, 50), percentile(lat, 99)});
  }

  std::printf("| phase | per second | p50 ms | p99 ms |\n|---|---|---|---|\n");
  for (auto& r : rows)
    std::printf("| %s | %.0f | %.2f | %.2f |\n", r.what.c_str(), r.per_second,
                r.p50, r.p99);
  return 0;
}

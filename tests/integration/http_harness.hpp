// HTTP side of the integration harness: the real jobd binary serving MCP
// Streamable HTTP on 127.0.0.1 (port 0, read from its stderr line `jobd:
// serving MCP over HTTP at http://HOST:PORT/mcp`), a raw-socket HTTP/1.1
// client (Content-Length, chunked and close-delimited bodies, SSE events) and
// an MCP session over it. No dependency beyond POSIX sockets: the tests can
// send anything, slowly, or drop a connection mid-way.
#pragma once

#include "jobd_harness.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jobd_it {

/// One answer read off a connection.
struct http_response {
  /// 0: no status line arrived (closed or timed out).
  int status = 0;
  /// Header names in lower case; the last value of a repeated header.
  std::map<std::string, std::string> headers;
  /// The body decoded so far (whole when `complete`).
  std::string body;
  bool complete = false;
  std::string header(const std::string& name) const;
};

struct sse_event {
  std::string id;
  std::string event;
  std::string data;
  int64_t retry = -1;
};

/// One TCP connection to 127.0.0.1:port.
class http_conn {
public:
  explicit http_conn(uint16_t port, int timeout_ms = 5000);
  ~http_conn();
  http_conn(const http_conn&) = delete;
  http_conn& operator=(const http_conn&) = delete;

  bool connected() const {
    return fd_ >= 0;
  }
  /// Writes everything; false if the peer closed or it took too long.
  bool send_all(const std::string& bytes, int timeout_ms = 5000);
  /// Reads the status line and the headers into `r`.
  bool read_head(http_response& r, int timeout_ms);
  /// Reads body bytes into r.body until the body ends, `enough(r.body)` is
  /// true or the time is up. True if the body ended.
  bool read_body(http_response& r, int timeout_ms,
                 const std::function<bool(const std::string&)>& enough = {});
  /// send_all + read_head + read_body (whole).
  http_response exchange(const std::string& request, int timeout_ms = 10000);
  /// Waits for the peer to close the connection (EOF or reset), discarding
  /// what arrives. True if it closed within the time.
  bool wait_closed(int timeout_ms);
  /// Closes with a TCP reset (SO_LINGER 0): an abrupt disconnect.
  void reset();
  void close();

private:
  /// Reads more raw bytes; false on EOF, error or timeout.
  bool fill(int64_t deadline);
  bool decode_some(http_response& r);

  int fd_ = -1;
  bool eof_ = false;
  std::string raw_;
  enum class body_mode {
    none,
    length,
    chunked,
    until_close
  } mode_
    = body_mode::none;
  uint64_t remaining_ = 0;
  bool in_chunk_ = false;
};

/// Parses complete SSE events out of `buffer` (removing them); `partial`
/// keeps the state between calls.
std::vector<sse_event> take_sse_events(std::string& buffer);

/// An HTTP/1.1 request's text.
std::string http_request(const std::string& method, const std::string& path,
                         const std::vector<std::string>& header_lines,
                         const std::string& body = "");

/// What one POST brought back.
struct http_call {
  http_response http;
  /// The JSON-RPC response (from a JSON body or an SSE event); nullptr if
  /// none.
  DocPtr response;
  /// Messages before the response (SSE).
  std::vector<DocPtr> notifications;
  std::vector<sse_event> events;
};

/// An MCP session over Streamable HTTP (a new connection per request).
class mcp_http {
public:
  mcp_http(uint16_t port, std::string token,
           std::string protocol_version = "2025-11-25");

  uint16_t port() const {
    return port_;
  }
  const std::string& session() const {
    return session_;
  }
  void set_session(std::string id) {
    session_ = std::move(id);
  }
  /// Host, Authorization, Mcp-Session-Id and MCP-Protocol-Version lines.
  std::vector<std::string> headers() const;

  /// initialize + notifications/initialized; false (and a test failure) if
  /// either was refused.
  bool initialize();
  /// POSTs one JSON-RPC message (text) and reads the answer (until the
  /// response with `id_json` arrived when it is a request).
  http_call post(const std::string& body, int timeout_ms = 10000,
                 const std::vector<std::string>& extra = {});
  /// A request with a fresh id; its response (nullptr on failure).
  DocPtr request(const std::string& method,
                 const std::string& params_json = "{}", int timeout_ms = 10000);
  tool_result tool(const std::string& name, const std::string& args_json = "{}",
                   int timeout_ms = 10000);
  /// console_execute_async; the job id ("" and a test failure if refused).
  std::string submit(const std::string& args_json);
  /// DELETE /mcp; the status.
  int end_session();
  int64_t next_id() {
    return next_id_++;
  }
  /// Every notification seen on any POST stream of this session.
  std::vector<DocPtr> notifications;

private:
  uint16_t port_;
  std::string token_;
  std::string version_;
  std::string session_;
  int64_t next_id_ = 1;
};

/// The parts of a tools/call response, as the stdio harness has them.
tool_result to_tool_result(DocPtr response);

/// A jobd serving HTTP (its stdio off unless `stdio`), with a token file of
/// its own; SIGTERM at the end (the exit status must be 0).
struct http_jobd_options {
  /// principal -> token; empty = --http-no-auth.
  std::vector<std::pair<std::string, std::string>> tokens
    = {{"alice", "alice-token-0123456789abcdef"},
       {"bob", "bob-token-0123456789abcdef"},
       {"root", "root-token-0123456789abcdef"}};
  std::vector<std::string> args;
  bool stdio = false;
  bool metrics_listen = false;
};

class http_jobd {
public:
  explicit http_jobd(http_jobd_options opts = {});
  ~http_jobd();

  bool ready() const {
    return port_ != 0;
  }
  uint16_t port() const {
    return port_;
  }
  /// The --metrics-listen port (0 without).
  uint16_t metrics_port() const {
    return metrics_port_;
  }
  std::string token(const std::string& principal) const;
  jobd_process& process() {
    return *proc_;
  }
  /// An MCP session of `principal`, initialized.
  std::unique_ptr<mcp_http> client(const std::string& principal);
  /// SIGTERM and the exit status (nullopt if it did not exit within 10 s).
  std::optional<int> terminate();
  /// Scrapes GET /metrics with the principal's token and returns the value
  /// of the sample `name` (with labels, e.g. `jobd_jobs{state="running"}`);
  /// -1 if absent.
  double metric(const std::string& sample, const std::string& principal);

private:
  http_jobd_options opts_;
  std::string dir_;
  std::unique_ptr<jobd_process> proc_;
  uint16_t port_ = 0;
  uint16_t metrics_port_ = 0;
};

/// The sample's value in a Prometheus text page; -1 if absent.
double prometheus_value(const std::string& page, const std::string& sample);
/// The port of the first stderr line that starts with `prefix`
/// ("jobd: serving MCP over HTTP at http://"); 0 if none within the time.
uint16_t wait_for_port(jobd_process& p, const std::string& prefix,
                       int timeout_ms = 10000);

} // namespace jobd_it

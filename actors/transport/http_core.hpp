// The inside of jobd::http_server: one io_context and its thread, the
// listener, the connections and the MCP sessions. Members are defined by
// concern: http_server.cpp (listener, checks, routes, stop), http_mcp.cpp
// (POST/GET/DELETE /mcp), http_session.cpp (sessions, routing of the
// ENDPOINT's lines, SSE streams and replay).
#pragma once

#include "actors/transport/http_auth.hpp"
#include "actors/transport/http_connection.hpp"
#include "actors/transport/http_server.hpp"
#include "actors/transport/http_session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

namespace jobd::http_detail {

/// The transport's counters (read from any thread by stats()).
struct counters {
  std::atomic<uint64_t> sessions{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> unauthorized{0};
  std::atomic<uint64_t> forbidden{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> too_large{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<uint64_t> bad_requests{0};
};

/// A JSON-RPC error as an HTTP response body (`id` empty: null).
response rpc_error_response(unsigned status, int code, std::string message,
                            std::string id = {});

class server_core {
public:
  server_core(http_options options, http_hooks hooks);
  ~server_core();

  const http_options opts;
  const http_hooks hooks;
  counters stats;
  boost::asio::io_context io;
  std::shared_ptr<io_handle> poster;

  // -- http_server.cpp ------------------------------------------------------

  bool listen(std::string& why);
  uint16_t port() const {
    return port_;
  }
  /// Runs the io thread.
  void run();
  /// Ends everything and joins the thread (any thread but the io thread).
  void stop();

  /// A request's headers arrived: false with the answer if it is refused
  /// before its body is read (Host/Origin, auth, rate, route, media types,
  /// sizes).
  bool on_header(connection& conn, response& refusal);
  /// A whole request arrived.
  void on_request(const std::shared_ptr<connection>& conn);
  /// The connection closed.
  void forget(uint64_t connection_id);
  /// Counts a refused request under its reason.
  void count(unsigned status);
  protocol::http_stats snapshot() const;

  // -- http_mcp.cpp ---------------------------------------------------------

  void post_mcp(const std::shared_ptr<connection>& conn);
  void get_mcp(const std::shared_ptr<connection>& conn);
  void delete_mcp(const std::shared_ptr<connection>& conn);

  // -- http_session.cpp -----------------------------------------------------

  /// A new session of `principal` with its ENDPOINT; null with `why`.
  std::shared_ptr<session> open_session(const std::string& principal,
                                        std::string& why);
  /// The session of `id` if it is open and belongs to `principal`.
  std::shared_ptr<session> find_session(const std::string& id,
                                        const std::string& principal);
  /// Registers a request whose reply goes back on `conn`.
  void open_request(session& s, const std::shared_ptr<connection>& conn,
                    pending_request req, const std::string& id);
  /// The client cancelled request `id`: its stream ends without a reply.
  void cancel_request(session& s, const std::string& id);
  /// The standalone GET stream, on `conn`.
  void open_get_stream(session& s, const std::shared_ptr<connection>& conn);
  /// GET with Last-Event-ID: the rest of that stream, then (if it is still
  /// live) what follows.
  void resume_stream(session& s, const std::shared_ptr<connection>& conn,
                     int stream, uint64_t seq);
  /// A line from the session's ENDPOINT.
  void deliver(session& s, std::string line, message_kind kind,
               std::string key);
  /// Ends the session: its streams end, its sink reports closed.
  void end_session(session& s);
  /// Ends sessions idle for longer than session_idle_ms.
  void sweep();

  header_list session_headers(const session& s) const;

private:
  void accept();
  void on_accept(boost::system::error_code ec,
                 boost::asio::ip::tcp::socket socket);
  void serve_metrics(const std::shared_ptr<connection>& conn);
  void serve_health(const std::shared_ptr<connection>& conn);
  void schedule_sweep();
  void shutdown();

  // http_session.cpp
  std::shared_ptr<session> lookup(const std::string& id) const;
  bool primes(const session& s) const;
  void begin_sse(session& s, sse_stream& st);
  void bind(session& s, sse_stream& st, const std::shared_ptr<connection>& c);
  void pump(session& s, int stream);
  void detach(session& s, int stream, connection* conn);
  void keep(session& s, int stream, uint64_t seq, std::string frame);
  void finish_request(session& s, const std::string& id);

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer accept_timer_;
  token_check tokens_;
  host_check hosts_;
  rate_limiter rate_;
  uint16_t port_ = 0;
  uint64_t next_connection_ = 0;
  std::unordered_map<uint64_t, std::shared_ptr<connection>> connections_;
  std::unordered_map<std::string, std::shared_ptr<session>> sessions_;
  int urandom_ = -1;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  bool stopping_ = false;
};

} // namespace jobd::http_detail

// One TCP connection of the HTTP transport: reads requests with Beast (the
// first byte within the idle timeout, the rest within the request timeout),
// hands each to the server, and writes its answer: a whole response, or an
// SSE stream (chunked) that the session layer feeds. Everything here runs on
// the server's io thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobd::http_detail {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using request = bhttp::request<bhttp::string_body>;
using header_list = std::vector<std::pair<std::string, std::string>>;

class server_core;

/// A whole HTTP response.
struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  header_list headers;
  /// Close the connection after it (the request's body was not read).
  bool close = false;
};

class connection : public std::enable_shared_from_this<connection> {
public:
  connection(server_core& core, tcp::socket socket, uint64_t id);

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Begins reading the first request.
  void start();

  uint64_t id() const {
    return id_;
  }

  /// The request being handled (headers only until its body was read).
  request& req() {
    return parser_->get();
  }

  /// The request's Content-Length, if it has one.
  std::optional<uint64_t> content_length() const {
    auto n = parser_->content_length();
    return n ? std::optional<uint64_t>{*n} : std::nullopt;
  }

  /// Who sent the request (set by the server after authentication).
  std::string principal;

  /// Answers the request; the connection then reads the next one or, after
  /// `Connection: close` or an error, closes.
  void respond(response r);

  /// Begins an SSE response with these extra headers.
  void start_sse(const header_list& headers);

  /// Writes SSE text (events, comments) on the stream begun by start_sse.
  void send_sse(std::string_view text);

  /// Ends the SSE response after what is queued.
  void end_sse();

  /// A write is in flight (the client has not taken everything yet).
  bool writing() const {
    return writing_;
  }

  bool streaming() const {
    return phase_ == phase::streaming;
  }

  bool closed() const {
    return phase_ == phase::closed;
  }

  /// While streaming: `drained` after each write that emptied the queue,
  /// `gone` once when the client went away or a write failed.
  void set_stream_hooks(std::function<void()> drained,
                        std::function<void()> gone);
  void clear_stream_hooks();

  /// Calls `fn` after `delay` unless the request is answered first.
  void wait(std::chrono::milliseconds delay, std::function<void()> fn);

  /// Closes the socket at once.
  void close();

private:
  enum class phase { idle, header, body, handling, streaming, closing, closed };
  enum class deadline_kind { none, first_byte, idle, request, wait, linger };

  void read_some();
  void on_read_some(boost::system::error_code ec, size_t n);
  void begin_request();
  void on_header(boost::system::error_code ec);
  void on_body(boost::system::error_code ec);
  void on_read_error(boost::system::error_code ec);
  void fail_request(unsigned status, std::string message);
  void queue_write(std::string text);
  void write_more();
  void on_write(boost::system::error_code ec);
  void drained();
  void after_response();
  void linger();
  void arm_deadline(deadline_kind kind, std::chrono::milliseconds after);
  void on_deadline(uint64_t generation);
  void arm_ping();

  server_core& core_;
  tcp::socket socket_;
  uint64_t id_;
  phase phase_ = phase::idle;
  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool read_pending_ = false;
  bool cancelled_read_ = false;
  // This response ends with the connection.
  bool close_after_ = false;
  // HTTP/1.1: SSE bodies are chunked (HTTP/1.0: they end with the
  // connection).
  bool chunked_ = true;
  bool finish_when_drained_ = false;

  std::deque<std::string> queue_;
  std::vector<std::string> in_flight_;
  bool writing_ = false;

  asio::steady_timer deadline_;
  deadline_kind deadline_kind_ = deadline_kind::none;
  uint64_t deadline_generation_ = 0;
  std::function<void()> waiting_;
  asio::steady_timer stall_;
  uint64_t stall_generation_ = 0;
  asio::steady_timer ping_;
  uint64_t ping_generation_ = 0;

  std::function<void()> drained_hook_;
  std::function<void()> gone_hook_;
};

} // namespace jobd::http_detail

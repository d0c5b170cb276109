#include "actors/transport/http_connection.hpp"

#include "actors/transport/http_core.hpp"
#include "actors/transport/http_events.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>

namespace jobd::http_detail {

namespace {

using std::chrono::milliseconds;

// Pipelined bytes kept while a response streams; reading stops beyond.
constexpr size_t read_ahead_bytes = 64 * 1024;
// How long a connection closed after an error drains what the client
// still sends, so that it reads our answer instead of a reset.
constexpr milliseconds linger_time{1000};

std::string status_line(unsigned status) {
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string{reason}
         + "\r\n";
}

} // namespace

connection::connection(server_core& core, tcp::socket socket, uint64_t id)
  : core_(core), socket_(std::move(socket)), id_(id), deadline_(core.io),
    stall_(core.io), ping_(core.io) {}

void connection::start() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay{true}, ignored);
  arm_deadline(deadline_kind::first_byte,
               milliseconds{core_.opts.request_timeout_ms});
  read_some();
}

void connection::read_some() {
  if (read_pending_)
    return;
  read_pending_ = true;
  socket_.async_read_some(
    buffer_.prepare(4096),
    [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      self->on_read_some(ec, n);
    });
}

void connection::on_read_some(boost::system::error_code ec, size_t n) {
  read_pending_ = false;
  if (phase_ == phase::closed)
    return;
  if (phase_ == phase::closing) {
    buffer_.consume(buffer_.size());
    if (ec)
      close();
    else
      read_some();
    return;
  }
  if (ec == asio::error::operation_aborted && cancelled_read_) {
    // Cancelled to parse a pipelined request already in the buffer.
    cancelled_read_ = false;
    if (phase_ == phase::idle)
      begin_request();
    return;
  }
  if (ec) {
    // The client went away (or closed its side while we stream).
    close();
    return;
  }
  buffer_.commit(n);
  if (phase_ == phase::idle)
    begin_request();
  else if (phase_ == phase::streaming && buffer_.size() < read_ahead_bytes)
    read_some();
}

void connection::begin_request() {
  phase_ = phase::header;
  arm_deadline(deadline_kind::request,
               milliseconds{core_.opts.request_timeout_ms});
  parser_.emplace();
  parser_->header_limit(core_.opts.max_header_bytes);
  // Checked once the request is authenticated (on_header), then while the
  // body is read.
  parser_->body_limit(boost::none);
  bhttp::async_read_header(
    socket_, buffer_, *parser_,
    [self = shared_from_this()](boost::system::error_code ec, size_t) {
      self->on_header(ec);
    });
}

void connection::on_header(boost::system::error_code ec) {
  if (phase_ == phase::closed)
    return;
  if (ec)
    return on_read_error(ec);
  auto& r = req();
  close_after_ = !r.keep_alive();
  chunked_ = r.version() >= 11;
  response refusal;
  if (!core_.on_header(*this, refusal)) {
    core_.count(refusal.status);
    core_.stats.requests++;
    // Its body (if any) is not read: the connection cannot be reused.
    if (!parser_->is_done())
      refusal.close = true;
    phase_ = phase::handling;
    deadline_.cancel();
    respond(std::move(refusal));
    return;
  }
  if (parser_->is_done())
    return on_body({});
  phase_ = phase::body;
  auto expect = r[bhttp::field::expect];
  if (lowercase(expect) == "100-continue")
    queue_write("HTTP/1.1 100 Continue\r\n\r\n");
  parser_->body_limit(core_.opts.max_body_bytes);
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](boost::system::error_code e,
                                                size_t) { self->on_body(e); });
}

void connection::on_body(boost::system::error_code ec) {
  if (phase_ == phase::closed)
    return;
  if (ec)
    return on_read_error(ec);
  phase_ = phase::handling;
  deadline_kind_ = deadline_kind::none;
  deadline_.cancel();
  core_.stats.requests++;
  core_.on_request(shared_from_this());
}

void connection::on_read_error(boost::system::error_code ec) {
  if (ec == bhttp::error::header_limit)
    return fail_request(431, "request headers too large (limit "
                               + std::to_string(core_.opts.max_header_bytes)
                               + " bytes)");
  if (ec == bhttp::error::body_limit)
    return fail_request(413, "request body too large (limit "
                               + std::to_string(core_.opts.max_body_bytes)
                               + " bytes)");
  if (ec.category()
        == bhttp::make_error_code(bhttp::error::bad_method).category()
      && ec != bhttp::error::end_of_stream
      && ec != bhttp::error::partial_message)
    return fail_request(400, "malformed HTTP request");
  // The client went away, or the deadline closed the socket.
  close();
}

void connection::fail_request(unsigned status, std::string message) {
  core_.count(status);
  core_.stats.requests++;
  phase_ = phase::handling;
  deadline_kind_ = deadline_kind::none;
  deadline_.cancel();
  auto r = rpc_error_response(status, protocol::rpc_code::invalid_request,
                              std::move(message));
  r.close = true;
  respond(std::move(r));
}

void connection::respond(response r) {
  if (phase_ != phase::handling)
    return;
  waiting_ = nullptr;
  if (deadline_kind_ == deadline_kind::wait) {
    deadline_kind_ = deadline_kind::none;
    deadline_.cancel();
  }
  if (r.close)
    close_after_ = true;
  std::string head = status_line(r.status);
  if (r.status != 204 && r.status != 304) {
    if (!r.content_type.empty())
      head += "Content-Type: " + r.content_type + "\r\n";
    head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  for (auto& [name, value] : r.headers)
    head += name + ": " + value + "\r\n";
  if (close_after_)
    head += "Connection: close\r\n";
  head += "\r\n";
  head += r.body;
  finish_when_drained_ = true;
  queue_write(std::move(head));
}

void connection::start_sse(const header_list& headers) {
  if (phase_ != phase::handling)
    return;
  waiting_ = nullptr;
  if (deadline_kind_ == deadline_kind::wait) {
    deadline_kind_ = deadline_kind::none;
    deadline_.cancel();
  }
  phase_ = phase::streaming;
  if (!chunked_)
    close_after_ = true;
  std::string head = status_line(200);
  head += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
          "X-Accel-Buffering: no\r\n";
  head += chunked_ ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n";
  for (auto& [name, value] : headers)
    head += name + ": " + value + "\r\n";
  head += "\r\n";
  queue_write(std::move(head));
  arm_ping();
  // Reading on tells us when the client goes away.
  if (buffer_.size() < read_ahead_bytes)
    read_some();
}

void connection::send_sse(std::string_view text) {
  if (phase_ != phase::streaming || finish_when_drained_)
    return;
  queue_write(chunked_ ? http_chunk(text) : std::string{text});
}

void connection::end_sse() {
  if (phase_ != phase::streaming || finish_when_drained_)
    return;
  drained_hook_ = nullptr;
  gone_hook_ = nullptr;
  ++ping_generation_;
  ping_.cancel();
  finish_when_drained_ = true;
  if (chunked_)
    queue_write(std::string{http_last_chunk});
  else if (!writing_)
    drained();
}

void connection::set_stream_hooks(std::function<void()> drained,
                                  std::function<void()> gone) {
  drained_hook_ = std::move(drained);
  gone_hook_ = std::move(gone);
}

void connection::clear_stream_hooks() {
  drained_hook_ = nullptr;
  gone_hook_ = nullptr;
}

void connection::wait(milliseconds delay, std::function<void()> fn) {
  if (phase_ != phase::handling)
    return;
  waiting_ = std::move(fn);
  arm_deadline(deadline_kind::wait, delay);
}

void connection::queue_write(std::string text) {
  queue_.push_back(std::move(text));
  if (!writing_)
    write_more();
}

void connection::write_more() {
  if (phase_ == phase::closed)
    return;
  if (queue_.empty()) {
    writing_ = false;
    ++stall_generation_;
    stall_.cancel();
    drained();
    return;
  }
  writing_ = true;
  in_flight_.clear();
  while (!queue_.empty()) {
    in_flight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  std::vector<asio::const_buffer> parts;
  parts.reserve(in_flight_.size());
  for (auto& x : in_flight_)
    parts.emplace_back(x.data(), x.size());
  auto generation = ++stall_generation_;
  stall_.expires_after(milliseconds{core_.opts.write_stall_ms});
  stall_.async_wait(
    [self = shared_from_this(), generation](boost::system::error_code ec) {
      if (ec || generation != self->stall_generation_ || !self->writing_)
        return;
      self->core_.stats.timed_out++;
      self->close();
    });
  asio::async_write(
    socket_, parts,
    [self = shared_from_this()](boost::system::error_code ec, size_t) {
      self->on_write(ec);
    });
}

void connection::on_write(boost::system::error_code ec) {
  if (phase_ == phase::closed)
    return;
  in_flight_.clear();
  if (ec) {
    close();
    return;
  }
  write_more();
}

void connection::drained() {
  if (finish_when_drained_) {
    finish_when_drained_ = false;
    after_response();
    return;
  }
  if (phase_ == phase::streaming && drained_hook_) {
    auto hook = drained_hook_; // it may replace the hooks
    hook();
  }
}

void connection::after_response() {
  drained_hook_ = nullptr;
  gone_hook_ = nullptr;
  ++ping_generation_;
  ping_.cancel();
  parser_.reset();
  if (close_after_) {
    linger();
    return;
  }
  phase_ = phase::idle;
  arm_deadline(deadline_kind::idle, milliseconds{core_.opts.idle_timeout_ms});
  if (buffer_.size() == 0) {
    read_some();
  } else if (read_pending_) {
    // A pipelined request is here: stop waiting for more bytes first.
    cancelled_read_ = true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  } else {
    begin_request();
  }
}

void connection::linger() {
  phase_ = phase::closing;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm_deadline(deadline_kind::linger, linger_time);
  read_some();
}

void connection::arm_deadline(deadline_kind kind, milliseconds after) {
  deadline_kind_ = kind;
  auto generation = ++deadline_generation_;
  deadline_.expires_after(after);
  deadline_.async_wait(
    [self = shared_from_this(), generation](boost::system::error_code ec) {
      if (!ec)
        self->on_deadline(generation);
    });
}

void connection::on_deadline(uint64_t generation) {
  if (generation != deadline_generation_ || phase_ == phase::closed)
    return;
  auto kind = std::exchange(deadline_kind_, deadline_kind::none);
  switch (kind) {
    case deadline_kind::none:
      return;
    case deadline_kind::wait:
      if (auto fn = std::move(waiting_)) {
        waiting_ = nullptr;
        fn();
      }
      return;
    case deadline_kind::first_byte:
    case deadline_kind::request:
      // A client too slow to send one request (slowloris).
      core_.stats.timed_out++;
      close();
      return;
    case deadline_kind::idle:
    case deadline_kind::linger:
      close();
      return;
  }
}

void connection::arm_ping() {
  if (core_.opts.sse_keepalive_ms <= 0)
    return;
  auto generation = ++ping_generation_;
  ping_.expires_after(milliseconds{core_.opts.sse_keepalive_ms});
  ping_.async_wait(
    [self = shared_from_this(), generation](boost::system::error_code ec) {
      if (ec || generation != self->ping_generation_ || !self->streaming())
        return;
      if (!self->writing_)
        self->send_sse(": ping\n\n");
      self->arm_ping();
    });
}

void connection::close() {
  if (phase_ == phase::closed)
    return;
  auto keep = shared_from_this();
  phase_ = phase::closed;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  deadline_.cancel();
  stall_.cancel();
  ping_.cancel();
  waiting_ = nullptr;
  drained_hook_ = nullptr;
  auto gone = std::move(gone_hook_);
  gone_hook_ = nullptr;
  if (gone)
    gone();
  core_.forget(id_);
}

} // namespace jobd::http_detail

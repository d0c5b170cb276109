#include "actors/transport/http_server.hpp"

#include "actors/logger.hpp"
#include "actors/transport/http_core.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/principal.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace jobd {

namespace http_detail {

namespace {

using std::chrono::milliseconds;

bool wildcard(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host == "[::]";
}

// Where a hook that never answers stops waiting.
constexpr milliseconds hook_timeout{10000};

} // namespace

response rpc_error_response(unsigned status, int code, std::string message,
                            std::string id) {
  response r;
  r.status = status;
  r.body = protocol::rpc_error(id, code, message);
  return r;
}

server_core::server_core(http_options options, http_hooks hook_set)
  : opts(std::move(options)), hooks(std::move(hook_set)),
    poster(std::make_shared<io_handle>(io)), acceptor_(io), sweep_timer_(io),
    accept_timer_(io), tokens_(opts.tokens),
    hosts_(opts.host, opts.allowed_hosts,
           wildcard(opts.host) && !(opts.mcp && opts.no_auth)),
    rate_(opts.rate_per_second, opts.rate_burst) {}

server_core::~server_core() {
  stop();
  if (urandom_ >= 0)
    ::close(urandom_);
}

bool server_core::listen(std::string& why) {
  auto host = opts.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost")
    host = "127.0.0.1";
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  auto where = opts.host + ":" + std::to_string(opts.port);
  if (ec) {
    why = "cannot listen on " + where + ": not an IP address";
    return false;
  }
  urandom_ = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (urandom_ < 0 && opts.mcp) {
    why = "cannot open /dev/urandom for session ids";
    return false;
  }
  tcp::endpoint ep{address, opts.port};
  acceptor_.open(ep.protocol(), ec);
  if (!ec)
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    acceptor_.bind(ep, ec);
  if (!ec)
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    why = "cannot listen on " + where + ": " + ec.message();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return false;
  }
  port_ = acceptor_.local_endpoint(ec).port();
  return true;
}

void server_core::run() {
  accept();
  schedule_sweep();
  thread_ = std::thread{[this] {
    auto work = asio::make_work_guard(io);
    io.run();
  }};
}

void server_core::stop() {
  if (stopped_.exchange(true))
    return;
  if (thread_.joinable()) {
    asio::post(io, [this] { shutdown(); });
    thread_.join();
  }
  poster->close();
}

void server_core::shutdown() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  sweep_timer_.cancel();
  accept_timer_.cancel();
  std::vector<std::shared_ptr<session>> all;
  for (auto& [id, s] : sessions_)
    all.push_back(s);
  for (auto& s : all)
    end_session(*s);
  std::vector<std::shared_ptr<connection>> conns;
  for (auto& [id, c] : connections_)
    conns.push_back(c);
  for (auto& c : conns)
    c->close();
  connections_.clear();
  stats.connections = 0;
  io.stop();
}

void server_core::accept() {
  acceptor_.async_accept(
    [this](boost::system::error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    });
}

void server_core::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (stopping_ || ec == asio::error::operation_aborted)
    return;
  if (ec) {
    // Out of descriptors, say: try again a little later, not in a loop.
    log::warning("http: accept failed: " + ec.message());
    accept_timer_.expires_after(milliseconds{100});
    accept_timer_.async_wait([this](boost::system::error_code e) {
      if (!e && !stopping_)
        accept();
    });
    return;
  }
  if (connections_.size() >= opts.max_connections) {
    // Told without waiting for the client: a full socket buffer is its loss.
    static constexpr std::string_view busy
      = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
        "Connection: close\r\nRetry-After: 1\r\n\r\n";
    ::send(socket.native_handle(), busy.data(), busy.size(),
           MSG_DONTWAIT | MSG_NOSIGNAL);
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    auto id = ++next_connection_;
    auto conn = std::make_shared<connection>(*this, std::move(socket), id);
    connections_.emplace(id, conn);
    stats.connections = connections_.size();
    conn->start();
  }
  accept();
}

void server_core::forget(uint64_t connection_id) {
  connections_.erase(connection_id);
  stats.connections = connections_.size();
}

void server_core::count(unsigned status) {
  switch (status) {
    case 401:
      stats.unauthorized++;
      break;
    case 403:
      stats.forbidden++;
      break;
    case 429:
      stats.rate_limited++;
      break;
    case 413:
    case 431:
      stats.too_large++;
      break;
    default:
      if (status >= 400 && status < 500)
        stats.bad_requests++;
  }
}

protocol::http_stats server_core::snapshot() const {
  protocol::http_stats s;
  s.enabled = true;
  s.sessions = stats.sessions;
  s.connections = stats.connections;
  s.requests = stats.requests;
  s.unauthorized = stats.unauthorized;
  s.forbidden = stats.forbidden;
  s.rate_limited = stats.rate_limited;
  s.too_large = stats.too_large;
  s.timed_out = stats.timed_out;
  s.bad_requests = stats.bad_requests;
  return s;
}

namespace {

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

enum class route { mcp, metrics, health, none };

route route_of(const http_options& opts, std::string_view target) {
  auto path = path_of(target);
  if (opts.mcp && path == "/mcp")
    return route::mcp;
  if (opts.metrics && path == "/metrics")
    return route::metrics;
  if (opts.metrics && path == "/healthz")
    return route::health;
  return route::none;
}

response refuse(unsigned status, std::string message) {
  auto code = status == 400 ? protocol::rpc_code::invalid_request : -32000;
  return rpc_error_response(status, code, std::move(message));
}

} // namespace

bool server_core::on_header(connection& conn, response& refusal) {
  auto& r = conn.req();
  if (!hosts_.allowed(r[bhttp::field::host])) {
    refusal = refuse(403, "Forbidden: Host header not allowed");
    return false;
  }
  if (auto origin = r.find(bhttp::field::origin);
      origin != r.end()
      && !origin_allowed(origin->value(), opts.allowed_origins)) {
    refusal = refuse(403, "Forbidden: Origin not allowed");
    return false;
  }
  conn.principal.clear();
  if (opts.mcp) {
    if (opts.no_auth) {
      conn.principal = std::string{protocol::local_principal};
    } else if (!tokens_.find(r[bhttp::field::authorization], conn.principal)) {
      refusal = refuse(401, "Unauthorized: a valid bearer token is required");
      refusal.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"jobd\"");
      return false;
    }
    if (auto wait
        = rate_.take(conn.principal, std::chrono::steady_clock::now());
        wait > 0) {
      refusal = refuse(429, "Too many requests");
      refusal.headers.emplace_back("Retry-After", std::to_string(wait));
      return false;
    }
  }
  auto where = route_of(opts, r.target());
  if (where == route::none) {
    refusal = refuse(404, "Not found");
    return false;
  }
  auto method = r.method();
  if (where != route::mcp) {
    if (method != bhttp::verb::get) {
      refusal = refuse(405, "Method not allowed");
      refusal.headers.emplace_back("Allow", "GET");
      return false;
    }
    return true;
  }
  if (method != bhttp::verb::post && method != bhttp::verb::get
      && method != bhttp::verb::delete_) {
    refusal = refuse(405, "Method not allowed");
    refusal.headers.emplace_back("Allow", "GET, POST, DELETE");
    return false;
  }
  auto accept = r[bhttp::field::accept];
  if (method == bhttp::verb::post) {
    if (!accepts(accept, "application/json")
        || !accepts(accept, "text/event-stream")) {
      refusal = refuse(406, "Not Acceptable: the client must accept both "
                            "application/json and text/event-stream");
      return false;
    }
    if (media_type(r[bhttp::field::content_type]) != "application/json") {
      refusal = refuse(415, "Unsupported Media Type: Content-Type must be "
                            "application/json");
      return false;
    }
    if (auto length = conn.content_length();
        length && *length > opts.max_body_bytes) {
      refusal
        = refuse(413, "request body too large (limit "
                        + std::to_string(opts.max_body_bytes) + " bytes)");
      return false;
    }
  } else if (method == bhttp::verb::get
             && !accepts(accept, "text/event-stream")) {
    refusal = refuse(406, "Not Acceptable: the client must accept "
                          "text/event-stream");
    return false;
  }
  if (auto v = r.find("MCP-Protocol-Version");
      v != r.end() && !http_protocol_version(v->value())) {
    refusal = refuse(400, "Bad Request: unsupported MCP-Protocol-Version "
                            + std::string{v->value().substr(0, 64)});
    return false;
  }
  return true;
}

void server_core::on_request(const std::shared_ptr<connection>& conn) {
  auto& r = conn->req();
  switch (route_of(opts, r.target())) {
    case route::mcp:
      if (r.method() == bhttp::verb::post)
        return post_mcp(conn);
      if (r.method() == bhttp::verb::get)
        return get_mcp(conn);
      return delete_mcp(conn);
    case route::metrics:
      return serve_metrics(conn);
    case route::health:
      return serve_health(conn);
    case route::none:
      break;
  }
  conn->respond(refuse(404, "Not found"));
}

void server_core::serve_metrics(const std::shared_ptr<connection>& conn) {
  if (!hooks.metrics)
    return conn->respond(refuse(404, "Not found"));
  std::weak_ptr<connection> weak = conn;
  conn->wait(hook_timeout, [weak] {
    if (auto c = weak.lock())
      c->respond(refuse(503, "metrics did not answer"));
  });
  hooks.metrics(snapshot(), [poster = poster, weak](std::string text) {
    poster->post([weak, text = std::move(text)]() mutable {
      if (auto c = weak.lock()) {
        response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = std::move(text);
        c->respond(std::move(r));
      }
    });
  });
}

void server_core::serve_health(const std::shared_ptr<connection>& conn) {
  if (!hooks.health)
    return conn->respond(refuse(404, "Not found"));
  std::weak_ptr<connection> weak = conn;
  conn->wait(hook_timeout, [weak] {
    if (auto c = weak.lock())
      c->respond(refuse(503, "health did not answer"));
  });
  hooks.health([poster = poster, weak](bool ok, std::string body) {
    poster->post([weak, ok, body = std::move(body)]() mutable {
      if (auto c = weak.lock()) {
        response r;
        r.status = ok ? 200 : 503;
        r.body = std::move(body);
        c->respond(std::move(r));
      }
    });
  });
}

void server_core::schedule_sweep() {
  auto every = std::clamp<int64_t>(opts.session_idle_ms / 4, 10, 1000);
  sweep_timer_.expires_after(milliseconds{every});
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_)
      return;
    sweep();
    schedule_sweep();
  });
}

} // namespace http_detail

struct http_server::impl {
  std::unique_ptr<http_detail::server_core> core;
  bool started = false;
};

http_server::http_server(http_options options, http_hooks hooks)
  : impl_(std::make_unique<impl>()) {
  impl_->core = std::make_unique<http_detail::server_core>(std::move(options),
                                                           std::move(hooks));
}

http_server::~http_server() {
  stop();
}

bool http_server::start(std::string& why) {
  if (impl_->started) {
    why = "the HTTP server was started already";
    return false;
  }
  if (!impl_->core->listen(why))
    return false;
  impl_->started = true;
  impl_->core->run();
  return true;
}

uint16_t http_server::port() const {
  return impl_->started ? impl_->core->port() : impl_->core->opts.port;
}

protocol::http_stats http_server::stats() const {
  return impl_->core->snapshot();
}

void http_server::stop() {
  impl_->core->stop();
}

} // namespace jobd

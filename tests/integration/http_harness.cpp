#include "http_harness.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace jobd_it {

namespace {

std::string http_lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string http_trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos)
    return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

} // namespace

std::string http_response::header(const std::string& name) const {
  auto it = headers.find(http_lower(name));
  return it == headers.end() ? "" : it->second;
}

// -- http_conn
// ---------------------------------------------------------------

http_conn::http_conn(uint16_t port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return;
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (::poll(&p, 1, timeout_ms) != 1
        || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0
        || err != 0) {
      ::close(fd);
      return;
    }
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
}

http_conn::~http_conn() {
  close();
}

void http_conn::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

void http_conn::reset() {
  if (fd_ < 0)
    return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close();
}

bool http_conn::send_all(const std::string& bytes, int timeout_ms) {
  if (fd_ < 0)
    return false;
  int64_t deadline = now_ms() + timeout_ms;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n
      = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int64_t left = deadline - now_ms();
      if (left <= 0)
        return false;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100)));
      continue;
    }
    return false;
  }
  return true;
}

bool http_conn::fill(int64_t deadline) {
  if (fd_ < 0 || eof_)
    return false;
  for (;;) {
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      raw_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      eof_ = true; // reset
      return false;
    }
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 200)));
  }
}

bool http_conn::read_head(http_response& r, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  size_t end;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline))
      return false;
  }
  std::string head = raw_.substr(0, end);
  raw_.erase(0, end + 4);
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  // HTTP/1.1 200 OK
  auto sp = line.find(' ');
  if (line.rfind("HTTP/1.", 0) != 0 || sp == std::string::npos)
    return false;
  r.status = std::atoi(line.c_str() + sp + 1);
  r.headers.clear();
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    r.headers[http_lower(http_trim(line.substr(0, colon)))]
      = http_trim(line.substr(colon + 1));
  }
  r.body.clear();
  r.complete = false;
  in_chunk_ = false;
  if (http_lower(r.header("transfer-encoding")).find("chunked")
      != std::string::npos) {
    mode_ = body_mode::chunked;
    remaining_ = 0;
  } else if (!r.header("content-length").empty()) {
    mode_ = body_mode::length;
    remaining_ = std::strtoull(r.header("content-length").c_str(), nullptr, 10);
  } else if (r.status == 204 || r.status == 304 || r.status / 100 == 1) {
    mode_ = body_mode::length;
    remaining_ = 0;
  } else {
    mode_ = body_mode::until_close;
  }
  if (mode_ == body_mode::length && remaining_ == 0)
    r.complete = true;
  return true;
}

// Moves decoded bytes from raw_ to r.body; true if the body ended.
bool http_conn::decode_some(http_response& r) {
  switch (mode_) {
    case body_mode::none:
      return true;
    case body_mode::length: {
      size_t n = static_cast<size_t>(
        std::min<uint64_t>(remaining_, static_cast<uint64_t>(raw_.size())));
      r.body.append(raw_, 0, n);
      raw_.erase(0, n);
      remaining_ -= n;
      return remaining_ == 0;
    }
    case body_mode::until_close:
      r.body += raw_;
      raw_.clear();
      return eof_;
    case body_mode::chunked:
      for (;;) {
        if (!in_chunk_) {
          auto eol = raw_.find("\r\n");
          if (eol == std::string::npos)
            return false;
          remaining_ = std::strtoull(raw_.substr(0, eol).c_str(), nullptr, 16);
          if (remaining_ == 0) {
            // Trailers (if any) end with an empty line.
            auto tend = raw_.find("\r\n\r\n", eol);
            if (tend == std::string::npos)
              return false;
            raw_.erase(0, tend + 4);
            return true;
          }
          raw_.erase(0, eol + 2);
          in_chunk_ = true;
        }
        size_t n = static_cast<size_t>(
          std::min<uint64_t>(remaining_, static_cast<uint64_t>(raw_.size())));
        r.body.append(raw_, 0, n);
        raw_.erase(0, n);
        remaining_ -= n;
        if (remaining_ > 0)
          return false;
        if (raw_.size() < 2)
          return false; // wait for the CRLF after the chunk
        raw_.erase(0, 2);
        in_chunk_ = false;
      }
  }
  return true;
}

bool http_conn::read_body(
  http_response& r, int timeout_ms,
  const std::function<bool(const std::string&)>& enough) {
  if (r.complete)
    return true;
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    if (decode_some(r)) {
      r.complete = true;
      return true;
    }
    if (enough && enough(r.body))
      return false;
    if (!fill(deadline)) {
      if (eof_ && mode_ == body_mode::until_close) {
        r.complete = true;
        return true;
      }
      decode_some(r);
      return false;
    }
  }
}

http_response http_conn::exchange(const std::string& request, int timeout_ms) {
  http_response r;
  if (!send_all(request, timeout_ms))
    return r;
  if (!read_head(r, timeout_ms))
    return r;
  read_body(r, timeout_ms);
  return r;
}

bool http_conn::wait_closed(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (!eof_) {
    raw_.clear();
    if (!fill(deadline) && !eof_)
      return false;
  }
  return true;
}

std::vector<sse_event> take_sse_events(std::string& buffer) {
  std::vector<sse_event> out;
  for (;;) {
    // An event ends with a blank line (LF LF; CRLF accepted).
    size_t end = std::string::npos, sep = 0;
    for (size_t i = 0; i + 1 < buffer.size(); ++i) {
      if (buffer[i] == '\n' && buffer[i + 1] == '\n') {
        end = i;
        sep = 2;
        break;
      }
      if (buffer.compare(i, 4, "\r\n\r\n") == 0) {
        end = i;
        sep = 4;
        break;
      }
    }
    if (end == std::string::npos)
      return out;
    std::string block = buffer.substr(0, end);
    buffer.erase(0, end + sep);
    sse_event ev;
    bool any = false, has_data = false;
    std::istringstream in(block);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.empty() || line[0] == ':')
        continue; // a comment (keep-alive)
      auto colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value
        = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.erase(0, 1);
      any = true;
      if (field == "data") {
        if (has_data)
          ev.data += '\n';
        ev.data += value;
        has_data = true;
      } else if (field == "id") {
        ev.id = value;
      } else if (field == "event") {
        ev.event = value;
      } else if (field == "retry") {
        ev.retry = std::atoll(value.c_str());
      }
    }
    if (any)
      out.push_back(std::move(ev));
  }
}

std::string http_request(const std::string& method, const std::string& path,
                         const std::vector<std::string>& header_lines,
                         const std::string& body) {
  std::string r = method + " " + path + " HTTP/1.1\r\n";
  bool has_length = false;
  for (auto& h : header_lines) {
    r += h + "\r\n";
    if (http_lower(h).rfind("content-length:", 0) == 0
        || http_lower(h).rfind("transfer-encoding:", 0) == 0)
      has_length = true;
  }
  if (!has_length && (!body.empty() || method == "POST"))
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

// -- mcp_http
// ---------------------------------------------------------------

mcp_http::mcp_http(uint16_t port, std::string token,
                   std::string protocol_version)
  : port_(port), token_(std::move(token)),
    version_(std::move(protocol_version)) {}

std::vector<std::string> mcp_http::headers() const {
  std::vector<std::string> h{"Host: 127.0.0.1:" + std::to_string(port_)};
  if (!token_.empty())
    h.push_back("Authorization: Bearer " + token_);
  if (!session_.empty()) {
    h.push_back("Mcp-Session-Id: " + session_);
    h.push_back("MCP-Protocol-Version: " + version_);
  }
  return h;
}

http_call mcp_http::post(const std::string& body, int timeout_ms,
                         const std::vector<std::string>& extra) {
  http_call call;
  auto doc = parse(body);
  std::string want_id;
  if (!doc->HasParseError() && doc->IsObject() && doc->HasMember("id")
      && doc->HasMember("method"))
    want_id = to_json((*doc)["id"]);
  auto h = headers();
  h.push_back("Content-Type: application/json");
  h.push_back("Accept: application/json, text/event-stream");
  for (auto& e : extra)
    h.push_back(e);
  http_conn c(port_);
  if (!c.connected()) {
    ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port_;
    return call;
  }
  if (!c.send_all(http_request("POST", "/mcp", h, body), timeout_ms)
      || !c.read_head(call.http, timeout_ms))
    return call;
  bool sse = call.http.header("content-type").find("text/event-stream")
             != std::string::npos;
  if (!sse || call.http.status != 200) {
    c.read_body(call.http, timeout_ms);
    if (call.http.status == 200 && !want_id.empty()) {
      auto d = parse(call.http.body);
      if (!d->HasParseError())
        call.response = d;
    }
    return call;
  }
  // SSE: events until the response to our request (then we hang up).
  std::string pending;
  int64_t deadline = now_ms() + timeout_ms;
  size_t used = 0;
  while (!call.response) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      break;
    bool ended = c.read_body(
      call.http, static_cast<int>(left), [&](const std::string& b) {
        return b.size() > used && b.find("\n\n", used) != std::string::npos;
      });
    pending += call.http.body.substr(used);
    used = call.http.body.size();
    for (auto& ev : take_sse_events(pending)) {
      call.events.push_back(ev);
      if (ev.data.empty())
        continue;
      auto m = parse(ev.data);
      if (m->HasParseError() || !m->IsObject()) {
        ADD_FAILURE() << "an SSE event that is not a JSON-RPC message: "
                      << ev.data.substr(0, 500);
        continue;
      }
      if (m->HasMember("id") && !m->HasMember("method")
          && to_json((*m)["id"]) == want_id) {
        call.response = m;
      } else {
        call.notifications.push_back(m);
        notifications.push_back(m);
      }
    }
    if (ended)
      break;
  }
  return call;
}

DocPtr mcp_http::request(const std::string& method,
                         const std::string& params_json, int timeout_ms) {
  int64_t id = next_id();
  std::string body = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id)
                     + ",\"method\":" + q(method) + ",\"params\":" + params_json
                     + "}";
  auto c = post(body, timeout_ms);
  if (!c.response)
    ADD_FAILURE() << method << ": no JSON-RPC response (HTTP " << c.http.status
                  << ", body " << c.http.body.substr(0, 500) << ")";
  return c.response;
}

tool_result to_tool_result(DocPtr response) {
  tool_result r;
  r.response = response;
  if (!response)
    return r;
  if (response->HasMember("error")) {
    r.rpc_error = true;
    auto& e = (*response)["error"];
    if (e.IsObject() && e.HasMember("code") && e["code"].IsInt())
      r.rpc_code = e["code"].GetInt();
    if (e.IsObject() && e.HasMember("message") && e["message"].IsString())
      r.rpc_message = e["message"].GetString();
    return r;
  }
  auto res = at(*response, "result");
  if (res == nullptr || !res->IsObject())
    return r;
  auto ie = at(*res, "isError");
  r.is_error = ie != nullptr && ie->IsBool() && ie->GetBool();
  r.sc = at(*res, "structuredContent");
  return r;
}

tool_result mcp_http::tool(const std::string& name,
                           const std::string& args_json, int timeout_ms) {
  return to_tool_result(request(
    "tools/call", "{\"name\":" + q(name) + ",\"arguments\":" + args_json + "}",
    timeout_ms));
}

bool mcp_http::initialize() {
  session_.clear();
  auto c = post("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
                "\"params\":{\"protocolVersion\":"
                + q(version_)
                + ",\"capabilities\":{},\"clientInfo\":{\"name\":\"jobd-"
                  "http-it\",\"version\":\"1\"}}}");
  if (c.http.status != 200 || !c.response || !has(*c.response, "result")) {
    ADD_FAILURE() << "initialize: HTTP " << c.http.status << " "
                  << c.http.body.substr(0, 500);
    return false;
  }
  session_ = c.http.header("mcp-session-id");
  if (session_.empty()) {
    ADD_FAILURE() << "initialize: no Mcp-Session-Id header";
    return false;
  }
  auto n
    = post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
  if (n.http.status != 202) {
    ADD_FAILURE() << "notifications/initialized: HTTP " << n.http.status;
    return false;
  }
  return true;
}

std::string mcp_http::submit(const std::string& args_json) {
  auto r = tool("console_execute_async", args_json);
  if (!r.ok()) {
    ADD_FAILURE() << "console_execute_async " << args_json << ": " << r.dump();
    return "";
  }
  return str(*r, "jobId");
}

int mcp_http::end_session() {
  http_conn c(port_);
  auto r = c.exchange(http_request("DELETE", "/mcp", headers()));
  return r.status;
}

// -- http_jobd
// ---------------------------------------------------------------

uint16_t wait_for_port(jobd_process& p, const std::string& prefix,
                       int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    std::string err = p.stderr_text();
    auto pos = err.find(prefix);
    if (pos != std::string::npos) {
      auto eol = err.find('\n', pos);
      if (eol != std::string::npos) {
        std::string line = err.substr(pos, eol - pos);
        // http://HOST:PORT/path
        auto slash = line.find('/', prefix.size());
        auto colon = line.rfind(':', slash);
        if (colon != std::string::npos && slash != std::string::npos)
          return static_cast<uint16_t>(
            std::atoi(line.substr(colon + 1, slash - colon - 1).c_str()));
      }
    }
    if (p.wait_exit(0))
      return 0;
    sleep_ms(20);
  }
  return 0;
}

http_jobd::http_jobd(http_jobd_options opts) : opts_(std::move(opts)) {
  char tmpl[] = "/tmp/jobd-http-it-XXXXXX";
  if (::mkdtemp(tmpl) != nullptr)
    dir_ = tmpl;
  jobd_options o;
  o.handshake = opts_.stdio;
  o.protocol_stdout = true;
  o.check_output_schema = false;
  o.args = {"--http", "127.0.0.1:0", "--ephemeral"};
  if (!opts_.stdio)
    o.args.push_back("--no-stdio");
  if (opts_.tokens.empty()) {
    o.args.push_back("--http-no-auth");
  } else {
    std::ofstream f(dir_ + "/tokens");
    f << "# principal:token\n\n";
    for (auto& [p, t] : opts_.tokens)
      f << p << ":" << t << "\n";
    f.close();
    o.args.push_back("--auth-token-file");
    o.args.push_back(dir_ + "/tokens");
  }
  if (opts_.metrics_listen) {
    o.args.push_back("--metrics-listen");
    o.args.push_back("127.0.0.1:0");
  }
  for (auto& a : opts_.args)
    o.args.push_back(a);
  proc_ = std::make_unique<jobd_process>(o);
  port_ = wait_for_port(*proc_, "jobd: serving MCP over HTTP at http://");
  if (port_ == 0)
    ADD_FAILURE() << "no 'jobd: serving MCP over HTTP at' line; stderr: "
                  << proc_->stderr_text().substr(0, 3000);
  if (opts_.metrics_listen) {
    metrics_port_ = wait_for_port(*proc_, "jobd: serving metrics at http://");
    if (metrics_port_ == 0)
      ADD_FAILURE() << "no 'jobd: serving metrics at' line; stderr: "
                    << proc_->stderr_text().substr(0, 3000);
  }
}

http_jobd::~http_jobd() {
  if (proc_ && !proc_->exited()) {
    auto st = terminate();
    if (!st) {
      ADD_FAILURE() << "jobd did not exit within 10 s of SIGTERM";
      proc_->kill_signal(SIGKILL);
      proc_->wait_exit(5000);
    } else if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
      ADD_FAILURE() << "jobd exit status " << *st << " after SIGTERM";
    }
  }
  proc_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string http_jobd::token(const std::string& principal) const {
  for (auto& [p, t] : opts_.tokens)
    if (p == principal)
      return t;
  return "";
}

std::unique_ptr<mcp_http> http_jobd::client(const std::string& principal) {
  auto c = std::make_unique<mcp_http>(port_, token(principal));
  c->initialize();
  return c;
}

std::optional<int> http_jobd::terminate() {
  if (opts_.stdio)
    proc_->close_stdin();
  proc_->kill_signal(SIGTERM);
  return proc_->wait_exit(10000);
}

double prometheus_value(const std::string& page, const std::string& sample) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample, 0) == 0 && line.size() > sample.size()
        && line[sample.size()] == ' ')
      return std::atof(line.c_str() + sample.size() + 1);
  }
  return -1;
}

double http_jobd::metric(const std::string& sample,
                         const std::string& principal) {
  http_conn c(port_);
  std::vector<std::string> h{"Host: 127.0.0.1:" + std::to_string(port_)};
  if (!token(principal).empty())
    h.push_back("Authorization: Bearer " + token(principal));
  auto r = c.exchange(http_request("GET", "/metrics", h), 5000);
  if (r.status != 200)
    return -1;
  return prometheus_value(r.body, sample);
}

} // namespace jobd_it

// A small blocking HTTP/1.1 client on a raw loopback socket for the HTTP
// transport's tests: every read has a deadline, so a test never hangs.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobd::test::http {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

inline std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct reply {
  int status = 0;
  /// Header names in lowercase.
  std::map<std::string, std::string> headers;
  std::string body;

  std::string header(const std::string& name) const {
    auto i = headers.find(lower(name));
    return i == headers.end() ? std::string{} : i->second;
  }
};

struct sse_event {
  std::string id;
  std::string data;
  std::string retry;
  bool has_data = false;
};

/// `METHOD path HTTP/1.1` with these headers (Host is added unless given)
/// and a Content-Length when there is a body.
inline std::string
make_request(const std::string& method, const std::string& path,
             std::vector<std::pair<std::string, std::string>> headers,
             const std::string& body = {}, uint16_t port = 0) {
  std::string out = method + " " + path + " HTTP/1.1\r\n";
  bool host = false;
  for (auto& [k, v] : headers)
    host = host || lower(k) == "host";
  if (!host)
    out += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (auto& [k, v] : headers)
    out += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST")
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

class client {
public:
  /// `receive_buffer` > 0: a small SO_RCVBUF (a client that reads slowly).
  explicit client(uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                   sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0)
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~client() {
    close();
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connected() const {
    return fd_ >= 0;
  }

  /// Sends bytes; false if the socket is closed.
  bool send(std::string_view text) {
    while (!text.empty()) {
      auto n = ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Reads a response's status line and headers.
  std::optional<reply> read_head(milliseconds timeout = 2000ms) {
    auto deadline = steady_clock::now() + timeout;
    size_t end;
    while ((end = raw_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(deadline))
        return std::nullopt;
    reply r;
    std::string_view head{raw_.data(), end};
    auto line_end = head.find("\r\n");
    auto status_line = head.substr(0, line_end);
    if (status_line.size() < 12)
      return std::nullopt;
    r.status = std::stoi(std::string{status_line.substr(9, 3)});
    head.remove_prefix(line_end == std::string_view::npos ? head.size()
                                                          : line_end + 2);
    while (!head.empty()) {
      auto e = head.find("\r\n");
      auto field = head.substr(0, e);
      auto colon = field.find(':');
      if (colon != std::string_view::npos) {
        auto value = field.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
          value.remove_prefix(1);
        r.headers[lower(std::string{field.substr(0, colon)})]
          = std::string{value};
      }
      if (e == std::string_view::npos)
        break;
      head.remove_prefix(e + 2);
    }
    raw_.erase(0, end + 4);
    chunked_ = lower(r.header("transfer-encoding")) == "chunked";
    body_.clear();
    ended_ = false;
    chunk_left_ = 0;
    in_chunk_ = false;
    return r;
  }

  /// Reads a whole response (Content-Length, chunked, or to the close).
  std::optional<reply> read_response(milliseconds timeout = 2000ms) {
    auto deadline = steady_clock::now() + timeout;
    auto r = read_head(timeout);
    if (!r)
      return r;
    if (r->status == 100)
      return read_response(std::chrono::duration_cast<milliseconds>(
        deadline - steady_clock::now()));
    auto length = r->header("content-length");
    if (!length.empty()) {
      auto n = std::stoul(length);
      while (raw_.size() < n)
        if (!fill(deadline))
          return std::nullopt;
      r->body = raw_.substr(0, n);
      raw_.erase(0, n);
    } else if (chunked_) {
      while (!ended_) {
        decode();
        if (!ended_ && !fill(deadline))
          return std::nullopt;
      }
      r->body = std::move(body_);
      body_.clear();
    } else if (r->status != 204) {
      while (fill(deadline)) {
      }
      r->body = std::move(raw_);
      raw_.clear();
    }
    return r;
  }

  /// The next SSE event of a chunked body; nullopt at its end or timeout.
  std::optional<sse_event> next_event(milliseconds timeout = 2000ms) {
    auto deadline = steady_clock::now() + timeout;
    for (;;) {
      decode();
      auto end = body_.find("\n\n");
      if (end != std::string::npos) {
        auto block = body_.substr(0, end + 1);
        body_.erase(0, end + 2);
        sse_event ev;
        bool any = false;
        size_t pos = 0;
        while (pos < block.size()) {
          auto nl = block.find('\n', pos);
          auto line = block.substr(pos, nl - pos);
          pos = nl + 1;
          if (line.empty() || line[0] == ':')
            continue;
          auto colon = line.find(':');
          auto name = line.substr(0, colon);
          auto value = colon == std::string::npos ? std::string{}
                                                  : line.substr(colon + 1);
          if (!value.empty() && value[0] == ' ')
            value.erase(0, 1);
          any = true;
          if (name == "id") {
            ev.id = value;
          } else if (name == "retry") {
            ev.retry = value;
          } else if (name == "data") {
            if (ev.has_data)
              ev.data += "\n";
            ev.data += value;
            ev.has_data = true;
          }
        }
        if (any)
          return ev;
        continue; // a comment (keep-alive)
      }
      if (ended_)
        return std::nullopt;
      if (!fill(deadline))
        return std::nullopt;
    }
  }

  /// Comments (": ping") seen so far in the SSE body, consumed.
  bool saw_comment(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    for (;;) {
      decode();
      auto at = body_.find(": ping\n\n");
      if (at != std::string::npos) {
        body_.erase(at, 8);
        return true;
      }
      if (ended_ || !fill(deadline))
        return false;
    }
  }

  /// The chunked body ended (after next_event returned nullopt).
  bool body_ended() const {
    return ended_;
  }

  /// True once the server closed the connection (EOF or reset) within
  /// `timeout`; bytes that arrive meanwhile are kept.
  bool wait_closed(milliseconds timeout = 2000ms) {
    auto deadline = steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  /// Closes with a reset (SO_LINGER 0): an abrupt disconnect.
  void reset() {
    if (fd_ < 0)
      return;
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  int fd() const {
    return fd_;
  }

private:
  // Reads what arrives before the deadline; false at the deadline, EOF or
  // an error.
  bool fill(steady_clock::time_point deadline) {
    if (fd_ < 0 || eof_)
      return false;
    auto left = std::chrono::duration_cast<milliseconds>(deadline
                                                         - steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    raw_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // Moves complete chunk data from raw_ to body_.
  void decode() {
    if (!chunked_) {
      body_ += raw_;
      raw_.clear();
      return;
    }
    while (!ended_) {
      if (!in_chunk_) {
        auto e = raw_.find("\r\n");
        if (e == std::string::npos)
          return;
        chunk_left_ = std::stoul(raw_.substr(0, e), nullptr, 16);
        raw_.erase(0, e + 2);
        in_chunk_ = true;
        if (chunk_left_ == 0) {
          // The last chunk, then an empty trailer line.
          if (raw_.size() >= 2)
            raw_.erase(0, 2);
          ended_ = true;
          return;
        }
      }
      if (raw_.size() < chunk_left_ + 2)
        return;
      body_.append(raw_, 0, chunk_left_);
      raw_.erase(0, chunk_left_ + 2);
      in_chunk_ = false;
    }
  }

  int fd_ = -1;
  std::string raw_;
  std::string body_;
  bool chunked_ = false;
  bool in_chunk_ = false;
  size_t chunk_left_ = 0;
  bool ended_ = false;
  bool eof_ = false;
};

} // namespace jobd::test::http

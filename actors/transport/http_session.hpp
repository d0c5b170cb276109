// The MCP sessions of the HTTP transport: each has an ENDPOINT, the line
// sink it writes to, and its SSE streams: stream 0 is the standalone GET
// stream, streams 1.. carry one POST request each (its progress, then its
// reply). Events keep their ids in a bounded replay buffer per session, so
// a client that lost its connection resumes with Last-Event-ID.
#pragma once

#include "actors/actors.hpp"
#include "actors/transport/http_events.hpp"
#include "actors/transport/line_sink.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace jobd::http_detail {

class connection;
class server_core;
class session;

/// Posts work to the server's thread from any thread, while the server
/// runs (afterwards nothing).
class io_handle {
public:
  explicit io_handle(boost::asio::io_context& io) : io_(&io) {}

  template <class F> void post(F&& f) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (io_ != nullptr)
      boost::asio::post(*io_, std::forward<F>(f));
  }

  void close() {
    std::lock_guard<std::mutex> guard{mtx_};
    io_ = nullptr;
  }

private:
  std::mutex mtx_;
  boost::asio::io_context* io_;
};

/// The line sink of one session. send() runs on the ENDPOINT's thread and
/// posts the line to the server's thread; the session routes it there.
class http_sink final : public line_sink {
public:
  http_sink(std::shared_ptr<io_handle> io, std::weak_ptr<session> owner);

  void send(std::string line, message_kind kind,
            std::string coalesce_key = {}) override;

  void attach(sink_handlers handlers) override;

  /// The session ended (server thread): later lines are discarded, and the
  /// closed handler runs (now, or when one is attached).
  void close();

  /// The drop notice the ENDPOINT renders (empty if none is attached).
  std::string drop_notice(uint64_t dropped);

private:
  std::shared_ptr<io_handle> io_;
  std::weak_ptr<session> owner_;
  std::atomic<bool> closed_{false};

  std::mutex handlers_mtx_;
  sink_handlers handlers_;
  bool untold_ = false;
};

/// One SSE stream of a session.
struct sse_stream {
  sse_stream(int no, uint64_t notification_high_bytes)
    : no(no), queue(notification_high_bytes) {}
  int no;
  /// The id of its last event (the next one is seq + 1).
  uint64_t seq = 0;
  /// Messages not written yet.
  outbox queue;
  /// The connection it is written to; null while the client is away.
  std::shared_ptr<connection> conn;
  /// The SSE response began (a POST stream's reply is then an event, not
  /// an application/json answer).
  bool sse = false;
  /// A POST stream: the canonical id of its request.
  std::string request_id;
};

/// A request waiting for its reply.
struct pending_request {
  int stream = 0;
  /// Its progress token (canonical JSON), empty if none.
  std::string token;
  bool initialize = false;
};

/// An event kept for replay.
struct kept_event {
  int stream;
  uint64_t seq;
  std::string frame;
};

class session {
public:
  session(server_core& core, std::string id, std::string principal);

  server_core& core;
  const std::string id;
  const std::string principal;
  endpoint_actor endpoint;
  std::shared_ptr<http_sink> sink;
  /// Live streams: 0 always, and the POST streams whose reply is not out.
  std::map<int, sse_stream> streams;
  /// By canonical request id.
  std::unordered_map<std::string, pending_request> requests;
  /// Progress token -> request id.
  std::unordered_map<std::string, std::string> tokens;
  std::deque<kept_event> replay;
  uint64_t replay_bytes = 0;
  int next_stream = 1;
  /// The negotiated protocol version (from the initialize reply).
  std::string version;
  std::chrono::steady_clock::time_point last_active;
  /// Its initialize failed: it ends once its streams are done.
  bool unusable = false;
  bool ended = false;
};

} // namespace jobd::http_detail

// Where an ENDPOINT's outgoing messages go: one JSON-RPC message per line, to
// whatever transport carries this client (stdio today, an HTTP connection's
// SSE stream later). The ENDPOINT only says what kind each message is; the
// sink decides when it is written and what a slow client may lose.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace jobd {

/// How a message may be treated when the client does not keep up.
enum class message_kind : uint8_t {
  /// A response to a request (a result or an error): never dropped, never
  /// reordered.
  reply,
  /// A notification. With a coalescing key, a newer one replaces an older
  /// one with the same key still waiting in the queue (the newest is sent
  /// where it was sent, after everything queued before it). Without a key it
  /// may be dropped, oldest first, while the client does not read; the sink
  /// counts what it dropped and says so.
  notification,
};

/// Callbacks a sink makes; the ENDPOINT attaches them and detaches them
/// (attach({})) before it goes away.
struct sink_handlers {
  /// The client can no longer be written to (it went away, or a write
  /// failed). Runs once, on any thread: send a message, do not work here.
  std::function<void()> closed;
  /// Renders the notification telling the client that `dropped` keyless
  /// notifications were lost while it did not read. Runs on the sink's
  /// thread: a pure function of its argument.
  std::function<std::string(uint64_t dropped)> drop_notice;
};

class line_sink {
public:
  virtual ~line_sink() = default;

  /// Queues one message: JSON text without its newline. Never blocks.
  virtual void send(std::string line, message_kind kind,
                    std::string coalesce_key = {})
    = 0;

  /// Replaces the handlers. Once it returns, the previous handlers no longer
  /// run (a call in progress is waited for).
  virtual void attach(sink_handlers handlers) = 0;
};

} // namespace jobd

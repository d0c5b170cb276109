// What the HTTP transport does with the ENDPOINT's lines before they become
// SSE events: where each goes (the id of a reply, the progress token of a
// progress notification), the queue of a stream while its client does not
// read (the stdio sink's rules: replies never dropped, keyed notifications
// coalesced, keyless ones dropped oldest first), and the SSE framing.
#pragma once

#include "actors/transport/line_sink.hpp"

#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace jobd::http_detail {

/// The routing facts of one JSON-RPC line.
struct line_facts {
  /// The top-level id as canonical JSON text (protocol::id_to_json); empty
  /// if there is none or it is null.
  std::string id;
  /// The top-level method; empty if none.
  std::string method;
  /// `params.progressToken` (notifications/progress) as canonical JSON
  /// text; empty if none.
  std::string progress_token;
};

/// Reads what routing needs and stops there (a reply's id comes first in
/// jobd's lines, so its result is not parsed). False if `line` is not JSON
/// (as far as it was read).
bool read_facts(std::string_view line, line_facts& out);

/// One queued message of a stream.
struct queued_line {
  std::string line;
  message_kind kind = message_kind::reply;
  std::string key;
};

/// The messages of one SSE stream not written to its connection yet.
class outbox {
public:
  explicit outbox(uint64_t notification_high_bytes)
    : high_(notification_high_bytes) {}

  void push(std::string line, message_kind kind, std::string key = {});

  bool empty() const {
    return queue_.empty();
  }
  size_t size() const {
    return queue_.size();
  }

  /// The oldest message (the queue must not be empty).
  queued_line pop();

  /// Keyless notifications dropped since the client was last told, if it is
  /// time to tell it (the queue is under half its bound again); 0 if not.
  uint64_t take_drop_notice();

  uint64_t coalesced() const {
    return coalesced_;
  }
  uint64_t dropped() const {
    return dropped_total_;
  }

private:
  using list = std::list<queued_line>;
  void forget(list::iterator pos);

  uint64_t high_;
  list queue_;
  std::unordered_map<std::string, list::iterator> keyed_;
  std::deque<list::iterator> lossy_;
  uint64_t notification_bytes_ = 0;
  uint64_t coalesced_ = 0;
  uint64_t dropped_total_ = 0;
  uint64_t dropped_untold_ = 0;
};

/// The id of event `seq` of stream `stream`: "<stream>-<seq>".
std::string event_id(int stream, uint64_t seq);

/// Parses an event id made by event_id.
bool parse_event_id(std::string_view text, int& stream, uint64_t& seq);

/// One SSE event carrying `data` (one JSON text).
std::string sse_event(int stream, uint64_t seq, std::string_view data);

/// The event that starts a resumable stream: its id, `retry` and no data.
std::string sse_priming(int stream, uint64_t seq, int64_t retry_ms);

/// `data` as one chunk of a chunked HTTP body.
std::string http_chunk(std::string_view data);

/// The last chunk of a chunked body.
inline constexpr std::string_view http_last_chunk = "0\r\n\r\n";

} // namespace jobd::http_detail

#include "actors/transport/http_events.hpp"

#include "protocol/jsonrpc.hpp"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <iterator>

namespace jobd::http_detail {

namespace {

// A SAX handler that keeps the top-level id and method and the progress
// token of params, and stops the parse once it has what the line's kind
// needs.
struct facts_handler
  : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, facts_handler> {
  enum class slot { none, id, method, params, token };

  explicit facts_handler(line_facts& out) : out(out) {}

  line_facts& out;
  int depth = 0;
  bool in_params = false;
  bool have_id = false;
  bool have_method = false;
  slot next = slot::none;

  // After a value: false stops the parse.
  bool done() {
    next = slot::none;
    if (have_id && !have_method)
      return false; // a reply: the id is all we need
    if (have_method)
      return out.method == "notifications/progress"
             && out.progress_token.empty();
    return true;
  }

  bool Default() {
    return done();
  }
  bool Null() {
    if (next == slot::id)
      have_id = true;
    return done();
  }
  bool number(const rapidjson::Value& v) {
    auto target = next == slot::id      ? &out.id
                  : next == slot::token ? &out.progress_token
                                        : nullptr;
    if (target != nullptr && protocol::id_to_json(v, *target)
        && next == slot::id)
      have_id = true;
    return done();
  }
  bool Int(int i) {
    return number(rapidjson::Value(i));
  }
  bool Uint(unsigned u) {
    return number(rapidjson::Value(u));
  }
  bool Int64(int64_t i) {
    return number(rapidjson::Value(i));
  }
  bool Uint64(uint64_t u) {
    return number(rapidjson::Value(u));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (next == slot::method) {
      out.method.assign(s, n);
      have_method = true;
    } else if (next == slot::id || next == slot::token) {
      rapidjson::Value v(rapidjson::StringRef(s, n));
      protocol::id_to_json(v, next == slot::id ? out.id : out.progress_token);
      if (next == slot::id)
        have_id = true;
    }
    return done();
  }
  bool StartObject() {
    if (depth == 1 && next == slot::params)
      in_params = true;
    next = slot::none;
    ++depth;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    std::string_view key{s, n};
    next = slot::none;
    if (depth == 1) {
      if (key == "id")
        next = slot::id;
      else if (key == "method")
        next = slot::method;
      else if (key == "params")
        next = slot::params;
    } else if (depth == 2 && in_params && key == "progressToken") {
      next = slot::token;
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (--depth == 1)
      in_params = false;
    return depth > 0 || done();
  }
  bool StartArray() {
    next = slot::none;
    ++depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return depth > 0 || done();
  }
};

} // namespace

bool read_facts(std::string_view line, line_facts& out) {
  out = line_facts{};
  facts_handler handler{out};
  rapidjson::MemoryStream in{line.data(), line.size()};
  rapidjson::Reader reader;
  auto ok = reader.Parse<rapidjson::kParseIterativeFlag
                         | rapidjson::kParseStopWhenDoneFlag>(in, handler);
  return !ok.IsError() || ok.Code() == rapidjson::kParseErrorTermination;
}

void outbox::push(std::string line, message_kind kind, std::string key) {
  if (kind == message_kind::reply) {
    queue_.push_back({std::move(line), kind, {}});
    return;
  }
  if (!key.empty()) {
    if (auto i = keyed_.find(key); i != keyed_.end()) {
      // Only the newest matters; it goes where it was sent, after any reply
      // queued meanwhile.
      forget(i->second);
      keyed_.erase(i);
      ++coalesced_;
    }
  }
  notification_bytes_ += line.size();
  queue_.push_back({std::move(line), kind, std::move(key)});
  auto last = std::prev(queue_.end());
  if (!last->key.empty())
    keyed_.emplace(last->key, last);
  else
    lossy_.push_back(last);
  // Over the bound: keyless ones go, oldest first, never the newest.
  while (notification_bytes_ > high_ && lossy_.size() > 1) {
    auto oldest = lossy_.front();
    lossy_.pop_front();
    forget(oldest);
    ++dropped_total_;
    ++dropped_untold_;
  }
}

void outbox::forget(list::iterator pos) {
  if (pos->kind == message_kind::notification)
    notification_bytes_ -= pos->line.size();
  queue_.erase(pos);
}

queued_line outbox::pop() {
  auto first = queue_.begin();
  if (!first->key.empty())
    keyed_.erase(first->key);
  if (!lossy_.empty() && lossy_.front() == first)
    lossy_.pop_front();
  if (first->kind == message_kind::notification)
    notification_bytes_ -= first->line.size();
  auto x = std::move(*first);
  queue_.erase(first);
  return x;
}

uint64_t outbox::take_drop_notice() {
  if (dropped_untold_ == 0 || notification_bytes_ > high_ / 2)
    return 0;
  auto n = dropped_untold_;
  dropped_untold_ = 0;
  return n;
}

std::string event_id(int stream, uint64_t seq) {
  return std::to_string(stream) + "-" + std::to_string(seq);
}

bool parse_event_id(std::string_view text, int& stream, uint64_t& seq) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= text.size())
    return false;
  auto a = text.data();
  auto r1 = std::from_chars(a, a + dash, stream);
  auto r2 = std::from_chars(a + dash + 1, a + text.size(), seq);
  return r1.ec == std::errc{} && r1.ptr == a + dash && r2.ec == std::errc{}
         && r2.ptr == a + text.size() && stream >= 0;
}

std::string sse_event(int stream, uint64_t seq, std::string_view data) {
  std::string out = "id: " + event_id(stream, seq) + "\n";
  out.reserve(out.size() + data.size() + 10);
  // A JSON text has no raw newlines; split any anyway, as SSE requires.
  while (true) {
    auto nl = data.find_first_of("\r\n");
    out += "data: ";
    out.append(data.substr(0, nl));
    out += '\n';
    if (nl == std::string_view::npos)
      break;
    data.remove_prefix(nl + 1);
  }
  out += '\n';
  return out;
}

std::string sse_priming(int stream, uint64_t seq, int64_t retry_ms) {
  return "id: " + event_id(stream, seq) + "\nretry: " + std::to_string(retry_ms)
         + "\ndata:\n\n";
}

std::string http_chunk(std::string_view data) {
  char hex[20];
  auto r = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  std::string out(hex, r.ptr);
  out.reserve(out.size() + data.size() + 4);
  out += "\r\n";
  out.append(data);
  out += "\r\n";
  return out;
}

} // namespace jobd::http_detail

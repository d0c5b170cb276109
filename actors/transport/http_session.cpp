// Sessions, the routing of each ENDPOINT line to its stream, and the SSE
// streams with their replay buffer.
#include "actors/transport/http_session.hpp"

#include "actors/transport/http_core.hpp"

#include <rapidjson/document.h>

#include <unistd.h>

namespace jobd::http_detail {

namespace {

// One write takes at most this much of a stream's queue, so that the queue
// (where notifications are coalesced and dropped) follows the client.
constexpr size_t batch_bytes = 256 * 1024;

using std::chrono::steady_clock;

std::string hex(const unsigned char* p, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// The protocol version an initialize reply agreed on; empty if none.
std::string agreed_version(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject())
    return {};
  auto result = doc.FindMember("result");
  if (result == doc.MemberEnd() || !result->value.IsObject())
    return {};
  auto v = result->value.FindMember("protocolVersion");
  if (v == result->value.MemberEnd() || !v->value.IsString())
    return {};
  return v->value.GetString();
}

} // namespace

// -- the sink -----------------------------------------------------------------

http_sink::http_sink(std::shared_ptr<io_handle> io,
                     std::weak_ptr<session> owner)
  : io_(std::move(io)), owner_(std::move(owner)) {}

void http_sink::send(std::string line, message_kind kind,
                     std::string coalesce_key) {
  if (closed_)
    return;
  io_->post([owner = owner_, line = std::move(line), kind,
             key = std::move(coalesce_key)]() mutable {
    if (auto s = owner.lock())
      s->core.deliver(*s, std::move(line), kind, std::move(key));
  });
}

void http_sink::attach(sink_handlers handlers) {
  std::lock_guard<std::mutex> guard{handlers_mtx_};
  handlers_ = std::move(handlers);
  if (untold_ && handlers_.closed) {
    untold_ = false;
    handlers_.closed();
  }
}

void http_sink::close() {
  if (closed_.exchange(true))
    return;
  std::lock_guard<std::mutex> guard{handlers_mtx_};
  if (handlers_.closed)
    handlers_.closed();
  else
    untold_ = true;
}

std::string http_sink::drop_notice(uint64_t dropped) {
  std::lock_guard<std::mutex> guard{handlers_mtx_};
  return handlers_.drop_notice ? handlers_.drop_notice(dropped) : std::string{};
}

session::session(server_core& owner, std::string sid, std::string who)
  : core(owner), id(std::move(sid)), principal(std::move(who)) {}

// -- sessions -----------------------------------------------------------------

std::shared_ptr<session> server_core::open_session(const std::string& principal,
                                                   std::string& why) {
  unsigned char raw[16];
  if (urandom_ < 0 || ::read(urandom_, raw, sizeof raw) != sizeof raw) {
    why = "cannot read /dev/urandom";
    return nullptr;
  }
  if (!hooks.open_session) {
    why = "no session factory";
    return nullptr;
  }
  auto s = std::make_shared<session>(*this, hex(raw, sizeof raw), principal);
  s->streams.emplace(0, sse_stream{0, opts.notification_high_bytes});
  s->sink = std::make_shared<http_sink>(poster, s);
  s->last_active = steady_clock::now();
  s->endpoint = hooks.open_session(principal, s->id, s->sink);
  if (!s->endpoint) {
    s->sink->close();
    why = "the session's endpoint did not start";
    return nullptr;
  }
  sessions_.emplace(s->id, s);
  stats.sessions = sessions_.size();
  return s;
}

std::shared_ptr<session> server_core::lookup(const std::string& id) const {
  auto i = sessions_.find(id);
  return i == sessions_.end() ? nullptr : i->second;
}

std::shared_ptr<session>
server_core::find_session(const std::string& id, const std::string& principal) {
  if (!valid_session_id(id))
    return nullptr;
  auto s = lookup(id);
  // Another principal's session does not exist for this one.
  if (!s || s->ended || s->principal != principal)
    return nullptr;
  return s;
}

void server_core::end_session(session& s) {
  if (s.ended)
    return;
  auto keep_alive = lookup(s.id);
  s.ended = true;
  for (auto& [no, st] : s.streams) {
    auto c = std::move(st.conn);
    if (!c)
      continue;
    c->clear_stream_hooks();
    if (c->streaming())
      c->end_sse();
    else
      c->respond(rpc_error_response(404, -32001, "Session ended"));
  }
  s.streams.clear();
  s.requests.clear();
  s.tokens.clear();
  s.replay.clear();
  s.replay_bytes = 0;
  s.sink->close();
  s.endpoint = nullptr;
  sessions_.erase(s.id);
  stats.sessions = sessions_.size();
}

void server_core::sweep() {
  auto now = steady_clock::now();
  auto limit = std::chrono::milliseconds{opts.session_idle_ms};
  std::vector<std::shared_ptr<session>> expired;
  for (auto& [id, s] : sessions_) {
    if (!s->requests.empty() || (!s->unusable && now - s->last_active < limit))
      continue;
    bool attached = false;
    for (auto& [no, st] : s->streams)
      attached = attached || st.conn != nullptr;
    if (!attached)
      expired.push_back(s);
  }
  for (auto& s : expired)
    end_session(*s);
}

// -- requests and streams -----------------------------------------------------

bool server_core::primes(const session& s) const {
  // Older clients may not take an event without data.
  return !s.version.empty() && s.version >= "2025-11-25";
}

void server_core::bind(session& s, sse_stream& st,
                       const std::shared_ptr<connection>& c) {
  st.conn = c;
  auto raw = c.get();
  c->set_stream_hooks(
    [this, sid = s.id, no = st.no, raw] {
      auto p = lookup(sid);
      if (!p)
        return;
      auto i = p->streams.find(no);
      if (i != p->streams.end() && i->second.conn.get() == raw)
        pump(*p, no);
    },
    [this, sid = s.id, no = st.no, raw] {
      if (auto p = lookup(sid))
        detach(*p, no, raw);
    });
}

void server_core::open_request(session& s,
                               const std::shared_ptr<connection>& conn,
                               pending_request req, const std::string& id) {
  auto no = s.next_stream++;
  auto& st = s.streams.emplace(no, sse_stream{no, opts.notification_high_bytes})
               .first->second;
  st.request_id = id;
  req.stream = no;
  if (!req.token.empty())
    s.tokens[req.token] = id;
  s.requests[id] = std::move(req);
  bind(s, st, conn);
  if (opts.json_window_ms <= 0)
    return begin_sse(s, st);
  // Until then a reply is answered as plain JSON.
  conn->wait(std::chrono::milliseconds{opts.json_window_ms},
             [this, sid = s.id, no] {
               auto p = lookup(sid);
               if (!p)
                 return;
               auto i = p->streams.find(no);
               if (i != p->streams.end() && i->second.conn && !i->second.sse)
                 begin_sse(*p, i->second);
             });
}

void server_core::begin_sse(session& s, sse_stream& st) {
  st.sse = true;
  st.conn->start_sse(session_headers(s));
  if (primes(s))
    st.conn->send_sse(sse_priming(st.no, st.seq, opts.sse_retry_ms));
  pump(s, st.no);
}

void server_core::finish_request(session& s, const std::string& id) {
  auto r = s.requests.find(id);
  if (r == s.requests.end())
    return;
  if (!r->second.token.empty()) {
    auto t = s.tokens.find(r->second.token);
    if (t != s.tokens.end() && t->second == id)
      s.tokens.erase(t);
  }
  s.streams.erase(r->second.stream);
  s.requests.erase(r);
  s.last_active = steady_clock::now();
}

void server_core::cancel_request(session& s, const std::string& id) {
  auto r = s.requests.find(id);
  if (r == s.requests.end())
    return;
  auto conn = s.streams.at(r->second.stream).conn;
  finish_request(s, id);
  if (!conn)
    return;
  conn->clear_stream_hooks();
  if (conn->streaming())
    conn->end_sse();
  else
    conn->respond(
      response{202, {}, {}, session_headers(s), false}); // no reply follows
}

void server_core::open_get_stream(session& s,
                                  const std::shared_ptr<connection>& conn) {
  auto& st = s.streams.at(0);
  bind(s, st, conn);
  begin_sse(s, st);
}

void server_core::resume_stream(session& s,
                                const std::shared_ptr<connection>& conn,
                                int stream, uint64_t seq) {
  std::string frames;
  for (auto& e : s.replay)
    if (e.stream == stream && e.seq > seq)
      frames += e.frame;
  auto i = s.streams.find(stream);
  if (i == s.streams.end()) {
    // That stream is complete: what is left of it, and the end.
    if (frames.empty())
      return conn->respond(response{204, {}, {}, session_headers(s), false});
    conn->start_sse(session_headers(s));
    conn->send_sse(frames);
    conn->end_sse();
    return;
  }
  auto& st = i->second;
  if (st.conn && st.conn != conn) {
    // The client gave up on that connection before we noticed.
    auto old = std::move(st.conn);
    old->clear_stream_hooks();
    old->close();
  }
  bind(s, st, conn);
  st.sse = true;
  conn->start_sse(session_headers(s));
  if (!frames.empty())
    conn->send_sse(frames);
  pump(s, stream);
}

void server_core::detach(session& s, int stream, connection* conn) {
  auto i = s.streams.find(stream);
  if (i == s.streams.end() || i->second.conn.get() != conn)
    return;
  auto& st = i->second;
  st.conn = nullptr;
  s.last_active = steady_clock::now();
  if (stream == 0)
    return; // its notifications wait in its queue for the next GET
  auto id = st.request_id;
  if (!st.sse) {
    // Gone before its answer began: nothing of it can be resumed.
    return finish_request(s, id);
  }
  // What waited for the client: progress goes to the GET stream, the reply
  // to the replay buffer (with its id), for a GET with Last-Event-ID.
  while (!st.queue.empty()) {
    auto x = st.queue.pop();
    if (x.kind == message_kind::reply) {
      ++st.seq;
      keep(s, stream, st.seq, sse_event(stream, st.seq, x.line));
      finish_request(s, id);
      break;
    }
    s.streams.at(0).queue.push(std::move(x.line), x.kind, std::move(x.key));
  }
  pump(s, 0);
}

void server_core::keep(session& s, int stream, uint64_t seq,
                       std::string frame) {
  s.replay_bytes += frame.size();
  s.replay.push_back(kept_event{stream, seq, std::move(frame)});
  while (!s.replay.empty()
         && (s.replay.size() > opts.replay_events
             || s.replay_bytes > opts.replay_bytes)) {
    s.replay_bytes -= s.replay.front().frame.size();
    s.replay.pop_front();
  }
}

void server_core::pump(session& s, int stream) {
  auto i = s.streams.find(stream);
  if (i == s.streams.end())
    return;
  auto& st = i->second;
  auto conn = st.conn;
  if (!conn || !st.sse || !conn->streaming() || conn->writing())
    return;
  std::string batch;
  if (auto dropped = st.queue.take_drop_notice(); dropped > 0) {
    auto text = s.sink->drop_notice(dropped);
    if (!text.empty()) {
      ++st.seq;
      auto frame = sse_event(stream, st.seq, text);
      batch += frame;
      keep(s, stream, st.seq, std::move(frame));
    }
  }
  bool replied = false;
  while (!st.queue.empty() && batch.size() < batch_bytes) {
    auto x = st.queue.pop();
    ++st.seq;
    auto frame = sse_event(stream, st.seq, x.line);
    batch += frame;
    keep(s, stream, st.seq, std::move(frame));
    if (x.kind == message_kind::reply && stream != 0) {
      replied = true;
      break;
    }
  }
  if (!batch.empty())
    conn->send_sse(batch);
  if (replied) {
    // The stream ends with its reply.
    auto id = st.request_id;
    conn->clear_stream_hooks();
    conn->end_sse();
    finish_request(s, id);
  }
}

void server_core::deliver(session& s, std::string line, message_kind kind,
                          std::string key) {
  if (s.ended)
    return;
  line_facts facts;
  read_facts(line, facts);
  if (kind == message_kind::reply) {
    auto r = s.requests.find(facts.id);
    if (r == s.requests.end())
      return; // cancelled, or its client went away before it began
    if (r->second.initialize) {
      auto v = agreed_version(line);
      if (!v.empty())
        s.version = std::move(v);
      else
        s.unusable = true; // initialize failed: nobody will use it
    }
    auto no = r->second.stream;
    auto& st = s.streams.at(no);
    if (!st.conn) {
      ++st.seq;
      keep(s, no, st.seq, sse_event(no, st.seq, line));
      return finish_request(s, facts.id);
    }
    if (!st.sse) {
      // In time for a plain JSON answer.
      auto conn = st.conn;
      conn->clear_stream_hooks();
      finish_request(s, facts.id);
      response answer;
      answer.body = std::move(line);
      answer.headers = session_headers(s);
      return conn->respond(std::move(answer));
    }
    st.queue.push(std::move(line), kind);
    return pump(s, no);
  }
  if (facts.method == "notifications/progress"
      && !facts.progress_token.empty()) {
    auto t = s.tokens.find(facts.progress_token);
    if (t == s.tokens.end())
      return; // its request was answered: no progress after the reply
    auto r = s.requests.find(t->second);
    if (r == s.requests.end())
      return;
    auto& st = s.streams.at(r->second.stream);
    if (st.conn) {
      st.queue.push(std::move(line), kind, std::move(key));
      if (!st.sse)
        return begin_sse(s, st);
      return pump(s, st.no);
    }
    // Its POST stream is gone: the GET stream carries it.
  }
  s.streams.at(0).queue.push(std::move(line), kind, std::move(key));
  pump(s, 0);
}

} // namespace jobd::http_detail

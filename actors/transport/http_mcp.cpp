// POST, GET and DELETE /mcp: the Streamable HTTP transport's requests, once
// the server let them through (Host/Origin, auth, rate, media types).
#include "actors/transport/http_core.hpp"
#include "protocol/jsonrpc.hpp"

#include <caf/send.hpp>

#include <rapidjson/document.h>

namespace jobd::http_detail {

namespace {

constexpr int session_not_found = -32001;

response no_body(unsigned status, header_list headers) {
  response r;
  r.status = status;
  r.content_type.clear();
  r.headers = std::move(headers);
  return r;
}

// The progress token of a request (`params._meta.progressToken`) as
// canonical JSON; empty if none.
std::string progress_token(const rapidjson::Value* params) {
  std::string out;
  if (params == nullptr || !params->IsObject())
    return out;
  auto meta = params->FindMember("_meta");
  if (meta == params->MemberEnd() || !meta->value.IsObject())
    return out;
  auto token = meta->value.FindMember("progressToken");
  if (token != meta->value.MemberEnd())
    protocol::id_to_json(token->value, out);
  return out;
}

std::string session_header(request& r) {
  auto i = r.find("Mcp-Session-Id");
  return i == r.end() ? std::string{} : std::string{i->value()};
}

} // namespace

header_list server_core::session_headers(const session& s) const {
  return {{"Mcp-Session-Id", s.id}};
}

void server_core::post_mcp(const std::shared_ptr<connection>& conn) {
  auto& r = conn->req();
  auto& body = r.body();
  auto bad = [&](int code, std::string message, std::string id = {}) {
    count(400);
    conn->respond(rpc_error_response(400, code, std::move(message), id));
  };
  rapidjson::Document doc;
  doc.Parse<protocol::parse_flags>(body.data(), body.size());
  if (doc.HasParseError())
    return bad(protocol::rpc_code::parse_error, "Parse error: not JSON");
  protocol::rpc_message msg;
  protocol::classify(doc, msg);
  if (msg.kind == protocol::message_kind::invalid)
    return bad(msg.error_code, msg.error_message, msg.id);
  if (msg.kind == protocol::message_kind::notification && !msg.well_formed)
    return bad(protocol::rpc_code::invalid_request,
               "a notification needs jsonrpc \"2.0\", a string method and "
               "object params");
  bool is_request = msg.kind == protocol::message_kind::request;
  auto sid = session_header(r);
  std::shared_ptr<session> s;
  if (sid.empty()) {
    if (!is_request || msg.method != "initialize")
      return bad(-32000, "Bad Request: Mcp-Session-Id header is required");
    if (sessions_.size() >= opts.max_sessions) {
      auto refusal = rpc_error_response(503, -32000, "too many MCP sessions");
      refusal.headers.emplace_back("Retry-After", "5");
      return conn->respond(std::move(refusal));
    }
    std::string why;
    s = open_session(conn->principal, why);
    if (!s)
      return conn->respond(
        rpc_error_response(500, protocol::rpc_code::internal_error,
                           "cannot open a session: " + why));
  } else {
    s = find_session(sid, conn->principal);
    if (!s) {
      count(404);
      return conn->respond(
        rpc_error_response(404, session_not_found, "Session not found"));
    }
  }
  s->last_active = std::chrono::steady_clock::now();
  if (is_request) {
    if (s->requests.count(msg.id) != 0)
      return bad(protocol::rpc_code::invalid_request,
                 "a request with this id is in progress", msg.id);
    pending_request pending;
    pending.initialize = msg.method == "initialize";
    pending.token = progress_token(msg.params);
    open_request(*s, conn, std::move(pending), msg.id);
    caf::anon_send(s->endpoint, atom::line_v, std::move(body));
    return;
  }
  std::string cancelled;
  if (msg.kind == protocol::message_kind::notification
      && msg.method == "notifications/cancelled" && msg.params != nullptr) {
    auto id = msg.params->FindMember("requestId");
    if (id != msg.params->MemberEnd())
      protocol::id_to_json(id->value, cancelled);
  }
  caf::anon_send(s->endpoint, atom::line_v, std::move(body));
  if (!cancelled.empty())
    cancel_request(*s, cancelled);
  conn->respond(no_body(202, session_headers(*s)));
}

void server_core::get_mcp(const std::shared_ptr<connection>& conn) {
  auto& r = conn->req();
  auto sid = session_header(r);
  if (sid.empty()) {
    count(400);
    return conn->respond(rpc_error_response(
      400, -32000, "Bad Request: Mcp-Session-Id header is required"));
  }
  auto s = find_session(sid, conn->principal);
  if (!s) {
    count(404);
    return conn->respond(
      rpc_error_response(404, session_not_found, "Session not found"));
  }
  s->last_active = std::chrono::steady_clock::now();
  if (auto last = r.find("Last-Event-ID"); last != r.end()) {
    int stream = 0;
    uint64_t seq = 0;
    if (!parse_event_id(last->value(), stream, seq)) {
      count(400);
      return conn->respond(rpc_error_response(
        400, -32000,
        "Bad Request: Last-Event-ID is not an event id of this "
        "server"));
    }
    return resume_stream(*s, conn, stream, seq);
  }
  if (s->streams.at(0).conn) {
    count(409);
    return conn->respond(rpc_error_response(
      409, -32000, "Conflict: this session has a GET stream open already"));
  }
  open_get_stream(*s, conn);
}

void server_core::delete_mcp(const std::shared_ptr<connection>& conn) {
  auto& r = conn->req();
  auto sid = session_header(r);
  if (sid.empty()) {
    count(400);
    return conn->respond(rpc_error_response(
      400, -32000, "Bad Request: Mcp-Session-Id header is required"));
  }
  auto s = find_session(sid, conn->principal);
  if (!s) {
    count(404);
    return conn->respond(
      rpc_error_response(404, session_not_found, "Session not found"));
  }
  end_session(*s);
  conn->respond(no_body(204, {}));
}

} // namespace jobd::http_detail

#include "protocol/jsonrpc.hpp"

#include "protocol/json.hpp"

namespace jobd::protocol {

namespace {

bool is_version_2(const rapidjson::Value* v) {
  return v != nullptr && v->IsString() && v->GetStringLength() == 3
         && std::string_view(v->GetString(), 3) == "2.0";
}

void fail(rpc_message& out, int code, const char* message) {
  out.kind = message_kind::invalid;
  out.error_code = code;
  out.error_message = message;
}

} // namespace

bool id_to_json(const rapidjson::Value& id, std::string& out) {
  char buf[24];
  if (id.IsString()) {
    rapidjson::StringBuffer sb;
    json_writer w(sb);
    w.String(id.GetString(), id.GetStringLength());
    out.assign(sb.GetString(), sb.GetSize());
    return true;
  }
  if (id.IsInt64()) {
    auto end = rapidjson::internal::i64toa(id.GetInt64(), buf);
    out.assign(buf, end);
    return true;
  }
  if (id.IsUint64()) {
    auto end = rapidjson::internal::u64toa(id.GetUint64(), buf);
    out.assign(buf, end);
    return true;
  }
  return false;
}

void classify(const rapidjson::Value& msg, rpc_message& out) {
  out = rpc_message{};
  if (msg.IsArray())
    return fail(out, rpc_code::invalid_request, "batches are not supported");
  if (!msg.IsObject())
    return fail(out, rpc_code::invalid_request,
                "a message must be a JSON object");
  auto id = member(msg, "id");
  auto method = member(msg, "method");
  if (method == nullptr
      && (member(msg, "result") != nullptr
          || member(msg, "error") != nullptr)) {
    out.kind = message_kind::response;
    return;
  }
  auto version = member(msg, "jsonrpc");
  auto params = member(msg, "params");
  if (id == nullptr) {
    out.kind = message_kind::notification;
    out.well_formed = is_version_2(version) && method != nullptr
                      && method->IsString()
                      && (params == nullptr || params->IsObject());
    if (out.well_formed) {
      out.method = {method->GetString(), method->GetStringLength()};
      out.params = params;
    }
    return;
  }
  if (!id_to_json(*id, out.id))
    return fail(out, rpc_code::invalid_request,
                "id must be a string or an integer");
  if (!is_version_2(version))
    return fail(out, rpc_code::invalid_request, "jsonrpc must be \"2.0\"");
  if (method == nullptr || !method->IsString())
    return fail(out, rpc_code::invalid_request, "method must be a string");
  if (params != nullptr && !params->IsObject())
    return fail(out, rpc_code::invalid_request, "params must be an object");
  out.kind = message_kind::request;
  out.method = {method->GetString(), method->GetStringLength()};
  out.params = params;
}

std::string rpc_error(std::string_view id, int code, std::string_view message) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "jsonrpc");
  w.String("2.0");
  write_key(w, "id");
  if (id.empty())
    w.Null();
  else
    write_raw(w, id);
  write_key(w, "error");
  w.StartObject();
  write_key(w, "code");
  w.Int(code);
  write_key(w, "message");
  write_string(w, message);
  w.EndObject();
  w.EndObject();
  return std::string(view(sb));
}

std::string rpc_result(std::string_view id, std::string_view result_json) {
  std::string out;
  out.reserve(32 + id.size() + result_json.size());
  out += R"({"jsonrpc":"2.0","id":)";
  out += id;
  out += R"(,"result":)";
  out += result_json;
  out += '}';
  return out;
}

std::string rpc_notification(std::string_view method,
                             std::string_view params_json) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "jsonrpc");
  w.String("2.0");
  write_key(w, "method");
  write_string(w, method);
  if (!params_json.empty()) {
    write_key(w, "params");
    write_raw(w, params_json);
  }
  w.EndObject();
  return std::string(view(sb));
}

} // namespace jobd::protocol

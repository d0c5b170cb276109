// JSON-RPC 2.0 framing: classifying incoming messages and writing replies
// and notifications as single lines.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace jobd::protocol {

namespace rpc_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
/// MCP: a resource that does not exist.
inline constexpr int resource_not_found = -32002;
} // namespace rpc_code

/// Flags for every incoming line: no recursion, UTF-8 checked.
inline constexpr unsigned parse_flags
  = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

enum class message_kind {
  /// A request with a valid id: it gets exactly one reply.
  request,
  /// No id: never answered, even when malformed.
  notification,
  /// A reply from the client to a server request: ignored.
  response,
  /// Not a usable request; `error_code`/`error_message` say why.
  invalid,
};

struct rpc_message {
  message_kind kind = message_kind::invalid;
  /// The id as JSON text; empty if there is none or it is unusable.
  std::string id;
  std::string_view method;
  /// Null when the message has no params.
  const rapidjson::Value* params = nullptr;
  int error_code = 0;
  const char* error_message = "";
  /// Notifications only: false if malformed (then silently dropped).
  bool well_formed = true;
};

/// Sorts a parsed message into request, notification, response or invalid.
void classify(const rapidjson::Value& msg, rpc_message& out);

/// Writes a string or integer id as JSON text; false for any other value.
bool id_to_json(const rapidjson::Value& id, std::string& out);

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":..,"message":..}}`; an empty
/// id is written as null.
std::string rpc_error(std::string_view id, int code, std::string_view message);

/// `{"jsonrpc":"2.0","id":<id>,"result":<result_json>}`.
std::string rpc_result(std::string_view id, std::string_view result_json);

/// `{"jsonrpc":"2.0","method":..,"params":<params_json>}`; empty params_json
/// leaves params out.
std::string rpc_notification(std::string_view method,
                             std::string_view params_json);

} // namespace jobd::protocol

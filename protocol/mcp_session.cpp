#include "protocol/mcp_session.hpp"

#include "protocol/json.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/render.hpp"
#include "protocol/resources.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/document.h>

namespace jobd::protocol {

namespace {

using rapidjson::Value;

constexpr const char* log_level_names[] = {
  "debug", "info",     "notice", "warning",
  "error", "critical", "alert",  "emergency",
};

constexpr const char* supported_versions[] = {
  "2024-11-05",
  "2025-03-26",
  "2025-06-18",
  "2025-11-25",
};

constexpr const char* instructions
  = "Start a command with console_execute_async: it returns a jobId at once "
    "while the command runs in the background. To wait for a job to finish "
    "or print something, call console_wait_job instead of polling "
    "console_get_job_status. Read output with console_get_job_output and "
    "pass the returned nextSince as options.since to get only new output. "
    "For a command that is likely quick, options.waitMs returns its exit "
    "code and output tail in the same call.";

// Every capability the server announces, in one place.
void write_capabilities(json_writer& w) {
  w.StartObject();
  write_key(w, "tools");
  w.StartObject();
  write_key(w, "listChanged");
  w.Bool(false);
  w.EndObject();
  write_key(w, "logging");
  w.StartObject();
  w.EndObject();
  write_key(w, "resources");
  w.StartObject();
  write_key(w, "subscribe");
  w.Bool(true);
  write_key(w, "listChanged");
  w.Bool(true);
  w.EndObject();
  w.EndObject();
}

// Bounds the session's memory whatever a client subscribes to.
constexpr size_t max_subscriptions = 10000;

// The parse buffer lives on the stack: most lines need no heap at all.
constexpr size_t parse_buffer_size = 8192;

} // namespace

const char* to_string(log_level x) {
  return log_level_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view text, log_level& out) {
  for (size_t i = 0; i < std::size(log_level_names); ++i) {
    if (text == log_level_names[i]) {
      out = static_cast<log_level>(i);
      return true;
    }
  }
  return false;
}

bool supported_protocol_version(std::string_view version) {
  for (auto v : supported_versions)
    if (version == v)
      return true;
  return false;
}

std::string render_notification(std::string_view method,
                                std::string_view params_json) {
  return rpc_notification(method, params_json);
}

std::string render_progress(std::string_view token, double progress,
                            double total, std::string_view message) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "progressToken");
  write_raw(w, token.empty() ? std::string_view("null") : token);
  write_key(w, "progress");
  write_double(w, progress);
  if (total > 0) {
    write_key(w, "total");
    write_double(w, total);
  }
  if (!message.empty()) {
    write_key(w, "message");
    write_string(w, message);
  }
  w.EndObject();
  return rpc_notification("notifications/progress", view(sb));
}

std::string render_log_message(log_level level, std::string_view logger,
                               std::string_view data_json) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "level");
  w.String(to_string(level));
  if (!logger.empty()) {
    write_key(w, "logger");
    write_string(w, logger);
  }
  write_key(w, "data");
  write_raw(w, data_json.empty() ? std::string_view("null") : data_json);
  w.EndObject();
  return rpc_notification("notifications/message", view(sb));
}

std::string render_rpc_error(std::string_view id, int code,
                             std::string_view message) {
  return rpc_error(id, code, message);
}

mcp_session::mcp_session() : tools_(default_catalog()) {}

mcp_session::mcp_session(server_options options)
  : tools_(std::make_shared<const tool_catalog>(std::move(options))) {}

mcp_session::mcp_session(std::shared_ptr<const tool_catalog> tools)
  : tools_(tools != nullptr ? std::move(tools) : default_catalog()) {}

action mcp_session::handle_line(std::string_view line,
                                std::vector<std::string>& replies) {
  alignas(16) char buffer[parse_buffer_size];
  rapidjson::MemoryPoolAllocator<> pool(buffer, sizeof(buffer));
  rapidjson::Document doc(&pool);
  if (line.empty())
    line = std::string_view("", 0);
  doc.Parse<parse_flags>(line.data(), line.size());
  if (doc.HasParseError()) {
    replies.push_back(rpc_error({}, rpc_code::parse_error, "parse error"));
    return {};
  }
  rpc_message msg;
  classify(doc, msg);
  action result;
  switch (msg.kind) {
    case message_kind::response:
      return result;
    case message_kind::invalid:
      replies.push_back(rpc_error(msg.id, msg.error_code, msg.error_message));
      return result;
    case message_kind::notification:
      if (!msg.well_formed)
        return result;
      if (msg.method == "notifications/cancelled") {
        auto id = member(msg.params, "requestId");
        std::string raw;
        if (id != nullptr && id_to_json(*id, raw))
          result = cancel_request{std::move(raw)};
      } else if (msg.method == "notifications/initialized") {
        client_ready_ = true;
      }
      return result;
    case message_kind::request:
      handle_request(msg.method, msg.id, msg.params, replies, result);
      return result;
  }
  return result;
}

void mcp_session::handle_request(std::string_view method, std::string_view id,
                                 const Value* params,
                                 std::vector<std::string>& replies,
                                 action& result) {
  auto invalid_params = [&](std::string_view message) {
    replies.push_back(rpc_error(id, rpc_code::invalid_params, message));
  };
  if (method == "tools/call") {
    auto name = member(params, "name");
    if (name == nullptr || !name->IsString())
      return invalid_params("tools/call needs a string name");
    tool_id tool;
    if (!find_tool(str(*name), tool))
      return invalid_params("unknown tool: " + shorten(str(*name), 128));
    auto args = member(params, "arguments");
    static const Value empty_object(rapidjson::kObjectType);
    if (args == nullptr)
      args = &empty_object;
    else if (!args->IsObject())
      return invalid_params("arguments must be an object");
    dispatch_call call;
    tool_error err;
    if (!tools_->parse_arguments(tool, *args, call.request, err)) {
      replies.push_back(render_tool_error(id, err));
      return;
    }
    call.id = id;
    auto token = member(member(params, "_meta"), "progressToken");
    if (token != nullptr)
      id_to_json(*token, call.progress_token);
    result = std::move(call);
    return;
  }
  if (method == "ping") {
    replies.push_back(rpc_result(id, "{}"));
    return;
  }
  if (method == "tools/list") {
    auto cursor = member(params, "cursor");
    if (cursor != nullptr && !cursor->IsString())
      return invalid_params("cursor must be a string");
    replies.push_back(rpc_result(id, tools_->list_result()));
    return;
  }
  if (method == "initialize") {
    auto requested = member(params, "protocolVersion");
    if (requested != nullptr && requested->IsString()
        && supported_protocol_version(str(*requested)))
      version_ = str(*requested);
    else
      version_ = latest_protocol_version;
    rapidjson::StringBuffer sb;
    json_writer w(sb);
    w.StartObject();
    write_key(w, "protocolVersion");
    write_string(w, version_);
    write_key(w, "capabilities");
    write_capabilities(w);
    write_key(w, "serverInfo");
    w.StartObject();
    write_key(w, "name");
    write_string(w, tools_->options().info.name);
    write_key(w, "title");
    w.String("jobd background jobs");
    write_key(w, "version");
    write_string(w, tools_->options().info.version);
    w.EndObject();
    write_key(w, "instructions");
    w.String(instructions);
    w.EndObject();
    initialized_ = true;
    replies.push_back(rpc_result(id, view(sb)));
    return;
  }
  if (method == "logging/setLevel") {
    auto level = member(params, "level");
    log_level parsed;
    if (level == nullptr || !level->IsString()
        || !from_string(str(*level), parsed))
      return invalid_params("level must be one of debug, info, notice, "
                            "warning, error, critical, alert, emergency");
    log_level_ = parsed;
    logging_requested_ = true;
    replies.push_back(rpc_result(id, "{}"));
    return;
  }
  if (method == "resources/templates/list") {
    replies.push_back(rpc_result(id, resource_templates_result()));
    return;
  }
  if (method == "resources/list") {
    auto cursor = member(params, "cursor");
    if (cursor != nullptr && !cursor->IsString())
      return invalid_params("cursor must be a string");
    result = resource_list_call{std::string{id},
                                cursor ? std::string{str(*cursor)} : ""};
    return;
  }
  if (method == "resources/read" || method == "resources/subscribe"
      || method == "resources/unsubscribe") {
    auto uri = member(params, "uri");
    resource_read_call call;
    if (uri == nullptr || !uri->IsString())
      return invalid_params("uri must be a string");
    call.uri = str(*uri);
    if (!parse_job_uri(call.uri, call.job_id, call.output))
      return replies.push_back(
        rpc_error(id, rpc_code::resource_not_found,
                  "Resource not found: " + shorten(call.uri, 256)));
    if (method == "resources/subscribe") {
      if (subscriptions_.size() >= max_subscriptions
          && subscriptions_.count(call.uri) == 0)
        return invalid_params("too many subscriptions (at most "
                              + std::to_string(max_subscriptions) + ")");
      subscriptions_.insert(call.uri);
      return replies.push_back(rpc_result(id, "{}"));
    }
    if (method == "resources/unsubscribe") {
      subscriptions_.erase(call.uri);
      return replies.push_back(rpc_result(id, "{}"));
    }
    call.id = id;
    result = std::move(call);
    return;
  }
  replies.push_back(rpc_error(id, rpc_code::method_not_found,
                              "method not found: " + shorten(method, 128)));
}

std::string mcp_session::render_result(std::string_view id,
                                       const tool_result& result) const {
  return render_tool_result(id, result);
}

std::string mcp_session::render_error(std::string_view id,
                                      const tool_error& error) const {
  return render_tool_error(id, error);
}

} // namespace jobd::protocol

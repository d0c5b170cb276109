// The MCP side of one connection, without actors: turns lines into replies or
// typed tool calls, and typed results into reply lines. The ENDPOINT actor
// owns one of these; tests and the fuzzer drive it directly.
#pragma once

#include "protocol/model.hpp"
#include "protocol/server_options.hpp"

#include <rapidjson/fwd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jobd::protocol {

class tool_catalog;

struct output_call {
  std::string job_id;
  output_query query;
};

struct cancel_call {
  std::string job_id;
  /// SIGTERM-to-SIGKILL grace; use_default = the job's.
  int64_t grace_ms = use_default;
};

struct metrics_call {};

/// console_execute_async with `template`: the template's job with these
/// parameter values, under the call's own options (see
/// protocol/templates.hpp).
struct template_call {
  std::string name;
  std::map<std::string, std::string> params;
  /// The call's `options` object as JSON text; "{}" when none was given.
  std::string options;
};

struct list_schedules_call {};
struct delete_schedule_call {
  std::string id;
};
struct list_templates_call {};
struct delete_template_call {
  std::string name;
};

/// A `tools/call` the runtime must carry out.
using tool_request
  = std::variant<job_spec,              // console_execute_async
                 std::string,           // console_get_job_status (id)
                 output_call,           // console_get_job_output
                 cancel_call,           // console_cancel_job
                 list_query,            // console_list_jobs
                 metrics_call,          // console_get_job_metrics
                 cleanup_query,         // console_cleanup_jobs
                 wait_query,            // console_wait_job (jobId)
                 wait_many_query,       // console_wait_job (jobIds)
                 input_request,         // console_send_input
                 signal_request,        // console_signal_job
                 pause_request,         // console_pause_job, console_resume_job
                 resize_request,        // console_resize_terminal
                 restart_request,       // console_restart_job
                 template_call,         // console_execute_async (template)
                 schedule_spec,         // console_create_schedule
                 schedule_update,       // console_update_schedule
                 list_schedules_call,   // console_list_schedules
                 delete_schedule_call,  // console_delete_schedule
                 job_template,          // console_save_template
                 list_templates_call,   // console_list_templates
                 delete_template_call>; // console_delete_template

/// What the runtime must do after a line was handled.
struct dispatch_call {
  /// The request id as raw JSON text (`"abc"`, `7`), echoed exactly.
  std::string id;
  tool_request request;
  /// Raw JSON of `params._meta.progressToken`; empty if none.
  std::string progress_token;
};

/// `notifications/cancelled` for an earlier request.
struct cancel_request {
  /// The cancelled request's id as raw JSON text.
  std::string id;
};

/// `resources/list`: one page of jobs, as resources.
struct resource_list_call {
  std::string id;
  std::string cursor;
};

/// `resources/read` of `job://{job_id}` or `job://{job_id}/output`.
struct resource_read_call {
  std::string id;
  std::string uri;
  std::string job_id;
  bool output = false;
};

using action = std::variant<std::monostate, dispatch_call, cancel_request,
                            resource_list_call, resource_read_call>;

/// A tool's successful result. console_execute_async answers a
/// submit_reply, console_restart_job a submit_result; pause, resume and
/// resize answer the job's status. console_create_schedule and
/// console_update_schedule answer a schedule_info, console_save_template the
/// job_template as saved, both deletes a delete_result.
using tool_result
  = std::variant<submit_result, job_info, output_page, cancel_result, list_page,
                 metrics_snapshot, cleanup_result, wait_result, submit_reply,
                 wait_many_result, input_result, signal_result, schedule_info,
                 schedule_list, job_template, template_list, delete_result>;

/// Syslog severities of MCP logging, least severe first.
enum class log_level : uint8_t {
  debug,
  info,
  notice,
  warning,
  error,
  critical,
  alert,
  emergency,
};

const char* to_string(log_level x);
bool from_string(std::string_view text, log_level& out);

/// The newest protocol version this server speaks.
inline constexpr const char* latest_protocol_version = "2025-11-25";

/// True for the protocol versions `initialize` accepts as requested.
bool supported_protocol_version(std::string_view version);

/// A JSON-RPC notification line; `params_json` is a JSON object text (empty:
/// no params).
std::string render_notification(std::string_view method,
                                std::string_view params_json);

/// `notifications/progress`; `token` is the raw JSON of the progressToken
/// (dispatch_call::progress_token). `total` <= 0 and empty `message` are
/// left out.
std::string render_progress(std::string_view token, double progress,
                            double total = 0, std::string_view message = {});

/// `notifications/message` (MCP logging); `data_json` is any JSON text.
std::string render_log_message(log_level level, std::string_view logger,
                               std::string_view data_json);

/// A JSON-RPC error reply; `id` is raw JSON text, empty for null.
std::string render_rpc_error(std::string_view id, int code,
                             std::string_view message);

class mcp_session {
public:
  /// A session with the tools of the built-in server_options (shared, built
  /// once): for tests and tools.
  mcp_session();

  /// A session for the running server's configuration: builds its own
  /// catalog (compiles every schema; throws std::invalid_argument if a
  /// kind's schema is unusable, see tool_catalog).
  explicit mcp_session(server_options options);

  /// A session sharing a catalog built once (many sessions, one server).
  explicit mcp_session(std::shared_ptr<const tool_catalog> tools);

  const tool_catalog& tools() const {
    return *tools_;
  }

  /// Handles one line from the client. Replies the session can give itself
  /// (errors, initialize, ping, tools/list, ...) are appended to `replies`,
  /// one JSON text per element, without a trailing newline.
  action handle_line(std::string_view line, std::vector<std::string>& replies);

  /// The reply to a dispatched call that succeeded.
  std::string render_result(std::string_view id,
                            const tool_result& result) const;

  /// The reply to a dispatched call whose tool failed (`isError: true`).
  std::string render_error(std::string_view id, const tool_error& error) const;

  /// True once `initialize` was answered.
  bool initialized() const {
    return initialized_;
  }
  /// True once the client sent `notifications/initialized`.
  bool client_ready() const {
    return client_ready_;
  }
  const std::string& protocol_version() const {
    return version_;
  }

  /// The level set by `logging/setLevel` (default: info).
  log_level logging_level() const {
    return log_level_;
  }
  /// True if a message at `level` should be sent to the client: only once
  /// it asked for messages with `logging/setLevel`.
  bool should_log(log_level level) const {
    return logging_requested_ && level >= log_level_;
  }

  /// True if the client subscribed to `uri` (`resources/subscribe`).
  bool subscribed(const std::string& uri) const {
    return subscriptions_.count(uri) != 0;
  }
  bool has_subscriptions() const {
    return !subscriptions_.empty();
  }

private:
  void handle_request(std::string_view method, std::string_view id,
                      const rapidjson::Value* params,
                      std::vector<std::string>& replies, action& result);

  std::shared_ptr<const tool_catalog> tools_;
  bool initialized_ = false;
  bool client_ready_ = false;
  std::string version_;
  log_level log_level_ = log_level::info;
  bool logging_requested_ = false;
  std::set<std::string> subscriptions_;
};

} // namespace jobd::protocol

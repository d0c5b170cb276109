// The audit log's entries (--audit-log): one JSON object per line, each
// built with RapidJSON's writer, so every value is escaped and no text a
// client sends (a command with a newline, a quote) can start an entry of its
// own. Pure functions: the AUDIT actor (actors/audit.hpp) writes the lines,
// ENDPOINT reads what it needs of a request with `read_request`.
#pragma once

#include "actors/messages.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace jobd::audit_format {

/// Strings longer than this are logged as their first `kept_prefix` bytes
/// and "…(N bytes)".
inline constexpr size_t max_string_bytes = 4096;
inline constexpr size_t kept_prefix = 256;
/// Arguments whose logged form is larger than this are logged as a
/// shortened string of it instead.
inline constexpr size_t max_arguments_bytes = 64 * 1024;
/// Deeper nesting is logged as "…(nested too deep)".
inline constexpr int max_depth = 32;
/// What replaces each value of an `environment` object.
inline constexpr const char* redacted = "[redacted]";

/// What ENDPOINT needs of a request line to audit it.
struct request_view {
  /// "tools/call", "initialize", or empty (anything else, or no JSON).
  std::string method;
  /// The request id as JSON text; empty for a notification.
  std::string id;
  /// tools/call: params.name (empty if missing or no string) and
  /// params.arguments as JSON text ("{}" when none was given).
  std::string tool;
  std::string arguments;
  /// initialize: params.clientInfo.name and version.
  std::string client_name;
  std::string client_version;
};

/// Reads the line if it may be a tools/call or an initialize request; false
/// (and `out` untouched) for anything else.
bool read_request(std::string_view line, request_view& out);

/// The error code of a reply line: structuredContent.code of a tool error,
/// the number of a JSON-RPC error ("-32602"), empty for a success.
std::string reply_error_code(std::string_view reply);

/// `text` as logged: itself, or its first kept_prefix bytes (at a UTF-8
/// boundary) and "…(N bytes)" when longer than max_string_bytes.
std::string shorten(std::string_view text);

/// The arguments JSON text as logged (a JSON text): every member of an
/// `environment` object at any nesting has its value replaced by
/// "[redacted]", long strings are shortened; text that is no JSON becomes
/// a (shortened) string. `job_session` receives `sessionId` (top level, else in
/// `options`).
std::string arguments_json(std::string_view arguments,
                           std::string* job_session = nullptr);

/// {"time","type":"tool_call","session","jobSession"?,"tool","arguments",
/// "outcome":"ok"|"error","errorCode"?,"durationMs"} plus '\n'.
/// `error_code` that is an integer is written as a number (JSON-RPC).
std::string tool_call_line(timestamp_ms now, std::string_view session,
                           std::string_view tool, std::string_view arguments,
                           std::string_view error_code, int64_t duration_ms);

/// {"time","type":"session","event":"initialize","session","client":
/// {"name","version"}} plus '\n'.
std::string initialize_line(timestamp_ms now, std::string_view session,
                            std::string_view client_name,
                            std::string_view client_version);

/// {"time","type":"server","event":"start"|"stop","pid","version"} plus
/// '\n'.
std::string server_line(timestamp_ms now, std::string_view event, int64_t pid,
                        std::string_view version);

/// {"time","type":"job","event","jobId","sessionId","command",...} plus
/// '\n' for a lifecycle event; empty for events that change no state
/// (`updated`). Events: "created" ("scheduleId" for a schedule's firing,
/// then event "schedule.fired"), "started" ("pid"), "finished" ("status",
/// "exitCode", "signal", "errorCode", "limitExceeded"), "cancelled" (a
/// finished job whose status is cancelled), "retrying" ("attempt",
/// "nextAttemptAt"), "removed".
std::string job_line(timestamp_ms now, const job_event& ev);

} // namespace jobd::audit_format

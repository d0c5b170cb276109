// Typed tool results to structuredContent JSON, and whole tools/call reply
// lines around it.
#pragma once

#include "protocol/json.hpp"
#include "protocol/mcp_session.hpp"

#include <string>
#include <string_view>

namespace jobd::protocol {

/// Writes the structuredContent object of a successful result. `now` fills
/// durationMs of jobs that are still running.
void write_structured(json_writer& w, const tool_result& result,
                      timestamp_ms now);

/// Writes the seed's error object `{success:false, error, code, details}`.
void write_structured_error(json_writer& w, const tool_error& error,
                            timestamp_ms now);

/// The structuredContent of a result as JSON text (for tests and tools).
std::string structured_json(const tool_result& result);

/// `{"jsonrpc":"2.0","id":..,"result":{"content":[{"type":"text","text":..}],
/// "structuredContent":..,"isError":..}}`.
std::string render_tool_result(std::string_view id, const tool_result& result);
std::string render_tool_error(std::string_view id, const tool_error& error);

/// `{"event": .., "job": {..}}`: a job lifecycle event as the data of a
/// `notifications/message`.
std::string job_event_json(std::string_view event, const job_info& job);

} // namespace jobd::protocol

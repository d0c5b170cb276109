// Checking tool arguments against the input schemas and the extra rules
// (NUL bytes, environment names, sizes, patterns, kind options).
#pragma once

#include "protocol/model.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace jobd::protocol {

/// True if `args` may be parsed for tool `id` of `tools`; otherwise fills
/// `err` with INVALID_ARGUMENTS, a message naming the field, and
/// `details.field`. For console_execute_async, `kindOptions` is checked
/// against the chosen kind's schema (errors name `kindOptions.<field>`).
bool validate_arguments(const tool_catalog& tools, tool_id id,
                        const rapidjson::Value& args, tool_error& err);

/// console_execute_async: `command` or `template` (and what goes with
/// each); sets `with_template` (validate_workflows.cpp).
bool check_execute_form(const rapidjson::Value& args, bool& with_template,
                        tool_error& err);

/// The workflow rules of a job's options (startAt or delayMs, retry.on or
/// retry.exitCodes, a strict startAt at most 366 days after `now`).
bool check_workflow_options(const rapidjson::Value* options, timestamp_ms now,
                            tool_error& err);

/// The rules of the schedule and template tools beyond their schemas.
bool validate_workflow_tool(tool_id id, const rapidjson::Value& args,
                            tool_error& err);

/// Fills `err` as an INVALID_ARGUMENTS failure of `field`.
void invalid_argument(tool_error& err, std::string field, std::string message);

} // namespace jobd::protocol

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

/// Fills `err` as an INVALID_ARGUMENTS failure of `field`.
void invalid_argument(tool_error& err, std::string field, std::string message);

} // namespace jobd::protocol

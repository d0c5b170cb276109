// Checking tool arguments against the input schemas and the extra rules
// (NUL bytes, environment names, sizes, regex patterns).
#pragma once

#include "protocol/model.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace jobd::protocol {

/// True if `args` may be parsed for tool `id`; otherwise fills `err` with
/// INVALID_ARGUMENTS, a message naming the field, and `details.field`.
bool validate_arguments(tool_id id, const rapidjson::Value& args,
                        tool_error& err);

/// Fills `err` as an INVALID_ARGUMENTS failure of `field`.
void invalid_argument(tool_error& err, std::string field, std::string message);

} // namespace jobd::protocol

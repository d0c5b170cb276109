// The input-schema half of argument checking (validate_schema.cpp), for
// validate.cpp, which adds the rules a schema cannot say.
#pragma once

#include "protocol/tools.hpp"
#include "protocol/validate.hpp"

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace jobd::protocol::detail {

/// Appends `.name` (shortened: field names in messages are user input) to
/// a field path such as `options.environment`.
void append_field(std::string& path, std::string_view name);

/// `args` against `id`'s input schema (and a nesting bound); false with an
/// INVALID_ARGUMENTS error naming the field otherwise.
bool check_schema(const tool_catalog& tools, tool_id id,
                  const rapidjson::Value& args, tool_error& err);

/// kindOptions (absent = {}) against the chosen kind's own schema.
bool check_kind_options(const tool_catalog& tools, const rapidjson::Value& args,
                        tool_error& err);

} // namespace jobd::protocol::detail

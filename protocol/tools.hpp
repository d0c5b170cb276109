// The eight tools: their definitions for tools/list and the checking and
// parsing of their arguments into the typed requests of model.hpp.
#pragma once

#include "protocol/mcp_session.hpp"
#include "protocol/model.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jobd::protocol {

enum class tool_id : uint8_t {
  execute,
  status,
  output,
  cancel,
  list,
  metrics,
  cleanup,
  wait,
};

inline constexpr size_t tool_count = 8;

/// Limits on arguments beyond what the schemas say (see docs/tools.md).
namespace limits {
inline constexpr size_t max_args = 4096;
inline constexpr size_t max_string = 131072;
inline constexpr size_t max_env_entries = 1024;
/// command + args + environment (name=value), in bytes.
inline constexpr size_t max_exec_bytes = 1024 * 1024;
inline constexpr size_t max_id = 256;
inline constexpr size_t max_path = 4096;
inline constexpr size_t max_tags = 64;
inline constexpr size_t max_tag_name = 256;
inline constexpr size_t max_tag_value = 1024;
inline constexpr size_t max_pattern = 1024;
/// Product of the bounds of counted repetitions (`{n}`) in a pattern:
/// std::regex copies the repeated part that many times.
inline constexpr uint64_t max_pattern_repeat = 100000;
/// Arguments are never nested deeper than this.
inline constexpr int max_depth = 8;
} // namespace limits

const char* tool_name(tool_id id);

/// Finds a tool by name.
bool find_tool(std::string_view name, tool_id& out);

/// `{"tools":[...]}`: the result of tools/list, built once.
const std::string& tools_list_result();

/// The input schema of a tool as a document (for tests).
const rapidjson::Document& input_schema(tool_id id);

/// The output schema of a tool as a document (for tests).
const rapidjson::Document& output_schema(tool_id id);

/// Checks `args` (an object) against the tool's input schema and the extra
/// rules, then parses it. On failure fills `err` with INVALID_ARGUMENTS, a
/// message naming the field, and `details.field`.
bool parse_arguments(tool_id id, const rapidjson::Value& args,
                     tool_request& out, tool_error& err);

} // namespace jobd::protocol

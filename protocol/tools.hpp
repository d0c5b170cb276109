// The tools: their definitions for tools/list (filled in from the
// server's configuration) and the checking and parsing of their arguments
// into the typed requests of model.hpp.
#pragma once

#include "protocol/mcp_session.hpp"
#include "protocol/model.hpp"
#include "protocol/server_options.hpp"

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <cstddef>
#include <cstdint>
#include <memory>
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
  send_input,
  signal,
  pause,
  resume,
  resize,
  restart,
  create_schedule,
  list_schedules,
  update_schedule,
  delete_schedule,
  save_template,
  list_templates,
  delete_template,
};

inline constexpr size_t tool_count = 21;

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
/// console_wait_job's jobIds.
inline constexpr size_t max_wait_ids = 1000;
/// options.dependsOn.
inline constexpr size_t max_dependencies = 100;
/// options.retry.exitCodes.
inline constexpr size_t max_exit_codes = 256;
/// A template's parameters, and a call's params.
inline constexpr size_t max_template_params = 64;
/// Schedule and template names.
inline constexpr size_t max_name = 128;
/// options.delayMs, and how far ahead options.startAt may be: 366 days,
/// well inside what a steady-clock timer can be armed for.
inline constexpr int64_t max_delay_ms = 366LL * 24 * 3600 * 1000;
/// options.retry.backoffMs and maxBackoffMs: one day.
inline constexpr int64_t max_backoff_ms = 24LL * 3600 * 1000;
/// options.retry.backoffFactor.
inline constexpr int max_backoff_factor = 100;
/// A template parameter's description; a template's description.
inline constexpr size_t max_description = 4096;
/// A cron expression and a time zone name.
inline constexpr size_t max_cron = 256;
inline constexpr size_t max_timezone = 64;
/// A placeholder's name ({{name}}).
inline constexpr size_t max_placeholder = 64;
/// Arguments are never nested deeper than this.
inline constexpr int max_depth = 8;
} // namespace limits

const char* tool_name(tool_id id);

/// Finds a tool by name.
bool find_tool(std::string_view name, tool_id& out);

/// The tools as one server configuration shows and checks them: the
/// tools/list result, the schemas (defaults and caps from server_options,
/// the kinds as an enum), their compiled forms and the argument parser.
/// Built once per configuration and shared by the sessions. The kinds are
/// checked and compiled by the constructor; a tool's schemas, its compiled
/// input schema and the tools/list text are made on first use (once each,
/// thread-safe), so that start-up does not pay for them.
class tool_catalog {
public:
  /// Throws std::invalid_argument, naming the kind, if a kind's name or
  /// kindOptions schema is unusable, or if the default kind is not one of
  /// them.
  explicit tool_catalog(server_options options);
  ~tool_catalog();

  tool_catalog(const tool_catalog&) = delete;
  tool_catalog& operator=(const tool_catalog&) = delete;

  const server_options& options() const;

  /// `{"tools":[...]}`: the result of tools/list.
  const std::string& list_result() const;

  /// The input schema of a tool as a document.
  const rapidjson::Document& input_schema(tool_id id) const;

  /// The output schema of a tool as a document.
  const rapidjson::Document& output_schema(tool_id id) const;

  /// The compiled input schema of a tool.
  const rapidjson::SchemaDocument& compiled_input(tool_id id) const;

  /// The kindOptions schema of `kind` (document and compiled form), or
  /// nulls for a kind the server does not have.
  const rapidjson::Document* kind_schema(std::string_view kind) const;
  const rapidjson::SchemaDocument* compiled_kind(std::string_view kind) const;

  /// Checks `args` (an object) against the tool's input schema and the extra
  /// rules, then parses it. On failure fills `err` with INVALID_ARGUMENTS, a
  /// message naming the field, and `details.field`.
  bool parse_arguments(tool_id id, const rapidjson::Value& args,
                       tool_request& out, tool_error& err) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The catalog of the built-in server_options, built on first use.
const std::shared_ptr<const tool_catalog>& default_catalog();

} // namespace jobd::protocol

// The texts of the tools: names, descriptions and schemas with @NAME@
// placeholders. Internal to protocol/: tools.cpp fills the placeholders from
// the server_options and builds the catalog.
#pragma once

#include "protocol/tools.hpp"

#include <string>
#include <utility>
#include <vector>

namespace jobd::protocol {

struct tool_def {
  const char* name;
  const char* title;
  const char* description;
  const char* input;
  const char* output;
  bool read_only;
  bool destructive;
  bool idempotent;
  bool open_world;
};

/// The schema texts, with @NAME@ placeholders (tool_schemas_jobs.cpp and
/// tool_schemas_control.cpp).
namespace schema_text {
extern const char execute_input[], status_input[], output_input[],
  cancel_input[], list_input[], metrics_input[], cleanup_input[], wait_input[],
  send_input_input[], signal_input[], job_id_input[], resize_input[],
  restart_input[];
extern const char execute_output[], status_output[], output_output[],
  cancel_output[], list_output[], metrics_output[], cleanup_output[],
  wait_output[], send_input_output[], signal_output[], restart_output[];
extern const char exec_options[];
extern const char create_schedule_input[], update_schedule_input[],
  schedule_id_input[], save_template_input[], template_name_input[];
extern const char schedule_output[], schedule_list_output[],
  delete_schedule_output[], template_output[], template_list_output[],
  delete_template_output[];
} // namespace schema_text

/// The definition of a tool (same order as tool_id).
const tool_def& tool_definition(tool_id id);

/// Placeholder name (`@NAME@`) -> its text for one catalog.
using placeholder_values = std::vector<std::pair<std::string, std::string>>;

/// Replaces the shared schema fragments (`@JOB_SCHEMA@`, `@MAX_INT@`, ...)
/// until none is left (they nest); the configuration's placeholders stay.
std::string expand_schema_text(std::string text);

/// A tool's output schema: its result or the seed's error shape.
std::string with_error_shape(const char* result_schema);

} // namespace jobd::protocol

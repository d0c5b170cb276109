// The input and output schemas of the workflow tools (issue 12): recurring
// schedules and job templates. Their jobs take console_execute_async's
// command, args and options (@EXEC_OPTIONS@, tool_schemas_options.cpp).
#include "protocol/tool_schemas.hpp"

namespace jobd::protocol::schema_text {

const char create_schedule_input[] = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 128,
      "description": "A label for the schedule (any text)."},
    "cron": @CRON_PROP@,
    "timezone": @TIMEZONE_PROP@,
    @SCHEDULE_JOB_PROPS@,
    "overlap": @OVERLAP_PROP@,
    "catchUp": {"type": "boolean", "default": false,
      "description": "Firings missed while jobd was down run once when it starts again. Default false: they are counted as missed."},
    "enabled": {"type": "boolean", "default": true,
      "description": "false: the schedule is kept but does not fire."}
  },
  "required": ["cron", "command"],
  "additionalProperties": false
})";

const char update_schedule_input[] = R"({
  "type": "object",
  "properties": {@SCHEDULE_ID_PROP@,
    "name": {"type": "string", "minLength": 1, "maxLength": 128,
      "description": "A new label."},
    "cron": @CRON_PROP@,
    "timezone": @TIMEZONE_PROP@,
    @SCHEDULE_JOB_PROPS@,
    "overlap": @OVERLAP_PROP@,
    "catchUp": {"type": "boolean",
      "description": "Run firings missed while jobd was down once at its start."},
    "enabled": {"type": "boolean",
      "description": "false pauses the schedule, true resumes it (from now: firings while it was disabled are not caught up)."}
  },
  "required": ["scheduleId"],
  "additionalProperties": false
})";

const char schedule_id_input[] = R"({
  "type": "object",
  "properties": {@SCHEDULE_ID_PROP@},
  "required": ["scheduleId"],
  "additionalProperties": false
})";

const char save_template_input[] = R"({
  "type": "object",
  "properties": {
    "name": @TEMPLATE_NAME@,
    "description": {"type": "string", "maxLength": 4096,
      "description": "What the template is for."},
    "command": {"type": "string", "minLength": 1, "maxLength": 131072,
      "description": "Program to run, as console_execute_async's command. Takes no placeholders."},
    "args": {"type": "array", "maxItems": 4096,
      "items": {"type": "string", "maxLength": 131072},
      "description": "Arguments, as console_execute_async's args; {{name}} placeholders are replaced by parameter values, each as a literal part of that one argument."},
    "options": @EXEC_OPTIONS@,
    "parameters": {"type": "object", "maxProperties": 64,
      "description": "The parameters the placeholders name (names: a letter or _, then letters, digits, _; at most 64 characters). A parameter without default must be given in every call.",
      "additionalProperties": {"type": "object", "additionalProperties": false,
        "properties": {
          "description": {"type": "string", "maxLength": 4096,
            "description": "What the value means."},
          "default": {"anyOf": [{"type": "string", "maxLength": 131072},
            {"type": "number"}, {"type": "boolean"}],
            "description": "The value when a call does not give one."},
          "pattern": {"type": "string", "minLength": 1, "maxLength": 1024,
            "description": "RE2 regular expression every value must match as a whole (for example '[a-z0-9-]+')."}
        }}}
  },
  "required": ["name", "command"],
  "additionalProperties": false
})";

const char template_name_input[] = R"({
  "type": "object",
  "properties": {"name": @TEMPLATE_NAME@},
  "required": ["name"],
  "additionalProperties": false
})";

// -- output schemas -----------------------------------------------------------

const char schedule_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "schedule": @SCHEDULE_SCHEMA@},
  "required": ["success", "schedule"]})";

const char schedule_list_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "schedules": {"type": "array", "items": @SCHEDULE_SCHEMA@},
  "total": {"type": "integer"}},
  "required": ["success", "schedules", "total"]})";

const char delete_schedule_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "scheduleId": {"type": "string"},
  "deleted": {"type": "boolean"}},
  "required": ["success", "scheduleId", "deleted"]})";

const char template_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "template": @TEMPLATE_SCHEMA@},
  "required": ["success", "template"]})";

const char template_list_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "templates": {"type": "array", "items": @TEMPLATE_SCHEMA@},
  "total": {"type": "integer"}},
  "required": ["success", "templates", "total"]})";

const char delete_template_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "name": {"type": "string"}, "deleted": {"type": "boolean"}},
  "required": ["success", "name", "deleted"]})";

} // namespace jobd::protocol::schema_text

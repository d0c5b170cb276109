// The input and output schemas of the tools that steer a running job (issue
// 11): stdin, signals, pause and resume, terminal size, restart. Pause,
// resume and resize answer the job's status (status_output).
#include "protocol/tool_schemas.hpp"

namespace jobd::protocol::schema_text {

const char send_input_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "text": {"type": "string", "maxLength": 1048576,
      "description": "Bytes to write to the job's stdin (UTF-8), at most 1048576 characters. On a terminal (options.tty) this is typing: \\u0003 is Ctrl-C, \\u0004 Ctrl-D, \\r Enter. May be empty with closeStdin true or appendNewline true."},
    "appendNewline": {"type": "boolean", "default": false,
      "description": "Append a newline (\\n) to text, as pressing Enter after a line."},
    "closeStdin": {"type": "boolean", "default": false,
      "description": "Close the job's stdin after text is written: the job then reads end-of-file. Later calls fail with STDIN_CLOSED."}
  },
  "required": ["jobId", "text"],
  "additionalProperties": false
})";

const char signal_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "signal": {"type": "string", "enum": ["SIGINT", "SIGTERM", "SIGHUP",
        "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL", "SIGWINCH", "INT",
        "TERM", "HUP", "QUIT", "USR1", "USR2", "KILL", "WINCH"],
      "description": "The signal to send, with or without the SIG prefix (uppercase). SIGINT is Ctrl-C, SIGTERM asks to stop, SIGKILL stops at once (the job ends failed with that signal), SIGHUP/SIGUSR1/SIGUSR2 are often 'reload' or 'report' signals."},
    "target": {"type": "string", "enum": ["tree", "leader"],
      "default": "tree",
      "description": "tree: every process of the job (its process group or cgroup). leader: only the job's main process."}
  },
  "required": ["jobId", "signal"],
  "additionalProperties": false
})";

const char job_id_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@},
  "required": ["jobId"],
  "additionalProperties": false
})";

const char resize_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "cols": {"type": "integer", "minimum": 1, "maximum": 1000,
      "description": "New terminal width in columns."},
    "rows": {"type": "integer", "minimum": 1, "maximum": 1000,
      "description": "New terminal height in rows."}
  },
  "required": ["jobId", "cols", "rows"],
  "additionalProperties": false
})";

const char restart_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "replace": {"type": "boolean", "default": false,
      "description": "Cancel the job first if it has not ended yet (as console_cancel_job), then start the new one. Default false: the new job starts alongside (or queued behind) the old one."}
  },
  "required": ["jobId"],
  "additionalProperties": false
})";

// -- output schemas
// ------------------------------------------------------------

const char send_input_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "jobId": {"type": "string"},
  "bytes": {"type": "integer"}, "queued": {"type": "integer"},
  "closed": {"type": "boolean"}},
  "required": ["success", "jobId", "bytes", "queued", "closed"]})";

const char signal_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "jobId": {"type": "string"},
  "signal": {"type": "string"},
  "target": {"type": "string", "enum": ["tree", "leader"]},
  "delivered": {"type": "boolean"}},
  "required": ["success", "jobId", "signal", "target", "delivered"]})";

const char restart_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, @SUBMIT_PROPS@},
  "required": ["success", "jobId", "status"]})";

} // namespace jobd::protocol::schema_text

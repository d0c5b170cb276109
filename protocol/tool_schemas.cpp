// Tool definitions: names, descriptions, input and output schemas. The input
// schemas stay within the draft-04 subset that RapidJSON validates and that
// means the same under 2020-12 (no $schema, no exclusiveMinimum). Values that
// come from the server's configuration are @NAME@ placeholders filled by
// tools.cpp (see placeholder_values there).
#include "protocol/tool_schemas.hpp"

#include <string_view>

namespace jobd::protocol {

namespace {

// Shared pieces of the schema texts, substituted for @NAME@.
struct fragment {
  const char* name;
  const char* text;
};

constexpr fragment fragments[] = {
  {"@OWNER@", R"({"type": "object", "properties": {
    "instance": {"type": "string"}, "pid": {"type": "integer"},
    "live": {"type": "boolean"}}})"},
  {"@JOB_SCHEMA@", R"({"type": "object", "properties": {
    "id": {"type": "string"}, "kind": {"type": "string"},
    "command": {"type": "string"},
    "args": {"type": "array", "items": {"type": "string"}},
    "shell": {"type": "boolean"},
    "status": {"type": "string", "enum": @STATUS_ENUM@},
    "sessionId": {"type": "string"},
    "workingDirectory": @NSTRING@,
    "createdAt": @NSTRING@, "startedAt": @NSTRING@,
    "finishedAt": @NSTRING@, "durationMs": @NINT@,
    "priority": {"type": "integer"}, "timeout": {"type": "integer"},
    "tags": {"type": "object"},
    "exitCode": @NINT@, "signal": @NSTRING@,
    "error": @NSTRING@, "errorCode": @NSTRING@,
    "pid": @NINT@, "queuePosition": @NINT@,
    "tracking": {"type": "string", "enum": ["cgroup", "pgroup"]},
    "owner": @OWNER@,
    "output": {"type": "object", "properties": {
      "stdoutBytes": {"type": "integer"}, "stderrBytes": {"type": "integer"},
      "chunks": {"type": "integer"}, "droppedChunks": {"type": "integer"},
      "droppedBytes": {"type": "integer"},
      "bufferedBytes": {"type": "integer"},
      "lastSequence": {"type": "integer"}}}},
  "required": ["id", "status"]})"},
  {"@PAGE_PROPS@", R"("output": {"type": "array", "items": {
      "type": "object", "properties": {
      "content": {"type": "string"}, "timestamp": @NSTRING@,
      "sequenceNumber": {"type": "integer"},
      "type": {"type": "string", "enum": ["stdout", "stderr"]}}}},
    "nextSince": {"type": "integer"}, "truncated": {"type": "boolean"},
    "droppedChunks": {"type": "integer"}, "finished": {"type": "boolean"},
    "complete": {"type": "boolean"}, "tail": {"type": "string"})"},
  {"@JOB_ID_PROP@", R"("jobId": {"type": "string", "minLength": 1,
     "maxLength": 256, "description": "The job's id, as returned by console_execute_async."})"},
  // anyOf rather than a union type: Ajv's strict mode rejects the latter.
  {"@TAG_VALUE@", R"({"anyOf": [{"type": "string", "maxLength": 1024},
     {"type": "number"}, {"type": "boolean"}]})"},
  {"@SUCCESS@", R"("success": {"type": "boolean", "enum": [true]})"},
  {"@STATUS_ENUM@",
   R"(["pending", "running", "completed", "failed", "cancelled"])"},
  {"@NSTRING@", R"({"type": ["string", "null"]})"},
  {"@NINT@", R"({"type": ["integer", "null"]})"},
  // 2^53 - 1: the largest integer every JSON client reads exactly.
  {"@MAX_INT@", "9007199254740991"},
};

constexpr const char* execute_input = R"({
  "type": "object",
  "properties": {
    "command": {"type": "string", "minLength": 1, "maxLength": 131072,
      "description": "Program to run: a name looked up in PATH or a path. With options.shell true, a /bin/sh command line instead."},
    "args": {"type": "array", "maxItems": 4096, "default": [],
      "items": {"type": "string", "maxLength": 131072},
      "description": "Arguments for the program, passed as given (no shell quoting or expansion needed). At most 4096."},
    "kind": {"type": "string", "enum": @KIND_ENUM@, "default": @DEFAULT_KIND@,
      "description": "Which kind of job runs the command: @KIND_NAMES@. Default @DEFAULT_KIND_TEXT@."},
    "kindOptions": {"type": "object",
      "description": "Settings for the chosen kind, checked against that kind's own schema. @KIND_OPTIONS_TEXT@"},
    "options": {"type": "object", "additionalProperties": false,
      "description": "Optional settings for the job.",
      "properties": {
        "sessionId": {"type": "string", "minLength": 1, "maxLength": 256,
          "default": "default",
          "description": "Session to group the job under: console_list_jobs and console_cleanup_jobs filter by it, and per-session concurrency limits apply."},
        "workingDirectory": {"type": "string", "minLength": 1,
          "maxLength": 4096,
          "description": "Existing directory to run in. Default: the server's working directory."},
        "environment": {"type": "object", "maxProperties": 1024,
          "additionalProperties": {"type": "string", "maxLength": 131072},
          "description": "Environment variables added to (and overriding) the server's. Names must be non-empty and must not contain '='."},
        "timeout": {"type": "integer", "minimum": 0,
          "maximum": @MAX_INT@, "default": @DEFAULT_TIMEOUT@,
          "description": "Milliseconds from start after which the job is killed and fails with errorCode TIMEOUT. 0 = no timeout."},
        "priority": {"type": "integer", "minimum": 1, "maximum": 10,
          "default": 5,
          "description": "Queue priority 1-10 while the concurrency limit is reached; 10 starts first."},
        "tags": {"type": "object", "maxProperties": 64,
          "additionalProperties": @TAG_VALUE@,
          "description": "Labels with string, number or boolean values, to find the job again with console_list_jobs."},
        "shell": {"type": "boolean", "default": false,
          "description": "Run command through /bin/sh -c (pipes, redirections, globbing). Default false: command and args go to execve as given."},
        "killGraceMs": {"type": "integer", "minimum": 0,
          "maximum": @MAX_INT@, "default": @KILL_GRACE@,
          "description": "Milliseconds between SIGTERM and SIGKILL when the job is cancelled or times out."},
        "outputByteLimit": {"type": "integer", "minimum": @OUTPUT_MIN@,
          "maximum": @OUTPUT_CAP@, "default": @OUTPUT_CAP@,
          "description": "Cap in bytes on this job's buffered output; beyond it the oldest chunks are dropped. At most the server's cap (@OUTPUT_CAP@), which is also the default: a job can lower its cap, never raise it."}
      }}
  },
  "required": ["command"],
  "additionalProperties": false
})";

constexpr const char* status_input = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@},
  "required": ["jobId"],
  "additionalProperties": false
})";

constexpr const char* output_input = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "options": {"type": "object", "additionalProperties": false,
      "description": "Which output to return.",
      "properties": {
        "since": {"type": "integer", "minimum": 0,
          "maximum": @MAX_INT@, "default": 0,
          "description": "Only chunks with a greater sequence number: pass the nextSince of the previous reply."},
        "latest": {"type": "boolean", "default": false,
          "description": "Return the newest chunks instead of the oldest."},
        "limit": {"type": "integer", "minimum": 1,
          "maximum": @MAX_INT@,
          "description": "At most this many chunks. Default: no count limit."},
        "maxBytes": {"type": "integer", "minimum": 1,
          "maximum": @MAX_INT@, "default": @READ_BYTES@,
          "description": "At most this many content bytes in the reply; the first chunk is always returned whole."},
        "stream": {"type": "string", "enum": ["stdout", "stderr", "both"],
          "default": "both", "description": "Which stream to return."},
        "tail": {"type": "integer", "minimum": 1,
          "maximum": @MAX_INT@,
          "description": "Also return the last N lines of the selected output as one text in tail (a carriage-return-updated line counts once)."}
      }}
  },
  "required": ["jobId"],
  "additionalProperties": false
})";

constexpr const char* cancel_input = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "options": {"type": "object", "additionalProperties": false,
      "description": "How to cancel.",
      "properties": {
        "graceMs": {"type": "integer", "minimum": 0,
          "maximum": @MAX_INT@,
          "description": "Milliseconds between SIGTERM and SIGKILL for this call. Default: the job's killGraceMs (@KILL_GRACE@ unless set)."}
      }}
  },
  "required": ["jobId"],
  "additionalProperties": false
})";

constexpr const char* list_input = R"({
  "type": "object",
  "properties": {
    "options": {"type": "object", "additionalProperties": false,
      "description": "Filters and paging.",
      "properties": {
        "status": {"anyOf": [
            {"type": "string", "enum": @STATUS_ENUM@},
            {"type": "array", "maxItems": 5,
             "items": {"type": "string", "enum": @STATUS_ENUM@}}],
          "description": "Only jobs with this status, or with any of these statuses."},
        "sessionId": {"type": "string", "minLength": 1, "maxLength": 256,
          "description": "Only jobs of this session."},
        "tags": {"type": "object", "maxProperties": 64,
          "additionalProperties": @TAG_VALUE@,
          "description": "Only jobs that have every one of these tags with the same value."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000,
          "default": 100, "description": "At most this many jobs per page."},
        "cursor": {"type": "string", "maxLength": 256,
          "description": "nextCursor of the previous page, to get the next one."}
      }}
  },
  "additionalProperties": false
})";

constexpr const char* metrics_input = R"({
  "type": "object",
  "properties": {},
  "additionalProperties": false
})";

constexpr const char* cleanup_input = R"({
  "type": "object",
  "properties": {
    "options": {"type": "object", "additionalProperties": false,
      "description": "Which finished jobs to remove.",
      "properties": {
        "maxAge": {"type": "integer", "minimum": 0,
          "maximum": @MAX_INT@, "default": 0,
          "description": "Only jobs that finished at least this many milliseconds ago. 0 = any age."},
        "keepCount": {"type": "integer", "minimum": 0,
          "maximum": @MAX_INT@, "default": 0,
          "description": "Keep the newest N of the matching jobs."},
        "statuses": {"type": "array", "maxItems": 3,
          "items": {"type": "string",
            "enum": ["completed", "failed", "cancelled"]},
          "default": ["completed", "failed", "cancelled"],
          "description": "Only jobs with these statuses."},
        "sessionId": {"type": "string", "minLength": 1, "maxLength": 256,
          "description": "Only jobs of this session."}
      }}
  },
  "additionalProperties": false
})";

constexpr const char* wait_input = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "timeoutMs": {"type": "integer", "minimum": 0,
      "maximum": @MAX_INT@, "default": @MAX_WAIT@,
      "description": "Wait at most this many milliseconds; longer waits are cut to the server's cap (@MAX_WAIT@). 0 = do not wait: answer with what is there."},
    "until": {"type": "string", "enum": ["exit", "output"], "default": "exit",
      "description": "exit: wait until the job has finished. output: wait until it produces new output (or finishes)."},
    "pattern": {"type": "string", "maxLength": 1024,
      "description": "RE2 regular expression (Perl-like syntax without back-references or look-around, matched in time linear in the output): with until output, only an output chunk (whole lines, at most 16 KiB) containing a match ends the wait. (?i) ignores case, (?m) makes ^ and $ match at line ends."},
    "since": {"type": "integer", "minimum": 0,
      "maximum": @MAX_INT@, "default": 0,
      "description": "Output after this sequence number counts as new: pass the nextSince of the previous reply."}
  },
  "required": ["jobId"],
  "additionalProperties": false
})";

// -- output schemas (2020-12 compatible; additionalProperties left open) -----

constexpr const char* execute_output = R"({"type": "object", "properties": {
  @SUCCESS@, "jobId": {"type": "string"},
  "status": {"type": "string", "enum": @STATUS_ENUM@},
  "queuePosition": {"type": "integer"}},
  "required": ["success", "jobId", "status"]})";

constexpr const char* status_output = R"({"type": "object", "properties": {
  @SUCCESS@, "job": @JOB_SCHEMA@},
  "required": ["success", "job"]})";

constexpr const char* output_output = R"({"type": "object", "properties": {
  @SUCCESS@, "jobId": {"type": "string"},
  "status": {"type": "string", "enum": @STATUS_ENUM@},
  @PAGE_PROPS@},
  "required": ["success", "output", "nextSince"]})";

constexpr const char* cancel_output = R"({"type": "object", "properties": {
  @SUCCESS@, "cancelled": {"type": "boolean"},
  "jobId": {"type": "string"},
  "status": {"type": "string", "enum": @STATUS_ENUM@},
  "message": {"type": "string"}},
  "required": ["success"]})";

constexpr const char* list_output = R"({"type": "object", "properties": {
  @SUCCESS@,
  "jobs": {"type": "array", "items": {"type": "object", "properties": {
    "id": {"type": "string"}, "command": {"type": "string"},
    "args": {"type": "array", "items": {"type": "string"}},
    "status": {"type": "string", "enum": @STATUS_ENUM@},
    "sessionId": {"type": "string"},
    "createdAt": @NSTRING@, "startedAt": @NSTRING@,
    "finishedAt": @NSTRING@, "exitCode": @NINT@,
    "priority": {"type": "integer"}, "tags": {"type": "object"},
    "workingDirectory": @NSTRING@,
    "tracking": {"type": "string", "enum": ["cgroup", "pgroup"]},
    "owner": @OWNER@}}},
  "total": {"type": "integer"}, "nextCursor": {"type": "string"}},
  "required": ["success", "jobs", "total"]})";

constexpr const char* metrics_output = R"({"type": "object", "properties": {
  @SUCCESS@,
  "metrics": {"type": "object", "properties": {
    "totalJobs": {"type": "integer"}, "runningJobs": {"type": "integer"},
    "completedJobs": {"type": "integer"}, "failedJobs": {"type": "integer"},
    "cancelledJobs": {"type": "integer"}, "queueSize": {"type": "integer"},
    "concurrency": {"type": "object", "properties": {
      "current": {"type": "integer"}, "maximum": {"type": "integer"}}},
    "averageExecutionTime": {"type": ["number", "null"]},
    "systemLoad": {"type": ["number", "null"]},
    "uptimeMs": {"type": "integer"}, "retainedJobs": {"type": "integer"},
    "persistence": {"type": "string", "enum": ["ok", "degraded", "ephemeral"]},
    "persistenceError": {"type": "string"},
    "sessions": {"type": "array", "items": {"type": "object", "properties": {
      "sessionId": {"type": "string"}, "totalJobs": {"type": "integer"},
      "pendingJobs": {"type": "integer"}, "runningJobs": {"type": "integer"},
      "completedJobs": {"type": "integer"},
      "failedJobs": {"type": "integer"},
      "cancelledJobs": {"type": "integer"}, "limit": {"type": "integer"}}}}}}},
  "required": ["success", "metrics"]})";

constexpr const char* cleanup_output = R"({"type": "object", "properties": {
  @SUCCESS@, "cleaned": {"type": "integer"},
  "remaining": {"type": "integer"}},
  "required": ["success", "cleaned", "remaining"]})";

constexpr const char* wait_output = R"({"type": "object", "properties": {
  @SUCCESS@,
  "reason": {"type": "string", "enum": ["exit", "output", "timeout"]},
  "job": @JOB_SCHEMA@, @PAGE_PROPS@},
  "required": ["success", "reason", "job"]})";

// A tool failure's structuredContent (the seed's error shape). Every output
// schema accepts it besides the tool's own result: clients such as the
// TypeScript SDK validate structuredContent of isError results too.
constexpr const char* error_output = R"({"type": "object", "properties": {
  "success": {"type": "boolean", "enum": [false]},
  "error": {"type": "string"}, "code": {"type": "string"},
  "details": {"type": "object"}},
  "required": ["success", "error", "code"]})";

// Same order as tool_id.
constexpr tool_def defs[tool_count] = {
  {"console_execute_async", "Run a command in the background",
   "Start a command in the background and return at once with its jobId "
   "(status running, or pending with a queuePosition while the concurrency "
   "limit is reached). The command is executed directly (execve, no shell) "
   "unless options.shell is true. Default timeout @DEFAULT_TIMEOUT@ ms "
   "(options.timeout 0 = none). Then use console_wait_job to wait for it to "
   "finish or print "
   "something, console_get_job_output to read its output, and "
   "console_cancel_job to stop it.",
   execute_input, execute_output, false, false, false, true},
  {"console_get_job_status", "Get job status",
   "Get a job's status (pending, running, completed, failed, cancelled) and "
   "metadata: command, times, duration, exit code or signal, error, pid and "
   "output counters. To wait for a job to change state, use console_wait_job "
   "instead of polling this.",
   status_input, status_output, true, false, true, false},
  {"console_get_job_output", "Get job output",
   "Read a job's captured stdout and stderr as sequence-numbered chunks, "
   "oldest first, at most @READ_BYTES@ bytes by default. Pass the returned "
   "nextSince as "
   "options.since next time to get only new output. options.latest returns "
   "the newest chunks instead, options.tail the last N lines as one text. "
   "complete is true once the job has finished and everything was read.",
   output_input, output_output, true, false, true, false},
  {"console_cancel_job", "Cancel job",
   "Stop a job: a pending job never starts; a running job's process group "
   "gets SIGTERM, then SIGKILL after the grace period (default @KILL_GRACE@ "
   "ms). "
   "Returns once its processes are gone. Fails with JOB_ALREADY_FINISHED if "
   "the job had already ended.",
   cancel_input, cancel_output, false, true, true, false},
  {"console_list_jobs", "List jobs",
   "List jobs, newest first, optionally filtered by status, session and "
   "tags. Returns at most options.limit jobs (default 100), the total number "
   "of matches, and a nextCursor to pass as options.cursor when more remain.",
   list_input, list_output, true, false, true, false},
  {"console_get_job_metrics", "Get job metrics",
   "Get server-wide counters: jobs started, running, completed, failed and "
   "cancelled since the server started, queue size, concurrency in use and "
   "its limit, average execution time, system load, uptime and per-session "
   "counts. Takes no arguments.",
   metrics_input, metrics_output, true, false, true, false},
  {"console_cleanup_jobs", "Clean up finished jobs",
   "Remove finished jobs (completed, failed, cancelled) and their buffered "
   "output from the server's memory; pending and running jobs are never "
   "removed. Filter by age, status and session; keepCount keeps the newest N "
   "matching jobs. Returns how many were removed and how many remain.",
   cleanup_input, cleanup_output, false, true, true, false},
  {"console_wait_job", "Wait for job",
   "Wait until a job exits (until exit, the default) or produces new output "
   "(until output, optionally only output matching pattern), for at most "
   "timeoutMs (default and cap @MAX_WAIT@ ms). Returns the job as in "
   "console_get_job_status plus the output that arrived after since, so one "
   "call replaces polling. reason says why the wait ended: exit, output or "
   "timeout. Call again with since = nextSince to keep waiting.",
   wait_input, wait_output, true, false, true, false},
};

void replace_all(std::string& text, std::string_view name,
                 std::string_view value, bool& changed) {
  for (auto pos = text.find(name); pos != std::string::npos;
       pos = text.find(name, pos + value.size())) {
    text.replace(pos, name.size(), value);
    changed = true;
  }
}

} // namespace

const tool_def& tool_definition(tool_id id) {
  return defs[static_cast<size_t>(id)];
}

std::string expand_schema_text(std::string text) {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& f : fragments)
      replace_all(text, f.name, f.text, changed);
  }
  return text;
}

std::string with_error_shape(const char* result_schema) {
  return std::string{R"({"type": "object", "anyOf": [)"} + result_schema + ", "
         + error_output + "]}";
}

} // namespace jobd::protocol

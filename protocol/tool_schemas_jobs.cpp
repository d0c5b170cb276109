// The input and output schemas of the eight job tools of the first release
// (execute, status, output, cancel, list, metrics, cleanup, wait), with the
// @NAME@ placeholders of tool_schemas.cpp.
#include "protocol/tool_schemas.hpp"

namespace jobd::protocol::schema_text {

const char execute_input[] = R"({
  "type": "object",
  "properties": {
    "command": {"type": "string", "minLength": 1, "maxLength": 131072,
      "description": "Program to run: a name looked up in PATH or a path. With options.shell true, a /bin/sh command line instead. Required unless template is given."},
    "args": {"type": "array", "maxItems": 4096, "default": [],
      "items": {"type": "string", "maxLength": 131072},
      "description": "Arguments for the program, passed as given (no shell quoting or expansion needed). At most 4096."},
    "kind": {"type": "string", "enum": @KIND_ENUM@, "default": @DEFAULT_KIND@,
      "description": "Which kind of job runs the command: @KIND_NAMES@. Default @DEFAULT_KIND_TEXT@."},
    "kindOptions": {"type": "object",
      "description": "Settings for the chosen kind, checked against that kind's own schema. @KIND_OPTIONS_TEXT@"},
    "options": @EXEC_OPTIONS@,
    "template": @TEMPLATE_NAME@,
    "params": {"type": "object", "maxProperties": 64,
      "additionalProperties": {"anyOf": [{"type": "string", "maxLength": 131072},
        {"type": "number"}, {"type": "boolean"}]},
      "description": "With template: the values of its parameters (strings; numbers and booleans stand for their JSON text). Each replaces its {{name}} placeholders as a literal part of one argument, environment value or working directory, never through a shell. Parameters with a default may be left out."}
  },
  "additionalProperties": false
})";

const char status_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@},
  "required": ["jobId"],
  "additionalProperties": false
})";

const char output_input[] = R"({
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

const char cancel_input[] = R"({
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

const char list_input[] = R"({
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
          "description": "nextCursor of the previous page, to get the next one."},
        "dependsOn": {"type": "string", "minLength": 1, "maxLength": 256,
          "description": "Only jobs that depend on this job id (options.dependsOn)."},
        "scheduleId": {"type": "string", "minLength": 1, "maxLength": 256,
          "description": "Only jobs started by this schedule's firings."},
        "template": {"type": "string", "minLength": 1, "maxLength": 128,
          "description": "Only jobs made from this template."}
      }}
  },
  "additionalProperties": false
})";

const char metrics_input[] = R"({
  "type": "object",
  "properties": {},
  "additionalProperties": false
})";

const char cleanup_input[] = R"({
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

const char wait_input[] = R"({
  "type": "object",
  "properties": {@JOB_ID_PROP@,
    "jobIds": {"type": "array", "minItems": 1, "maxItems": 1000,
      "uniqueItems": true,
      "items": {"type": "string", "minLength": 1, "maxLength": 256},
      "description": "Wait for several jobs instead of one (1-1000 distinct ids; give either jobId or jobIds). Only until exit applies."},
    "mode": {"type": "string", "enum": ["any", "all"], "default": "any",
      "description": "With jobIds: any = until the first of them ends, all = until every one has ended."},
    "timeoutMs": {"type": "integer", "minimum": 0,
      "maximum": @MAX_INT@, "default": @MAX_WAIT@,
      "description": "Wait at most this many milliseconds; longer waits are cut to the server's cap (@MAX_WAIT@). 0 = do not wait: answer with what is there."},
    "until": {"type": "string", "enum": ["exit", "output"], "default": "exit",
      "description": "exit: wait until the job has finished. output: wait until it produces new output (or finishes); only with jobId."},
    "pattern": {"type": "string", "maxLength": 1024,
      "description": "RE2 regular expression (Perl-like syntax without back-references or look-around, matched in time linear in the output): with until output, only an output chunk (whole lines, at most 16 KiB) containing a match ends the wait. (?i) ignores case, (?m) makes ^ and $ match at line ends. Only with jobId."},
    "since": {"type": "integer", "minimum": 0,
      "maximum": @MAX_INT@, "default": 0,
      "description": "Output after this sequence number counts as new: pass the nextSince of the previous reply. Only with jobId."}
  },
  "additionalProperties": false
})";

// -- output schemas (2020-12 compatible; additionalProperties left open) -----

const char execute_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, @SUBMIT_PROPS@,
  "finished": {"type": "boolean"},
  "exitCode": @NINT@, "signal": @NSTRING@,
  "error": @NSTRING@, "errorCode": @NSTRING@, "durationMs": @NINT@,
  "output": {"type": "object", "properties": {
    "tail": {"type": "string"}, "truncated": {"type": "boolean"},
    "nextSince": {"type": "integer"}}},
  "message": {"type": "string"},
  "job": @JOB_SCHEMA@},
  "required": ["success", "jobId", "status"]})";

const char status_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "job": @JOB_SCHEMA@},
  "required": ["success", "job"]})";

const char output_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "jobId": {"type": "string"},
  "status": {"type": "string", "enum": @STATUS_ENUM@},
  @PAGE_PROPS@},
  "required": ["success", "output", "nextSince"]})";

const char cancel_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "cancelled": {"type": "boolean"},
  "jobId": {"type": "string"},
  "status": {"type": "string", "enum": @STATUS_ENUM@},
  "message": {"type": "string"}},
  "required": ["success"]})";

const char list_output[] = R"({"type": "object", "properties": {
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
    "tracking": {"type": "string", "enum": ["cgroup", "pgroup", "slurm"]},
    "owner": @OWNER@, "paused": {"type": "boolean"},
    "restartOf": {"type": "string"},
    "progress": @PROGRESS@, "usage": @USAGE@,
    @JOB_WORKFLOW_PROPS@}}},
  "total": {"type": "integer"}, "nextCursor": {"type": "string"}},
  "required": ["success", "jobs", "total"]})";

const char metrics_output[] = R"({"type": "object", "properties": {
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
    "startedJobs": {"type": "integer"}, "outputBytes": {"type": "integer"},
    "kinds": {"type": "object", "description": "Jobs of kinds that run outside jobd and take no local slot (slurm), by kind: pending and running now, completed, failed and cancelled since this jobd started. Their running jobs are in runningJobs, not in concurrency.current.",
      "additionalProperties": {"type": "object", "properties": {
        "pendingJobs": {"type": "integer"}, "runningJobs": {"type": "integer"},
        "completedJobs": {"type": "integer"}, "failedJobs": {"type": "integer"},
        "cancelledJobs": {"type": "integer"}}}},
    "persistence": {"type": "string", "enum": ["ok", "degraded", "ephemeral"]},
    "persistenceError": {"type": "string"},
    "sessions": {"type": "array", "items": {"type": "object", "properties": {
      "sessionId": {"type": "string"}, "totalJobs": {"type": "integer"},
      "pendingJobs": {"type": "integer"}, "runningJobs": {"type": "integer"},
      "completedJobs": {"type": "integer"},
      "failedJobs": {"type": "integer"},
      "cancelledJobs": {"type": "integer"}, "limit": {"type": "integer"},
      "usage": @USAGE_TOTALS@}}},
    "usage": @USAGE_TOTALS@,
    "workflows": {"type": "object", "properties": {
      "retries": {"type": "integer"},
      "dependencyFailures": {"type": "integer"},
      "scheduleFirings": {"type": "integer"},
      "scheduleSkips": {"type": "integer"},
      "scheduleMisses": {"type": "integer"}}}}}},
  "required": ["success", "metrics"]})";

const char cleanup_output[] = R"({"type": "object", "properties": {
  @SUCCESS@, "cleaned": {"type": "integer"},
  "remaining": {"type": "integer"}},
  "required": ["success", "cleaned", "remaining"]})";

// One job (jobId: job and its output) or many (jobIds: mode, jobs and
// ended). Not an anyOf of the two `required` lists: Ajv's strict mode
// refuses `required` of properties a branch does not define itself.
const char wait_output[] = R"({"type": "object", "properties": {
  @SUCCESS@,
  "reason": {"type": "string",
    "enum": ["exit", "output", "timeout", "any", "all"]},
  "job": @JOB_SCHEMA@, @PAGE_PROPS@,
  "mode": {"type": "string", "enum": ["any", "all"]},
  "jobs": {"type": "array", "items": @JOB_SCHEMA@},
  "ended": {"type": "array", "items": {"type": "string"}},
  "allEnded": {"type": "boolean"}, "anyEnded": {"type": "boolean"}},
  "required": ["success", "reason"]})";

} // namespace jobd::protocol::schema_text

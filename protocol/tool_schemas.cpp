// Tool definitions: names, descriptions, the shared schema fragments; the
// schema texts are in tool_schemas_jobs.cpp and tool_schemas_control.cpp. The
// input
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
    "tracking": {"type": "string", "enum": ["cgroup", "pgroup", "slurm"]},
    "owner": @OWNER@,
    "output": {"type": "object", "properties": {
      "stdoutBytes": {"type": "integer"}, "stderrBytes": {"type": "integer"},
      "chunks": {"type": "integer"}, "droppedChunks": {"type": "integer"},
      "droppedBytes": {"type": "integer"},
      "bufferedBytes": {"type": "integer"},
      "lastSequence": {"type": "integer"}}},
    "stdin": {"type": "string", "enum": ["null", "pipe", "tty"]},
    "stdinOpen": {"type": "boolean"},
    "terminal": {"type": "object", "properties": {
      "cols": {"type": "integer"}, "rows": {"type": "integer"}}},
    "paused": {"type": "boolean"}, "pausedAt": @NSTRING@,
    "pausedMs": {"type": "integer"},
    "restartOf": {"type": "string"}, "idempotencyKey": {"type": "string"},
    "progress": @PROGRESS@, "usage": @USAGE@, "security": @SECURITY@,
    @JOB_WORKFLOW_PROPS@},
  "required": ["id", "status"]})"},
  // The workflow fields of a job (status and list items alike).
  {"@JOB_WORKFLOW_PROPS@", R"("pendingReason": {"type": "string",
      "enum": ["queued", "waiting_for_dependencies", "scheduled",
               "retry_backoff", "queued_in_cluster"]},
    "dependsOn": {"type": "array", "items": {"type": "string"}},
    "dependencyCondition": {"type": "string",
      "enum": ["success", "finish", "failure"]},
    "waitingFor": {"type": "array", "items": {"type": "string"}},
    "scheduledFor": {"type": "string"}, "scheduleId": {"type": "string"},
    "template": {"type": "string"},
    "attempt": {"type": "integer"}, "maxAttempts": {"type": "integer"},
    "nextAttemptAt": {"type": "string"},
    "attempts": {"type": "array", "items": {"type": "object", "properties": {
      "attempt": {"type": "integer"}, "startedAt": @NSTRING@,
      "finishedAt": @NSTRING@,
      "status": {"type": "string", "enum": ["completed", "failed", "cancelled"]},
      "exitCode": @NINT@, "signal": @NSTRING@, "errorCode": @NSTRING@}}})"},
  {"@EXEC_OPTIONS@", schema_text::exec_options},
  {"@TEMPLATE_NAME@", R"({"type": "string", "minLength": 1,
     "maxLength": 128,
     "description": "A template's name: 1-128 of A-Z a-z 0-9 . _ -"})"},
  {"@SCHEDULE_ID_PROP@", R"("scheduleId": {"type": "string", "minLength": 1,
     "maxLength": 256,
     "description": "The schedule's id, as returned by console_create_schedule."})"},
  {"@CRON_PROP@", R"({"type": "string", "minLength": 1, "maxLength": 256,
     "description": "When it fires: five fields (minute hour day-of-month month day-of-week, with lists 1,5, ranges 1-5, steps */15, month and day names JAN, MON) or @yearly, @monthly, @weekly, @daily, @hourly. As in cron, when both day fields are restricted either may match."})"},
  {"@TIMEZONE_PROP@", R"({"type": "string", "minLength": 1, "maxLength": 64,
     "default": "UTC",
     "description": "IANA time zone the cron fields are read in (Europe/Berlin, America/New_York). Across daylight-saving changes, a time that does not exist fires once when the clocks have moved on, a time that exists twice fires once."})"},
  {"@OVERLAP_PROP@", R"({"type": "string",
     "enum": ["skip", "queue", "cancel_previous"], "default": "skip",
     "description": "A firing while the previous firing's job has not ended: skip = fire nothing (counted in skipped); queue = the new job waits for the previous one to end (dependsOn with condition finish); cancel_previous = cancel the previous job, then start the new one."})"},
  {"@SCHEDULE_JOB_PROPS@", R"("command": {"type": "string", "minLength": 1,
      "maxLength": 131072,
      "description": "Program each firing runs, as console_execute_async's command."},
    "args": {"type": "array", "maxItems": 4096,
      "items": {"type": "string", "maxLength": 131072},
      "description": "Arguments, as console_execute_async's args."},
    "options": @EXEC_OPTIONS@)"},
  {"@SCHEDULE_SCHEMA@", R"({"type": "object", "properties": {
    "scheduleId": {"type": "string"}, "name": {"type": "string"},
    "cron": {"type": "string"}, "timezone": {"type": "string"},
    "command": {"type": "string"},
    "args": {"type": "array", "items": {"type": "string"}},
    "options": {"type": "object"},
    "overlap": {"type": "string", "enum": ["skip", "queue", "cancel_previous"]},
    "catchUp": {"type": "boolean"}, "enabled": {"type": "boolean"},
    "createdAt": @NSTRING@, "updatedAt": @NSTRING@,
    "lastFiredAt": @NSTRING@, "lastJobId": {"type": "string"},
    "fired": {"type": "integer"}, "skipped": {"type": "integer"},
    "missed": {"type": "integer"}, "lastError": {"type": "string"},
    "nextFirings": {"type": "array", "items": {"type": "string"}}},
    "required": ["scheduleId", "cron", "timezone", "command", "enabled"]})"},
  {"@TEMPLATE_SCHEMA@", R"({"type": "object", "properties": {
    "name": {"type": "string"}, "description": {"type": "string"},
    "command": {"type": "string"},
    "args": {"type": "array", "items": {"type": "string"}},
    "options": {"type": "object"},
    "parameters": {"type": "object", "additionalProperties": {
      "type": "object", "properties": {
        "description": {"type": "string"}, "default": {"type": "string"},
        "pattern": {"type": "string"}}}},
    "createdAt": @NSTRING@, "updatedAt": @NSTRING@},
    "required": ["name", "command"]})"},
  {"@PROGRESS@", R"({"type": "object", "properties": {
    "percent": @NNUM@, "current": @NNUM@, "total": @NNUM@,
    "text": {"type": "string"}, "at": @NSTRING@}})"},
  {"@USAGE@", R"({"type": "object", "properties": {
    "cpuUserMs": {"type": "integer"}, "cpuSystemMs": {"type": "integer"},
    "maxRssKb": {"type": "integer"},
    "limitExceeded": {"type": "string", "enum": @LIMIT_NAMES@}}})"},
  // The controls a job runs under (issue 13): the limits in force, the
  // Landlock confinement, the environment policy.
  {"@SECURITY@", R"({"type": "object", "properties": {
    "limits": {"type": "object", "additionalProperties": {
      "type": "object", "properties": {
        "value": {"type": "integer"},
        "enforcedBy": {"type": "string",
          "enum": ["rlimit", "rlimit-as", "cgroup-v2", "cgroup-v1"]}}}},
    "sandbox": {"type": "object", "properties": {
      "enabled": {"type": "boolean"}, "landlockAbi": {"type": "integer"},
      "writable": {"type": "array", "items": {"type": "string"}},
      "readable": {"anyOf": [{"type": "string", "enum": ["all"]},
        {"type": "array", "items": {"type": "string"}}]}},
      "required": ["enabled"]},
    "environment": {"type": "string",
      "enum": ["inherit", "clean", "allowlist"]}},
    "required": ["limits", "sandbox", "environment"]})"},
  {"@LIMIT_NAMES@", R"(["cpuSeconds", "memoryBytes", "maxProcesses",
    "openFiles", "fileSizeBytes"])"},
  {"@USAGE_TOTALS@", R"({"type": "object", "properties": {
    "jobs": {"type": "integer"}, "cpuUserMs": {"type": "integer"},
    "cpuSystemMs": {"type": "integer"}, "cpuMs": {"type": "integer"},
    "runMs": {"type": "integer"}, "maxRssKb": {"type": "integer"},
    "avgCpuMs": @NNUM@, "avgMaxRssKb": @NNUM@,
    "cpuPerRunSecond": @NNUM@}})"},
  {"@SUBMIT_PROPS@", R"("jobId": {"type": "string"},
    "status": {"type": "string", "enum": @STATUS_ENUM@},
    "queuePosition": {"type": "integer"},
    "pendingReason": {"type": "string",
      "enum": ["queued", "waiting_for_dependencies", "scheduled",
               "retry_backoff", "queued_in_cluster"]},
    "deduplicated": {"type": "boolean"}, "restartOf": {"type": "string"})"},
  {"@PAGE_PROPS@", R"("output": {"type": "array", "items": {
      "type": "object", "properties": {
      "content": {"type": "string"}, "timestamp": @NSTRING@,
      "sequenceNumber": {"type": "integer"},
      "type": {"type": "string", "enum": ["stdout", "stderr"]},
      "attempt": {"type": "integer"}}}},
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
  {"@NNUM@", R"({"type": ["number", "null"]})"},
  // 2^53 - 1: the largest integer every JSON client reads exactly.
  {"@MAX_INT@", "9007199254740991"},
};

// A tool failure's structuredContent (the seed's error shape). Every output
// schema accepts it besides the tool's own result: clients such as the
// TypeScript SDK validate structuredContent of isError results too.
constexpr const char* error_output = R"({"type": "object", "properties": {
  "success": {"type": "boolean", "enum": [false]},
  "error": {"type": "string"}, "code": {"type": "string"},
  "details": {"type": "object"}},
  "required": ["success", "error", "code"]})";

using namespace schema_text;

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
   "console_cancel_job to stop it. For a short command, options.waitMs "
   "(at most @MAX_WAIT@) answers only when it ended or the time passed, "
   "with finished, exitCode and the output tail; if it still runs it keeps "
   "running (finished false). options.stdin \"pipe\" lets "
   "console_send_input feed it; options.tty runs it on a terminal. With "
   "options.idempotencyKey a repeated submit returns the first job "
   "(deduplicated true) instead of starting another. status and list show "
   "progress read from its output (percentages, N/M counts, bars). "
   "Workflows: options.dependsOn waits for other jobs (pending until "
   "options.dependencyCondition holds, else cancelled with "
   "DEPENDENCY_FAILED), options.retry runs failed attempts again with "
   "backoff under the same jobId, options.startAt or options.delayMs "
   "delay the start; template and params run a template saved with "
   "console_save_template instead of command and args. options.limits "
   "bounds its CPU, memory, processes, open files and file size (a job "
   "stopped by one fails with LIMIT_EXCEEDED), options.sandbox confines its "
   "writes with Landlock; status shows both as security. Refusals: "
   "PATH_NOT_ALLOWED, COMMAND_NOT_ALLOWED, QUOTA_EXCEEDED.",
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
   "List jobs, newest first, optionally filtered by status, session, "
   "tags, a dependency (dependsOn), a schedule (scheduleId) or a template. "
   "Returns at most options.limit jobs (default 100), the total number "
   "of matches, and a nextCursor to pass as options.cursor when more remain.",
   list_input, list_output, true, false, true, false},
  {"console_get_job_metrics", "Get job metrics",
   "Get server-wide counters: jobs started, running, completed, failed and "
   "cancelled since the server started, queue size, concurrency in use and "
   "its limit, average execution time, system load, uptime, per-session "
   "counts, and in workflows the retries, dependency failures and "
   "schedule firings, skips and misses. Takes no arguments.",
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
   "timeout. Call again with since = nextSince to keep waiting. To wait for "
   "several jobs give jobIds (1-1000 distinct ids) instead of jobId, with "
   "mode any (the first to end, default) or all: the reply lists every "
   "job's status in jobs, the ids that ended in ended, and reason any, all "
   "or timeout; until output, pattern and since need jobId.",
   wait_input, wait_output, true, false, true, false},
  {"console_send_input", "Send input to a job",
   "Write text to the stdin of a running job started with options.stdin "
   "\"pipe\" or options.tty true (on a terminal, \\u0003 is Ctrl-C and "
   "interrupts it). appendNewline adds \\n; closeStdin closes stdin after "
   "the text (the job reads end-of-file). Returns the bytes queued by this "
   "call and in total. Errors: STDIN_NOT_OPEN (the job was not started "
   "with a stdin pipe or terminal), STDIN_CLOSED (stdin was already closed, "
   "by closeStdin or by the job), STDIN_FULL (more than @MAX_STDIN@ bytes "
   "would be waiting for the job to read them: retry later), "
   "JOB_NOT_RUNNING (pending or ended), JOB_NOT_FOUND.",
   send_input_input, send_input_output, false, false, false, false},
  {"console_signal_job", "Send a signal to a job",
   "Send a signal to a running job: SIGINT, SIGTERM, SIGHUP, SIGQUIT, "
   "SIGUSR1, SIGUSR2, SIGKILL or SIGWINCH (with or without the SIG "
   "prefix), to all its processes (target tree, the default) or its main "
   "process only (target leader). Unlike console_cancel_job nothing "
   "follows: the job decides what the signal means. delivered says whether "
   "a process took it. Errors: JOB_NOT_RUNNING (pending or ended), "
   "NOT_SUPPORTED (the job's kind has no processes), JOB_NOT_FOUND.",
   signal_input, signal_output, false, true, false, false},
  {"console_pause_job", "Pause a job",
   "Stop all of a running job's processes until console_resume_job: "
   "cgroup.freeze where the job has a cgroup, else SIGSTOP to its process "
   "group. Its timeout clock stops meanwhile, and it keeps its slot (it is "
   "still running, its memory held). Returns the job with paused true and "
   "pausedAt. Pausing a paused job changes nothing. Errors: JOB_NOT_RUNNING "
   "(pending or ended), NOT_SUPPORTED (the job's kind cannot pause), "
   "JOB_NOT_FOUND.",
   job_id_input, status_output, false, false, true, false},
  {"console_resume_job", "Resume a job",
   "Let a job paused by console_pause_job continue: its cgroup thawed "
   "(cgroup.freeze 0) where it has one, else SIGCONT to its process "
   "group. Its timeout clock runs on with the time it had left; it kept "
   "its slot while paused. Returns the job with paused false; pausedMs "
   "counts the time it spent paused. Resuming a job that is not paused "
   "changes nothing. Errors: JOB_NOT_RUNNING (pending or ended), "
   "NOT_SUPPORTED, JOB_NOT_FOUND.",
   job_id_input, status_output, false, false, true, false},
  {"console_resize_terminal", "Resize a job's terminal",
   "Change the window size of a job started with options.tty true (the "
   "job gets SIGWINCH and redraws for cols x rows). Returns the job with "
   "its new terminal size. Errors: NOT_SUPPORTED (the job has no "
   "terminal), JOB_NOT_RUNNING (pending or ended), JOB_NOT_FOUND.",
   resize_input, status_output, false, false, true, false},
  {"console_restart_job", "Restart a job",
   "Start a new job with the same command, arguments and options as "
   "jobId (a new jobId; restartOf names the old one). The old job may be "
   "in any state; with replace true it is cancelled first if it has not "
   "ended. Returns like console_execute_async without waiting: jobId, "
   "status, queuePosition. Errors: JOB_NOT_FOUND, QUEUE_FULL, and the "
   "start errors of console_execute_async.",
   restart_input, restart_output, false, true, false, true},
  {"console_create_schedule", "Create a recurring schedule",
   "Run a command on a cron schedule: at each firing (cron in timezone, "
   "default UTC) a job is submitted as console_execute_async would, tagged "
   "scheduleId, with scheduledFor the firing time. Returns the schedule with "
   "its scheduleId and nextFirings. overlap says what a firing does while "
   "the previous job runs (skip, queue, cancel_previous); catchUp runs "
   "firings missed while jobd was down once at its start. options are "
   "console_execute_async's, but waitMs, idempotencyKey, startAt, delayMs "
   "and dependsOn make no sense for a schedule and are refused. Find its "
   "jobs with console_list_jobs options.scheduleId. Errors: "
   "INVALID_ARGUMENTS (a bad cron expression or time zone, named).",
   create_schedule_input, schedule_output, false, false, false, true},
  {"console_list_schedules", "List schedules",
   "List every schedule with its next five firing times (none while "
   "disabled), counts of firings fired, skipped and missed, and the last "
   "job and error. Takes no arguments.",
   metrics_input, schedule_list_output, true, false, true, false},
  {"console_update_schedule", "Update a schedule",
   "Change a schedule: the fields given replace the schedule's, the others "
   "stay. command, args and options replace its job as a whole, so give "
   "command whenever args or options are given. enabled false pauses it. "
   "Returns the schedule as updated. Errors: SCHEDULE_NOT_FOUND, "
   "INVALID_ARGUMENTS.",
   update_schedule_input, schedule_output, false, false, true, true},
  {"console_delete_schedule", "Delete a schedule",
   "Delete a schedule: it fires no more. Jobs it started are not touched. "
   "Errors: SCHEDULE_NOT_FOUND.",
   schedule_id_input, delete_schedule_output, false, true, true, false},
  {"console_save_template", "Save a job template",
   "Save a reusable job under a name: command, args and options as "
   "console_execute_async takes them, with {{name}} placeholders in args, "
   "environment values and options.workingDirectory, and the parameters "
   "they name (description, default, pattern). Run it with "
   "console_execute_async {template, params, options}: each value replaces "
   "its placeholders as a literal part of that one string (never split, "
   "never through a shell), and the call's options override the "
   "template's key by key. Saving an existing name replaces that template. "
   "Templates are kept across restarts.",
   save_template_input, template_output, false, false, true, false},
  {"console_list_templates", "List job templates",
   "List every saved template (by name) with its command, args, options and "
   "parameters. Takes no arguments.",
   metrics_input, template_list_output, true, false, true, false},
  {"console_delete_template", "Delete a job template",
   "Delete a saved template by name. Jobs made from it are not touched. "
   "Errors: TEMPLATE_NOT_FOUND.",
   template_name_input, delete_template_output, false, true, true, false},
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

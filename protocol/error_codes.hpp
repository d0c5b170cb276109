// The machine-readable codes of tool failures (the seed's `code` field),
// part of model.hpp, which includes this.
#pragma once

namespace jobd {

/// Machine-readable codes of tool failures (the seed's `code` field).
namespace codes {
inline constexpr const char* job_not_found = "JOB_NOT_FOUND";
inline constexpr const char* command_not_found = "COMMAND_NOT_FOUND";
inline constexpr const char* permission_denied = "PERMISSION_DENIED";
inline constexpr const char* invalid_working_directory
  = "INVALID_WORKING_DIRECTORY";
inline constexpr const char* invalid_arguments = "INVALID_ARGUMENTS";
inline constexpr const char* job_already_finished = "JOB_ALREADY_FINISHED";
inline constexpr const char* spawn_failed = "SPAWN_FAILED";
inline constexpr const char* timeout = "TIMEOUT";
inline constexpr const char* cancelled = "CANCELLED";
inline constexpr const char* unknown_job_kind = "UNKNOWN_JOB_KIND";
inline constexpr const char* internal_error = "INTERNAL_ERROR";
/// A job's actor died unexpectedly (a bug): the job ends failed with this.
inline constexpr const char* internal = "INTERNAL";
/// More pending jobs than --max-pending-jobs allows.
inline constexpr const char* queue_full = "QUEUE_FULL";
/// A job was running (or pending, with --no-requeue) when its jobd died.
inline constexpr const char* interrupted = "INTERRUPTED";
/// Cancel of a job that another live jobd instance owns.
inline constexpr const char* owned_elsewhere = "JOB_OWNED_ELSEWHERE";
/// console_send_input: the job's stdin queue is full (--max-stdin-bytes).
inline constexpr const char* stdin_full = "STDIN_FULL";
/// console_send_input: the job has no stdin pipe or terminal.
inline constexpr const char* stdin_not_open = "STDIN_NOT_OPEN";
/// console_send_input: the job's stdin was closed (closeStdin, or the job
/// closed its end).
inline constexpr const char* stdin_closed = "STDIN_CLOSED";
/// Signal, pause, resume, input or resize of a job that is not running.
inline constexpr const char* job_not_running = "JOB_NOT_RUNNING";
/// The job's kind cannot do what was asked (pause, resize, ...).
inline constexpr const char* not_supported = "NOT_SUPPORTED";
/// A job whose dependencies can no longer meet its condition ends
/// cancelled with this (details name the dependency).
inline constexpr const char* dependency_failed = "DEPENDENCY_FAILED";
/// console_update_schedule / console_delete_schedule of an unknown id.
inline constexpr const char* schedule_not_found = "SCHEDULE_NOT_FOUND";
/// A template name that is not saved.
inline constexpr const char* template_not_found = "TEMPLATE_NOT_FOUND";
/// A working directory outside --allow-dir (details name the real path).
inline constexpr const char* path_not_allowed = "PATH_NOT_ALLOWED";
/// An executable refused by --allow-command / --deny-command, or a shell
/// job under --no-shell.
inline constexpr const char* command_not_allowed = "COMMAND_NOT_ALLOWED";
/// A per-session quota (details name it: --max-queued-per-session, ...).
inline constexpr const char* quota_exceeded = "QUOTA_EXCEEDED";
/// A job stopped by one of its options.limits (details/status name it).
inline constexpr const char* limit_exceeded = "LIMIT_EXCEEDED";
} // namespace codes

} // namespace jobd

// The typed pieces of workflows (issue 12): dependencies, retries, delayed
// starts, recurring schedules and templates. Plain C++ like model.hpp, which
// includes this; the job_spec and job_info fields that use them are there.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace jobd {

/// options.dependencyCondition: when a job with dependencies may start.
enum class dependency_condition : uint8_t {
  /// Every dependency completed (the default).
  success,
  /// Every dependency ended, whatever its state.
  finish,
  /// Every dependency ended and at least one of them did not complete
  /// (failed or cancelled): for clean-up and alert jobs.
  failure,
};

const char* to_string(dependency_condition x);
bool from_string(std::string_view text, dependency_condition& out);

/// options.retry: how often a failed attempt is tried again, and when.
struct retry_policy {
  /// Attempts in all, the first included; 1 = no retry.
  int32_t max_attempts = 1;
  /// The delay before attempt n+1 is backoff_ms * backoff_factor^(n-1),
  /// at most max_backoff_ms; with jitter, a uniform draw from [0, that]
  /// ("full jitter").
  int64_t backoff_ms = 1000;
  double backoff_factor = 2;
  int64_t max_backoff_ms = 300000;
  bool jitter = true;
  /// `on`: which endings are retried. "failure" is any failed ending but a
  /// timeout (an exit code other than 0, a signal, a failed spawn);
  /// "timeout" is TIMEOUT. Cancelled attempts are never retried.
  bool on_failure = true;
  bool on_timeout = true;
  /// `exitCodes`: when not empty, only an exit with one of these codes is
  /// retried (instead of `on`).
  std::vector<int32_t> exit_codes;
};

/// One finished attempt of a job with options.retry (status.attempts).
struct attempt_record {
  int32_t attempt = 1;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  /// "completed", "failed" or "cancelled".
  std::string status;
  int32_t exit_code = -1;
  int32_t signal = 0;
  std::string error_code;
};

/// Why a pending job waits (status.pendingReason).
namespace pending_reasons {
/// In the ready queue: waiting for a free slot (or just created).
inline constexpr const char* queued = "queued";
/// options.dependsOn: some dependencies have not ended (status.waitingFor).
inline constexpr const char* dependencies = "waiting_for_dependencies";
/// options.startAt / delayMs: not before status.scheduledFor.
inline constexpr const char* scheduled = "scheduled";
/// Between attempts: not before status.nextAttemptAt.
inline constexpr const char* backoff = "retry_backoff";
/// Submitted to the cluster that runs it, which queues it (a Slurm job:
/// status.slurm.reason says why).
inline constexpr const char* cluster = "queued_in_cluster";
} // namespace pending_reasons

/// SCHEDULER's word to a pending job: why it waits (its status shows it),
/// or, with `fail_code`, that it can never start (it ends cancelled with
/// that error code, e.g. DEPENDENCY_FAILED).
struct job_hold {
  /// One of pending_reasons.
  std::string reason = pending_reasons::queued;
  /// Dependencies that have not ended yet.
  std::vector<std::string> waiting_for;
  std::string fail_code;
  std::string fail_message;
};

/// console_create_schedule's overlap: what a firing does while the job of
/// the previous firing has not ended.
enum class overlap_policy : uint8_t {
  /// Nothing (the firing is skipped and counted).
  skip,
  /// Its job waits for the previous one to end (a dependency with
  /// condition "finish").
  queue,
  /// The previous job is cancelled, then the new one submitted.
  cancel_previous,
};

const char* to_string(overlap_policy x);
bool from_string(std::string_view text, overlap_policy& out);

/// A recurring schedule (console_create_schedule).
struct schedule_spec {
  /// "sched-<n>-<random>"; set by SCHEDULES on creation.
  std::string id;
  std::string name;
  /// Five fields or an @shorthand (protocol/cron.hpp).
  std::string cron;
  /// IANA zone name the cron fields are read in.
  std::string timezone = "UTC";
  /// The job each firing submits: a JSON object text with `command`,
  /// `args` and `options` as console_execute_async takes them (checked
  /// when the schedule is created or updated).
  std::string job;
  overlap_policy overlap = overlap_policy::skip;
  /// Firings missed while jobd was down run once at start.
  bool catch_up = false;
  bool enabled = true;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  /// The time of the last firing that was handled (fired, skipped or
  /// missed); firings are looked for after it. 0: after created_at.
  int64_t last_fired_at = 0;
  /// The job of the last firing that submitted one.
  std::string last_job_id;
  /// Firings that submitted a job, that overlap "skip" skipped, and that
  /// were missed while jobd was down (and not caught up).
  uint64_t fired = 0;
  uint64_t skipped = 0;
  uint64_t missed = 0;
  /// The newest error of a firing (its job was refused), if any.
  std::string last_error;
};

/// console_update_schedule: the fields given replace the schedule's.
struct schedule_update {
  std::string id;
  bool has_name = false, has_cron = false, has_timezone = false,
       has_job = false, has_overlap = false, has_catch_up = false,
       has_enabled = false;
  schedule_spec values;
};

/// A schedule as console_list_schedules shows it.
struct schedule_info {
  schedule_spec spec;
  /// The next five firing times (ms since the epoch); fewer if the
  /// expression fires fewer times in the years looked at, none if disabled.
  std::vector<int64_t> next_firings;
};

struct schedule_list {
  std::vector<schedule_info> schedules;
};

/// One parameter of a template.
struct template_parameter {
  std::string description;
  bool has_default = false;
  std::string default_value;
  /// RE2 pattern a value must match as a whole; empty: any value.
  std::string pattern;
};

/// A job template (console_save_template).
struct job_template {
  std::string name;
  std::string description;
  /// `command`, `args` and `options` as console_execute_async takes them,
  /// as a JSON object text, with {{p}} placeholders in args, environment
  /// values and the working directory.
  std::string job;
  std::map<std::string, template_parameter> parameters;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct template_list {
  std::vector<job_template> templates;
};

/// console_delete_schedule / console_delete_template.
struct delete_result {
  std::string id;
  bool deleted = false;
  /// What `id` names: a schedule (rendered as scheduleId) or, false, a
  /// template (rendered as name). Set by whoever answers the delete.
  bool schedule = false;
};

} // namespace jobd

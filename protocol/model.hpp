// The typed requests and results that flow between the MCP layer and the
// runtime. Plain C++: no JSON, no CAF. The actors send these as messages (see
// actors/actors.hpp for their inspect functions); protocol/ parses tool
// arguments into the requests and renders the results as MCP replies.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error_codes.hpp"
#include "protocol/metrics_model.hpp"
#include "protocol/security_model.hpp"
#include "protocol/workflow_model.hpp"

namespace jobd {

/// Milliseconds since the Unix epoch; 0 means "not set".
using timestamp_ms = int64_t;

/// The wall clock in milliseconds since the epoch.
timestamp_ms now_ms();

/// Sentinel for "use the server's default" in integer options.
inline constexpr int64_t use_default = -1;

enum class job_status : uint8_t {
  pending,
  running,
  completed,
  failed,
  cancelled
};

enum class stream_kind : uint8_t { out, err };

/// What a job's stdin is: /dev/null, a pipe fed by console_send_input, or
/// a pseudo-terminal (options.tty) that is also its stdout and stderr.
enum class stdin_mode : uint8_t { null, pipe, tty };

const char* to_string(stdin_mode x);

/// Which streams an output query returns.
enum class stream_filter : uint8_t { both, out, err };

const char* to_string(job_status x);
const char* to_string(stream_kind x);
bool from_string(std::string_view text, job_status& out);

inline bool is_terminal(job_status x) {
  return x == job_status::completed || x == job_status::failed
         || x == job_status::cancelled;
}

/// A failure of a tool's own work, rendered as an `isError` result in the
/// seed's shape `{success: false, error, code, details}`.
struct tool_error {
  std::string code;
  std::string message;
  /// Extra fields for `details`; values are JSON texts (strings quoted).
  std::map<std::string, std::string> details;
};

/// `text` as a JSON string literal, for tool_error details.
std::string json_quote(std::string_view text);

// -- requests -----------------------------------------------------------------

/// Everything needed to create a job (`console_execute_async`).
struct job_spec {
  std::string command;
  std::vector<std::string> args;
  /// Run `command` through `/bin/sh -c` instead of execve'ing it.
  bool shell = false;
  std::string session_id = "default";
  /// Empty: the server's working directory.
  std::string working_directory;
  /// Added to (and overriding) the server's environment.
  std::map<std::string, std::string> environment;
  /// Milliseconds from start; 0 = none; use_default = server default.
  int64_t timeout_ms = use_default;
  int32_t priority = 5;
  /// Tag name -> JSON text of a scalar value (`"nlp"`, `3`, `true`).
  std::map<std::string, std::string> tags;
  /// Grace between SIGTERM and SIGKILL on cancel and timeout.
  int64_t kill_grace_ms = use_default;
  /// Per-job cap on buffered output bytes.
  int64_t output_byte_limit = use_default;
  /// Which job kind runs this spec (see actors/job_factory.hpp).
  std::string kind = "process";
  /// The call's `kindOptions` object as JSON text (checked against the
  /// kind's schema fragment); empty when none was given.
  std::string kind_options;
  /// options.stdin ("null", "pipe"); options.tty makes it `tty`.
  stdin_mode input = stdin_mode::null;
  /// The terminal's size with options.tty (options.cols, options.rows).
  int32_t cols = 80;
  int32_t rows = 24;
  /// options.idempotencyKey: a second submit with the same key in the same
  /// session, while the first job is retained, returns the first job.
  std::string idempotency_key;
  /// options.progressPattern: an RE2 pattern with named groups `current`,
  /// `total`, `percent` that replaces the progress heuristic.
  std::string progress_pattern;
  /// options.waitMs: answer the submit only when the job ended or this
  /// many ms passed (capped by the server's max wait); 0 = at once.
  int64_t wait_ms = 0;
  /// options.waitOutput: the output tail such an answer carries.
  uint64_t wait_tail_lines = 50;
  uint64_t wait_max_bytes = 16 * 1024;
  /// The job this one restarts (console_restart_job); empty otherwise.
  std::string restart_of;
  // -- workflows (protocol/workflow_model.hpp) --
  /// options.dependsOn (existing job ids, any session; at most 100).
  std::vector<std::string> depends_on;
  dependency_condition condition = dependency_condition::success;
  /// options.retry; max_attempts 1 = none.
  retry_policy retry;
  /// options.startAt, or now + options.delayMs at submission; for a
  /// schedule's job, its firing time. 0 = at once.
  timestamp_ms start_at = 0;
  /// The schedule whose firing created this job; empty otherwise.
  std::string schedule_id;
  /// The template this job was made from; empty otherwise.
  std::string template_name;
  // -- security (protocol/security_model.hpp) --
  /// options.limits as asked for (0 = unset).
  resource_limits limits;
  /// options.sandbox: true asks for Landlock confinement.
  bool sandbox = false;
  /// The controls the job runs under, filled by its kind when it is
  /// submitted (effective limits, their enforcement, the sandbox).
  job_security security;
};

struct output_query {
  /// Only chunks with a sequence number greater than this.
  uint64_t since = 0;
  /// Only the newest `limit` chunks (after `since`).
  bool latest = false;
  /// At most this many chunks; 0 = no count limit.
  uint64_t limit = 0;
  /// At most this many content bytes in the reply.
  uint64_t max_bytes = 64 * 1024;
  stream_filter streams = stream_filter::both;
  /// When > 0: the last N lines of the selected output as one text.
  uint64_t tail_lines = 0;
};

struct list_query {
  /// Empty: any status.
  std::vector<job_status> statuses;
  /// Empty: any session.
  std::string session_id;
  /// Only sessions whose id starts with this (a principal's namespace,
  /// "alice/"); empty: any.
  std::string session_prefix;
  /// Every tag given must match (values as JSON texts).
  std::map<std::string, std::string> tags;
  /// 0 = no limit.
  uint64_t limit = 0;
  /// Opaque cursor from a previous page; empty = first page.
  std::string cursor;
  /// Only jobs that depend on this job id; empty: any.
  std::string depends_on;
  /// Only jobs of this schedule / made from this template; empty: any.
  std::string schedule_id;
  std::string template_name;
};

struct cleanup_query {
  /// Remove finished jobs at least this old (by finish time); 0 = any age;
  /// use_default = the server's retention.
  int64_t max_age_ms = 0;
  /// Keep the newest N of the jobs that match.
  uint64_t keep_count = 0;
  /// Empty: every terminal status.
  std::vector<job_status> statuses;
  /// Empty: any session.
  std::string session_id;
  /// Only sessions whose id starts with this; empty: any.
  std::string session_prefix;
};

enum class wait_until : uint8_t { exit, output };

struct wait_query {
  std::string job_id;
  /// How long to wait at most; use_default = the server's cap.
  int64_t timeout_ms = use_default;
  wait_until until = wait_until::exit;
  /// With until == output: only output matching this RE2 pattern (see
  /// protocol/pattern.hpp).
  std::string pattern;
  /// Output after this sequence number counts as new.
  uint64_t since = 0;
};

/// console_wait_job with `jobIds`: until any (or all) of them ended.
struct wait_many_query {
  std::vector<std::string> job_ids;
  /// mode "all": until every job ended; "any" (false): the first.
  bool all = false;
  /// How long to wait at most; use_default = the server's cap.
  int64_t timeout_ms = use_default;
};

/// console_send_input: bytes for a job's stdin (pipe or terminal).
struct input_request {
  std::string job_id;
  /// The bytes to write (appendNewline already applied); may be empty.
  std::string text;
  /// Close stdin after these bytes (EOF for the job).
  bool close = false;
};

/// console_signal_job.
struct signal_request {
  std::string job_id;
  int32_t signal = 15;
  /// false: the job's main process only (target "leader").
  bool whole_tree = true;
};

/// console_pause_job (pause = true) and console_resume_job.
struct pause_request {
  std::string job_id;
  bool pause = true;
};

/// console_resize_terminal: a tty job's window size.
struct resize_request {
  std::string job_id;
  int32_t cols = 80;
  int32_t rows = 24;
};

/// console_restart_job.
struct restart_request {
  std::string job_id;
  /// Cancel the job first if it has not ended (else both run).
  bool replace = false;
};

// -- results ------------------------------------------------------------------

struct submit_result {
  std::string job_id;
  job_status status = job_status::pending;
  uint64_t queue_position = 0;
  /// An earlier job with the same idempotency key was returned.
  bool deduplicated = false;
  /// The job a restart replaced (console_restart_job); empty otherwise.
  std::string restart_of;
  /// Why a pending job waits (pending_reasons): a held job (dependencies,
  /// a start time) has no queue position.
  std::string pending_reason;
};

/// Counters of a job's output buffer.
struct output_stats {
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
  uint64_t chunks = 0;
  uint64_t dropped_chunks = 0;
  uint64_t dropped_bytes = 0;
  uint64_t buffered_bytes = 0;
  uint64_t last_sequence = 0;
};

/// What jobd read of a job's progress from its output (the newest
/// percentage, N/M count or bar of the last line, or options.progressPattern).
struct job_progress {
  /// Anything was found.
  bool known = false;
  /// 0-100: the percentage, else current/total of a count, else a bar's
  /// fill; negative when unknown (a progressPattern reading only current).
  double percent = -1;
  /// current/total of an N/M count; negative when unknown.
  double current = -1;
  double total = -1;
  /// The line it was read from (at most 200 bytes).
  std::string text;
  timestamp_ms at = 0;
};

/// CPU time and peak memory of a job's processes (rusage of the reaped
/// main process and its waited-for children, or the job's cgroup).
struct resource_usage {
  bool known = false;
  int64_t cpu_user_ms = 0;
  int64_t cpu_system_ms = 0;
  int64_t max_rss_kb = 0;
  /// The limit (limit_names) that stopped the job, when one did: the job
  /// ends failed with LIMIT_EXCEEDED. Empty otherwise.
  std::string limit_exceeded{};
};

/// A job's status and metadata (`console_get_job_status`).
struct job_info {
  std::string id;
  std::string kind;
  std::string command;
  std::vector<std::string> args;
  bool shell = false;
  job_status status = job_status::pending;
  std::string session_id;
  std::string working_directory;
  timestamp_ms created_at = 0;
  timestamp_ms started_at = 0;
  timestamp_ms finished_at = 0;
  int32_t priority = 5;
  int64_t timeout_ms = 0;
  std::map<std::string, std::string> tags;
  /// Exit code when the process exited; -1 otherwise.
  int32_t exit_code = -1;
  /// Signal that ended the process; 0 otherwise.
  int32_t signal = 0;
  /// Failure code (e.g. TIMEOUT, SPAWN_FAILED) and message; empty otherwise.
  std::string error_code;
  std::string error;
  int64_t pid = 0;
  /// How long it ran, in ms on a steady clock (immune to wall-clock
  /// jumps); set when it finished after starting, 0 otherwise.
  int64_t run_ms = 0;
  /// How the job's process tree is tracked: "cgroup", "pgroup", or empty
  /// for kinds without local processes.
  std::string tracking;
  /// 1-based position in the ready queue while pending; 0 otherwise.
  uint64_t queue_position = 0;
  /// Creation order; never reused within a state directory.
  uint64_t serial = 0;
  output_stats output;
  /// The jobd instance that runs (or ran) the job, its pid, and whether it
  /// is alive; empty instance without a store.
  std::string owner_instance;
  int64_t owner_pid = 0;
  bool owner_live = false;
  /// Identifies the main process beyond its pid ("<boot id>:<start time
  /// in clock ticks>", from /proc), so a leftover process group is never
  /// confused with a later process that got the same pid. Not rendered.
  std::string process_start;
  /// Its stdin, and whether it still takes input (pipe or tty not closed).
  stdin_mode input = stdin_mode::null;
  bool stdin_open = false;
  /// The terminal's size (tty jobs).
  int32_t cols = 0;
  int32_t rows = 0;
  /// Paused (console_pause_job) since `paused_at`; `paused_ms` is the
  /// time spent paused before (the timeout clock stops while paused).
  bool paused = false;
  timestamp_ms paused_at = 0;
  int64_t paused_ms = 0;
  /// The job this one restarts; empty otherwise.
  std::string restart_of;
  std::string idempotency_key;
  job_progress progress;
  resource_usage usage;
  // -- workflows --
  /// Why a pending job waits (pending_reasons); empty unless pending.
  std::string pending_reason;
  std::vector<std::string> depends_on;
  dependency_condition condition = dependency_condition::success;
  /// Dependencies that have not ended yet.
  std::vector<std::string> waiting_for;
  /// options.startAt / delayMs, or the firing time of a schedule's job.
  timestamp_ms scheduled_for = 0;
  std::string schedule_id;
  std::string template_name;
  /// The current (or last) attempt, 1-based; 0 before the first started.
  int32_t attempt = 0;
  int32_t max_attempts = 1;
  /// When the next attempt may start (pending between attempts).
  timestamp_ms next_attempt_at = 0;
  /// Every attempt that ended, oldest first (the last one's outcome is
  /// also the job's own once it finished); the running one is not listed.
  std::vector<attempt_record> attempts;
  /// The controls it runs under (from its spec).
  job_security security;
  /// What its kind reports of the work (a JSON object text, rendered as
  /// is under the kind's name: `slurm: {jobId, state, ...}`); empty: none.
  std::string kind_status;
};

struct output_chunk {
  uint64_t sequence = 0;
  timestamp_ms timestamp = 0;
  stream_kind stream = stream_kind::out;
  std::string content;
  /// The attempt that wrote it (options.retry), 1-based.
  int32_t attempt = 1;
};

struct output_page {
  /// The job read from and its status at the time (rendered by
  /// console_get_job_output; wait_result renders its job instead).
  std::string job_id;
  job_status status = job_status::pending;
  std::vector<output_chunk> chunks;
  /// Pass as `since` to continue after this page.
  uint64_t next_since = 0;
  /// True if chunks were left out because of `limit` or `max_bytes`.
  bool truncated = false;
  /// Chunks after `since` that were dropped from the buffer before reading.
  uint64_t dropped_chunks = 0;
  /// The job has finished and its output is complete.
  bool finished = false;
  /// finished, and nothing after next_since is left to read.
  bool complete = false;
  /// The last N lines when `tail_lines` was asked for.
  std::string tail;
  bool has_tail = false;
};

struct cancel_result {
  std::string job_id;
  job_status status = job_status::cancelled;
  std::string message;
};

/// console_send_input.
struct input_result {
  std::string job_id;
  /// Bytes queued by this call.
  uint64_t bytes = 0;
  /// Bytes queued and not yet written to the job, this call's included.
  uint64_t queued = 0;
  /// Stdin is closed now (closeStdin).
  bool closed = false;
};

/// console_signal_job.
struct signal_result {
  std::string job_id;
  int32_t signal = 0;
  bool whole_tree = true;
  /// A process took the signal.
  bool delivered = false;
};

struct list_page {
  std::vector<job_info> jobs;
  uint64_t total = 0;
  std::string next_cursor;
};

struct cleanup_result {
  uint64_t cleaned = 0;
  uint64_t remaining = 0;
};

struct wait_result {
  job_info job;
  output_page output;
  /// Why the wait ended: "exit", "output" or "timeout".
  std::string reason;
};

/// The answer of console_execute_async: its job, and with options.waitMs
/// the status and output tail it reached.
struct submit_reply {
  submit_result result;
  /// The call waited (options.waitMs): `job` and `output` (its tail, with
  /// `has_tail`) are set.
  bool waited = false;
  job_info job;
  output_page output;
};

struct wait_many_result {
  /// Every job asked for, in the order asked, as of the answer.
  std::vector<job_info> jobs;
  /// The ids of those that ended, in the order asked.
  std::vector<std::string> ended;
  bool all = false;
  /// "any", "all" (the condition held) or "timeout".
  std::string reason;
};

} // namespace jobd

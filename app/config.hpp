// jobd's settings: defaults from the seed, overridden by environment
// variables, overridden by command-line flags.
#pragma once

#include "protocol/server_options.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace jobd {

/// The largest value of every duration and most counts: 2^53 - 1, the
/// schemas' maximum (protocol::max_json_int), so a flag and the tool
/// argument that mean the same thing accept the same range.
inline constexpr int64_t max_setting = protocol::max_json_int;

struct config {
  uint64_t max_concurrent_jobs = 10;
  uint64_t max_concurrent_jobs_per_session = 5;
  /// Pending jobs at once; more are refused with QUEUE_FULL.
  uint64_t max_pending_jobs = 10000;
  int64_t job_timeout_ms = 300000;
  int64_t retention_ms = 86400000;
  int64_t cleanup_interval_ms = 3600000;
  uint64_t output_buffer_size = 10000;
  /// Per-job output cap: the default and maximum of outputByteLimit.
  uint64_t output_buffer_bytes = 8 * 1024 * 1024;
  /// Output bytes kept over all jobs (at least output_buffer_bytes).
  uint64_t output_total_bytes = uint64_t{1} << 30;
  int64_t kill_grace_ms = 5000;
  int64_t max_wait_ms = 60000;
  /// Bytes a job's stdin queue holds at most.
  uint64_t max_stdin_bytes = 1024 * 1024;
  uint64_t max_line_bytes = 16 * 1024 * 1024;
  std::string log_level = "info";
  /// Where the store lives; filled from XDG_STATE_HOME or HOME when empty.
  std::string state_dir;
  bool ephemeral = false;
  /// Pending jobs of a dead instance are queued again.
  bool requeue = true;
  uint64_t store_max_bytes = uint64_t{4} << 30;

  // -- security and quotas (docs/security.md) --
  /// --allow-dir (repeatable; JOBD_ALLOW_DIRS, colon-separated).
  std::vector<std::string> allow_dirs;
  /// --sandbox-fs: every job confined by Landlock.
  bool sandbox_fs = false;
  /// --allow-read (repeatable; JOBD_ALLOW_READ): a sandboxed job reads only
  /// there (and the system's program directories).
  std::vector<std::string> allow_read;
  /// --env-policy: inherit, clean or allowlist.
  std::string env_policy = "inherit";
  /// --env-allow (repeatable; JOBD_ENV_ALLOW, comma-separated).
  std::vector<std::string> env_allow;
  /// --allow-command / --deny-command (repeatable): globs or re:PATTERN.
  std::vector<std::string> allow_commands;
  std::vector<std::string> deny_commands;
  /// --no-shell: options.shell is refused.
  bool no_shell = false;
  /// --limit-<name> (default) and --limit-<name>-max (maximum); 0 = none.
  resource_limits limit_defaults;
  resource_limits limit_maxima;
  /// Per-session quotas; 0 = none.
  uint64_t max_queued_per_session = 0;
  uint64_t max_retained_per_session = 0;
  uint64_t max_output_bytes_per_session = 0;
  /// --audit-log FILE (JSON lines, 0600); empty = none.
  std::string audit_log;
  /// Rotated beyond this many bytes, keeping `audit_log_keep` old files.
  uint64_t audit_log_max_bytes = uint64_t{64} << 20;
  uint64_t audit_log_keep = 5;

  // -- the HTTP service (docs/http.md) --
  /// --http HOST:PORT; empty = HTTP off.
  std::string http;
  bool http_allow_remote = false;
  /// --no-stdio: HTTP only (stdin is not read).
  bool no_stdio = false;
  /// --auth-token-file: lines `principal:token`.
  std::string auth_token_file;
  /// --http-no-auth (loopback only): every request is principal "local".
  bool http_no_auth = false;
  /// --admin (repeatable; JOBD_ADMINS, comma-separated).
  std::vector<std::string> admins;
  /// Jobs running at once per principal; 0 = no such limit.
  uint64_t max_concurrent_jobs_per_principal = 0;
  /// --metrics-listen HOST:PORT: /metrics and /healthz there, without
  /// authentication; empty = on the --http listener only.
  std::string metrics_listen;
  /// --http-allow-origin / --http-allow-host (repeatable).
  std::vector<std::string> http_allow_origins;
  std::vector<std::string> http_allow_hosts;
  int64_t http_request_timeout_ms = 30000;
  int64_t http_idle_timeout_ms = 60000;
  /// Requests per second per principal (0 = no limit), and the burst.
  uint64_t http_rate_limit = 200;
  uint64_t http_rate_burst = 400;
  uint64_t http_max_sessions = 1000;
  int64_t http_session_idle_ms = 30 * 60 * 1000;
  uint64_t http_max_connections = 512;

  // -- Slurm jobs (docs/distributed.md) --
  /// --slurm-spool DIR: the slurm kind is on; empty = off.
  std::string slurm_spool;
  int64_t slurm_poll_ms = 1000;
  /// Jobs kept in Slurm at once; 0 = no bound.
  uint64_t max_slurm_jobs = 1000;
  int64_t slurm_command_timeout_ms = 10000;
};

/// HOST:PORT of --http and --metrics-listen: an IPv4 literal, a bracketed
/// IPv6 literal or "localhost", and a port 0-65535. False if malformed.
bool split_host_port(const std::string& text, std::string& host,
                     uint16_t& port);

/// Whether `host` (as split_host_port gives it) is a loopback address.
bool loopback_host(const std::string& host);

enum class parse_outcome { run, help, version, error };

/// Reads the environment, then `args` (argv without argv[0]), then checks
/// settings against each other. On error, `message` names the setting(s)
/// and the value.
parse_outcome parse_config(const std::vector<std::string>& args, config& out,
                           std::string& message);

/// The --help text: every setting with its flag, variable, default and range.
std::string usage();

/// The names of every environment variable jobd reads as a setting: never
/// passed on to a job under --env-policy inherit.
std::vector<std::string> setting_variables();

/// What the protocol layer shows and enforces of `cfg` (version, defaults,
/// caps). Kinds are left at the built-in "process" only: add the others'
/// kindOptions schemas from the job factory.
protocol::server_options server_options_of(const config& cfg);

} // namespace jobd

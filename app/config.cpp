#include "app/config.hpp"

#include "actors/logger.hpp"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <sstream>

namespace jobd {

namespace {

/// One setting: its flag, environment variable, meaning, parser and (for
/// numbers) its range as text.
struct setting {
  const char* flag;
  const char* env;
  const char* help;
  std::function<bool(config&, const std::string&)> set;
  std::function<std::string(const config&)> show;
  std::string range;
  /// A switch: takes no value (its variable: any non-empty value but "0").
  bool boolean = false;
  /// A repeatable setting: its variable lists values split at this.
  char separator = 0;
};

/// Sets `s` from its environment variable's `text`: each item of a list.
bool set_from_env(const setting& s, config& c, const std::string& text) {
  if (s.separator == 0)
    return s.set(c, text);
  size_t begin = 0;
  while (begin <= text.size()) {
    auto end = text.find(s.separator, begin);
    if (end == std::string::npos)
      end = text.size();
    if (!s.set(c, text.substr(begin, end - begin)))
      return false;
    begin = end + 1;
  }
  return true;
}

bool parse_int(const std::string& text, int64_t min, int64_t max,
               int64_t& out) {
  if (text.empty())
    return false;
  errno = 0;
  char* end = nullptr;
  auto x = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || x < min || x > max)
    return false;
  out = x;
  return true;
}

template <class T>
setting number(const char* flag, const char* env, const char* help,
               T config::*field, int64_t min, int64_t max = max_setting) {
  return {flag,
          env,
          help,
          [=](config& c, const std::string& text) {
            int64_t x = 0;
            if (!parse_int(text, min, max, x))
              return false;
            c.*field = static_cast<T>(x);
            return true;
          },
          [=](const config& c) { return std::to_string(c.*field); },
          std::to_string(min) + " to " + std::to_string(max)};
}

/// A repeatable setting: each flag adds one value; its variable holds
/// several, split at `separator`.
setting list(const char* flag, const char* env, const char* help,
             std::vector<std::string> config::*field, char separator,
             const char* what) {
  setting s{flag,
            env,
            help,
            [=](config& c, const std::string& item) {
              if (item.empty() || item.find('\0') != std::string::npos)
                return false;
              (c.*field).push_back(item);
              return true;
            },
            [=](const config& c) {
              std::string out;
              for (auto& item : c.*field)
                out += (out.empty() ? "" : std::string(1, separator)) + item;
              return out.empty() ? std::string{"none"} : out;
            },
            std::string{what} + "; repeatable"};
  s.separator = separator;
  return s;
}

setting flag_switch(const char* flag, const char* env, const char* help,
                    bool config::*field) {
  return {flag,
          env,
          help,
          [=](config& c, const std::string& text) {
            c.*field = text != "0";
            return true;
          },
          [=](const config& c) { return c.*field ? "on" : "off"; },
          "a switch",
          true};
}

/// --limit-<name> (the default) or --limit-<name>-max (the maximum) of
/// one options.limits field.
setting limit(const char* flag, const char* env, const char* help,
              resource_limits config::*which, int64_t resource_limits::*field,
              int64_t max) {
  return {flag,
          env,
          help,
          [=](config& c, const std::string& text) {
            int64_t x = 0;
            if (!parse_int(text, 0, max, x))
              return false;
            (c.*which).*field = x;
            return true;
          },
          [=](const config& c) { return std::to_string((c.*which).*field); },
          "0 (none) to " + std::to_string(max)};
}

// Beyond 1 GiB a line is no sane MCP message (and RapidJSON's sizes are 32
// bits).
constexpr int64_t max_line_limit = int64_t{1} << 30;
constexpr int64_t max_concurrency = 100000;
constexpr int64_t min_output_total = int64_t{1} << 20;
// A job's stdin queue is memory of jobd's: at most 1 GiB.
constexpr int64_t max_stdin_limit = int64_t{1} << 30;
// Limits: RLIMIT values and cgroup files take any 63-bit number, but beyond
// these no limit means anything (a year of CPU, 1 EiB, 2^31 processes).
constexpr int64_t max_cpu_seconds = 366 * 86400;
constexpr int64_t max_limit_bytes = int64_t{1} << 60;
constexpr int64_t max_limit_count = int64_t{1} << 31;

const std::vector<setting>& settings() {
  static const std::vector<setting> all = {
    number("--max-concurrent-jobs", "MAX_CONCURRENT_JOBS",
           "jobs running at once, over all sessions",
           &config::max_concurrent_jobs, 1, max_concurrency),
    number("--max-concurrent-jobs-per-session",
           "MAX_CONCURRENT_JOBS_PER_SESSION",
           "jobs running at once per session",
           &config::max_concurrent_jobs_per_session, 1, max_concurrency),
    number("--max-pending-jobs", "MAX_PENDING_JOBS",
           "jobs waiting to start at once; more are refused with QUEUE_FULL",
           &config::max_pending_jobs, 1),
    number("--job-timeout-ms", "JOB_TIMEOUT_MS",
           "default job timeout in ms (0 = none)", &config::job_timeout_ms, 0),
    number("--retention-ms", "JOB_RETENTION_MS",
           "finished jobs older than this are swept (ms)",
           &config::retention_ms, 1),
    number("--cleanup-interval-ms", "JOB_CLEANUP_INTERVAL",
           "time between automatic sweeps (ms)", &config::cleanup_interval_ms,
           10),
    number("--output-buffer-size", "OUTPUT_BUFFER_SIZE",
           "output chunks kept per job", &config::output_buffer_size, 1),
    number("--output-buffer-bytes", "OUTPUT_BUFFER_BYTES",
           "output bytes kept per job (a job may lower its cap, not raise it)",
           &config::output_buffer_bytes, 1024),
    number("--output-total-bytes", "OUTPUT_TOTAL_BYTES",
           "output bytes kept over all jobs; beyond it the oldest output of "
           "finished jobs is dropped (at least --output-buffer-bytes)",
           &config::output_total_bytes, min_output_total),
    number("--kill-grace-ms", "KILL_GRACE_MS",
           "SIGTERM-to-SIGKILL grace on cancel and timeout (ms)",
           &config::kill_grace_ms, 0),
    number("--max-wait-ms", "MAX_WAIT_MS", "longest console_wait_job wait (ms)",
           &config::max_wait_ms, 0),
    number("--max-stdin-bytes", "MAX_STDIN_BYTES",
           "bytes a job's stdin queue holds at most (console_send_input "
           "answers STDIN_FULL beyond)",
           &config::max_stdin_bytes, 1, max_stdin_limit),
    number("--max-line-bytes", "MAX_LINE_BYTES",
           "longest accepted JSON-RPC message (bytes)", &config::max_line_bytes,
           1024, max_line_limit),
    {"--state-dir", "JOBD_STATE_DIR",
     "where jobs are kept (created 0700; the database jobd.db is 0600)",
     [](config& c, const std::string& text) {
       if (text.empty() || text.find('\0') != std::string::npos)
         return false;
       c.state_dir = text;
       return true;
     },
     [](const config& c) {
       return c.state_dir.empty() ? std::string{"$XDG_STATE_HOME/jobd"}
                                  : c.state_dir;
     },
     "a directory path"},
    {"--ephemeral", "JOBD_EPHEMERAL",
     "keep nothing on disk: jobs live as long as this process",
     [](config& c, const std::string& text) {
       c.ephemeral = text != "0";
       return true;
     },
     [](const config& c) { return c.ephemeral ? "on" : "off"; }, "a switch",
     true},
    {"--no-requeue", "JOBD_NO_REQUEUE",
     "jobs left pending by a jobd that died are cancelled (INTERRUPTED) "
     "instead of queued again",
     [](config& c, const std::string& text) {
       c.requeue = text == "0";
       return true;
     },
     [](const config& c) { return c.requeue ? "off" : "on"; }, "a switch",
     true},
    number("--store-max-bytes", "JOBD_STORE_MAX_BYTES",
           "output bytes kept in the store over all jobs; the oldest "
           "finished jobs' output is pruned first",
           &config::store_max_bytes, int64_t{1} << 20),
    // -- security (docs/security.md) --
    list("--allow-dir", "JOBD_ALLOW_DIRS",
         "a job's working directory must be inside one of these (real "
         "paths, symlinks followed; PATH_NOT_ALLOWED otherwise)",
         &config::allow_dirs, ':', "a directory (variable: colon-separated)"),
    flag_switch("--sandbox-fs", "JOBD_SANDBOX_FS",
                "confine every job with Landlock: writes only under "
                "--allow-dir and the temporary directories",
                &config::sandbox_fs),
    list("--allow-read", "JOBD_ALLOW_READ",
         "a sandboxed job reads only here (and in the system's program "
         "directories); default: everywhere",
         &config::allow_read, ':', "a directory (variable: colon-separated)"),
    {"--env-policy", "JOBD_ENV_POLICY",
     "the environment a job gets: inherit (jobd's, minus its own settings), "
     "clean (PATH, HOME, USER, LANG, LC_*, TERM, TZ, TMPDIR) or allowlist "
     "(clean plus --env-allow)",
     [](config& c, const std::string& text) {
       if (text != "inherit" && text != "clean" && text != "allowlist")
         return false;
       c.env_policy = text;
       return true;
     },
     [](const config& c) { return c.env_policy; },
     "one of inherit, clean, allowlist"},
    list("--env-allow", "JOBD_ENV_ALLOW",
         "with --env-policy allowlist: a variable passed on (a trailing * "
         "matches a prefix)",
         &config::env_allow, ',', "a name (variable: comma-separated)"),
    list("--allow-command", "JOBD_ALLOW_COMMANDS",
         "only executables whose path (or real path) matches one of these "
         "start (glob, or re:PATTERN for RE2); COMMAND_NOT_ALLOWED otherwise",
         &config::allow_commands, ',', "a pattern (variable: comma-separated)"),
    list("--deny-command", "JOBD_DENY_COMMANDS",
         "executables whose path (or real path) matches one of these never "
         "start (glob, or re:PATTERN)",
         &config::deny_commands, ',', "a pattern (variable: comma-separated)"),
    flag_switch("--no-shell", "JOBD_NO_SHELL",
                "refuse options.shell (COMMAND_NOT_ALLOWED)",
                &config::no_shell),
    limit("--limit-cpu-seconds", "JOBD_LIMIT_CPU_SECONDS",
          "default options.limits.cpuSeconds (RLIMIT_CPU per process)",
          &config::limit_defaults, &resource_limits::cpu_seconds,
          max_cpu_seconds),
    limit("--limit-cpu-seconds-max", "JOBD_LIMIT_CPU_SECONDS_MAX",
          "largest options.limits.cpuSeconds", &config::limit_maxima,
          &resource_limits::cpu_seconds, max_cpu_seconds),
    limit("--limit-memory-bytes", "JOBD_LIMIT_MEMORY_BYTES",
          "default options.limits.memoryBytes (a memory cgroup)",
          &config::limit_defaults, &resource_limits::memory_bytes,
          max_limit_bytes),
    limit("--limit-memory-bytes-max", "JOBD_LIMIT_MEMORY_BYTES_MAX",
          "largest options.limits.memoryBytes", &config::limit_maxima,
          &resource_limits::memory_bytes, max_limit_bytes),
    limit("--limit-max-processes", "JOBD_LIMIT_MAX_PROCESSES",
          "default options.limits.maxProcesses (a pids cgroup)",
          &config::limit_defaults, &resource_limits::max_processes,
          max_limit_count),
    limit("--limit-max-processes-max", "JOBD_LIMIT_MAX_PROCESSES_MAX",
          "largest options.limits.maxProcesses", &config::limit_maxima,
          &resource_limits::max_processes, max_limit_count),
    limit("--limit-open-files", "JOBD_LIMIT_OPEN_FILES",
          "default options.limits.openFiles (RLIMIT_NOFILE)",
          &config::limit_defaults, &resource_limits::open_files,
          max_limit_count),
    limit("--limit-open-files-max", "JOBD_LIMIT_OPEN_FILES_MAX",
          "largest options.limits.openFiles", &config::limit_maxima,
          &resource_limits::open_files, max_limit_count),
    limit("--limit-file-size-bytes", "JOBD_LIMIT_FILE_SIZE_BYTES",
          "default options.limits.fileSizeBytes (RLIMIT_FSIZE)",
          &config::limit_defaults, &resource_limits::file_size_bytes,
          max_limit_bytes),
    limit("--limit-file-size-bytes-max", "JOBD_LIMIT_FILE_SIZE_BYTES_MAX",
          "largest options.limits.fileSizeBytes", &config::limit_maxima,
          &resource_limits::file_size_bytes, max_limit_bytes),
    // -- quotas --
    number("--max-queued-per-session", "JOBD_MAX_QUEUED_PER_SESSION",
           "jobs of one session waiting to start at once (0 = no quota; "
           "QUOTA_EXCEEDED beyond)",
           &config::max_queued_per_session, 0),
    number("--max-retained-per-session", "JOBD_MAX_RETAINED_PER_SESSION",
           "jobs one session keeps, finished ones included, until cleaned up "
           "(0 = no quota)",
           &config::max_retained_per_session, 0),
    number("--max-output-bytes-per-session",
           "JOBD_MAX_OUTPUT_BYTES_PER_SESSION",
           "output bytes one session's jobs keep; a session at its quota "
           "starts no new job (0 = no quota)",
           &config::max_output_bytes_per_session, 0),
    // -- audit --
    {"--audit-log", "JOBD_AUDIT_LOG",
     "append every tool call and job lifecycle event to this file (JSON "
     "lines, mode 0600)",
     [](config& c, const std::string& text) {
       if (text.empty() || text.find('\0') != std::string::npos)
         return false;
       c.audit_log = text;
       return true;
     },
     [](const config& c) {
       return c.audit_log.empty() ? std::string{"none"} : c.audit_log;
     },
     "a file path"},
    number("--audit-log-max-bytes", "JOBD_AUDIT_LOG_MAX_BYTES",
           "rotate the audit log beyond this size", &config::audit_log_max_bytes,
           4096),
    number("--audit-log-keep", "JOBD_AUDIT_LOG_KEEP",
           "rotated audit logs kept (FILE.1 is the newest)",
           &config::audit_log_keep, 1, 100),
    {"--log-level", "LOG_LEVEL", "stderr logging",
     [](config& c, const std::string& text) {
       log::level lvl;
       if (!log::parse_level(text, lvl))
         return false;
       c.log_level = text;
       return true;
     },
     [](const config& c) { return c.log_level; },
     "one of debug, info, warning, error, off"},
  };
  return all;
}

/// The placeholder of a setting's value in --help.
const char* value_name(const setting& s) {
  const std::string flag = s.flag;
  if (flag == "--log-level")
    return " LEVEL";
  if (flag == "--env-policy")
    return " POLICY";
  if (flag == "--audit-log")
    return " FILE";
  if (flag == "--env-allow")
    return " NAME";
  if (flag.find("-command") != std::string::npos)
    return " PATTERN";
  if (flag.find("-dir") != std::string::npos || flag == "--allow-read")
    return " DIR";
  return " N";
}

std::string invalid(const setting& s, const char* source,
                    const std::string& value) {
  return std::string{"invalid value for "} + source + ": '" + value + "' ("
         + s.help + "; " + s.range + "; default " + s.show(config{}) + ")";
}

// Rules between settings, once all are read.
bool consistent(const config& c, std::string& message) {
  if (c.output_total_bytes < c.output_buffer_bytes) {
    message = "--output-total-bytes (OUTPUT_TOTAL_BYTES) "
              + std::to_string(c.output_total_bytes)
              + " is smaller than --output-buffer-bytes (OUTPUT_BUFFER_BYTES) "
              + std::to_string(c.output_buffer_bytes)
              + ": the global output budget must hold at least one job's "
                "output";
    return false;
  }
  if (!c.env_allow.empty() && c.env_policy != "allowlist") {
    message = "--env-allow (JOBD_ENV_ALLOW) needs --env-policy allowlist "
              "(the policy is "
              + c.env_policy + ")";
    return false;
  }
  const std::pair<const char*, int64_t resource_limits::*> limits[] = {
    {"cpu-seconds", &resource_limits::cpu_seconds},
    {"memory-bytes", &resource_limits::memory_bytes},
    {"max-processes", &resource_limits::max_processes},
    {"open-files", &resource_limits::open_files},
    {"file-size-bytes", &resource_limits::file_size_bytes},
  };
  for (auto& [name, field] : limits) {
    const auto dflt = c.limit_defaults.*field;
    const auto max = c.limit_maxima.*field;
    if (max > 0 && dflt > max) {
      message = std::string{"--limit-"} + name + " " + std::to_string(dflt)
                + " is over --limit-" + name + "-max " + std::to_string(max);
      return false;
    }
  }
  return true;
}

} // namespace

parse_outcome parse_config(const std::vector<std::string>& args, config& out,
                           std::string& message) {
  for (auto& s : settings()) {
    if (auto value = std::getenv(s.env); value != nullptr && *value != '\0') {
      if (!set_from_env(s, out, value)) {
        message = invalid(s, s.env, value);
        return parse_outcome::error;
      }
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    auto& arg = args[i];
    if (arg == "--help" || arg == "-h")
      return parse_outcome::help;
    if (arg == "--version" || arg == "-V")
      return parse_outcome::version;
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    const setting* match = nullptr;
    for (auto& s : settings())
      if (name == s.flag)
        match = &s;
    if (match == nullptr) {
      message = "unknown option: " + arg + " (see --help)";
      return parse_outcome::error;
    }
    std::string value;
    if (match->boolean) {
      if (eq != std::string::npos) {
        message = name + " takes no value";
        return parse_outcome::error;
      }
      value = "1";
    } else if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      message = "missing value for " + name;
      return parse_outcome::error;
    }
    if (!match->set(out, value)) {
      message = invalid(*match, match->flag, value);
      return parse_outcome::error;
    }
  }
  if (out.state_dir.empty() && !out.ephemeral) {
    auto xdg = std::getenv("XDG_STATE_HOME");
    auto home = std::getenv("HOME");
    if (xdg != nullptr && *xdg == '/')
      out.state_dir = std::string{xdg} + "/jobd";
    else if (home != nullptr && *home == '/')
      out.state_dir = std::string{home} + "/.local/state/jobd";
    else {
      message = "no state directory: set --state-dir (JOBD_STATE_DIR), "
                "XDG_STATE_HOME or HOME, or run with --ephemeral";
      return parse_outcome::error;
    }
  }
  return consistent(out, message) ? parse_outcome::run : parse_outcome::error;
}

std::string usage() {
  std::ostringstream out;
  out << "jobd - background jobs for MCP clients, served over stdio\n\n"
         "Usage: jobd [options]\n\n"
         "Speaks MCP (JSON-RPC 2.0, one message per line) on stdin/stdout;\n"
         "logs go to stderr. Every option is also an environment variable;\n"
         "options win.\n\n";
  for (auto& s : settings()) {
    auto value = s.boolean ? "" : value_name(s);
    out << "  " << s.flag << value << "\n      " << s.help << " [env " << s.env
        << ", default " << s.show(config{}) << ", " << s.range << "]\n";
  }
  out << "  --help       show this text\n"
         "  --version    print the version\n";
  return out.str();
}

std::vector<std::string> setting_variables() {
  std::vector<std::string> names;
  for (auto& s : settings())
    names.emplace_back(s.env);
  return names;
}

protocol::server_options server_options_of(const config& cfg) {
  protocol::server_options o;
  o.default_timeout_ms = cfg.job_timeout_ms;
  o.default_kill_grace_ms = cfg.kill_grace_ms;
  o.output_byte_cap = cfg.output_buffer_bytes;
  o.max_wait_ms = cfg.max_wait_ms;
  o.max_stdin_bytes = cfg.max_stdin_bytes;
  o.limit_maxima = cfg.limit_maxima;
  o.sandbox_forced = cfg.sandbox_fs;
  return o;
}

} // namespace jobd

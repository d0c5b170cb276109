// The settings of docs/security.md: allowed directories, the sandbox,
// environments, command rules, limits, quotas and the audit log.
#include "app/config_settings.hpp"

namespace jobd::settings_detail {

namespace {

// Limits: RLIMIT values and cgroup files take any 63-bit number, but beyond
// these no limit means anything (a year of CPU, 1 EiB, 2^31 processes).
constexpr int64_t max_cpu_seconds = 366 * 86400;
constexpr int64_t max_limit_bytes = int64_t{1} << 60;
constexpr int64_t max_limit_count = int64_t{1} << 31;

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

} // namespace

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

std::vector<setting> security_settings() {
  return {
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
           "rotate the audit log beyond this size",
           &config::audit_log_max_bytes, 4096),
    number("--audit-log-keep", "JOBD_AUDIT_LOG_KEEP",
           "rotated audit logs kept (FILE.1 is the newest)",
           &config::audit_log_keep, 1, 100),
  };
}

} // namespace jobd::settings_detail

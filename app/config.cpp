#include "app/config.hpp"

#include "app/config_settings.hpp"

#include "actors/logger.hpp"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <sstream>

namespace jobd {

namespace settings_detail {

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

} // namespace settings_detail

namespace {

using namespace settings_detail;

/// The core settings, then `more`.
std::vector<setting> with(std::vector<setting> more,
                          std::vector<setting> core) {
  core.insert(core.end(), std::make_move_iterator(more.begin()),
              std::make_move_iterator(more.end()));
  return core;
}

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

// Beyond 1 GiB a line is no sane MCP message (and RapidJSON's sizes are 32
// bits).
constexpr int64_t max_line_limit = int64_t{1} << 30;
constexpr int64_t max_concurrency = 100000;
constexpr int64_t min_output_total = int64_t{1} << 20;
// A job's stdin queue is memory of jobd's: at most 1 GiB.
constexpr int64_t max_stdin_limit = int64_t{1} << 30;

const std::vector<setting>& settings() {
  static const std::vector<setting> all = with(
    with(slurm_settings_table(), with(http_settings(), security_settings())),
    {
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
             "default job timeout in ms (0 = none)", &config::job_timeout_ms,
             0),
      number("--retention-ms", "JOB_RETENTION_MS",
             "finished jobs older than this are swept (ms)",
             &config::retention_ms, 1),
      number("--cleanup-interval-ms", "JOB_CLEANUP_INTERVAL",
             "time between automatic sweeps (ms)", &config::cleanup_interval_ms,
             10),
      number("--output-buffer-size", "OUTPUT_BUFFER_SIZE",
             "output chunks kept per job", &config::output_buffer_size, 1),
      number(
        "--output-buffer-bytes", "OUTPUT_BUFFER_BYTES",
        "output bytes kept per job (a job may lower its cap, not raise it)",
        &config::output_buffer_bytes, 1024),
      number("--output-total-bytes", "OUTPUT_TOTAL_BYTES",
             "output bytes kept over all jobs; beyond it the oldest output of "
             "finished jobs is dropped (at least --output-buffer-bytes)",
             &config::output_total_bytes, min_output_total),
      number("--kill-grace-ms", "KILL_GRACE_MS",
             "SIGTERM-to-SIGKILL grace on cancel and timeout (ms)",
             &config::kill_grace_ms, 0),
      number("--max-wait-ms", "MAX_WAIT_MS",
             "longest console_wait_job wait (ms)", &config::max_wait_ms, 0),
      number("--max-stdin-bytes", "MAX_STDIN_BYTES",
             "bytes a job's stdin queue holds at most (console_send_input "
             "answers STDIN_FULL beyond)",
             &config::max_stdin_bytes, 1, max_stdin_limit),
      number("--max-line-bytes", "MAX_LINE_BYTES",
             "longest accepted JSON-RPC message (bytes)",
             &config::max_line_bytes, 1024, max_line_limit),
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
    });
  return all;
}

/// The placeholder of a setting's value in --help.
const char* value_name(const setting& s) {
  const std::string flag = s.flag;
  if (flag == "--log-level")
    return " LEVEL";
  if (flag == "--env-policy")
    return " POLICY";
  if (flag == "--audit-log" || flag == "--auth-token-file")
    return " FILE";
  if (flag == "--http" || flag == "--metrics-listen")
    return " HOST:PORT";
  if (flag == "--admin")
    return " PRINCIPAL";
  if (flag == "--http-allow-origin")
    return " ORIGIN";
  if (flag == "--http-allow-host")
    return " HOST";
  if (flag == "--env-allow")
    return " NAME";
  if (flag == "--slurm-spool")
    return " DIR";
  if (flag == "--slurm-command-timeout-ms")
    return " N";
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
  return http_consistent(c, message);
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

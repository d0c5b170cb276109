#include "app/config.hpp"

#include "actors/logger.hpp"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>
#include <sstream>

namespace jobd {

namespace {

/// One setting: its flag, environment variable, meaning and parser.
struct setting {
  const char* flag;
  const char* env;
  const char* help;
  std::function<bool(config&, const std::string&)> set;
  std::function<std::string(const config&)> show;
};

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
               T config::*field, int64_t min,
               int64_t max = std::numeric_limits<int64_t>::max()) {
  return {flag, env, help,
          [=](config& c, const std::string& text) {
            int64_t x = 0;
            if (!parse_int(text, min, max, x))
              return false;
            c.*field = static_cast<T>(x);
            return true;
          },
          [=](const config& c) { return std::to_string(c.*field); }};
}

const std::vector<setting>& settings() {
  static const std::vector<setting> all = {
    number("--max-concurrent-jobs", "MAX_CONCURRENT_JOBS",
           "jobs running at once, over all sessions",
           &config::max_concurrent_jobs, 1, 100000),
    number("--max-concurrent-jobs-per-session",
           "MAX_CONCURRENT_JOBS_PER_SESSION",
           "jobs running at once per session",
           &config::max_concurrent_jobs_per_session, 1, 100000),
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
           "output bytes kept per job", &config::output_buffer_bytes, 1024),
    number("--kill-grace-ms", "KILL_GRACE_MS",
           "SIGTERM-to-SIGKILL grace on cancel and timeout (ms)",
           &config::kill_grace_ms, 0),
    number("--max-wait-ms", "MAX_WAIT_MS", "longest console_wait_job wait (ms)",
           &config::max_wait_ms, 0),
    number("--max-line-bytes", "MAX_LINE_BYTES",
           "longest accepted JSON-RPC message (bytes)", &config::max_line_bytes,
           1024),
    {"--log-level", "LOG_LEVEL",
     "stderr logging: debug, info, warning, error or off",
     [](config& c, const std::string& text) {
       log::level lvl;
       if (!log::parse_level(text, lvl))
         return false;
       c.log_level = text;
       return true;
     },
     [](const config& c) { return c.log_level; }},
  };
  return all;
}

std::string invalid(const setting& s, const char* source,
                    const std::string& value) {
  return std::string{"invalid value for "} + source + ": '" + value + "' ("
         + s.help + "; default " + s.show(config{}) + ")";
}

} // namespace

parse_outcome parse_config(const std::vector<std::string>& args, config& out,
                           std::string& message) {
  for (auto& s : settings()) {
    if (auto value = std::getenv(s.env); value != nullptr && *value != '\0') {
      if (!s.set(out, value)) {
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
    if (eq != std::string::npos) {
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
  return parse_outcome::run;
}

std::string usage() {
  std::ostringstream out;
  out << "jobd - background jobs for MCP clients, served over stdio\n\n"
         "Usage: jobd [options]\n\n"
         "Speaks MCP (JSON-RPC 2.0, one message per line) on stdin/stdout;\n"
         "logs go to stderr. Every option is also an environment variable;\n"
         "options win.\n\n";
  for (auto& s : settings()) {
    auto value = std::string{s.flag} == "--log-level" ? " LEVEL" : " N";
    out << "  " << s.flag << value << "\n      " << s.help << " [env " << s.env
        << ", default " << s.show(config{}) << "]\n";
  }
  out << "  --help       show this text\n"
         "  --version    print the version\n";
  return out.str();
}

} // namespace jobd

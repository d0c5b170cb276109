// jobd's settings: defaults from the seed, overridden by environment
// variables, overridden by command-line flags.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace jobd {

struct config {
  uint64_t max_concurrent_jobs = 10;
  uint64_t max_concurrent_jobs_per_session = 5;
  int64_t job_timeout_ms = 300000;
  int64_t retention_ms = 86400000;
  int64_t cleanup_interval_ms = 3600000;
  uint64_t output_buffer_size = 10000;
  uint64_t output_buffer_bytes = 8 * 1024 * 1024;
  int64_t kill_grace_ms = 5000;
  int64_t max_wait_ms = 60000;
  uint64_t max_line_bytes = 16 * 1024 * 1024;
  std::string log_level = "info";
};

enum class parse_outcome { run, help, version, error };

/// Reads the environment, then `args` (argv without argv[0]). On error,
/// `message` names the setting and the value.
parse_outcome parse_config(const std::vector<std::string>& args, config& out,
                           std::string& message);

/// The --help text: every setting with its flag, variable and default.
std::string usage();

} // namespace jobd

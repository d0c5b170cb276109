#include "actors/logger.hpp"

#include "protocol/iso8601.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace jobd::log {

namespace {

std::atomic<int> current{static_cast<int>(level::info)};

constexpr const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

} // namespace

bool parse_level(std::string_view text, level& out) {
  std::string lower;
  for (auto c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "debug" || lower == "trace")
    out = level::debug;
  else if (lower == "info")
    out = level::info;
  else if (lower == "warning" || lower == "warn")
    out = level::warning;
  else if (lower == "error")
    out = level::error;
  else if (lower == "off" || lower == "none" || lower == "quiet")
    out = level::off;
  else
    return false;
  return true;
}

void set_level(level x) {
  current = static_cast<int>(x);
}

bool enabled(level x) {
  return static_cast<int>(x) >= current.load(std::memory_order_relaxed)
         && x != level::off;
}

void write(level x, std::string_view message) {
  char stamp[protocol::iso8601_buffer_size];
  auto len = protocol::format_iso8601(now_ms(), stamp);
  char prefix[protocol::iso8601_buffer_size + 32];
  auto n = std::snprintf(prefix, sizeof prefix,
                         "%.*s %-5s jobd: ", static_cast<int>(len), stamp,
                         names[static_cast<int>(x)]);
  std::string line(prefix, static_cast<size_t>(n));
  line.append(message);
  line += '\n';
  // One write() per line keeps lines from different threads whole.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void) rc;
}

} // namespace jobd::log

#include "actors/logger.hpp"

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
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char prefix[64];
  auto n = std::snprintf(
    prefix, sizeof prefix,
    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s jobd: ", tm.tm_year + 1900,
    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
    static_cast<int>(ms), names[static_cast<int>(x)]);
  std::string line(prefix, static_cast<size_t>(n));
  line.append(message);
  line += '\n';
  // One write() per line keeps lines from different threads whole.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void) rc;
}

} // namespace jobd::log

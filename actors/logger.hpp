// Diagnostics on stderr, one line per event. stdout is the MCP channel and
// never sees these. Safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

namespace jobd::log {

enum class level : int { debug = 0, info = 1, warning = 2, error = 3, off = 4 };

/// Parses debug|info|warning|warn|error|off (any case).
bool parse_level(std::string_view text, level& out);

void set_level(level x);
bool enabled(level x);

/// Writes `<ISO time> <LEVEL> <message>` to stderr with one write().
void write(level x, std::string_view message);

inline void debug(std::string_view msg) {
  if (enabled(level::debug))
    write(level::debug, msg);
}
inline void info(std::string_view msg) {
  if (enabled(level::info))
    write(level::info, msg);
}
inline void warning(std::string_view msg) {
  if (enabled(level::warning))
    write(level::warning, msg);
}
inline void error(std::string_view msg) {
  if (enabled(level::error))
    write(level::error, msg);
}

} // namespace jobd::log

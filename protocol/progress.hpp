// Reading a job's progress from its output: the newest percentage, `N/M`
// count or bar on the last line (after the last `\r`, so a redrawn bar counts
// as its newest state), or a client's RE2 pattern with named groups. No CAF;
// the JOB core calls this on the last line it saw, at most every 100 ms.
#pragma once

#include "protocol/model.hpp"
#include "protocol/pattern.hpp"

#include <string>
#include <string_view>

namespace jobd {

/// The part of `text` a progress reading looks at: its last non-empty line,
/// and of that the part after the last `\r`, without ANSI escapes and
/// trailing blanks, at most `max_line` bytes (the end of a longer line).
std::string last_progress_line(std::string_view text);

/// The most bytes of a line progress parsing looks at.
inline constexpr size_t max_progress_line = 512;

/// The heuristic: the last percentage (`45%`, `45.5 %`, 0-100), else the
/// last `N/M` count with 0 <= N <= M, M > 0 (`12/40`, `[3/10]`, `Step 3 of
/// 10`), on `line`. Sets `out` (percent, current, total, text; not `at`)
/// and answers true if anything was found. Linear in the line; never
/// reads a date (`2026/12/01`), a time or a path as progress.
bool parse_progress(std::string_view line, job_progress& out);

/// options.progressPattern: an RE2 pattern whose named groups `percent`,
/// `current` and `total` (any of them, at least one) say where the numbers
/// are.
class progress_pattern {
public:
  progress_pattern() = default;

  /// Compiles `text`; false with a short reason in `error` if it is not a
  /// valid pattern, has no named group of those three, or names another.
  static bool compile(std::string_view text, progress_pattern& out,
                      std::string& error);

  /// Reads `line` as parse_progress does, but through the pattern (the
  /// last match on the line wins); false if it does not match or a group
  /// holds no number. With only current/total, percent is derived.
  bool read(std::string_view line, job_progress& out) const;

  bool empty() const {
    return re_ == nullptr;
  }

private:
  std::shared_ptr<const re2::RE2> re_;
};

} // namespace jobd

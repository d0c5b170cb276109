// Milliseconds from clients and flags into timer delays, in one place. The
// schemas accept up to 2^53-1 ms (285,000 years); a steady-clock time point
// in nanoseconds overflows after 292 years, so every delay saturates here
// and "later than a century" stays later than a century instead of wrapping
// into the past.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace jobd {

/// The longest delay any timer is armed with (a century, in ms).
inline constexpr int64_t max_delay_ms = 100LL * 366 * 24 * 3600 * 1000;

/// `ms` as a timer delay: negative becomes 0, huge becomes max_delay_ms.
inline std::chrono::milliseconds delay_ms(int64_t ms) {
  return std::chrono::milliseconds{std::clamp<int64_t>(ms, 0, max_delay_ms)};
}

/// `from + ms`, saturating like delay_ms.
template <class TimePoint>
TimePoint deadline_after(TimePoint from, int64_t ms) {
  return from
         + std::chrono::duration_cast<typename TimePoint::duration>(
           delay_ms(ms));
}

/// Milliseconds on the steady clock since an arbitrary start: ages and
/// durations that wall-clock jumps cannot change.
inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace jobd

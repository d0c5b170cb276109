// The cron engine of console_create_schedule: five-field expressions (and
// @shorthands) read in an IANA time zone, and their firing times. Pure: no
// CAF, no JSON, no clock (every call takes the instant it starts from).
//
// Syntax (Vixie cron): minute hour day-of-month month day-of-week, each a
// comma list of `*`, `N`, `A-B`, `*/S` or `A-B/S`; months JAN-DEC and days
// SUN-SAT (any case) anywhere a number may stand in those fields; 0 and 7
// are both Sunday. @yearly @annually @monthly @weekly @daily @midnight
// @hourly stand for their five fields; @reboot is refused (a schedule needs
// a time). When both day fields are restricted (neither begins with `*`), a
// day matches if either matches; otherwise both must (so `*/2` in
// day-of-month with a day-of-week ANDs, as in Vixie cron).
//
// Daylight saving, as ISC/Vixie cron handles clock changes. A job is
// "wildcard" when its minute or hour field begins with `*` (Vixie's
// MIN_STAR/HR_STAR; @hourly is one, and so is `* 1 * * *`, which runs every
// minute of both 01:00 hours of a fall-back night), "fixed" otherwise.
// - Spring forward (a gap of local times that do not exist): a fixed job
//   whose time falls in the gap fires once, at the first instant after the
//   gap (several such times fire once together, and once with a firing
//   right at that instant). A wildcard job skips the times in the gap and
//   fires at its next existing time: `*/30 * * * *` keeps firing every 30
//   minutes of real time (01:30 EST, then 03:00 EDT).
// - Fall back (an hour, or 30 minutes on Lord Howe, repeats): a fixed job
//   fires once, in the first occurrence; a wildcard job fires in both
//   occurrences (`*/30 * * * *` fires at 01:00, 01:30 EDT and again 01:00,
//   01:30 EST: every 30 minutes of real time).
//
// Zones come from the system's tzdb (/usr/share/zoneinfo through date/tz,
// which Debian builds with USE_OS_TZDB). Its TZif files list transitions
// until 2037; later instants follow the rule in each file's POSIX TZ footer
// (date/ptz.h), so New York still has DST in 2100. "UTC" needs no tzdb.
//
// protocol/cron.cpp parses; protocol/cron_firings.cpp has the zones and
// the firing search.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobd::protocol {

/// Longest expression text accepted (a hostile text is refused before any
/// parsing work).
inline constexpr size_t max_cron_length = 256;
/// Longest zone name accepted (the longest IANA name has 32 characters).
inline constexpr size_t max_zone_name_length = 64;

/// A parsed expression: the values each field allows.
struct cron_expr {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  /// Bits 1-31.
  std::bitset<32> days_of_month;
  /// Bits 1-12.
  std::bitset<13> months;
  /// Bits 0-6, 0 = Sunday.
  std::bitset<7> days_of_week;
  /// The field begins with `*` (Vixie's DOM_STAR / DOW_STAR): the day
  /// fields OR only when neither does.
  bool dom_star = false;
  bool dow_star = false;
  /// The minute or the hour field begins with `*` (see the DST rules).
  bool wildcard = false;
};

/// A time zone: UTC or an IANA zone of the system's database. Cheap to
/// copy (shares the zone); safe to use from several threads.
class cron_zone {
public:
  struct impl;
  /// UTC.
  cron_zone();
  /// The name it was found by ("UTC" for the default).
  const std::string& name() const;
  const impl& get() const {
    return *impl_;
  }

private:
  friend bool find_zone(std::string_view, cron_zone&, std::string&);
  std::shared_ptr<const impl> impl_;
};

/// Parses `text`; on failure `error` says what is wrong, beginning with
/// "cron: " (e.g. "cron: minute 61 out of range 0-59"). Refuses
/// expressions that never fire ("cron: ... never fires"): no local date
/// matches in 400 years of the Gregorian calendar, which repeats itself
/// exactly every 400 years (146097 days, a whole number of weeks), so no
/// date ever matches. (8 years would cover leap days, but not a date on a
/// given weekday, `0 0 */16 2 1`, which can be 12 years apart.) Whether a
/// matching date fires does not depend on the zone: every matching local
/// time fires, or its job fires near it (see the DST rules).
bool parse_cron(std::string_view text, cron_expr& out, std::string& error);

/// Finds a zone by IANA name; on failure `error` names it, beginning with
/// "timezone: ".
bool find_zone(std::string_view name, cron_zone& out, std::string& error);

/// Earliest instants a schedule can have (year 1) and the latest it
/// fires at (the end of year 9999): instants outside are not searched.
inline constexpr int64_t cron_min_ms = -62135596800000;
inline constexpr int64_t cron_max_ms = 253402300799999;

/// The first firing strictly after `after_ms` (ms since the epoch), within
/// 400 years after it and before year 10000; none otherwise.
std::optional<int64_t> next_after(const cron_expr& expr, const cron_zone& zone,
                                  int64_t after_ms);

/// The next `n` firings after `after_ms`, in order (fewer if next_after
/// finds no more).
std::vector<int64_t> next_n(const cron_expr& expr, const cron_zone& zone,
                            int64_t after_ms, size_t n);

/// The firings in (after_ms, until_ms]: how many (at most `cap`) and the
/// latest. Past the cap the rest are not counted (`capped`), and the latest
/// is found by looking back from `until_ms` over windows that double from
/// a minute, so the cost stays bounded by `cap` whatever the gap.
struct cron_count {
  uint64_t count = 0;
  /// Meaningful when count > 0.
  int64_t latest = 0;
  bool capped = false;
};
cron_count count_firings(const cron_expr& expr, const cron_zone& zone,
                         int64_t after_ms, int64_t until_ms, uint64_t cap);

} // namespace jobd::protocol

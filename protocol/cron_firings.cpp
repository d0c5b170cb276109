// Time zones and firing times of cron expressions (see protocol/cron.hpp).
#include "protocol/cron.hpp"
#include "protocol/cron_detail.hpp"

#include <date/date.h>
#include <date/ptz.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>

namespace jobd::protocol {

using detail::day_matches;

// -- zones
// ---------------------------------------------------------------------

struct cron_zone::impl {
  std::string name;
  /// Null: UTC.
  const date::time_zone* tz = nullptr;
  /// The POSIX rule of the zone's TZif footer, for instants from
  /// `rule_from` on (the start of the tzdb's last, open-ended period).
  std::optional<Posix::time_zone> rule;
  int64_t rule_from = 0;
};

namespace {

using seconds = std::chrono::seconds;
using sys_seconds = date::sys_seconds;

// Bounds of the seconds this file computes with: far inside date's years
// (-32767..32767), far outside the instants searched.
constexpr int64_t min_sec = -1000000000000;
constexpr int64_t max_sec = 1000000000000;

const cron_zone::impl& utc_impl() {
  static const cron_zone::impl utc{"UTC", nullptr, std::nullopt, 0};
  return utc;
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > max_zone_name_length || name[0] == '/'
      || name.find("..") != std::string_view::npos)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_'
           || c == '-' || c == '+';
  });
}

// The footer of a TZif v2+ file: the POSIX TZ string on its last line.
std::string tzif_footer(const std::string& name) {
  std::string path = "/usr/share/zoneinfo/" + name;
  auto f = std::fopen(path.c_str(), "rb");
  if (!f)
    return {};
  std::string tail(128, '\0');
  std::string out;
  if (std::fseek(f, -static_cast<long>(tail.size()), SEEK_END) != 0)
    std::fseek(f, 0, SEEK_SET);
  auto n = std::fread(tail.data(), 1, tail.size(), f);
  std::fclose(f);
  tail.resize(n);
  if (tail.size() >= 2 && tail.back() == '\n') {
    auto start = tail.rfind('\n', tail.size() - 2);
    if (start != std::string::npos)
      out = tail.substr(start + 1, tail.size() - start - 2);
  }
  return out;
}

// One period of constant offset, in seconds since the epoch: [begin, end).
struct period {
  int64_t begin = min_sec;
  int64_t end = max_sec;
  int64_t offset = 0;
};

int64_t clamp_sec(int64_t s) {
  return std::clamp(s, min_sec, max_sec);
}

period to_period(const date::sys_info& info) {
  return {clamp_sec(info.begin.time_since_epoch().count()),
          clamp_sec(info.end.time_since_epoch().count()), info.offset.count()};
}

// The period that holds instant `s`.
period period_at(const cron_zone::impl& z, int64_t s) {
  if (!z.tz)
    return {};
  if (z.rule && s >= z.rule_from) {
    auto p = to_period(z.rule->get_info(sys_seconds{seconds{s}}));
    p.begin = std::max(p.begin, z.rule_from);
    return p;
  }
  return to_period(z.tz->get_info(sys_seconds{seconds{s}}));
}

} // namespace

cron_zone::cron_zone() : impl_(std::shared_ptr<const impl>{}, &utc_impl()) {
  // Aliasing constructor: every default zone shares the static UTC.
}

const std::string& cron_zone::name() const {
  return impl_->name;
}

bool find_zone(std::string_view name, cron_zone& out, std::string& error) {
  if (name == "UTC") {
    out = cron_zone{};
    return true;
  }
  std::string shown{name.substr(0, max_zone_name_length)};
  if (!valid_zone_name(name)) {
    error = name.size() > max_zone_name_length
              ? "timezone: name longer than "
                  + std::to_string(max_zone_name_length) + " characters"
              : "timezone: '" + shown + "' is not an IANA zone name";
    return false;
  }
  auto z = std::make_shared<cron_zone::impl>();
  z->name = std::string{name};
  try {
    z->tz = date::locate_zone(name);
  } catch (const std::exception&) {
    error = "timezone: unknown zone '" + shown + "'";
    return false;
  }
  // Past the tzdb's last transition (2037 in Debian's files), the footer's
  // rule, when it has DST (no comma: a fixed offset, already right).
  auto last = z->tz->get_info(date::sys_days{date::year{9000} / 1 / 1});
  auto footer = tzif_footer(z->tz->name());
  if (footer.find(',') != std::string::npos) {
    try {
      z->rule.emplace(footer);
      z->rule_from = last.begin.time_since_epoch().count();
    } catch (const std::exception&) {
      z->rule.reset(); // keep the tzdb's last offset
    }
  }
  out.impl_ = std::move(z);
  return true;
}

// -- firings
// -------------------------------------------------------------------

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

// The first local time (seconds, on a whole minute) at or after `from` and
// before `limit` whose date and time match.
std::optional<int64_t> next_local_match(const cron_expr& e, int64_t from,
                                        int64_t limit) {
  auto first_min = floor_div(from + 59, 60);
  auto day = floor_div(first_min, 1440);
  auto minute_of_day = first_min - day * 1440;
  while (day * 86400 < limit) {
    date::sys_days d{date::days{day}};
    date::year_month_day ymd{d};
    if (!e.months[static_cast<unsigned>(ymd.month())]) {
      date::sys_days next{(ymd.year() / ymd.month() + date::months{1}) / 1};
      day = next.time_since_epoch().count();
      minute_of_day = 0;
      continue;
    }
    if (day_matches(e, ymd, date::weekday{d})) {
      for (auto h = minute_of_day / 60; h < 24; ++h) {
        if (!e.hours[static_cast<size_t>(h)])
          continue;
        auto m0 = h == minute_of_day / 60 ? minute_of_day % 60 : 0;
        for (auto m = m0; m < 60; ++m) {
          if (e.minutes[static_cast<size_t>(m)]) {
            auto t = day * 86400 + h * 3600 + m * 60;
            if (t >= limit)
              return std::nullopt;
            return t;
          }
        }
      }
    }
    ++day;
    minute_of_day = 0;
  }
  return std::nullopt;
}

// 400 Gregorian years and two days, in seconds (see parse_cron).
constexpr int64_t horizon_sec = (146097 + 2) * int64_t{86400};

} // namespace

std::optional<int64_t> next_after(const cron_expr& expr, const cron_zone& zone,
                                  int64_t after_ms) {
  if (after_ms >= cron_max_ms)
    return std::nullopt;
  after_ms = std::max(after_ms, cron_min_ms);
  auto& z = zone.get();
  // Firing instants are whole seconds (whole local minutes minus an offset,
  // or a transition): the first candidate is the next second.
  auto s = floor_div(after_ms, 1000) + 1;
  auto end = std::min(s + horizon_sec, cron_max_ms / 1000 + 1);
  while (s < end) {
    auto p = period_at(z, s);
    std::optional<period> prev;
    if (p.begin > min_sec)
      prev = period_at(z, p.begin - 1);
    // A gap just before this period: fixed jobs whose times fall in it fire
    // once, when it ends (at this period's begin).
    if (prev && s == p.begin && !expr.wildcard && prev->offset < p.offset
        && next_local_match(expr, p.begin + prev->offset, p.begin + p.offset))
      return p.begin * 1000;
    auto local_from = s + p.offset;
    // A repeat at its start: fixed jobs fired in the first occurrence.
    if (prev && !expr.wildcard && prev->offset > p.offset)
      local_from = std::max(local_from, p.begin + prev->offset);
    auto local_end = std::min(p.end, end) + p.offset;
    if (auto m = next_local_match(expr, local_from, local_end))
      return (*m - p.offset) * 1000;
    s = p.end;
  }
  return std::nullopt;
}

std::vector<int64_t> next_n(const cron_expr& expr, const cron_zone& zone,
                            int64_t after_ms, size_t n) {
  std::vector<int64_t> out;
  while (out.size() < n) {
    auto t = next_after(expr, zone, after_ms);
    if (!t)
      break;
    out.push_back(*t);
    after_ms = *t;
  }
  return out;
}

cron_count count_firings(const cron_expr& expr, const cron_zone& zone,
                         int64_t after_ms, int64_t until_ms, uint64_t cap) {
  cron_count r;
  auto cursor = after_ms;
  while (true) {
    auto t = next_after(expr, zone, cursor);
    if (!t || *t > until_ms)
      return r;
    if (r.count == cap) {
      r.capped = true;
      break;
    }
    ++r.count;
    r.latest = *t;
    cursor = *t;
  }
  // More than `cap`: the latest is near `until_ms` for an expression that
  // fires this often; look back over doubling windows.
  for (int64_t window = 60000;; window *= 2) {
    auto from = std::max(cursor, until_ms - window);
    std::optional<int64_t> last;
    for (auto t = next_after(expr, zone, from); t && *t <= until_ms;
         t = next_after(expr, zone, *t))
      last = t;
    if (last) {
      r.latest = *last;
      return r;
    }
    if (from == cursor || window > (int64_t{1} << 50))
      return r;
  }
}

} // namespace jobd::protocol

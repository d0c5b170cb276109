#include "protocol/cron.hpp"

#include <date/date.h>
#include <date/ptz.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>

namespace jobd::protocol {

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

// -- parsing
// -------------------------------------------------------------------

namespace {

struct field_def {
  const char* name;
  int min;
  int max;
  /// The highest value `*` covers (day-of-week: 6; 7 is Sunday again).
  int star_max;
  const char* const* names;
  int names_base;
};

constexpr const char* month_names[]
  = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
     "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
constexpr const char* day_names[]
  = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

constexpr field_def fields[] = {
  {"minute", 0, 59, 59, nullptr, 0},       {"hour", 0, 23, 23, nullptr, 0},
  {"day-of-month", 1, 31, 31, nullptr, 0}, {"month", 1, 12, 12, month_names, 1},
  {"day-of-week", 0, 7, 6, day_names, 0},
};

// Shows at most 20 characters of a client's token in a message.
std::string shown(std::string_view token) {
  return token.size() > 20 ? std::string{token.substr(0, 20)} + "..."
                           : std::string{token};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// A number or a name of the field, checked against its range.
bool parse_value(std::string_view token, const field_def& f, int& out,
                 std::string& error) {
  std::string prefix = std::string{"cron: "} + f.name;
  if (token.empty()) {
    error = prefix + " is missing a value";
    return false;
  }
  if (all_digits(token)) {
    // More than 3 digits is out of range whatever the value: no overflow.
    auto digits = token.find_first_not_of('0');
    auto significant
      = digits == std::string_view::npos ? 0 : token.size() - digits;
    int v = 0;
    for (auto c : token.substr(token.size() - std::min<size_t>(significant, 4)))
      v = v * 10 + (c - '0');
    if (significant > 3 || v < f.min || v > f.max) {
      error = prefix + " " + shown(token) + " out of range "
              + std::to_string(f.min) + "-" + std::to_string(f.max);
      return false;
    }
    out = v;
    return true;
  }
  if (f.names && token.size() == 3) {
    for (int i = 0; f.names[i]; ++i) {
      bool same = true;
      for (size_t k = 0; k < 3; ++k)
        same = same
               && std::toupper(static_cast<unsigned char>(token[k]))
                    == f.names[i][k];
      if (same) {
        out = f.names_base + i;
        return true;
      }
    }
  }
  error = prefix + " value '" + shown(token) + "' is not a number"
          + (f.names ? " or a name" : "");
  return false;
}

// One list item: `*`, `N`, `A-B`, each but `N` with an optional `/S`.
template <size_t Bits>
bool parse_item(std::string_view item, const field_def& f,
                std::bitset<Bits>& out, std::string& error) {
  std::string prefix = std::string{"cron: "} + f.name;
  auto slash = item.find('/');
  auto base = item.substr(0, slash);
  int low = 0;
  int high = 0;
  int step = 1;
  bool single = false;
  if (base == "*") {
    low = f.min;
    high = f.star_max;
  } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
    if (!parse_value(base.substr(0, dash), f, low, error)
        || !parse_value(base.substr(dash + 1), f, high, error))
      return false;
    if (low > high) {
      error = prefix + " range " + shown(base) + " goes backwards";
      return false;
    }
  } else {
    if (!parse_value(base, f, low, error))
      return false;
    high = low;
    single = true;
  }
  if (slash != std::string_view::npos) {
    auto text = item.substr(slash + 1);
    int span = f.star_max - f.min + 1;
    if (single) {
      error = prefix + " step needs * or a range before it (" + shown(item)
              + "): write */S or A-B/S";
      return false;
    }
    if (!all_digits(text)) {
      error = prefix + " step '" + shown(text) + "' is not a number";
      return false;
    }
    auto sig = text.find_first_not_of('0');
    size_t len = sig == std::string_view::npos ? 0 : text.size() - sig;
    step = 0;
    for (auto c : text.substr(text.size() - std::min<size_t>(len, 4)))
      step = step * 10 + (c - '0');
    if (len > 3 || step < 1 || step > span) {
      error = prefix + " step " + shown(text) + " out of range 1-"
              + std::to_string(span);
      return false;
    }
  }
  // Day-of-week 7 is Sunday (bit 0); no other field reaches its bit count.
  for (int v = low; v <= high; v += step)
    out.set(static_cast<size_t>(v) % Bits);
  return true;
}

template <size_t Bits>
bool parse_field(std::string_view text, const field_def& f,
                 std::bitset<Bits>& out, std::string& error) {
  size_t start = 0;
  while (true) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string_view::npos
                                     ? std::string_view::npos
                                     : comma - start);
    if (item.empty()) {
      error = std::string{"cron: "} + f.name + " has an empty list item";
      return false;
    }
    if (!parse_item(item, f, out, error))
      return false;
    if (comma == std::string_view::npos)
      return true;
    start = comma + 1;
  }
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

bool day_matches(const cron_expr& e, const date::year_month_day& ymd,
                 date::weekday wd) {
  bool dom = e.days_of_month[static_cast<unsigned>(ymd.day())];
  bool dow = e.days_of_week[wd.c_encoding()];
  return e.dom_star || e.dow_star ? dom && dow : dom || dow;
}

// Any local date matching in the 400-year Gregorian cycle (see the header).
bool fires_at_all(const cron_expr& e) {
  date::sys_days d = date::year{2000} / 1 / 1;
  auto end = d + date::days{146097};
  while (d < end) {
    date::year_month_day ymd{d};
    if (!e.months[static_cast<unsigned>(ymd.month())]) {
      d = date::sys_days{(ymd.year() / ymd.month() + date::months{1}) / 1};
      continue;
    }
    if (day_matches(e, ymd, date::weekday{d}))
      return true;
    d += date::days{1};
  }
  return false;
}

} // namespace

bool parse_cron(std::string_view text, cron_expr& out, std::string& error) {
  if (text.size() > max_cron_length) {
    error = "cron: expression longer than " + std::to_string(max_cron_length)
            + " characters";
    return false;
  }
  for (auto c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 ? c != '\t' : u > 0x7e) {
      error = "cron: unexpected character in the expression";
      return false;
    }
  }
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  std::string expanded;
  if (!text.empty() && text.front() == '@') {
    auto name = lower(text);
    if (name == "@yearly" || name == "@annually")
      expanded = "0 0 1 1 *";
    else if (name == "@monthly")
      expanded = "0 0 1 * *";
    else if (name == "@weekly")
      expanded = "0 0 * * 0";
    else if (name == "@daily" || name == "@midnight")
      expanded = "0 0 * * *";
    else if (name == "@hourly")
      expanded = "0 * * * *";
    else if (name == "@reboot") {
      error = "cron: @reboot is not supported (a schedule needs times)";
      return false;
    } else {
      error = "cron: unknown shorthand '" + shown(text)
              + "' (@yearly, @annually, @monthly, @weekly, @daily, "
                "@midnight, @hourly)";
      return false;
    }
    text = expanded;
  }
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < text.size()) {
    auto j = i;
    while (j < text.size() && !is_space(text[j]))
      ++j;
    parts.push_back(text.substr(i, j - i));
    while (j < text.size() && is_space(text[j]))
      ++j;
    i = j;
  }
  if (parts.size() != 5) {
    error = "cron: expected 5 fields (minute hour day-of-month month "
            "day-of-week), got "
            + std::to_string(parts.size());
    return false;
  }
  cron_expr e;
  if (!parse_field(parts[0], fields[0], e.minutes, error)
      || !parse_field(parts[1], fields[1], e.hours, error)
      || !parse_field(parts[2], fields[2], e.days_of_month, error)
      || !parse_field(parts[3], fields[3], e.months, error)
      || !parse_field(parts[4], fields[4], e.days_of_week, error))
    return false;
  e.dom_star = parts[2].front() == '*';
  e.dow_star = parts[4].front() == '*';
  e.wildcard = parts[0].front() == '*' || parts[1].front() == '*';
  if (!fires_at_all(e)) {
    error = "cron: '" + shown(text) + "' never fires (no date matches)";
    return false;
  }
  out = e;
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

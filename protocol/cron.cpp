// The parser of cron expressions (see protocol/cron.hpp); zones and firing
// times are in cron_firings.cpp.
#include "protocol/cron.hpp"
#include "protocol/cron_detail.hpp"

#include <date/date.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace jobd::protocol {

using detail::day_matches;

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

} // namespace jobd::protocol

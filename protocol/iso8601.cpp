#include "protocol/iso8601.hpp"

#include <cstdio>

namespace jobd::protocol {

namespace {

// Howard Hinnant's civil_from_days: no gmtime_r, no locale, no allocation.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

char* put_digits(char* p, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return p + width;
}

// Howard Hinnant's days_from_civil, the inverse of civil_from_days.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// `n` digits at `pos`, advancing it; false if any is not a digit.
bool digits(std::string_view text, size_t& pos, size_t n, unsigned& out) {
  if (pos + n > text.size())
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c)
    return false;
  ++pos;
  return true;
}

unsigned days_in_month(unsigned y, unsigned m) {
  static constexpr unsigned days[]
    = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

} // namespace

bool parse_iso8601(std::string_view text, timestamp_ms& out) {
  size_t pos = 0;
  unsigned y, mo, d, h, mi, s;
  if (!digits(text, pos, 4, y) || !expect(text, pos, '-')
      || !digits(text, pos, 2, mo) || !expect(text, pos, '-')
      || !digits(text, pos, 2, d) || !expect(text, pos, 'T')
      || !digits(text, pos, 2, h) || !expect(text, pos, ':')
      || !digits(text, pos, 2, mi) || !expect(text, pos, ':')
      || !digits(text, pos, 2, s))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23
      || mi > 59 || s > 59)
    return false;
  unsigned ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t n = 0;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9';
         ++pos, ++n) {
      if (n < 3)
        ms = ms * 10 + static_cast<unsigned>(text[pos] - '0');
    }
    if (n == 0 || n > 9)
      return false;
    for (; n < 3; ++n)
      ms *= 10;
  }
  int64_t offset_min = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    bool minus = text[pos++] == '-';
    unsigned oh, om;
    if (!digits(text, pos, 2, oh) || !expect(text, pos, ':')
        || !digits(text, pos, 2, om) || oh > 23 || om > 59)
      return false;
    offset_min = (minus ? -1 : 1) * static_cast<int64_t>(oh * 60 + om);
  } else {
    return false;
  }
  if (pos != text.size())
    return false;
  int64_t days = days_from_civil(y, mo, d);
  out = ((days * 24 + h) * 60 + mi - offset_min) * 60000
        + static_cast<int64_t>(s) * 1000 + ms;
  return true;
}

size_t format_iso8601(timestamp_ms ts, char* buf) {
  int64_t days = ts / 86400000;
  int64_t rest = ts % 86400000;
  if (rest < 0) {
    rest += 86400000;
    --days;
  }
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  const auto ms = static_cast<unsigned>(rest);
  char* p = buf;
  if (year >= 0 && year <= 9999) {
    p = put_digits(p, static_cast<unsigned>(year), 4);
  } else {
    // Far outside any real job's life, but still a well-formed answer.
    p += std::snprintf(p, 24, "%lld", static_cast<long long>(year));
  }
  *p++ = '-';
  p = put_digits(p, month, 2);
  *p++ = '-';
  p = put_digits(p, day, 2);
  *p++ = 'T';
  p = put_digits(p, ms / 3600000, 2);
  *p++ = ':';
  p = put_digits(p, ms / 60000 % 60, 2);
  *p++ = ':';
  p = put_digits(p, ms / 1000 % 60, 2);
  *p++ = '.';
  p = put_digits(p, ms % 1000, 3);
  *p++ = 'Z';
  *p = '\0';
  return static_cast<size_t>(p - buf);
}

std::string iso8601(timestamp_ms ts) {
  char buf[iso8601_buffer_size];
  return std::string(buf, format_iso8601(ts, buf));
}

} // namespace jobd::protocol

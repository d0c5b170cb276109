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

} // namespace

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

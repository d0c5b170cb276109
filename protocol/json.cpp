#include "protocol/json.hpp"

#include <chrono>
#include <csignal>
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

struct signal_entry {
  int number;
  const char* name;
};

constexpr signal_entry signal_table[] = {
  {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"},
  {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},     {SIGABRT, "SIGABRT"},
  {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},       {SIGKILL, "SIGKILL"},
  {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"},     {SIGUSR2, "SIGUSR2"},
  {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"},
  {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},     {SIGSTOP, "SIGSTOP"},
  {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},     {SIGTTOU, "SIGTTOU"},
  {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"},     {SIGXFSZ, "SIGXFSZ"},
  {SIGPROF, "SIGPROF"}, {SIGVTALRM, "SIGVTALRM"}, {SIGWINCH, "SIGWINCH"},
  {SIGSYS, "SIGSYS"},
};

// Length of the valid UTF-8 sequence at `p`, or 0 if it is invalid.
size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned c = p[0];
  if (c < 0x80)
    return 1;
  auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c == 0xE0)
    return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED)
    return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0)
    return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3)
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4)
    return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
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

bool valid_utf8(std::string_view text) {
  auto p = reinterpret_cast<const unsigned char*>(text.data());
  auto end = p + text.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    auto n = utf8_sequence(p, end);
    if (n == 0)
      return false;
    p += n;
  }
  return true;
}

void append_sanitized_utf8(std::string& out, std::string_view text) {
  auto begin = reinterpret_cast<const unsigned char*>(text.data());
  auto p = begin;
  auto end = begin + text.size();
  out.reserve(out.size() + text.size());
  while (p < end) {
    auto n = utf8_sequence(p, end);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
}

void write_string(json_writer& w, std::string_view text) {
  if (valid_utf8(text)) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return;
  }
  std::string clean;
  append_sanitized_utf8(clean, text);
  w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
}

void write_timestamp(json_writer& w, timestamp_ms ts) {
  if (ts <= 0) {
    w.Null();
    return;
  }
  char buf[iso8601_buffer_size];
  auto n = format_iso8601(ts, buf);
  w.String(buf, static_cast<rapidjson::SizeType>(n));
}

void write_double(json_writer& w, double x) {
  if (x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308)
    w.Null();
  else
    w.Double(x);
}

std::string signal_name(int32_t sig) {
  for (auto& entry : signal_table)
    if (entry.number == sig)
      return entry.name;
  return "SIG" + std::to_string(sig);
}

std::string shorten(std::string_view text, size_t max) {
  if (text.size() <= max)
    return std::string(text);
  auto cut = max;
  // Back up to the start of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  std::string out(text.substr(0, cut));
  out += "...";
  return out;
}

} // namespace jobd::protocol

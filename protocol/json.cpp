#include "protocol/json.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>

namespace jobd::protocol {

namespace {

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

} // namespace

void write_string(json_writer& w, std::string_view text) {
  if (valid_utf8(text)) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return;
  }
  auto clean = sanitize_utf8(text);
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
  std::string out(text.substr(0, utf8_floor(text, max)));
  out += "...";
  return out;
}

} // namespace jobd::protocol

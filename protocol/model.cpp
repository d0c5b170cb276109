#include "protocol/model.hpp"

#include <chrono>
#include <cstdio>
#include <iterator>

namespace jobd {

namespace {

constexpr const char* status_names[]
  = {"pending", "running", "completed", "failed", "cancelled"};

} // namespace

timestamp_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

const char* to_string(job_status x) {
  return status_names[static_cast<size_t>(x)];
}

const char* to_string(stream_kind x) {
  return x == stream_kind::out ? "stdout" : "stderr";
}

const char* to_string(stdin_mode x) {
  switch (x) {
    case stdin_mode::pipe:
      return "pipe";
    case stdin_mode::tty:
      return "tty";
    default:
      return "null";
  }
}

bool from_string(std::string_view text, job_status& out) {
  for (size_t i = 0; i < std::size(status_names); ++i) {
    if (text == status_names[i]) {
      out = static_cast<job_status>(i);
      return true;
    }
  }
  return false;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (auto c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

} // namespace jobd

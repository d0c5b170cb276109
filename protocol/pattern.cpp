#include "protocol/pattern.hpp"

#include "protocol/utf8.hpp"

#include <re2/re2.h>

namespace jobd {

namespace {

// RE2 quotes the offending part, which can be the whole pattern.
constexpr size_t max_error_bytes = 120;

std::string too_complex(const std::string& instructions) {
  return "pattern is too complex: it compiles to " + instructions
         + " instructions, at most " + std::to_string(pattern::max_program_size)
         + " are allowed (large counted repetitions such as x{1000} and "
           "Unicode classes such as \\pL make it large)";
}

// The engine's reason, with the features it lacks on purpose said so: a
// model that wrote `(a)\1` learns what to write instead.
std::string describe(const re2::RE2& re) {
  const auto& arg = re.error_arg();
  switch (re.error_code()) {
    case RE2::ErrorBadEscape:
      if (arg.size() == 2 && arg[1] >= '1' && arg[1] <= '9')
        return "back-references such as " + arg
               + " are not supported (RE2 syntax: matching in linear time "
                 "rules them out)";
      if (arg == "\\k" || arg == "\\g")
        return "named back-references (" + arg
               + ") are not supported (RE2 syntax: matching in linear time "
                 "rules them out)";
      break;
    case RE2::ErrorBadPerlOp:
      if (arg == "(?=" || arg == "(?!" || arg == "(?<")
        return "look-ahead and look-behind (" + arg
               + "...) are not supported (RE2 syntax); anchor with ^, $ or "
                 "\\b instead";
      break;
    case RE2::ErrorPatternTooLarge:
      return too_complex("more than "
                         + std::to_string(pattern::max_program_size));
    default:
      break;
  }
  auto text = re.error();
  if (text.size() > max_error_bytes)
    text = text.substr(0, protocol::utf8_floor(text, max_error_bytes)) + "...";
  return text;
}

} // namespace

bool pattern::compile(std::string_view text, pattern& out, std::string& error) {
  if (text.empty()) {
    out.re_.reset();
    return true;
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_encoding(RE2::Options::EncodingUTF8);
  // Only "does it match" is ever asked: no submatch tracking needed.
  opts.set_never_capture(true);
  re2::StringPiece piece{text.data(), text.size()};
  {
    opts.set_max_mem(probe_memory);
    re2::RE2 probe(piece, opts);
    if (!probe.ok()) {
      error = describe(probe);
      return false;
    }
    if (probe.ProgramSize() > max_program_size) {
      error = too_complex(std::to_string(probe.ProgramSize()));
      return false;
    }
  }
  opts.set_max_mem(max_memory);
  auto re = std::make_shared<const re2::RE2>(piece, opts);
  if (!re->ok()) {
    error = describe(*re);
    return false;
  }
  out.re_ = std::move(re);
  return true;
}

bool pattern::search(std::string_view text) const {
  if (re_ == nullptr)
    return true;
  return RE2::PartialMatch(re2::StringPiece{text.data(), text.size()}, *re_);
}

bool pattern::full_match(std::string_view text) const {
  if (re_ == nullptr)
    return true;
  return RE2::FullMatch(re2::StringPiece{text.data(), text.size()}, *re_);
}

} // namespace jobd

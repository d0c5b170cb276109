#include "protocol/pattern.hpp"

#include <re2/re2.h>

namespace jobd {

bool pattern::compile(std::string_view text, pattern& out, std::string& error) {
  if (text.empty()) {
    out.re_.reset();
    return true;
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(max_memory);
  opts.set_encoding(RE2::Options::EncodingUTF8);
  auto re = std::make_shared<const re2::RE2>(
    re2::StringPiece{text.data(), text.size()}, opts);
  if (!re->ok()) {
    error = re->error();
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

} // namespace jobd

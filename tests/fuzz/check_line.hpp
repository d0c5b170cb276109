// What every fuzz target demands of a line jobd would write: one line of
// valid JSON (an object), or the fuzzer is told by an abort.
#pragma once

#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace jobd::fuzz {

inline void check_line(const std::string& line) {
  if (std::memchr(line.data(), '\n', line.size()) != nullptr) {
    std::fprintf(stderr, "newline in reply: %s\n", line.c_str());
    std::abort();
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag
            | rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    std::fprintf(stderr, "invalid reply: %s\n", line.c_str());
    std::abort();
  }
}

} // namespace jobd::fuzz

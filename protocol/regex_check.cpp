// Compiling a pattern once to see whether std::regex accepts it. Kept in its
// own file because of the pragma below.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 with -fsanitize=address warns falsely inside <regex>'s
// std::function members (-Wmaybe-uninitialized), which -Werror turns fatal.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "protocol/validate.hpp"

#include <exception>
#include <regex>

namespace jobd::protocol {

bool regex_compiles(std::string_view pattern, std::string& error) {
  try {
    std::regex re(pattern.begin(), pattern.end(), std::regex::ECMAScript);
    return true;
  } catch (const std::exception& ex) {
    error = ex.what();
    return false;
  }
}

} // namespace jobd::protocol

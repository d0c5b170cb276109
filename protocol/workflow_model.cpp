#include "protocol/workflow_model.hpp"

#include <iterator>

namespace jobd {

namespace {

constexpr const char* condition_names[] = {"success", "finish", "failure"};
constexpr const char* overlap_names[] = {"skip", "queue", "cancel_previous"};

template <class Enum, size_t N>
bool parse_name(std::string_view text, const char* const (&names)[N],
                Enum& out) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) {
      out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

} // namespace

const char* to_string(dependency_condition x) {
  return condition_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view text, dependency_condition& out) {
  return parse_name(text, condition_names, out);
}

const char* to_string(overlap_policy x) {
  return overlap_names[static_cast<size_t>(x)];
}

bool from_string(std::string_view text, overlap_policy& out) {
  return parse_name(text, overlap_names, out);
}

} // namespace jobd

// Stub until the limits implementation lands (helper branch).
#include "actors/kinds/process/process_reactor.hpp"

namespace jobd {

std::string process_reactor::memory_limit_support() const {
  return {};
}

std::string process_reactor::pids_limit_support() const {
  return {};
}

} // namespace jobd

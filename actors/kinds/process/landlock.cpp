// Stub until the Landlock implementation lands (helper branch).
#include "actors/kinds/process/landlock.hpp"

#include <cerrno>

namespace jobd {

int32_t landlock_abi_version() {
  return 0;
}

int make_landlock_ruleset(const job_security&, std::string& error) {
  error = "Landlock is not implemented yet";
  return -1;
}

int landlock_restrict_in_child(int) {
  return ENOSYS;
}

} // namespace jobd

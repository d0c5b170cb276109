// The server's security policy (protocol/security.hpp) from its settings
// and what this machine offers: directories resolved, patterns compiled,
// Landlock and the limit cgroups probed. A setting that cannot be honoured
// is a start-up error, never a job that runs with less confinement.
#pragma once

#include "app/config.hpp"
#include "protocol/security.hpp"

#include <string>

namespace jobd {

class process_reactor;

/// Fills `out`; false with the reason in `error`.
bool make_security_policy(const config& cfg, const process_reactor& reactor,
                          security_policy& out, std::string& error);

} // namespace jobd

#include "protocol/retry.hpp"

#include <algorithm>
#include <cmath>

namespace jobd {

bool should_retry(const retry_policy& policy, const job_info& ended) {
  if (ended.status != job_status::failed)
    return false; // completed, cancelled (and anything not ended)
  const auto& code = ended.error_code;
  // Failures of jobd itself, not of the job: another attempt would not
  // fare better (INTERNAL) or the job was taken over (INTERRUPTED).
  if (code == codes::internal || code == codes::interrupted
      || code == codes::cancelled)
    return false;
  if (!policy.exit_codes.empty()) {
    // Only a normal exit with a listed code.
    if (!code.empty() || ended.signal != 0 || ended.exit_code < 0)
      return false;
    return std::find(policy.exit_codes.begin(), policy.exit_codes.end(),
                     ended.exit_code)
           != policy.exit_codes.end();
  }
  if (code == codes::timeout)
    return policy.on_timeout;
  return policy.on_failure;
}

int64_t retry_delay_ms(const retry_policy& policy, int32_t attempt,
                       double uniform01) {
  auto cap = std::max<int64_t>(policy.max_backoff_ms, 0);
  auto base = std::max<int64_t>(policy.backoff_ms, 0);
  auto n = std::max<int32_t>(attempt, 1);
  // In double: factor^(n-1) may be huge or inf; a NaN (a bad factor) or
  // anything at or past the cap is the cap, exactly.
  double grown = static_cast<double>(base)
                 * std::pow(policy.backoff_factor, static_cast<double>(n - 1));
  int64_t delay = cap;
  if (std::isfinite(grown) && grown >= 0 && grown < static_cast<double>(cap))
    delay = static_cast<int64_t>(grown);
  if (!policy.jitter)
    return delay;
  // Full jitter: uniform over the integers 0..delay.
  double u = std::isfinite(uniform01) ? std::clamp(uniform01, 0.0, 1.0) : 0.0;
  auto drawn
    = static_cast<int64_t>(std::floor(u * (static_cast<double>(delay) + 1.0)));
  return std::clamp<int64_t>(drawn, 0, delay);
}

} // namespace jobd

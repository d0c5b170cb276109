// options.retry's two decisions, as pure functions the JOB core calls when
// an attempt ends: whether it is tried again, and after how long.
#pragma once

#include "protocol/model.hpp"

#include <cstdint>

namespace jobd {

/// Whether the ended attempt `ended` (its status, exit code, signal and
/// error code as the job core set them) is of a kind `policy` retries: a
/// failure (exit code other than 0, a signal, SPAWN_FAILED) with
/// on_failure, a TIMEOUT with on_timeout; with exit_codes, only a normal
/// exit with one of them. Never a completed or cancelled attempt, nor
/// INTERNAL or INTERRUPTED. Attempts left are the caller's to count.
bool should_retry(const retry_policy& policy, const job_info& ended);

/// The delay in ms before the attempt after attempt `attempt` (1-based):
/// min(max_backoff_ms, backoff_ms * backoff_factor^(attempt-1)), with
/// jitter `uniform01` (a draw from [0, 1)) scaled onto [0, that]. Never
/// negative, never overflows (a huge factor or attempt saturates at the
/// cap), whatever the policy's values.
int64_t retry_delay_ms(const retry_policy& policy, int32_t attempt,
                       double uniform01);

} // namespace jobd

// The one ISO-8601 formatter (replies, notifications, logs) and the strict
// reader of client times (options.startAt). No RapidJSON, no
// CAF, no locale, no allocation.
#pragma once

#include "protocol/model.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace jobd::protocol {

/// Room for any text format_iso8601 produces.
inline constexpr size_t iso8601_buffer_size = 40;

/// Writes `ts` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) plus a NUL into `buf`
/// (at least iso8601_buffer_size bytes) and returns the length. Years
/// outside 0-9999 are written with as many digits (and sign) as they need.
size_t format_iso8601(timestamp_ms ts, char* buf);

std::string iso8601(timestamp_ms ts);

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` strictly (a
/// real calendar date, hours 00-23, no leap second, 1-9 fraction digits,
/// cut to milliseconds) into ms since the epoch. False for anything else.
bool parse_iso8601(std::string_view text, timestamp_ms& out);

} // namespace jobd::protocol

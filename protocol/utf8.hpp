// The one UTF-8 checker and sanitiser: job output, JSON strings and message
// texts all go through it. No RapidJSON, no CAF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jobd::protocol {

/// Length of the longest well-formed UTF-8 prefix of `text` (no overlongs,
/// surrogates or code points beyond U+10FFFF). A sequence cut off by the end
/// of `text` is not part of it. Fast on ASCII.
size_t valid_utf8_prefix(std::string_view text);

/// True if all of `text` is well-formed UTF-8.
inline bool valid_utf8(std::string_view text) {
  return valid_utf8_prefix(text) == text.size();
}

/// `bytes` with every maximal invalid subpart replaced by one U+FFFD, as
/// Unicode's recommended practice says (so `\xE2\x82` is one U+FFFD, `\xFF`
/// another).
std::string sanitize_utf8(std::string_view bytes);

/// Appends sanitize_utf8(bytes) to `out`.
void append_sanitized_utf8(std::string& out, std::string_view bytes);

/// Sanitises `text` in place; only scans it when it is valid already.
void sanitize_utf8_in_place(std::string& text);

/// Length of the incomplete but possibly valid sequence at the end of
/// `bytes` (at most 3 bytes: its rest may still arrive), or 0.
size_t incomplete_utf8_suffix(std::string_view bytes);

/// Length of the longest prefix of `bytes` that does not end inside a
/// (possibly valid) multi-byte sequence.
inline size_t complete_utf8_prefix(std::string_view bytes) {
  return bytes.size() - incomplete_utf8_suffix(bytes);
}

/// The largest position <= `pos` that does not fall on a continuation byte
/// (a character boundary of valid UTF-8); `text.size()` if pos is beyond it.
size_t utf8_floor(std::string_view text, size_t pos);

/// The smallest position >= `pos` that does not fall on a continuation byte;
/// `text.size()` if there is none.
size_t utf8_ceil(std::string_view text, size_t pos);

} // namespace jobd::protocol

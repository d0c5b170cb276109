#include "protocol/utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace jobd::protocol {

namespace {

constexpr char replacement[] = "\xEF\xBF\xBD"; // U+FFFD

constexpr uint64_t high_bits = 0x8080808080808080ull;

inline unsigned char byte_at(const char* p, size_t i) {
  return static_cast<unsigned char>(p[i]);
}

inline bool is_continuation(const char* p, size_t i) {
  return (byte_at(p, i) & 0xC0) == 0x80;
}

/// One UTF-8 sequence starting at a non-ASCII byte.
struct decoded {
  /// Complete and valid: its length. Otherwise: the length of the maximal
  /// subpart (>= 1), which becomes one U+FFFD.
  size_t len;
  bool ok;
  /// Not ok only because the input ended: the bytes are a valid prefix.
  bool truncated;
};

/// Decodes the sequence at `p[0]` (>= 0x80) by the Unicode table of
/// well-formed byte sequences (Table 3-7), so that invalid input splits into
/// maximal subparts exactly as Unicode's recommended practice says.
decoded decode_one(const char* p, size_t n) {
  auto b = byte_at(p, 0);
  size_t need;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0)
      lo = 0xA0; // overlong otherwise
    else if (b == 0xED)
      hi = 0x9F; // surrogates otherwise
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0)
      lo = 0x90; // overlong otherwise
    else if (b == 0xF4)
      hi = 0x8F; // beyond U+10FFFF otherwise
  } else {
    // Continuation bytes, C0/C1 (always overlong) and F5..FF.
    return {1, false, false};
  }
  size_t i = 1;
  for (; i <= need; ++i) {
    if (i >= n)
      return {i, false, true};
    auto c = byte_at(p, i);
    if (c < lo || c > hi)
      return {i, false, false};
    lo = 0x80;
    hi = 0xBF;
  }
  return {i, true, false};
}

size_t valid_prefix(const char* p, size_t n) {
  size_t i = 0;
  // Most output is ASCII: check 32 bytes per step while it lasts.
  while (i + 32 <= n) {
    uint64_t a, b, c, d;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    std::memcpy(&c, p + i + 16, 8);
    std::memcpy(&d, p + i + 24, 8);
    if (((a | b | c | d) & high_bits) != 0)
      break;
    i += 32;
  }
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t a;
      std::memcpy(&a, p + i, 8);
      auto high = a & high_bits;
      if (high == 0) {
        i += 8;
        continue;
      }
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      // Jump straight to the first non-ASCII byte of the word.
      i += static_cast<size_t>(__builtin_ctzll(high)) / 8;
#endif
    }
    auto c = byte_at(p, i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Inline the common well-formed forms (Latin, CJK, €, planes 4-15);
    // everything else takes the exact table in decode_one.
    if (c >= 0xC2 && c <= 0xDF && i + 1 < n && is_continuation(p, i + 1)) {
      i += 2;
      continue;
    }
    if (c >= 0xE1 && c <= 0xEF && c != 0xED && i + 2 < n
        && is_continuation(p, i + 1) && is_continuation(p, i + 2)) {
      i += 3;
      continue;
    }
    if (c >= 0xF1 && c <= 0xF3 && i + 3 < n && is_continuation(p, i + 1)
        && is_continuation(p, i + 2) && is_continuation(p, i + 3)) {
      i += 4;
      continue;
    }
    auto d = decode_one(p + i, n - i);
    if (!d.ok)
      return i;
    i += d.len;
  }
  return n;
}

// `out` gets p[0..n) sanitised; `k` is the valid prefix already known.
void append_from(std::string& out, const char* p, size_t n, size_t k) {
  size_t i = 0;
  for (;;) {
    out.append(p + i, k);
    i += k;
    if (i == n)
      return;
    out.append(replacement, 3);
    i += decode_one(p + i, n - i).len;
    k = valid_prefix(p + i, n - i);
  }
}

} // namespace

size_t valid_utf8_prefix(std::string_view text) {
  return valid_prefix(text.data(), text.size());
}

std::string sanitize_utf8(std::string_view bytes) {
  auto k = valid_prefix(bytes.data(), bytes.size());
  if (k == bytes.size())
    return std::string{bytes};
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4 + 8);
  append_from(out, bytes.data(), bytes.size(), k);
  return out;
}

void append_sanitized_utf8(std::string& out, std::string_view bytes) {
  auto k = valid_prefix(bytes.data(), bytes.size());
  if (k == bytes.size()) {
    out.append(bytes);
    return;
  }
  out.reserve(out.size() + bytes.size() + bytes.size() / 4 + 8);
  append_from(out, bytes.data(), bytes.size(), k);
}

void sanitize_utf8_in_place(std::string& text) {
  if (valid_prefix(text.data(), text.size()) != text.size())
    text = sanitize_utf8(text);
}

size_t incomplete_utf8_suffix(std::string_view bytes) {
  auto n = bytes.size();
  for (size_t k = 1; k <= std::min<size_t>(3, n); ++k) {
    auto b = byte_at(bytes.data(), n - k);
    if ((b & 0xC0) == 0x80)
      continue;
    if (b < 0x80)
      return 0;
    auto d = decode_one(bytes.data() + n - k, k);
    return d.truncated ? k : 0;
  }
  // Three continuation bytes end either a complete 4-byte sequence or
  // invalid input: neither can grow into a valid character.
  return 0;
}

size_t utf8_floor(std::string_view text, size_t pos) {
  if (pos >= text.size())
    return text.size();
  while (pos > 0 && is_continuation(text.data(), pos))
    --pos;
  return pos;
}

size_t utf8_ceil(std::string_view text, size_t pos) {
  while (pos < text.size() && is_continuation(text.data(), pos))
    ++pos;
  return std::min(pos, text.size());
}

} // namespace jobd::protocol

#include "actors/core/output_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace jobd {

namespace {

constexpr char replacement[] = "\xEF\xBF\xBD"; // U+FFFD

constexpr uint64_t high_bits = 0x8080808080808080ull;

inline unsigned char byte_at(const char* p, size_t i) {
  return static_cast<unsigned char>(p[i]);
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

inline bool is_continuation(const char* p, size_t i) {
  return (byte_at(p, i) & 0xC0) == 0x80;
}

/// Length of the longest valid UTF-8 prefix of `p[0..n)`. A sequence cut off
/// by the end of the input is not part of it.
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

/// Replaces invalid subparts in place; `s` is usually valid, and then this
/// only scans it.
void sanitize_in_place(std::string& s) {
  auto k = valid_prefix(s.data(), s.size());
  if (k != s.size())
    s = sanitize_utf8(s);
}

/// memrchr as `const char*`; a helper also because GCC warns about a
/// possibly null string_view::data() passed to memrchr directly.
const char* find_last(const char* p, char c, size_t n) {
  if (p == nullptr || n == 0)
    return nullptr;
  return static_cast<const char*>(memrchr(p, c, n));
}

inline bool is_lead(unsigned char b) {
  return (b & 0xC0) != 0x80;
}

/// Length of the incomplete (but possibly valid) sequence at the end of the
/// text whose last bytes are `tail[0..n)` (n <= 4), or 0.
size_t incomplete_tail(const char* tail, size_t n) {
  for (size_t k = 1; k <= std::min<size_t>(3, n); ++k) {
    auto b = byte_at(tail, n - k);
    if (!is_lead(b))
      continue;
    if (b < 0x80)
      return 0;
    auto d = decode_one(tail + n - k, k);
    return d.truncated ? k : 0;
  }
  // Three continuation bytes end either a complete 4-byte sequence or
  // invalid input: neither can grow into a valid character.
  return 0;
}

/// A text made of several pieces (the selected chunks) that tail_impl scans
/// backwards without first copying it into one string.
class segmented_text {
public:
  void add(std::string_view x) {
    if (x.empty())
      return;
    segments_.push_back(x);
    starts_.push_back(size_);
    size_ += x.size();
  }

  size_t size() const {
    return size_;
  }

  char at(size_t pos) const {
    auto i = segment_of(pos);
    return segments_[i][pos - starts_[i]];
  }

  /// Position of the last `c` in [begin, end), or npos.
  size_t rfind(char c, size_t begin, size_t end) const {
    if (begin >= end)
      return npos;
    auto i = segment_of(end - 1);
    for (;;) {
      auto seg_begin = std::max(begin, starts_[i]);
      auto* base = segments_[i].data() - starts_[i];
      auto* hit = find_last(base + seg_begin, c, end - seg_begin);
      if (hit != nullptr)
        return static_cast<size_t>(hit - base);
      if (seg_begin == begin || i == 0)
        return npos;
      end = starts_[i];
      --i;
    }
  }

  void append_to(std::string& out, size_t begin, size_t end) const {
    if (begin >= end)
      return;
    auto i = segment_of(begin);
    while (begin < end) {
      auto seg_end = starts_[i] + segments_[i].size();
      auto stop = std::min(end, seg_end);
      out.append(segments_[i].data() + (begin - starts_[i]), stop - begin);
      begin = stop;
      ++i;
    }
  }

  static constexpr size_t npos = static_cast<size_t>(-1);

private:
  size_t segment_of(size_t pos) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), pos);
    return static_cast<size_t>(it - starts_.begin()) - 1;
  }

  std::vector<std::string_view> segments_;
  std::vector<size_t> starts_;
  size_t size_ = 0;
};

/// One text for tail_lines() itself.
class flat_text {
public:
  explicit flat_text(std::string_view x) : text_(x) {}

  size_t size() const {
    return text_.size();
  }

  char at(size_t pos) const {
    return text_[pos];
  }

  size_t rfind(char c, size_t begin, size_t end) const {
    if (begin >= end)
      return npos;
    auto* hit = find_last(text_.data() + begin, c, end - begin);
    return hit ? static_cast<size_t>(hit - text_.data()) : npos;
  }

  void append_to(std::string& out, size_t begin, size_t end) const {
    if (begin < end)
      out.append(text_.data() + begin, end - begin);
  }

  static constexpr size_t npos = static_cast<size_t>(-1);

private:
  std::string_view text_;
};

/// The last `n` lines of `text` as a terminal shows them, scanning from the
/// end so that the cost is bounded by what those lines span, not the whole
/// text. Stops collecting once `byte_cap` bytes are gathered (the caller cuts
/// the result to that size anyway); 0 = no cap.
template <class Text>
std::string tail_impl(const Text& text, uint64_t n, size_t byte_cap) {
  constexpr auto npos = Text::npos;
  // [begin, end) of each shown line (without terminator), last line first.
  struct shown {
    size_t begin;
    size_t end;
    bool terminated;
  };
  std::vector<shown> lines;
  size_t gathered = 0;
  size_t pos = text.size();
  while (pos > 0 && lines.size() < n
         && (byte_cap == 0 || gathered < byte_cap)) {
    bool terminated = text.at(pos - 1) == '\n';
    auto line_end = terminated ? pos - 1 : pos;
    auto nl = text.rfind('\n', 0, line_end);
    auto line_begin = nl == npos ? 0 : nl + 1;
    // A '\r' at the end of a line (CRLF, or a progress bar that returns
    // after printing) erases nothing until more text follows it.
    auto visible_end = line_end;
    while (visible_end > line_begin && text.at(visible_end - 1) == '\r')
      --visible_end;
    // Text before the last '\r' has been overwritten on screen.
    auto cr = text.rfind('\r', line_begin, visible_end);
    auto visible_begin = cr == npos ? line_begin : cr + 1;
    lines.push_back({visible_begin, visible_end, terminated});
    gathered += visible_end - visible_begin + (terminated ? 1 : 0);
    pos = line_begin;
  }
  std::string result;
  result.reserve(gathered);
  for (auto i = lines.rbegin(); i != lines.rend(); ++i) {
    text.append_to(result, i->begin, i->end);
    if (i->terminated)
      result += '\n';
  }
  return result;
}

/// Keeps the last `cap` bytes of valid UTF-8 `text`, starting at a character.
void keep_end(std::string& text, size_t cap) {
  if (cap == 0 || text.size() <= cap)
    return;
  auto from = text.size() - cap;
  while (from < text.size() && !is_lead(static_cast<unsigned char>(text[from])))
    ++from;
  text.erase(0, from);
}

inline size_t index_of(stream_kind x) {
  return x == stream_kind::out ? 0 : 1;
}

inline bool matches(stream_filter filter, stream_kind x) {
  switch (filter) {
    case stream_filter::out:
      return x == stream_kind::out;
    case stream_filter::err:
      return x == stream_kind::err;
    default:
      return true;
  }
}

} // namespace

std::string sanitize_utf8(std::string_view bytes) {
  auto* p = bytes.data();
  auto n = bytes.size();
  auto k = valid_prefix(p, n);
  if (k == n)
    return std::string{bytes};
  std::string out;
  out.reserve(n + n / 4 + 8);
  size_t i = 0;
  for (;;) {
    out.append(p + i, k);
    i += k;
    if (i == n)
      return out;
    out.append(replacement, 3);
    i += decode_one(p + i, n - i).len;
    k = valid_prefix(p + i, n - i);
  }
}

size_t complete_utf8_prefix(std::string_view bytes) {
  auto n = bytes.size();
  auto k = std::min<size_t>(4, n);
  return n - incomplete_tail(bytes.data() + n - k, k);
}

std::string tail_lines(std::string_view text, uint64_t n) {
  return tail_impl(flat_text{text}, n, 0);
}

// -- output_buffer ------------------------------------------------------------

output_buffer::output_buffer(output_limits limits) : limits_(limits) {
  // Nothing else: empty buffer, sequence numbers start at 1.
}

void output_buffer::append(stream_kind stream, std::string_view bytes,
                           timestamp_ms now) {
  if (bytes.empty())
    return;
  if (stream == stream_kind::out)
    stats_.stdout_bytes += bytes.size();
  else
    stats_.stderr_bytes += bytes.size();
  // The data to cut is held[hpos..) + bytes[bpos..). The held part never
  // contains '\n' (it would have been emitted), so line ends are searched in
  // `bytes` only, and the block is never copied into `held` as a whole.
  auto& held = partial_[index_of(stream)].bytes;
  size_t hpos = 0;
  size_t bpos = 0;
  const char* b = bytes.data();
  for (;;) {
    auto hn = held.size() - hpos;
    auto bn = bytes.size() - bpos;
    auto total = hn + bn;
    if (total == 0)
      break;
    auto window = std::min(total, max_chunk_bytes);
    size_t cut = 0;
    if (window > hn) {
      auto* nl = find_last(b + bpos, '\n', window - hn);
      if (nl != nullptr)
        cut = hn + static_cast<size_t>(nl - (b + bpos)) + 1;
    }
    if (cut == 0) {
      // No line end in reach: hold a short partial line; cut a long one at
      // a character boundary.
      if (total <= max_chunk_bytes)
        break;
      char last[4];
      size_t k = std::min<size_t>(4, window);
      for (size_t i = 0; i < k; ++i) {
        auto pos = window - k + i;
        last[i] = pos < hn ? held[hpos + pos] : b[bpos + pos - hn];
      }
      cut = window - incomplete_tail(last, k);
    }
    std::string content;
    auto from_held = std::min(cut, hn);
    content.reserve(cut);
    content.append(held, hpos, from_held);
    content.append(b + bpos, cut - from_held);
    hpos += from_held;
    bpos += cut - from_held;
    sanitize_in_place(content);
    emit(stream, std::move(content), now);
  }
  held.erase(0, hpos);
  held.append(b + bpos, bytes.size() - bpos);
}

void output_buffer::emit_held(stream_kind stream, size_t len,
                              timestamp_ms now) {
  auto& held = partial_[index_of(stream)].bytes;
  if (len == 0)
    return;
  std::string content = held.substr(0, len);
  held.erase(0, len);
  sanitize_in_place(content);
  emit(stream, std::move(content), now);
}

void output_buffer::flush(timestamp_ms now) {
  for (auto stream : {stream_kind::out, stream_kind::err}) {
    auto& held = partial_[index_of(stream)].bytes;
    emit_held(stream, complete_utf8_prefix(held), now);
  }
}

void output_buffer::close(stream_kind stream, timestamp_ms now) {
  auto& held = partial_[index_of(stream)].bytes;
  emit_held(stream, held.size(), now);
  // Let a long-lived buffer give the memory back.
  held.shrink_to_fit();
}

bool output_buffer::has_partial() const {
  for (auto& p : partial_)
    if (complete_utf8_prefix(p.bytes) > 0)
      return true;
  return false;
}

void output_buffer::emit(stream_kind stream, std::string content,
                         timestamp_ms now) {
  if (content.size() > limits_.max_bytes) {
    // A chunk larger than the whole cap keeps its newest bytes, starting at
    // a character boundary, rather than being dropped whole.
    auto cut = content.size() - limits_.max_bytes;
    while (cut < content.size()
           && (static_cast<unsigned char>(content[cut]) & 0xC0) == 0x80)
      ++cut;
    stats_.dropped_bytes += cut;
    content.erase(0, cut);
  }
  auto size = content.size();
  chunks_.push_back(
    output_chunk{next_sequence_++, now, stream, std::move(content)});
  stats_.chunks += 1;
  stats_.buffered_bytes += size;
  stats_.last_sequence = next_sequence_ - 1;
  while (!chunks_.empty()
         && (chunks_.size() > limits_.max_chunks
             || stats_.buffered_bytes > limits_.max_bytes)) {
    auto dropped = chunks_.front().content.size();
    stats_.buffered_bytes -= dropped;
    stats_.dropped_bytes += dropped;
    stats_.dropped_chunks += 1;
    chunks_.pop_front();
  }
}

size_t output_buffer::first_after(uint64_t since) const {
  // Chunks leave only from the front, so their sequence numbers are
  // consecutive and the position follows by arithmetic (no search needed).
  if (chunks_.empty())
    return 0;
  auto first = chunks_.front().sequence;
  if (since < first)
    return 0;
  return static_cast<size_t>(
    std::min<uint64_t>(since - first + 1, chunks_.size()));
}

output_page output_buffer::read(const output_query& query) const {
  output_page page;
  auto since = query.since;
  auto last = last_sequence();
  auto first_retained
    = chunks_.empty() ? next_sequence_ : chunks_.front().sequence;
  if (first_retained - 1 > since)
    page.dropped_chunks = first_retained - 1 - since;
  auto begin = first_after(since);
  auto end = chunks_.size();
  // 0 means "no cap", like limit.
  auto byte_cap = query.max_bytes;
  auto fits = [&](size_t taken, uint64_t bytes, const output_chunk& c) {
    if (query.limit > 0 && taken >= query.limit)
      return false;
    // The first chunk is always taken whole, however large.
    return taken == 0 || byte_cap == 0 || bytes + c.content.size() <= byte_cap;
  };
  uint64_t bytes = 0;
  if (!query.latest) {
    for (auto i = begin; i < end; ++i) {
      auto& c = chunks_[i];
      if (!matches(query.streams, c.stream))
        continue;
      if (!fits(page.chunks.size(), bytes, c)) {
        page.truncated = true;
        break;
      }
      bytes += c.content.size();
      page.chunks.push_back(c);
    }
    // Cut short: continue right after the last chunk returned (it exists:
    // the first selected chunk is always taken). Otherwise everything after
    // `since` was examined, also the other stream's chunks.
    page.next_since
      = page.truncated ? page.chunks.back().sequence : std::max(since, last);
  } else {
    for (auto i = end; i > begin; --i) {
      auto& c = chunks_[i - 1];
      if (!matches(query.streams, c.stream))
        continue;
      if (!fits(page.chunks.size(), bytes, c)) {
        page.truncated = true;
        break;
      }
      bytes += c.content.size();
      page.chunks.push_back(c);
    }
    std::reverse(page.chunks.begin(), page.chunks.end());
    // The newest selected chunk was returned: nothing after it is unread.
    page.next_since = std::max(since, last);
  }
  if (query.tail_lines > 0) {
    segmented_text text;
    for (auto i = begin; i < end; ++i)
      if (matches(query.streams, chunks_[i].stream))
        text.add(chunks_[i].content);
    page.tail = tail_impl(text, query.tail_lines, byte_cap);
    keep_end(page.tail, byte_cap);
    page.has_tail = true;
  }
  return page;
}

output_stats output_buffer::stats() const {
  return stats_;
}

uint64_t output_buffer::drop_oldest(uint64_t bytes) {
  uint64_t freed = 0;
  while (freed < bytes && !chunks_.empty()) {
    auto size = chunks_.front().content.size();
    freed += size;
    stats_.buffered_bytes -= size;
    stats_.dropped_bytes += size;
    stats_.dropped_chunks += 1;
    chunks_.pop_front();
  }
  if (chunks_.empty())
    chunks_.shrink_to_fit();
  return freed;
}

} // namespace jobd

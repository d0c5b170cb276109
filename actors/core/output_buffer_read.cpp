// output_buffer, reading side: queries by sequence number, stream, count,
// bytes and tail. The chunking side is in output_buffer.cpp.
#include "actors/core/output_buffer.hpp"

#include "actors/core/output_buffer_detail.hpp"
#include "protocol/utf8.hpp"

#include <algorithm>
#include <vector>

namespace jobd {

namespace {

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
      auto* hit = detail::find_last(base + seg_begin, c, end - seg_begin);
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
    auto* hit = detail::find_last(text_.data() + begin, c, end - begin);
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
  text.erase(0, protocol::utf8_ceil(text, text.size() - cap));
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

std::string tail_lines(std::string_view text, uint64_t n) {
  return tail_impl(flat_text{text}, n, 0);
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

} // namespace jobd

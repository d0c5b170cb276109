// output_buffer, writing side: raw bytes to sanitised, sequence-numbered
// chunks within the buffer's bounds. Reading is in output_buffer_read.cpp.
#include "actors/core/output_buffer.hpp"

#include "actors/core/output_buffer_detail.hpp"
#include "protocol/utf8.hpp"

#include <algorithm>
#include <utility>

namespace jobd {

namespace {

inline size_t index_of(stream_kind x) {
  return x == stream_kind::out ? 0 : 1;
}

} // namespace

output_buffer::output_buffer(output_limits limits) : limits_(limits) {
  // Nothing else: empty buffer, sequence numbers start at 1.
}

output_buffer output_buffer::restore(std::vector<output_chunk> chunks,
                                     const output_stats& stats,
                                     output_limits limits) {
  output_buffer out{limits};
  out.stats_ = stats;
  uint64_t bytes = 0;
  uint64_t last = stats.last_sequence;
  for (auto& c : chunks) {
    bytes += c.content.size();
    last = std::max(last, c.sequence);
    out.chunks_.push_back(std::move(c));
  }
  out.next_sequence_ = last + 1;
  out.stats_.last_sequence = last;
  // What the counters say was kept but the store does not have was lost.
  if (stats.buffered_bytes > bytes)
    out.stats_.dropped_bytes += stats.buffered_bytes - bytes;
  out.stats_.buffered_bytes = bytes;
  out.stats_.chunks = std::max<uint64_t>(stats.chunks, out.chunks_.size());
  out.stats_.dropped_chunks = std::max<uint64_t>(
    stats.dropped_chunks, out.stats_.chunks - out.chunks_.size());
  return out;
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
      auto* nl = detail::find_last(b + bpos, '\n', window - hn);
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
      cut = window - protocol::incomplete_utf8_suffix({last, k});
    }
    std::string content;
    auto from_held = std::min(cut, hn);
    content.reserve(cut);
    content.append(held, hpos, from_held);
    content.append(b + bpos, cut - from_held);
    hpos += from_held;
    bpos += cut - from_held;
    protocol::sanitize_utf8_in_place(content);
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
  protocol::sanitize_utf8_in_place(content);
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
    auto cut = protocol::utf8_ceil(content, content.size() - limits_.max_bytes);
    stats_.dropped_bytes += cut;
    content.erase(0, cut);
  }
  auto size = content.size();
  chunks_.push_back(
    output_chunk{next_sequence_++, now, stream, std::move(content), attempt_});
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

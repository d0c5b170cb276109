// A job's bounded output: raw bytes in, clean chunks out. No CAF: the JOB
// actor owns one and calls it from its handlers.
#pragma once

#include "protocol/model.hpp"
#include "protocol/utf8.hpp"

#include <boost/container/deque.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jobd {

/// Bounds of one job's buffer; the oldest chunks are dropped (and counted)
/// when either is exceeded.
struct output_limits {
  uint64_t max_chunks = 10000;
  uint64_t max_bytes = 8 * 1024 * 1024;
};

/// Cuts a job's stdout and stderr into sequence-numbered chunks and keeps the
/// newest of them within its limits.
///
/// - Chunks end at line ends where possible: a block that ends inside a line
///   keeps the partial line back (`has_partial()`) until its end arrives,
///   `flush()` is called, or it grows past `max_chunk_bytes`.
/// - A chunk never splits a UTF-8 character; invalid UTF-8 becomes U+FFFD, so
///   every chunk is valid UTF-8.
/// - Sequence numbers start at 1 per buffer and are never reused.
class output_buffer {
public:
  /// No chunk's content is longer than this (before U+FFFD replacement).
  static constexpr size_t max_chunk_bytes = 16 * 1024;

  explicit output_buffer(output_limits limits = {});

  /// A buffer rebuilt from stored chunks (oldest first) and its counters
  /// (a finished job's record, or a job taken over between attempts, which
  /// goes on appending under `limits`); chunks the store no longer has
  /// count as dropped.
  static output_buffer restore(std::vector<output_chunk> chunks,
                               const output_stats& stats,
                               output_limits limits = {});

  /// Sequence number of the oldest chunk kept (last_sequence() + 1 when
  /// none is).
  uint64_t first_kept() const {
    return chunks_.empty() ? next_sequence_ : chunks_.front().sequence;
  }

  /// Takes bytes read from one stream.
  void append(stream_kind stream, std::string_view bytes, timestamp_ms now);

  /// Emits held-back partial lines, stdout first. An incomplete character at
  /// the very end (at most 3 bytes) stays held: its rest may still arrive.
  void flush(timestamp_ms now);

  /// Emits what `stream` held back: its pipe reached end of file. An
  /// incomplete character at the end becomes U+FFFD.
  void close(stream_kind stream, timestamp_ms now);

  /// Whether `flush()` would emit something (an incomplete character alone
  /// does not count, so a flush timer does not spin on it).
  bool has_partial() const;

  /// Answers an output query (see output_query for the semantics).
  output_page read(const output_query& query) const;

  /// Chunks after `since` as one text per chunk, for pattern matching.
  template <class F> void for_each_after(uint64_t since, F&& f) const {
    for (auto i = first_after(since); i < chunks_.size(); ++i)
      f(chunks_[i]);
  }

  output_stats stats() const;

  /// Drops whole chunks, oldest first, until at least `bytes` content bytes
  /// were freed or nothing is left; counted as dropped. Returns the bytes
  /// freed. (The global output budget trims finished jobs' records.)
  uint64_t drop_oldest(uint64_t bytes);

  uint64_t last_sequence() const {
    return next_sequence_ - 1;
  }

  const output_limits& limits() const {
    return limits_;
  }

  /// The attempt (options.retry) that new chunks are written by.
  void set_attempt(int32_t attempt) {
    attempt_ = attempt;
  }

private:
  /// Index of the first chunk with a sequence number greater than `since`.
  size_t first_after(uint64_t since) const;

  /// Stores one chunk and drops the oldest ones beyond the limits.
  void emit(stream_kind stream, std::string content, timestamp_ms now);

  /// Emits `bytes` (held for `stream`) up to `len`, keeping the rest held.
  void emit_held(stream_kind stream, size_t len, timestamp_ms now);

  /// Bytes held back per stream: a partial line (no '\n') and possibly an
  /// incomplete character; never more than max_chunk_bytes.
  struct pending {
    std::string bytes;
  };

  output_limits limits_;
  /// Boost's deque allocates nothing until the first chunk; std::deque
  /// takes 576 bytes at once, and most jobs print little or nothing.
  boost::container::deque<output_chunk> chunks_;
  pending partial_[2];
  uint64_t next_sequence_ = 1;
  output_stats stats_;
  int32_t attempt_ = 1;
};

// The sanitiser lives in protocol/utf8.hpp (one for output and JSON alike);
// these names stay part of the buffer's API.
using protocol::complete_utf8_prefix;
using protocol::sanitize_utf8;

/// The last `n` lines of `text` as a terminal shows them: within a line, a
/// carriage return starts the line over, so a progress bar is one line.
std::string tail_lines(std::string_view text, uint64_t n);

} // namespace jobd

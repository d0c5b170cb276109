// Output buffer microbenchmarks: appending 64 KiB blocks as the reactor
// delivers them (bytes/s), and answering `since` queries.
#include "actors/core/output_buffer.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace jobd;

constexpr size_t block_size = 64 * 1024;

/// 64 KiB of log-like lines ("line 123: ...\n", ~60 bytes each).
std::string text_block() {
  std::string s;
  for (int i = 0; s.size() < block_size; ++i)
    s += "line " + std::to_string(i)
         + ": the quick brown fox jumps over the lazy dog\n";
  s.resize(block_size);
  s.back() = '\n';
  return s;
}

/// 64 KiB without a newline (what `head -c N /dev/zero` writes).
std::string zero_block() {
  return std::string(block_size, '\0');
}

/// 64 KiB of UTF-8 text with multi-byte characters and newlines.
std::string utf8_block() {
  std::string s;
  while (s.size() < block_size)
    s += "Grüße, 世界! Ελληνικά — ok \xF0\x9F\x98\x80\n";
  s.resize(block_size);
  // Cut back to a character boundary and end with a newline.
  s.resize(complete_utf8_prefix(s));
  s.back() = '\n';
  return s;
}

void append_loop(benchmark::State& state, const std::string& block) {
  output_buffer buf; // default limits: 10000 chunks, 8 MiB
  timestamp_ms now = 1764325800000;
  for (auto _ : state)
    buf.append(stream_kind::out, block, ++now);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations())
                          * static_cast<int64_t>(block.size()));
  benchmark::DoNotOptimize(buf.stats());
}

void BM_append_text_64k(benchmark::State& state) {
  append_loop(state, text_block());
}
BENCHMARK(BM_append_text_64k);

void BM_append_zeros_64k(benchmark::State& state) {
  append_loop(state, zero_block());
}
BENCHMARK(BM_append_zeros_64k);

void BM_append_utf8_64k(benchmark::State& state) {
  append_loop(state, utf8_block());
}
BENCHMARK(BM_append_utf8_64k);

/// A full buffer of short lines: range(0) appends of 64 KiB of text.
output_buffer filled_buffer(int blocks) {
  output_buffer buf;
  auto block = text_block();
  timestamp_ms now = 1764325800000;
  for (int i = 0; i < blocks; ++i)
    buf.append(stream_kind::out, block, ++now);
  buf.flush(now);
  return buf;
}

// The newest few chunks, as a client polling with nextSince asks.
void BM_read_since_recent(benchmark::State& state) {
  auto buf = filled_buffer(static_cast<int>(state.range(0)));
  output_query q;
  q.since = buf.last_sequence() - 4;
  for (auto _ : state) {
    auto page = buf.read(q);
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["chunks"] = static_cast<double>(buf.stats().chunks);
}
BENCHMARK(BM_read_since_recent)->Arg(16)->Arg(128);

// From the start: one page of maxBytes (64 KiB) of content.
void BM_read_since_zero_page(benchmark::State& state) {
  auto buf = filled_buffer(static_cast<int>(state.range(0)));
  output_query q;
  size_t bytes = 0;
  for (auto _ : state) {
    auto page = buf.read(q);
    for (auto& c : page.chunks)
      bytes += c.content.size();
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_read_since_zero_page)->Arg(128);

// tail: the last 20 lines of the whole buffer.
void BM_read_tail(benchmark::State& state) {
  auto buf = filled_buffer(static_cast<int>(state.range(0)));
  output_query q;
  q.tail_lines = 20;
  for (auto _ : state) {
    auto page = buf.read(q);
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_read_tail)->Arg(128);

} // namespace

// The output buffer on its own: no actors, no clock (timestamps are given).
#include "actors/core/output_buffer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace jobd;
using namespace std::literals;

namespace {

const std::string fffd = "\xEF\xBF\xBD";

/// Every retained chunk, oldest first.
std::vector<output_chunk> all_chunks(const output_buffer& buf) {
  std::vector<output_chunk> result;
  buf.for_each_after(0, [&](const output_chunk& c) { result.push_back(c); });
  return result;
}

std::string joined(const std::vector<output_chunk>& chunks) {
  std::string result;
  for (auto& c : chunks)
    result += c.content;
  return result;
}

bool is_valid_utf8(const std::string& x) {
  return sanitize_utf8(x) == x;
}

output_query query(uint64_t since = 0) {
  output_query q;
  q.since = since;
  return q;
}

/// A buffer with `n` one-line chunks "line<i>\n" alternating stdout/stderr
/// (odd sequence numbers on stdout).
output_buffer alternating(int n, output_limits limits = {}) {
  output_buffer buf{limits};
  for (int i = 1; i <= n; ++i)
    buf.append(i % 2 == 1 ? stream_kind::out : stream_kind::err,
               "line" + std::to_string(i) + "\n", i);
  return buf;
}

} // namespace

// -- sequence numbers and streams ---------------------------------------------

TEST(output_buffer, sequence_numbers_start_at_one) {
  output_buffer buf;
  EXPECT_EQ(buf.last_sequence(), 0u);
  buf.append(stream_kind::out, "a\n", 10);
  buf.append(stream_kind::err, "b\n", 20);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].sequence, 1u);
  EXPECT_EQ(chunks[0].timestamp, 10);
  EXPECT_EQ(chunks[0].stream, stream_kind::out);
  EXPECT_EQ(chunks[0].content, "a\n");
  EXPECT_EQ(chunks[1].sequence, 2u);
  EXPECT_EQ(chunks[1].timestamp, 20);
  EXPECT_EQ(chunks[1].stream, stream_kind::err);
  EXPECT_EQ(buf.last_sequence(), 2u);
  auto st = buf.stats();
  EXPECT_EQ(st.stdout_bytes, 2u);
  EXPECT_EQ(st.stderr_bytes, 2u);
  EXPECT_EQ(st.chunks, 2u);
  EXPECT_EQ(st.buffered_bytes, 4u);
  EXPECT_EQ(st.last_sequence, 2u);
}

TEST(output_buffer, sequence_numbers_are_not_reused_after_drops) {
  output_buffer buf{{3, 1024}};
  for (int i = 0; i < 10; ++i)
    buf.append(stream_kind::out, "x\n", i);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].sequence, 8u);
  EXPECT_EQ(chunks[2].sequence, 10u);
  buf.append(stream_kind::out, "y\n", 11);
  EXPECT_EQ(all_chunks(buf).back().sequence, 11u);
  EXPECT_EQ(buf.stats().dropped_chunks, 8u);
  EXPECT_EQ(buf.stats().chunks, 11u);
}

TEST(output_buffer, streams_keep_separate_partials) {
  output_buffer buf;
  buf.append(stream_kind::out, "ab", 1);
  buf.append(stream_kind::err, "cd\n", 2);
  buf.append(stream_kind::out, "c\n", 3);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].stream, stream_kind::err);
  EXPECT_EQ(chunks[0].content, "cd\n");
  EXPECT_EQ(chunks[1].stream, stream_kind::out);
  EXPECT_EQ(chunks[1].content, "abc\n");
  EXPECT_EQ(chunks[1].timestamp, 3);
}

// -- cutting ------------------------------------------------------------------

TEST(output_buffer, cuts_at_line_ends_and_holds_the_partial_line) {
  output_buffer buf;
  buf.append(stream_kind::out, "line1\nline2\npart", 1);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].content, "line1\nline2\n");
  EXPECT_TRUE(buf.has_partial());
  buf.append(stream_kind::out, "ial", 2);
  EXPECT_EQ(all_chunks(buf).size(), 1u);
  buf.append(stream_kind::out, "\nnext\n", 3);
  chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].content, "partial\nnext\n");
  EXPECT_FALSE(buf.has_partial());
  // Raw bytes are counted when seen, not when emitted.
  EXPECT_EQ(buf.stats().stdout_bytes, 25u);
}

TEST(output_buffer, flush_emits_partials_stdout_first) {
  output_buffer buf;
  buf.append(stream_kind::err, "to err", 1);
  buf.append(stream_kind::out, "to out", 2);
  EXPECT_TRUE(buf.has_partial());
  EXPECT_TRUE(all_chunks(buf).empty());
  buf.flush(5);
  EXPECT_FALSE(buf.has_partial());
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].stream, stream_kind::out);
  EXPECT_EQ(chunks[0].content, "to out");
  EXPECT_EQ(chunks[0].timestamp, 5);
  EXPECT_EQ(chunks[1].stream, stream_kind::err);
  EXPECT_EQ(chunks[1].content, "to err");
  // Nothing held: flushing again emits nothing.
  buf.flush(6);
  EXPECT_EQ(all_chunks(buf).size(), 2u);
}

TEST(output_buffer, flush_keeps_an_incomplete_character_and_close_replaces_it) {
  output_buffer buf;
  buf.append(stream_kind::out, "abc\xE2\x82", 1);
  EXPECT_TRUE(buf.has_partial());
  buf.flush(2);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].content, "abc");
  // Only the two bytes of the unfinished euro sign are left: a flush timer
  // has nothing to do.
  EXPECT_FALSE(buf.has_partial());
  buf.append(stream_kind::out, "\xAC!", 3);
  buf.flush(4);
  chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].content, "\xE2\x82\xAC!");
  buf.append(stream_kind::out, "x\xF0\x9F", 5);
  buf.close(stream_kind::out, 6);
  chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2].content, "x" + fffd);
  EXPECT_FALSE(buf.has_partial());
}

TEST(output_buffer, close_emits_only_its_stream) {
  output_buffer buf;
  buf.append(stream_kind::out, "o", 1);
  buf.append(stream_kind::err, "e", 1);
  buf.close(stream_kind::err, 2);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].stream, stream_kind::err);
  EXPECT_TRUE(buf.has_partial());
  buf.close(stream_kind::out, 3);
  ASSERT_EQ(all_chunks(buf).size(), 2u);
  EXPECT_FALSE(buf.has_partial());
}

TEST(output_buffer, long_line_without_newline_is_cut_at_max_chunk_bytes) {
  constexpr auto max = output_buffer::max_chunk_bytes;
  output_buffer buf;
  std::string data(2 * max + 1000, 'x');
  buf.append(stream_kind::out, data, 1);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].content.size(), max);
  EXPECT_EQ(chunks[1].content.size(), max);
  EXPECT_TRUE(buf.has_partial());
  // A partial plus a small block stays held while it fits.
  buf.append(stream_kind::out, "yy", 2);
  EXPECT_EQ(all_chunks(buf).size(), 2u);
  buf.flush(3);
  chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2].content, std::string(1000, 'x') + "yy");
}

TEST(output_buffer, held_partial_grows_into_full_pieces) {
  constexpr auto max = output_buffer::max_chunk_bytes;
  output_buffer buf;
  // Many small writes without a newline (a progress bar without flushes).
  std::string piece = "\rprogress 42%";
  std::string all;
  while (all.size() < 3 * max) {
    buf.append(stream_kind::out, piece, 1);
    all += piece;
  }
  auto chunks = all_chunks(buf);
  // Full pieces go out as soon as more than a piece is held.
  ASSERT_EQ(chunks.size(), (all.size() - 1) / max);
  for (auto& c : chunks)
    EXPECT_EQ(c.content.size(), max);
  EXPECT_TRUE(buf.has_partial());
  buf.close(stream_kind::out, 2);
  EXPECT_EQ(joined(all_chunks(buf)), all);
}

TEST(output_buffer, blocks_of_lines_become_chunks_ending_at_line_ends) {
  constexpr auto max = output_buffer::max_chunk_bytes;
  output_buffer buf;
  std::string block;
  for (int i = 0; block.size() < 64 * 1024; ++i)
    block += "some log line number " + std::to_string(i) + " with text\n";
  block += "partial";
  buf.append(stream_kind::out, block, 1);
  auto chunks = all_chunks(buf);
  ASSERT_GE(chunks.size(), 4u);
  for (auto& c : chunks) {
    EXPECT_LE(c.content.size(), max);
    EXPECT_EQ(c.content.back(), '\n');
  }
  buf.flush(2);
  EXPECT_EQ(joined(all_chunks(buf)), block);
}

TEST(output_buffer, a_line_longer_than_a_chunk_continues_to_its_newline) {
  constexpr auto max = output_buffer::max_chunk_bytes;
  output_buffer buf;
  std::string data = "short\n" + std::string(max + 10, 'a') + "\nend\n";
  buf.append(stream_kind::out, data, 1);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].content, "short\n");
  EXPECT_EQ(chunks[1].content, std::string(max, 'a'));
  EXPECT_EQ(chunks[2].content, std::string(10, 'a') + "\nend\n");
  EXPECT_FALSE(buf.has_partial());
}

TEST(output_buffer, long_multibyte_text_is_cut_at_character_boundaries) {
  constexpr auto max = output_buffer::max_chunk_bytes;
  for (std::string ch : {"\xE2\x82\xAC"s, "\xF0\x9F\x98\x80"s, "\xC3\xA9"s}) {
    output_buffer buf;
    std::string data = "x"; // shifts the characters against the cut points
    while (data.size() < 5 * max)
      data += ch;
    // In odd-sized writes, so that the partial and the block share pieces.
    for (size_t i = 0; i < data.size(); i += 7777)
      buf.append(stream_kind::out, std::string_view{data}.substr(i, 7777), 1);
    buf.close(stream_kind::out, 2);
    auto chunks = all_chunks(buf);
    ASSERT_GE(chunks.size(), 5u);
    for (auto& c : chunks) {
      EXPECT_LE(c.content.size(), max);
      EXPECT_TRUE(is_valid_utf8(c.content));
    }
    EXPECT_EQ(joined(chunks), data);
  }
}

TEST(output_buffer, a_character_split_across_appends_is_never_broken) {
  for (std::string ch : {"\xF0\x9F\x98\x80"s, "\xE2\x82\xAC"s}) {
    for (size_t split = 1; split < ch.size(); ++split) {
      for (bool flush_between : {false, true}) {
        for (bool with_newline : {false, true}) {
          SCOPED_TRACE(testing::Message()
                       << "char size " << ch.size() << " split " << split
                       << " flush " << flush_between << " newline "
                       << with_newline);
          output_buffer buf;
          auto first = (with_newline ? "ab\n"s : "ab"s) + ch.substr(0, split);
          auto second = ch.substr(split) + "cd\n";
          buf.append(stream_kind::out, first, 1);
          if (flush_between)
            buf.flush(2);
          buf.append(stream_kind::out, second, 3);
          buf.flush(4);
          auto chunks = all_chunks(buf);
          for (auto& c : chunks) {
            EXPECT_TRUE(is_valid_utf8(c.content)) << c.content;
            EXPECT_EQ(c.content.find(fffd), std::string::npos);
          }
          EXPECT_EQ(joined(chunks), first + second);
        }
      }
    }
  }
}

TEST(output_buffer, random_writes_match_sanitizing_the_whole_stream) {
  // Whatever the read sizes and flush times, the chunks of a stream joined
  // are the stream's bytes sanitized as a whole: no cut ever changes how
  // a character (or an invalid byte) comes out.
  std::mt19937 rng{42};
  const std::string pieces[] = {"a",
                                "line\n",
                                "\r",
                                "\r\n",
                                "\xE2\x82\xAC",
                                "\xF0\x9F\x98\x80",
                                "\xC3\xA9",
                                "\xE2\x82",
                                "\xF0\x9F",
                                "\xC0\x80",
                                "\xED\xA0\x80",
                                "\xFF",
                                "\x80",
                                std::string(3000, 'w'),
                                "\n"};
  for (int round = 0; round < 20; ++round) {
    std::string input[2];
    for (auto& in : input)
      while (in.size() < 60000)
        in += pieces[rng() % std::size(pieces)];
    output_buffer buf{{1000000, 1 << 30}};
    size_t pos[2] = {0, 0};
    while (pos[0] < input[0].size() || pos[1] < input[1].size()) {
      auto s = rng() % 2;
      auto n = std::min<size_t>(rng() % 20000 + 1, input[s].size() - pos[s]);
      buf.append(s == 0 ? stream_kind::out : stream_kind::err,
                 std::string_view{input[s]}.substr(pos[s], n), 1);
      pos[s] += n;
      if (rng() % 4 == 0)
        buf.flush(2);
    }
    buf.close(stream_kind::out, 3);
    buf.close(stream_kind::err, 3);
    EXPECT_FALSE(buf.has_partial());
    std::string out[2];
    for (auto& c : all_chunks(buf)) {
      ASSERT_TRUE(is_valid_utf8(c.content));
      ASSERT_LE(c.content.size(), 3 * output_buffer::max_chunk_bytes);
      out[c.stream == stream_kind::out ? 0 : 1] += c.content;
    }
    EXPECT_EQ(out[0], sanitize_utf8(input[0]));
    EXPECT_EQ(out[1], sanitize_utf8(input[1]));
    EXPECT_EQ(buf.stats().stdout_bytes, input[0].size());
  }
}

// -- UTF-8 --------------------------------------------------------------------

TEST(output_buffer_utf8, invalid_sequences_become_replacement_characters) {
  // One U+FFFD per maximal invalid subpart (Unicode 3.9, "U+FFFD
  // Substitution of Maximal Subparts").
  EXPECT_EQ(sanitize_utf8("\xC0\x80"), fffd + fffd);            // overlong
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), fffd + fffd + fffd); // surrogate
  EXPECT_EQ(sanitize_utf8("\xE2\x82"
                          "A"),
            fffd + "A");                                        // truncated
  EXPECT_EQ(sanitize_utf8("\xE0\x80\x80"), fffd + fffd + fffd); // overlong
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), fffd); // truncated at the end
  EXPECT_EQ(sanitize_utf8("\x80"), fffd);         // lone continuation
  EXPECT_EQ(sanitize_utf8("\xFF\xFE"), fffd + fffd);
  EXPECT_EQ(sanitize_utf8("a\xF1\x80\x80\xE1\x80\xC2"
                          "b\x80"
                          "c\x80\xBF"
                          "d"),
            "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
}

TEST(output_buffer_utf8, valid_text_and_control_bytes_are_kept) {
  auto text = "plain ASCII, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, "
              "\xF4\x8F\xBF\xBF \xEF\xBF\xBF"s;
  EXPECT_EQ(sanitize_utf8(text), text);
  auto controls = "a\0b\x01\x1B[31m\x7F\r\t"s;
  EXPECT_EQ(sanitize_utf8(controls), controls);
  EXPECT_EQ(sanitize_utf8(""), "");
}

TEST(output_buffer_utf8, complete_prefix_stops_before_an_unfinished_character) {
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98\x80"), 4u);
  // Bytes that can never complete a character are left to the sanitizer.
  EXPECT_EQ(complete_utf8_prefix("a\xC0"), 2u);
  EXPECT_EQ(complete_utf8_prefix("a\xE0\x80"), 3u);
  EXPECT_EQ(complete_utf8_prefix("a\xED\xA0"), 3u);
  EXPECT_EQ(complete_utf8_prefix("\x80\x80\x80"), 3u);
}

TEST(output_buffer_utf8, chunks_are_sanitized) {
  output_buffer buf;
  buf.append(stream_kind::out,
             "a\xC0\x80"
             "b\n",
             1);
  buf.append(stream_kind::err, "\xED\xA0\x80\n", 1);
  buf.append(stream_kind::out,
             "\xE2\x82"
             "A\n",
             1);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].content, "a" + fffd + fffd + "b\n");
  EXPECT_EQ(chunks[1].content, fffd + fffd + fffd + "\n");
  EXPECT_EQ(chunks[2].content, fffd + "A\n");
  // Raw bytes are counted, buffered bytes are the stored content.
  EXPECT_EQ(buf.stats().stdout_bytes, 9u);
  EXPECT_EQ(buf.stats().buffered_bytes, 9u + 10u + 5u);
}

// -- bounds -------------------------------------------------------------------

TEST(output_buffer, chunk_cap_drops_the_oldest) {
  output_buffer buf{{5, 1 << 20}};
  for (int i = 1; i <= 8; ++i)
    buf.append(stream_kind::out, "line" + std::to_string(i) + "\n", i);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 5u);
  EXPECT_EQ(chunks.front().content, "line4\n");
  auto st = buf.stats();
  EXPECT_EQ(st.dropped_chunks, 3u);
  EXPECT_EQ(st.dropped_bytes, 18u);
  EXPECT_EQ(st.buffered_bytes, 30u);
  EXPECT_EQ(st.chunks, 8u);
}

TEST(output_buffer, byte_cap_drops_the_oldest) {
  output_buffer buf{{100, 12}};
  buf.append(stream_kind::out, "aaaa\n", 1);
  buf.append(stream_kind::out, "bbbb\n", 2);
  buf.append(stream_kind::out, "cccc\n", 3);
  auto chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].content, "bbbb\n");
  auto st = buf.stats();
  EXPECT_EQ(st.buffered_bytes, 10u);
  EXPECT_EQ(st.dropped_chunks, 1u);
  EXPECT_EQ(st.dropped_bytes, 5u);
  // A chunk larger than the whole cap keeps its newest bytes (the output
  // that matters most), and pushes out everything older.
  buf.append(stream_kind::out, std::string(20, 'x') + "\n", 4);
  chunks = all_chunks(buf);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].content, std::string(11, 'x') + "\n");
  EXPECT_EQ(chunks[0].sequence, 4u);
  EXPECT_EQ(buf.stats().buffered_bytes, 12u);
  EXPECT_EQ(buf.stats().dropped_chunks, 3u);
  EXPECT_EQ(buf.stats().dropped_bytes, 5u + 9u + 10u);
  // The cut never lands inside a character.
  output_buffer euros{{100, 10}};
  euros.append(stream_kind::out,
               "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\n", 1);
  auto kept = all_chunks(euros);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].content, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\n");
}

TEST(output_buffer, huge_output_stays_within_the_caps) {
  output_limits limits; // the defaults: 10000 chunks, 8 MiB
  output_buffer buf{limits};
  std::string lines;
  for (int i = 0; lines.size() < 64 * 1024; ++i)
    lines += "epoch " + std::to_string(i) + " loss 0.1234 acc 0.98\n";
  lines.resize(64 * 1024); // blocks end mid-line, as pipe reads do
  std::string progress;
  for (int i = 0; progress.size() < 64 * 1024; ++i)
    progress += "\rprogress " + std::to_string(i % 100) + "%";
  progress.resize(64 * 1024);
  std::string tiny = "x\n"; // many tiny chunks stress the chunk cap
  constexpr uint64_t total = 200ull * 1024 * 1024;
  uint64_t written = 0;
  uint64_t round = 0;
  while (written < total) {
    auto& block = round % 3 == 0 ? lines : round % 3 == 1 ? progress : lines;
    buf.append(stream_kind::out, block, static_cast<timestamp_ms>(round));
    written += block.size();
    if (round % 16 == 0) {
      for (int i = 0; i < 100; ++i)
        buf.append(stream_kind::err, tiny, static_cast<timestamp_ms>(round));
      written += 200;
      buf.flush(static_cast<timestamp_ms>(round));
    }
    auto st = buf.stats();
    ASSERT_LE(st.buffered_bytes, limits.max_bytes);
    ASSERT_LE(st.chunks - st.dropped_chunks, limits.max_chunks);
    ++round;
  }
  auto st = buf.stats();
  EXPECT_EQ(st.stdout_bytes + st.stderr_bytes, written);
  EXPECT_GT(st.dropped_chunks, 0u);
  EXPECT_GT(st.dropped_bytes, total - limits.max_bytes - 64 * 1024);
  size_t retained = 0;
  uint64_t bytes = 0;
  buf.for_each_after(0, [&](const output_chunk& c) {
    ++retained;
    bytes += c.content.size();
  });
  EXPECT_EQ(retained, st.chunks - st.dropped_chunks);
  EXPECT_EQ(bytes, st.buffered_bytes);
  EXPECT_EQ(st.last_sequence, st.chunks);
}

// -- reading ------------------------------------------------------------------

TEST(output_buffer_read, empty_buffer) {
  output_buffer buf;
  auto page = buf.read(query());
  EXPECT_TRUE(page.chunks.empty());
  EXPECT_EQ(page.next_since, 0u);
  EXPECT_FALSE(page.truncated);
  EXPECT_EQ(page.dropped_chunks, 0u);
  EXPECT_FALSE(page.has_tail);
  // A since beyond the end is kept.
  EXPECT_EQ(buf.read(query(7)).next_since, 7u);
}

TEST(output_buffer_read, since_limit_and_max_bytes) {
  auto buf = alternating(10); // "line1\n" .. "line10\n"
  auto page = buf.read(query());
  ASSERT_EQ(page.chunks.size(), 10u);
  EXPECT_EQ(page.next_since, 10u);
  EXPECT_FALSE(page.truncated);

  page = buf.read(query(7));
  ASSERT_EQ(page.chunks.size(), 3u);
  EXPECT_EQ(page.chunks[0].sequence, 8u);
  EXPECT_EQ(page.next_since, 10u);

  auto q = query(2);
  q.limit = 3;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 3u);
  EXPECT_EQ(page.chunks[0].sequence, 3u);
  EXPECT_EQ(page.chunks[2].sequence, 5u);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_since, 5u);

  // "line1\n".."line9\n" are 6 bytes: 13 bytes hold two of them.
  q = query();
  q.max_bytes = 13;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 2u);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_since, 2u);

  // The first chunk is returned whole even when larger than max_bytes.
  q.max_bytes = 1;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 1u);
  EXPECT_EQ(page.chunks[0].content, "line1\n");
  EXPECT_TRUE(page.truncated);

  // Reading exactly to the end is not truncated.
  q = query(8);
  q.limit = 2;
  page = buf.read(q);
  EXPECT_EQ(page.chunks.size(), 2u);
  EXPECT_FALSE(page.truncated);
  EXPECT_EQ(page.next_since, 10u);
}

TEST(output_buffer_read, latest_returns_the_newest_in_order) {
  auto buf = alternating(10);
  auto q = query();
  q.latest = true;
  q.limit = 3;
  auto page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 3u);
  EXPECT_EQ(page.chunks[0].sequence, 8u);
  EXPECT_EQ(page.chunks[1].sequence, 9u);
  EXPECT_EQ(page.chunks[2].sequence, 10u);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_since, 10u);

  // "line10\n" is 7 bytes, "line9\n" 6: 13 bytes hold both.
  q.limit = 0;
  q.max_bytes = 13;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 2u);
  EXPECT_EQ(page.chunks[0].sequence, 9u);
  EXPECT_TRUE(page.truncated);

  q.max_bytes = 1;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 1u);
  EXPECT_EQ(page.chunks[0].sequence, 10u);

  // With since: only what follows it.
  q = query(8);
  q.latest = true;
  q.limit = 5;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 2u);
  EXPECT_EQ(page.chunks[0].sequence, 9u);
  EXPECT_FALSE(page.truncated);

  // Nothing after since.
  q = query(10);
  q.latest = true;
  page = buf.read(q);
  EXPECT_TRUE(page.chunks.empty());
  EXPECT_EQ(page.next_since, 10u);
}

TEST(output_buffer_read, stream_filter) {
  auto buf = alternating(10);
  auto q = query();
  q.streams = stream_filter::err;
  auto page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 5u);
  for (auto& c : page.chunks)
    EXPECT_EQ(c.stream, stream_kind::err);
  EXPECT_EQ(page.chunks[0].sequence, 2u);
  EXPECT_EQ(page.next_since, 10u);

  q.streams = stream_filter::out;
  q.latest = true;
  q.limit = 2;
  page = buf.read(q);
  ASSERT_EQ(page.chunks.size(), 2u);
  EXPECT_EQ(page.chunks[0].sequence, 7u);
  EXPECT_EQ(page.chunks[1].sequence, 9u);
  EXPECT_EQ(page.next_since, 10u);

  // Nothing of the asked stream after since: skip past the other stream's
  // chunks so that they are not examined again.
  q = query(9);
  q.streams = stream_filter::out;
  page = buf.read(q);
  EXPECT_TRUE(page.chunks.empty());
  EXPECT_EQ(page.next_since, 10u);
}

TEST(output_buffer_read, paging_with_next_since_returns_every_chunk_once) {
  output_buffer buf;
  // Chunks of varying sizes on both streams.
  for (int i = 1; i <= 200; ++i)
    buf.append(
      i % 3 == 0 ? stream_kind::err : stream_kind::out,
      std::string(static_cast<size_t>(i % 17 + 1), 'a' + i % 26) + "\n", i);
  for (auto filter :
       {stream_filter::both, stream_filter::out, stream_filter::err}) {
    for (uint64_t limit : {0, 1, 3, 7}) {
      for (uint64_t max_bytes : {1, 10, 25, 1000}) {
        SCOPED_TRACE(testing::Message() << "filter " << int(filter) << " limit "
                                        << limit << " max_bytes " << max_bytes);
        std::vector<uint64_t> seen;
        uint64_t since = 0;
        for (int calls = 0; calls < 1000; ++calls) {
          auto q = query(since);
          q.limit = limit;
          q.max_bytes = max_bytes;
          q.streams = filter;
          auto page = buf.read(q);
          for (auto& c : page.chunks)
            seen.push_back(c.sequence);
          ASSERT_GE(page.next_since, since);
          if (page.chunks.empty()) {
            EXPECT_FALSE(page.truncated);
            break;
          }
          since = page.next_since;
        }
        std::vector<uint64_t> expected;
        for (uint64_t s = 1; s <= 200; ++s) {
          auto is_err = s % 3 == 0;
          if (filter == stream_filter::both
              || (filter == stream_filter::err) == is_err)
            expected.push_back(s);
        }
        EXPECT_EQ(seen, expected);
        EXPECT_EQ(since, 200u);
      }
    }
  }
}

TEST(output_buffer_read, dropped_chunks_are_reported) {
  auto buf = alternating(10, {4, 1 << 20}); // keeps 7..10
  auto page = buf.read(query());
  EXPECT_EQ(page.dropped_chunks, 6u);
  ASSERT_EQ(page.chunks.size(), 4u);
  EXPECT_EQ(page.chunks[0].sequence, 7u);
  EXPECT_EQ(buf.read(query(4)).dropped_chunks, 2u);
  EXPECT_EQ(buf.read(query(6)).dropped_chunks, 0u);
  EXPECT_EQ(buf.read(query(8)).dropped_chunks, 0u);

  // A tiny cap keeps only the newest bytes of the newest chunk.
  output_buffer tiny{{100, 4}};
  tiny.append(stream_kind::out, "0123456789\n", 1);
  tiny.append(stream_kind::out, "0123456789\n", 2);
  page = tiny.read(query(0));
  EXPECT_EQ(page.dropped_chunks, 1u);
  ASSERT_EQ(page.chunks.size(), 1u);
  EXPECT_EQ(page.chunks[0].content, "789\n");
  EXPECT_EQ(page.next_since, 2u);
  EXPECT_EQ(tiny.read(query(2)).dropped_chunks, 0u);
}

TEST(output_buffer, for_each_after_visits_new_chunks) {
  auto buf = alternating(10, {4, 1 << 20});
  auto after = [&](uint64_t since) {
    std::vector<uint64_t> seen;
    buf.for_each_after(
      since, [&](const output_chunk& c) { seen.push_back(c.sequence); });
    return seen;
  };
  EXPECT_EQ(after(8), (std::vector<uint64_t>{9, 10}));
  // Before the first retained chunk: all retained chunks.
  EXPECT_EQ(after(2), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_TRUE(after(10).empty());
  EXPECT_TRUE(after(99).empty());
}

// -- tail ---------------------------------------------------------------------

TEST(output_buffer_tail, lines_as_a_terminal_shows_them) {
  EXPECT_EQ(tail_lines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(tail_lines("a\nb\nc", 2), "b\nc");
  EXPECT_EQ(tail_lines("a\nb\nc\n", 10), "a\nb\nc\n");
  EXPECT_EQ(tail_lines("a\nb\n", 0), "");
  EXPECT_EQ(tail_lines("", 3), "");
  EXPECT_EQ(tail_lines("a\n\n", 1), "\n");
  EXPECT_EQ(tail_lines("\n\n\n", 2), "\n\n");
  // Carriage returns start the line over.
  EXPECT_EQ(tail_lines("x\r10%\r20%\r30%\ndone\n", 2), "30%\ndone\n");
  EXPECT_EQ(tail_lines("x\r10%\r20%", 1), "20%");
  // A return at the end of a line (CRLF, or a bar that returns after
  // printing) erases nothing.
  EXPECT_EQ(tail_lines("a\r\nb\r\nc\r\n", 2), "b\nc\n");
  EXPECT_EQ(tail_lines("one\r\ntwo\r", 2), "one\ntwo");
  EXPECT_EQ(tail_lines("50%\r60%\r", 1), "60%");
}

TEST(output_buffer_tail, progress_bar_stays_small) {
  std::string text;
  for (int i = 0; i <= 100000; ++i)
    text += "\rprogress " + std::to_string(i / 1000) + "%";
  text += "\ndone\n";
  EXPECT_EQ(tail_lines(text, 2), "progress 100%\ndone\n");

  // The same through the buffer, written in pipe-sized blocks with flushes.
  output_buffer buf;
  for (size_t i = 0; i < text.size(); i += 65536) {
    buf.append(stream_kind::out, std::string_view{text}.substr(i, 65536), 1);
    buf.flush(2);
  }
  EXPECT_GT(all_chunks(buf).size(), 10u);
  auto q = query();
  q.tail_lines = 2;
  auto page = buf.read(q);
  EXPECT_TRUE(page.has_tail);
  EXPECT_EQ(page.tail, "progress 100%\ndone\n");
  // The chunk page is returned as usual.
  EXPECT_FALSE(page.chunks.empty());
  EXPECT_EQ(page.chunks[0].sequence, 1u);
}

TEST(output_buffer_tail, crlf_lines_through_the_buffer) {
  output_buffer buf;
  buf.append(stream_kind::out, "first\r\nsecond\r\n", 1);
  buf.append(stream_kind::out, "third\r", 2);
  buf.append(stream_kind::out, "\nfourth\r\n", 3);
  auto q = query();
  q.tail_lines = 2;
  EXPECT_EQ(buf.read(q).tail, "third\nfourth\n");
}

TEST(output_buffer_tail, honours_since_and_the_stream_filter) {
  output_buffer buf;
  buf.append(stream_kind::out, "o1\no2\n", 1); // 1
  buf.append(stream_kind::err, "e1\n", 2);     // 2
  buf.append(stream_kind::out, "o3\n", 3);     // 3
  buf.append(stream_kind::err, "e2\ne3\n", 4); // 4
  auto q = query();
  q.tail_lines = 3;
  EXPECT_EQ(buf.read(q).tail, "o3\ne2\ne3\n");
  q.streams = stream_filter::out;
  EXPECT_EQ(buf.read(q).tail, "o1\no2\no3\n");
  q.since = 1;
  EXPECT_EQ(buf.read(q).tail, "o3\n");
  q.since = 4;
  auto page = buf.read(q);
  EXPECT_TRUE(page.has_tail);
  EXPECT_EQ(page.tail, "");
}

TEST(output_buffer_tail, lines_spanning_chunks_are_joined) {
  constexpr auto max = output_buffer::max_chunk_bytes;
  output_buffer buf;
  std::string long_line(3 * max, 'z');
  buf.append(stream_kind::out, "head\n" + long_line + "\rshown\nlast", 1);
  buf.flush(2);
  auto q = query();
  q.tail_lines = 2;
  q.max_bytes = 1 << 20;
  EXPECT_EQ(buf.read(q).tail, "shown\nlast");
  q.tail_lines = 3;
  EXPECT_EQ(buf.read(q).tail, "head\nshown\nlast");
}

TEST(output_buffer_tail, is_capped_to_max_bytes_at_a_character_boundary) {
  output_buffer buf;
  std::string line;
  while (line.size() < 100000)
    line += "\xE2\x82\xAC"; // no '\r': the whole line is shown
  buf.append(stream_kind::out, line + "\nend\n", 1);
  auto q = query();
  q.tail_lines = 2;
  q.max_bytes = 1000;
  auto page = buf.read(q);
  EXPECT_LE(page.tail.size(), 1000u);
  EXPECT_GE(page.tail.size(), 997u);
  EXPECT_TRUE(is_valid_utf8(page.tail));
  EXPECT_EQ(page.tail.substr(page.tail.size() - 5), "\nend\n");
  EXPECT_EQ(page.tail.substr(0, 3), "\xE2\x82\xAC");
}

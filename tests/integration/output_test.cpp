// Output: never lost, bounded, clean UTF-8 chunks, reading options, tail,
// and console_wait_job.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace jobd_it;

namespace {

struct chunk {
  int64_t seq;
  std::string type;
  std::string content;
};

std::vector<chunk> chunks_of(const tool_result& r) {
  std::vector<chunk> out;
  auto* arr = at(*r, "output");
  if (arr == nullptr || !arr->IsArray()) {
    ADD_FAILURE() << "no output array: " << r.dump();
    return out;
  }
  for (auto& c : arr->GetArray())
    out.push_back(
      {num(c, "sequenceNumber"), str(c, "type"), str(c, "content")});
  return out;
}

std::string concat(const std::vector<chunk>& cs) {
  std::string s;
  for (auto& c : cs)
    s += c.content;
  return s;
}

tool_result get_output(jobd_process& j, const std::string& id,
                       const std::string& options = "{}") {
  auto r = j.tool("console_get_job_output",
                  "{\"jobId\":" + q(id) + ",\"options\":" + options + "}");
  EXPECT_TRUE(r.ok()) << options << ": " << r.dump();
  return r;
}

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos;
       p = hay.find(needle, p + needle.size()))
    ++n;
  return n;
}

const std::string fffd = "\xEF\xBF\xBD";

/// `output.chunks` may count the chunks seen (then it equals lastSequence) or
/// the chunks buffered (then chunks + droppedChunks == lastSequence); either
/// way at most `cap` chunks may be buffered.
void expect_chunk_cap(const Value& job, int64_t cap) {
  auto chunks = num(job, "output.chunks");
  auto dropped = num(job, "output.droppedChunks");
  auto last = num(job, "output.lastSequence");
  if (chunks == last && dropped > 0) {
    EXPECT_LE(last - dropped, cap) << to_json(job["output"]);
  } else {
    EXPECT_LE(chunks, cap) << to_json(job["output"]);
    EXPECT_EQ(chunks + dropped, last) << to_json(job["output"]);
  }
}

} // namespace

// -- never lost
// ---------------------------------------------------------------------------

TEST(Output, FiveHundredFastStderrJobsKeepTheirStderr) {
  jobd_process j(args({"--max-concurrent-jobs", "50",
                       "--max-concurrent-jobs-per-session", "50"}));
  int missing = 0;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<int64_t> reqs;
    for (int i = 0; i < 50; ++i)
      reqs.push_back(
        j.send_tool("console_execute_async",
                    R"({"command":"sh","args":["-c","echo boom >&2"]})"));
    std::vector<std::string> ids;
    for (auto rq : reqs) {
      auto r = j.tool_result_of(rq);
      ASSERT_TRUE(r.ok()) << r.dump();
      ids.push_back(str(*r, "jobId"));
    }
    // Poll until all of the batch finished.
    std::vector<std::string> pending = ids;
    auto deadline = now_ms() + 15000;
    while (!pending.empty()) {
      ASSERT_LT(now_ms(), deadline)
        << pending.size() << " jobs of batch " << batch << " not finished";
      std::vector<int64_t> sreqs;
      for (auto& id : pending)
        sreqs.push_back(
          j.send_tool("console_get_job_status", "{\"jobId\":" + q(id) + "}"));
      std::vector<std::string> still;
      for (size_t k = 0; k < pending.size(); ++k) {
        auto r = j.tool_result_of(sreqs[k]);
        ASSERT_TRUE(r.ok()) << r.dump();
        auto s = str((*r)["job"], "status");
        if (s == "pending" || s == "running")
          still.push_back(pending[k]);
        else
          EXPECT_EQ(s, "completed") << r.dump();
      }
      pending.swap(still);
      if (!pending.empty())
        sleep_ms(20);
    }
    std::vector<int64_t> oreqs;
    for (auto& id : ids)
      oreqs.push_back(
        j.send_tool("console_get_job_output", "{\"jobId\":" + q(id) + "}"));
    for (size_t k = 0; k < ids.size(); ++k) {
      auto r = j.tool_result_of(oreqs[k]);
      ASSERT_TRUE(r.ok()) << r.dump();
      auto cs = chunks_of(r);
      std::string err;
      for (auto& c : cs)
        if (c.type == "stderr")
          err += c.content;
      if (err != "boom\n") {
        ++missing;
        ADD_FAILURE() << "job " << ids[k] << " lost its stderr: " << r.dump();
      }
    }
  }
  EXPECT_EQ(missing, 0);
}

// -- bounded
// --------------------------------------------------------------------------------

TEST(Output, TwoHundredMegabytesKeepMemoryBounded) {
  jobd_process j;
  auto rss0 = vm_rss_kib(j.pid());
  auto id = j.submit_sh("yes "
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        "xxxxxxxxxxxxxxxxxxxxxxxxx | head -c 200000000");
  long max_rss = rss0;
  auto deadline = now_ms() + 20000;
  std::string status;
  for (;;) {
    max_rss = std::max(max_rss, vm_rss_kib(j.pid()));
    auto r = j.status(id);
    ASSERT_TRUE(r.ok());
    status = str((*r)["job"], "status");
    if (status != "running" && status != "pending")
      break;
    ASSERT_LT(now_ms(), deadline)
      << "200 MB not consumed in 20 s: " << r.dump();
    sleep_ms(50);
  }
  max_rss = std::max(max_rss, vm_rss_kib(j.pid()));
  auto r = j.status(id);
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "completed") << r.dump();
  EXPECT_EQ(num(job, "output.stdoutBytes"), 200000000);
  EXPECT_GT(num(job, "output.droppedBytes"), 0);
  EXPECT_GT(num(job, "output.droppedChunks"), 0);
  EXPECT_LE(num(job, "output.bufferedBytes"), 8388608);
  EXPECT_GT(num(job, "output.bufferedBytes"), 4000000)
    << "the buffer should hold close to its cap";
  EXPECT_EQ(num(job, "output.droppedBytes") + num(job, "output.bufferedBytes"),
            200000000);
  expect_chunk_cap(job, 10000);
  if (!under_asan) {
    EXPECT_LT(max_rss, 200 * 1024)
      << "jobd's VmRSS reached " << max_rss << " KiB";
  }

  // Reading from the start reports the dropped chunks; the reply stays small.
  auto o = get_output(j, id);
  EXPECT_GT(num(*o, "droppedChunks"), 0) << o.dump().substr(0, 500);
  auto cs = chunks_of(o);
  ASSERT_FALSE(cs.empty());
  EXPECT_GT(cs[0].seq, 1);
  size_t bytes = 0;
  for (auto& c : cs)
    bytes += c.content.size();
  EXPECT_LE(bytes, std::max<size_t>(65536, cs[0].content.size()));
  EXPECT_TRUE(boolean(*o, "truncated"));
  auto last = get_output(j, id, R"({"latest":true,"limit":1})");
  auto lc = chunks_of(last);
  ASSERT_EQ(lc.size(), 1u);
  EXPECT_EQ(lc[0].seq, num(job, "output.lastSequence"));
  EXPECT_EQ(lc[0].content.find_first_not_of("x\n"), std::string::npos);
}

TEST(Output, SmallByteLimitKeepsTheNewestOutput) {
  // One 16 KiB write under a 4 KiB cap: the newest bytes must stay readable,
  // not the whole write be dropped.
  jobd_process j;
  auto id = j.submit_sh("printf '%16383s\\n' x", R"({"outputByteLimit":4096})");
  auto r = j.wait_terminal(id);
  const Value& job = (*r)["job"];
  EXPECT_EQ(num(job, "output.stdoutBytes"), 16384);
  EXPECT_GT(num(job, "output.bufferedBytes"), 0)
    << "a write larger than the cap lost all output: "
    << to_json(job["output"]);
  EXPECT_LE(num(job, "output.bufferedBytes"), 4096);
  auto text = j.output_text(id);
  ASSERT_GE(text.size(), 2u);
  EXPECT_EQ(text.substr(text.size() - 2), "x\n");
}

TEST(Output, PerJobByteLimit) {
  jobd_process j;
  auto id
    = j.submit_sh("yes abc | head -c 100000", R"({"outputByteLimit":4096})");
  auto r = j.wait_terminal(id);
  const Value& job = (*r)["job"];
  EXPECT_EQ(num(job, "output.stdoutBytes"), 100000);
  EXPECT_LE(num(job, "output.bufferedBytes"), 4096);
  EXPECT_GT(num(job, "output.bufferedBytes"), 0);
  EXPECT_EQ(num(job, "output.droppedBytes") + num(job, "output.bufferedBytes"),
            100000);
  // What is kept is the newest output.
  auto text = j.output_text(id);
  EXPECT_LE(text.size(), 4096u);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.substr(text.size() - 4), "abc\n")
    << "the newest output must be kept";
}

TEST(Output, ServerByteAndChunkLimits) {
  {
    jobd_process j(args({"--output-buffer-bytes", "10000"}));
    auto id = j.submit_sh("yes abc | head -c 100000");
    auto r = j.wait_terminal(id);
    EXPECT_LE(num((*r)["job"], "output.bufferedBytes"), 10000);
    EXPECT_EQ(num((*r)["job"], "output.droppedBytes")
                + num((*r)["job"], "output.bufferedBytes"),
              100000);
  }
  {
    jobd_process j(args({"--output-buffer-size", "5"}));
    auto id = j.submit_sh(
      "i=0; while [ $i -lt 20 ]; do echo line$i; sleep 0.05; i=$((i+1)); done");
    auto r = j.wait_terminal(id);
    const Value& job = (*r)["job"];
    EXPECT_GT(num(job, "output.lastSequence"), 5)
      << "lines 50 ms apart should be separate chunks";
    expect_chunk_cap(job, 5);
    auto text = j.output_text(id);
    EXPECT_NE(text.find("line19\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("line0\n"), std::string::npos) << text;
  }
}

// -- clean chunks
// ----------------------------------------------------------------------------

TEST(Output, ChunksNeverSplitACharacterAcrossSlowWrites) {
  jobd_process j;
  auto id = j.submit_sh(
    R"(i=0; while [ $i -lt 30 ]; do printf 'a\342'; sleep 0.01; printf '\202'; sleep 0.01; printf '\254b\n'; i=$((i+1)); done)");
  auto r = j.wait_terminal(id, 10000);
  EXPECT_EQ(str((*r)["job"], "status"), "completed");
  auto cs = j.all_output(id);
  std::string all;
  for (auto& c : cs) {
    EXPECT_TRUE(valid_utf8(c.second)) << "chunk is not valid UTF-8";
    all += c.second;
  }
  std::string expected;
  for (int i = 0; i < 30; ++i)
    expected += "a\xE2\x82\xAC"
                "b\n";
  EXPECT_EQ(all, expected);
}

TEST(Output, ChunksNeverSplitACharacterInBulk) {
  jobd_process j;
  const std::string line = "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                           "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                           "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xC3\xBC\xE4"
                           "\xB8\xAD\xF0\x9D\x84\x9E";
  auto id = j.submit_sh("yes '" + line + "' | head -n 20000");
  auto r = j.wait_terminal(id, 10000);
  EXPECT_EQ(str((*r)["job"], "status"), "completed");
  EXPECT_EQ(num((*r)["job"], "output.stdoutBytes"),
            static_cast<int64_t>((line.size() + 1) * 20000));
  auto cs = j.all_output(id);
  std::string all;
  int bad = 0;
  for (auto& c : cs) {
    bad += !valid_utf8(c.second);
    all += c.second;
  }
  EXPECT_EQ(bad, 0)
    << "chunks with invalid UTF-8 (a character split at a chunk boundary)";
  EXPECT_EQ(count_of(all, fffd), 0u);
  std::string expected;
  for (int i = 0; i < 20000; ++i)
    expected += line + "\n";
  EXPECT_EQ(all.size(), expected.size());
  EXPECT_TRUE(all == expected);
  EXPECT_GT(cs.size(), 1u) << "800 KB should not be a single chunk";
}

TEST(Output, InvalidUtf8BecomesReplacementCharacter) {
  jobd_process j;
  {
    auto id = j.submit_sh(R"(printf '\377\376')");
    j.wait_terminal(id);
    auto text = j.output_text(id);
    EXPECT_TRUE(text == fffd + fffd || text == fffd)
      << "got " << text.size() << " bytes: " << text;
  }
  {
    auto id = j.submit_sh(R"(printf 'ok\377ok\n')");
    j.wait_terminal(id);
    EXPECT_EQ(j.output_text(id), "ok" + fffd + "ok\n");
  }
  {
    // A character cut off by the end of output is flushed, not lost.
    auto id = j.submit_sh(R"(printf 'a\342\202')");
    j.wait_terminal(id);
    auto text = j.output_text(id);
    EXPECT_TRUE(text == "a" + fffd || text == "a" + fffd + fffd) << text;
  }
  {
    // Overlong encoding and an encoded surrogate are invalid too.
    auto id = j.submit_sh(R"(printf 'x\300\257y\355\240\200z\n')");
    j.wait_terminal(id);
    auto text = j.output_text(id);
    EXPECT_TRUE(valid_utf8(text));
    EXPECT_EQ(text.front(), 'x');
    EXPECT_NE(text.find("y"), std::string::npos);
    EXPECT_EQ(text.substr(text.size() - 2), "z\n");
    EXPECT_EQ(text.find('\xC0'), std::string::npos);
    EXPECT_EQ(text.find('\xED'), std::string::npos);
    EXPECT_GE(count_of(text, fffd), 2u) << text;
  }
}

TEST(Output, ControlCharactersAndNulSurviveJson) {
  jobd_process j;
  auto id = j.submit_sh(R"(printf 'a\001b\033[0m\tc\n')");
  j.wait_terminal(id);
  EXPECT_EQ(j.output_text(id), "a\x01"
                               "b\x1b[0m\tc\n");
  auto id2 = j.submit_sh(R"(printf 'a\000b\n')");
  j.wait_terminal(id2);
  auto text = j.output_text(id2);
  EXPECT_TRUE(text == std::string("a\0b\n", 4) || text == "a" + fffd + "b\n")
    << "NUL in output: " << text.size() << " bytes";
}

// -- tail and progress bars
// --------------------------------------------------------------------

TEST(Output, CarriageReturnProgressBarTail) {
  jobd_process j;
  auto id = j.submit_sh(
    R"(i=0; while [ $i -lt 2000 ]; do printf "\rprogress $i"; i=$((i+1)); done; echo; echo done)");
  auto r = j.wait_terminal(id, 15000);
  EXPECT_EQ(str((*r)["job"], "status"), "completed");
  auto o = get_output(j, id, R"({"tail":2})");
  auto tail = str(*o, "tail");
  EXPECT_LT(tail.size(), 200u)
    << "a \\r progress bar must count as the one line it shows";
  ASSERT_GE(tail.size(), 5u);
  EXPECT_EQ(tail.substr(tail.size() - 5), "done\n");
  EXPECT_EQ(tail, "progress 1999\ndone\n");
  auto o1 = get_output(j, id, R"({"tail":1})");
  EXPECT_EQ(str(*o1, "tail"), "done\n");
}

TEST(Output, TailSemantics) {
  jobd_process j;
  auto id = j.submit_sh("seq 1 10");
  j.wait_terminal(id);
  EXPECT_EQ(str(*get_output(j, id, R"({"tail":3})"), "tail"), "8\n9\n10\n");
  EXPECT_EQ(str(*get_output(j, id, R"({"tail":100})"), "tail"),
            "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");

  auto id2 = j.submit_sh(R"(printf '1\n2\n3')");
  j.wait_terminal(id2);
  EXPECT_EQ(str(*get_output(j, id2, R"({"tail":2})"), "tail"), "2\n3");

  auto id3 = j.submit_sh("echo o1; echo e1 >&2; echo o2");
  j.wait_terminal(id3);
  EXPECT_EQ(str(*get_output(j, id3, R"({"tail":1,"stream":"stderr"})"), "tail"),
            "e1\n");
  EXPECT_EQ(str(*get_output(j, id3, R"({"tail":5,"stream":"stdout"})"), "tail"),
            "o1\no2\n");

  // A line written in two pieces is one line.
  auto id4 = j.submit_sh("printf ab; sleep 0.1; printf 'cd\\nef\\n'");
  j.wait_terminal(id4);
  EXPECT_EQ(str(*get_output(j, id4, R"({"tail":2})"), "tail"), "abcd\nef\n");
  EXPECT_EQ(str(*get_output(j, id4, R"({"tail":1})"), "tail"), "ef\n");
}

// -- reading options
// ------------------------------------------------------------------------------

TEST(Output, SinceLatestLimitMaxBytesStream) {
  jobd_process j;
  auto id = j.submit_sh(
    "for i in 1 2 3 4 5 6; do echo o$i; echo e$i >&2; sleep 0.03; done");
  auto running = get_output(j, id);
  EXPECT_FALSE(boolean(*running, "finished"));
  EXPECT_FALSE(boolean(*running, "complete"));
  j.wait_terminal(id);

  auto all_r = get_output(j, id);
  auto all = chunks_of(all_r);
  ASSERT_GE(all.size(), 6u) << all_r.dump();
  EXPECT_FALSE(boolean(*all_r, "truncated"));
  EXPECT_TRUE(boolean(*all_r, "finished"));
  EXPECT_TRUE(boolean(*all_r, "complete"));
  EXPECT_EQ(num(*all_r, "droppedChunks"), 0);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i].seq, static_cast<int64_t>(i + 1));
  EXPECT_EQ(num(*all_r, "nextSince"), all.back().seq);
  std::string out_text, err_text;
  for (auto& c : all)
    (c.type == "stdout" ? out_text : err_text) += c.content;
  EXPECT_EQ(out_text, "o1\no2\no3\no4\no5\no6\n");
  EXPECT_EQ(err_text, "e1\ne2\ne3\ne4\ne5\ne6\n");

  // since
  auto k = all[2].seq;
  auto s
    = chunks_of(get_output(j, id, "{\"since\":" + std::to_string(k) + "}"));
  ASSERT_EQ(s.size(), all.size() - 3);
  EXPECT_EQ(s.front().seq, k + 1);

  // since past the end
  auto past
    = get_output(j, id, "{\"since\":" + std::to_string(all.back().seq) + "}");
  EXPECT_TRUE(chunks_of(past).empty());
  EXPECT_EQ(num(*past, "nextSince"), all.back().seq);
  EXPECT_TRUE(boolean(*past, "complete"));

  // limit
  auto lim = get_output(j, id, R"({"limit":2})");
  auto lc = chunks_of(lim);
  ASSERT_EQ(lc.size(), 2u);
  EXPECT_EQ(lc[0].seq, 1);
  EXPECT_EQ(lc[1].seq, 2);
  EXPECT_TRUE(boolean(*lim, "truncated"));
  EXPECT_EQ(num(*lim, "nextSince"), 2);
  EXPECT_TRUE(boolean(*lim, "finished"));
  EXPECT_FALSE(boolean(*lim, "complete"));

  // latest
  auto lat = get_output(j, id, R"({"latest":true,"limit":2})");
  auto la = chunks_of(lat);
  ASSERT_EQ(la.size(), 2u);
  EXPECT_EQ(la[0].seq, all[all.size() - 2].seq);
  EXPECT_EQ(la[1].seq, all.back().seq);
  EXPECT_EQ(num(*lat, "nextSince"), all.back().seq);
  auto lat_since = chunks_of(get_output(
    j, id,
    "{\"latest\":true,\"limit\":100,\"since\":" + std::to_string(k) + "}"));
  ASSERT_FALSE(lat_since.empty());
  EXPECT_EQ(lat_since.front().seq, k + 1) << "latest must still respect since";

  // maxBytes: the first chunk always whole
  auto mb = get_output(j, id, R"({"maxBytes":1})");
  auto mc = chunks_of(mb);
  ASSERT_EQ(mc.size(), 1u);
  EXPECT_EQ(mc[0].content, all[0].content);
  EXPECT_TRUE(boolean(*mb, "truncated"));
  EXPECT_EQ(num(*mb, "nextSince"), 1);
  auto two = all[0].content.size() + all[1].content.size();
  auto mb2 = chunks_of(
    get_output(j, id, "{\"maxBytes\":" + std::to_string(two) + "}"));
  EXPECT_EQ(mb2.size(), 2u);

  // stream
  auto so = chunks_of(get_output(j, id, R"({"stream":"stdout"})"));
  auto se = chunks_of(get_output(j, id, R"({"stream":"stderr"})"));
  auto sb = chunks_of(get_output(j, id, R"({"stream":"both"})"));
  EXPECT_EQ(so.size() + se.size(), all.size());
  EXPECT_EQ(sb.size(), all.size());
  for (auto& c : so)
    EXPECT_EQ(c.type, "stdout");
  for (auto& c : se)
    EXPECT_EQ(c.type, "stderr");
  EXPECT_EQ(concat(so), out_text);
  EXPECT_EQ(concat(se), err_text);
}

TEST(Output, PagingWithNextSinceReadsEverythingOnce) {
  jobd_process j;
  auto id = j.submit_sh("seq 1 30000");
  j.wait_terminal(id);
  std::string text;
  int64_t since = 0;
  int pages = 0;
  for (; pages < 1000; ++pages) {
    auto r = get_output(
      j, id, "{\"since\":" + std::to_string(since) + ",\"maxBytes\":4096}");
    auto cs = chunks_of(r);
    for (auto& c : cs) {
      EXPECT_GT(c.seq, since);
      text += c.content;
    }
    if (boolean(*r, "complete"))
      break;
    ASSERT_FALSE(cs.empty()) << r.dump();
    since = num(*r, "nextSince");
  }
  std::string expected;
  for (int i = 1; i <= 30000; ++i)
    expected += std::to_string(i) + "\n";
  EXPECT_TRUE(text == expected) << "paged output differs (" << text.size()
                                << " vs " << expected.size() << " bytes)";
  EXPECT_GT(pages, 1);
}

// -- wait
// --------------------------------------------------------------------------------------------

namespace {

tool_result wait_job(jobd_process& j, const std::string& args_json,
                     int timeout_ms = 8000) {
  return j.tool("console_wait_job", args_json, timeout_ms);
}

} // namespace

TEST(Wait, AnswersOnExit) {
  jobd_process j;
  auto id = j.submit_sh("sleep 0.3; echo hi");
  auto t0 = now_ms();
  auto r = wait_job(j, "{\"jobId\":" + q(id) + ",\"timeoutMs\":5000}");
  auto elapsed = now_ms() - t0;
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "exit");
  EXPECT_GE(elapsed, 250);
  EXPECT_LT(elapsed, 1500);
  EXPECT_EQ(str(*r, "job.status"), "completed");
  EXPECT_EQ(num(*r, "job.exitCode"), 0);
  EXPECT_EQ(concat(chunks_of(r)), "hi\n");
  EXPECT_TRUE(boolean(*r, "finished"));
  EXPECT_TRUE(boolean(*r, "complete"));
  // On a finished job: at once.
  t0 = now_ms();
  auto again = wait_job(j, "{\"jobId\":" + q(id) + "}");
  EXPECT_LT(now_ms() - t0, 500);
  EXPECT_EQ(str(*again, "reason"), "exit");
}

TEST(Wait, AnswersOnOutput) {
  jobd_process j;
  auto id = j.submit_sh("sleep 0.3; echo first; sleep 10");
  auto t0 = now_ms();
  auto r = wait_job(j, "{\"jobId\":" + q(id)
                         + ",\"timeoutMs\":5000,\"until\":\"output\"}");
  auto elapsed = now_ms() - t0;
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "output");
  EXPECT_GE(elapsed, 250);
  EXPECT_LT(elapsed, 1500);
  EXPECT_EQ(concat(chunks_of(r)), "first\n");
  EXPECT_EQ(str(*r, "job.status"), "running");
  EXPECT_FALSE(boolean(*r, "finished"));
  auto next = num(*r, "nextSince");
  // Only output after `since` counts as new.
  t0 = now_ms();
  auto r2 = wait_job(j, "{\"jobId\":" + q(id)
                          + ",\"timeoutMs\":300,\"until\":\"output\",\"since\":"
                          + std::to_string(next) + "}");
  EXPECT_EQ(str(*r2, "reason"), "timeout") << r2.dump();
  EXPECT_GE(now_ms() - t0, 250);
  EXPECT_TRUE(chunks_of(r2).empty());
  j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
}

TEST(Wait, AnswersOnPattern) {
  jobd_process j;
  auto id = j.submit_sh("for i in 1 2 3 4 5; do echo line$i; sleep 0.06; done; "
                        "echo READY 42; sleep 10");
  auto t0 = now_ms();
  auto r = wait_job(
    j, "{\"jobId\":" + q(id)
         + R"(,"timeoutMs":5000,"until":"output","pattern":"READY [0-9]+"})");
  auto elapsed = now_ms() - t0;
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "output");
  EXPECT_GE(elapsed, 250);
  auto text = concat(chunks_of(r));
  EXPECT_NE(text.find("READY 42"), std::string::npos) << text;
  // A pattern that never matches ends with the job.
  auto id2 = j.submit_sh("echo nope; sleep 0.2");
  auto r2 = wait_job(
    j, "{\"jobId\":" + q(id2)
         + R"(,"timeoutMs":3000,"until":"output","pattern":"NEVER"})");
  EXPECT_EQ(str(*r2, "reason"), "exit") << r2.dump();
  j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
}

TEST(Wait, AnswersOnTimeout) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"5\"]");
  auto t0 = now_ms();
  auto r = wait_job(j, "{\"jobId\":" + q(id) + ",\"timeoutMs\":300}");
  auto elapsed = now_ms() - t0;
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "timeout");
  EXPECT_GE(elapsed, 250);
  EXPECT_LT(elapsed, 1500);
  EXPECT_EQ(str(*r, "job.status"), "running");
  j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
}

TEST(Wait, TimeoutCappedByServer) {
  jobd_process j(args({"--max-wait-ms", "300"}));
  auto id = j.submit("sleep", "[\"5\"]");
  for (const char* extra : {"", ",\"timeoutMs\":5000"}) {
    SCOPED_TRACE(extra);
    auto t0 = now_ms();
    auto r = wait_job(j, "{\"jobId\":" + q(id) + extra + "}");
    auto elapsed = now_ms() - t0;
    EXPECT_TRUE(r.ok()) << r.dump();
    EXPECT_EQ(str(*r, "reason"), "timeout");
    EXPECT_GE(elapsed, 250);
    EXPECT_LT(elapsed, 1500) << "--max-wait-ms 300 must cap the wait";
  }
  j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
}

TEST(Wait, OtherRequestsFlowWhileWaiting) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"5\"]");
  auto wait_id = j.send_tool("console_wait_job",
                             "{\"jobId\":" + q(id) + ",\"timeoutMs\":2000}");
  auto ping_id = j.send_request("ping");
  auto first = j.read_message(1500);
  ASSERT_TRUE(first) << "nothing answered while a wait was pending";
  EXPECT_EQ(to_json((*first)["id"]), std::to_string(ping_id))
    << "the ping must be answered before the wait ends";
  auto t0 = now_ms();
  auto st = j.status(id);
  EXPECT_TRUE(st.ok());
  EXPECT_LT(now_ms() - t0, 500);
  // A second wait on another job ends first.
  auto id2 = j.submit("sleep", "[\"0.2\"]");
  auto wait2 = j.send_tool("console_wait_job",
                           "{\"jobId\":" + q(id2) + ",\"timeoutMs\":3000}");
  auto r2 = j.tool_result_of(wait2, 3000);
  EXPECT_EQ(str(*r2, "reason"), "exit");
  auto r1 = j.tool_result_of(wait_id, 3000);
  EXPECT_EQ(str(*r1, "reason"), "timeout");
  j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
}

TEST(Wait, ManyWaitersAllAnsweredOnCancel) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"10\"]");
  j.wait_running(id);
  std::vector<int64_t> waits;
  for (int i = 0; i < 20; ++i)
    waits.push_back(j.send_tool(
      "console_wait_job", "{\"jobId\":" + q(id) + ",\"timeoutMs\":5000}"));
  sleep_ms(100);
  auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
  EXPECT_TRUE(c.ok()) << c.dump();
  for (auto w : waits) {
    auto r = j.tool_result_of(w, 2000);
    EXPECT_EQ(str(*r, "reason"), "exit") << r.dump();
    EXPECT_EQ(str(*r, "job.status"), "cancelled");
  }
}

TEST(Wait, CancelledRequestGetsNoReply) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"5\"]");
  auto wait_id = j.send_tool("console_wait_job",
                             "{\"jobId\":" + q(id) + ",\"timeoutMs\":600}");
  sleep_ms(50);
  j.send_line("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
              "cancelled\",\"params\":{\"requestId\":"
              + std::to_string(wait_id) + ",\"reason\":\"test\"}}");
  auto ping = j.call("ping");
  EXPECT_TRUE(ping);
  auto late = j.await_response(wait_id, 1200);
  EXPECT_FALSE(late) << "a cancelled request was answered: "
                     << (late ? to_json(*late) : "");
  j.tool("console_cancel_job", "{\"jobId\":" + q(id) + "}");
}

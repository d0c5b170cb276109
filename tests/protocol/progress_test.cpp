// Reading progress from output: the heuristic on real tools' lines, what it
// must not read, the last line of a chunk, progressPattern, hostile input.
#include "protocol/progress.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using namespace jobd;

namespace {

struct expected {
  double percent;
  double current; // -1: none
  double total;
};

void expect_progress(std::string_view line, expected e) {
  SCOPED_TRACE(std::string(line));
  job_progress p;
  ASSERT_TRUE(parse_progress(line, p));
  EXPECT_TRUE(p.known);
  EXPECT_NEAR(p.percent, e.percent, 0.01);
  EXPECT_NEAR(p.current, e.current, 1e-9);
  EXPECT_NEAR(p.total, e.total, 1e-9);
}

void expect_none(std::string_view line) {
  job_progress p;
  EXPECT_FALSE(parse_progress(line, p))
    << line << " read as " << p.percent << " " << p.current << "/" << p.total;
  EXPECT_FALSE(p.known) << line;
}

// The heuristic on a whole chunk, as the JOB core calls it.
bool read_chunk(std::string_view chunk, job_progress& p) {
  return parse_progress(last_progress_line(chunk), p);
}

template <class F> double seconds(F f) {
  auto t = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
    .count();
}

} // namespace

TEST(progress, real_tools) {
  // tqdm
  expect_progress(
    " 45%|\xE2\x96\x88\xE2\x96\x88\xE2\x96\x88\xE2\x96\x88\xE2\x96\x8C     | "
    "45/100 [00:01<00:01, 44.5it/s]",
    {45, 45, 100});
  expect_progress("100%|\xE2\x96\x88\xE2\x96\x88\xE2\x96\x88\xE2\x96\x88| "
                  "100/100 [00:02<00:00, 45.1it/s]",
                  {100, 100, 100});
  // pip (rich bar with a size count)
  expect_progress("   \xE2\x94\x81\xE2\x94\x81\xE2\x94\x81\xE2\x95\xB8\xE2\x94"
                  "\x81\xE2\x94\x81 1.2/5.0 MB 3.1 MB/s eta 0:00:02",
                  {24, 1.2, 5.0});
  // rich with a percentage
  expect_progress(
    "Downloading \xE2\x94\x81\xE2\x94\x81\xE2\x95\xB8 45% 0:00:03",
    {45, -1, -1});
  expect_progress("[=====>    ] 12/40", {30, 12, 40});
  expect_progress("   Building [=======>  ] 120/250: foo(build)",
                  {48, 120, 250});
  expect_progress("Step 3/10 : RUN apt-get update", {30, 3, 10});
  expect_progress("[3/10] Compiling foo.c", {30, 3, 10});
  expect_progress("Processing file 3 of 10", {30, 3, 10});
  expect_progress("Epoch 2 OF 4", {50, 2, 4});
  expect_progress("50.5%", {50.5, -1, -1});
  expect_progress("progress: 45 %", {45, -1, -1});
  expect_progress("(7/8)", {87.5, 7, 8});
  expect_progress("Epoch 3/10 - loss: 0.52, acc 91.2%", {91.2, 3, 10});
  // wget
  expect_progress(" 42% [=====>                ] 1.2M  3.1MB/s  eta 2s",
                  {42, -1, -1});
  expect_progress("file.iso  42%[=======>     ]  1.20M  3.1MB/s", {42, -1, -1});
  // A bar alone.
  expect_progress("[#####-----]", {50, -1, -1});
  expect_progress("[====>     ]", {45, -1, -1});
  expect_progress("|\xE2\x96\x88\xE2\x96\x88      |", {25, -1, -1});
  // The last percentage and the last count win.
  expect_progress("10% ... 20% ... 30%", {30, -1, -1});
  expect_progress("1/10 2/10 3/10", {30, 3, 10});
  expect_progress("0/5", {0, 0, 5});
  expect_progress("0%", {0, -1, -1});
  expect_progress("done 5/5.", {100, 5, 5});
}

TEST(progress, not_progress) {
  expect_none("");
  expect_none("compiling");
  expect_none("2026/12/01 10:00 started");
  expect_none("12/01/2026");
  expect_none("on 2026/12/01");
  expect_none("at 12:30:45");
  expect_none("src/3/4.c: warning");
  expect_none("3/4.c");
  expect_none("11/10 done");
  expect_none("0/0");
  expect_none("5/0");
  expect_none("150%");
  expect_none("100.5%");
  expect_none("-5% since yesterday");
  expect_none("+5%");
  expect_none("version 1.2.3");
  expect_none("v2/3");
  expect_none("connecting to 192.168.1.1/24");
  expect_none("10.0.0.1");
  expect_none("GET /api/3/10 HTTP/1.1 200");
  expect_none("url%20encoded%2F");
  expect_none("  % Total    % Received % Xferd  Average Speed   Time");
  expect_none("                                 Dload  Upload   Total");
  expect_none(
    " 45  100M   45 45.0M    0     0  10.1M      0  0:00:09  0:00:04  "
    "0:00:05 10.2M");
  expect_none("id 1234567890123456/99999999999999999");
  expect_none("99999999999999999999%");
  expect_none("ratio 1,234/5,000");
  expect_none("[    ]");
  expect_none("[-----]");
  expect_none("| table | cell |");
  expect_none("a_3/10");
  expect_none("x3/10");
  expect_none("3/10_b");
  expect_none("3/10/2026");
  expect_none("12:30/45");
}

TEST(progress, text_and_fields) {
  job_progress p;
  ASSERT_TRUE(parse_progress("   [3/10] building", p));
  EXPECT_EQ(p.text, "[3/10] building");
  EXPECT_EQ(p.at, 0); // the caller sets it
  std::string long_line(1000, 'x');
  long_line += " 50%";
  ASSERT_TRUE(parse_progress(long_line, p));
  EXPECT_LE(p.text.size(), 200u);
  EXPECT_EQ(p.text.substr(p.text.size() - 3), "...");
}

TEST(progress, last_line) {
  EXPECT_EQ(last_progress_line(""), "");
  EXPECT_EQ(last_progress_line("a\nb\n"), "b");
  EXPECT_EQ(last_progress_line("a\nb\n\n  \n"), "b");
  EXPECT_EQ(last_progress_line("Downloading... 7%\r 8%\r 9%"), " 9%");
  EXPECT_EQ(last_progress_line(" 50%\r\x1B[K"), " 50%");
  EXPECT_EQ(last_progress_line("\x1B[32m 45%\x1B[0m done  \t"), " 45% done");
  EXPECT_EQ(last_progress_line("\x1B]0;title\a12/40"), "12/40");
  EXPECT_EQ(last_progress_line("\x1B(B[3/10]"), "[3/10]");
  EXPECT_EQ(last_progress_line("x\r\n"), "x");
  std::string big(5000, 'a');
  big += "Z";
  auto line = last_progress_line(big);
  EXPECT_EQ(line.size(), max_progress_line);
  EXPECT_EQ(line.back(), 'Z');
  // A cut in the middle of a character moves to the next one.
  std::string euro;
  for (int i = 0; i < 400; ++i)
    euro += "\xE2\x82\xAC";
  line = last_progress_line(euro);
  EXPECT_LE(line.size(), max_progress_line);
  EXPECT_EQ(line.size() % 3, 0u);
  job_progress p;
  EXPECT_TRUE(read_chunk("Downloading... 7%\r 8%\r 9%", p));
  EXPECT_EQ(p.percent, 9);
  EXPECT_TRUE(read_chunk("step 1/4\nstep 2/4\n", p));
  EXPECT_EQ(p.current, 2);
  EXPECT_FALSE(read_chunk("50%\nnothing here\n", p));
}

TEST(progress, hostile_input_is_fast) {
  std::string digits_slashes;
  for (size_t i = 0; digits_slashes.size() < (1u << 20); ++i)
    digits_slashes += i % 3 == 2 ? '/' : static_cast<char>('0' + i % 10);
  std::string percents(100000, '%');
  std::string digit_percent;
  while (digit_percent.size() < (1u << 20))
    digit_percent += "1%";
  std::string bars;
  while (bars.size() < (1u << 20))
    bars += "[====";
  std::string dots;
  while (dots.size() < (1u << 20))
    dots += "1.";
  std::string spaces_of;
  while (spaces_of.size() < (1u << 20))
    spaces_of += "1 of ";
  std::string escapes;
  while (escapes.size() < (1u << 20))
    escapes += "\x1B[";
  std::string returns(1u << 20, '\r');
  std::string pipes(1u << 20, '|');
  job_progress p;
  for (auto* text : {&digits_slashes, &percents, &digit_percent, &bars, &dots,
                     &spaces_of, &escapes, &returns, &pipes}) {
    auto took = seconds([&] {
      parse_progress(*text, p);
      parse_progress(last_progress_line(*text), p);
    });
    EXPECT_LT(took, 0.5) << text->substr(0, 20);
  }
}

TEST(progress_pattern, compile) {
  progress_pattern p;
  std::string why;
  EXPECT_TRUE(p.empty());
  EXPECT_TRUE(progress_pattern::compile(
    R"(epoch (?P<current>\d+)/(?P<total>\d+))", p, why))
    << why;
  EXPECT_FALSE(p.empty());
  EXPECT_TRUE(progress_pattern::compile(R"((?P<percent>\d+)pct)", p, why));
  EXPECT_FALSE(progress_pattern::compile(R"(\d+)", p, why));
  EXPECT_NE(why.find("named group"), std::string::npos) << why;
  EXPECT_FALSE(progress_pattern::compile(R"((?P<done>\d+))", p, why));
  EXPECT_NE(why.find("done"), std::string::npos) << why;
  EXPECT_FALSE(progress_pattern::compile("(?P<percent>\\d+", p, why));
  EXPECT_FALSE(progress_pattern::compile("", p, why));
  EXPECT_FALSE(progress_pattern::compile(R"((?P<percent>\d+))\1", p, why));
  // A closing parenthesis cannot escape the wrapping.
  EXPECT_FALSE(progress_pattern::compile(R"(a)|(?P<percent>\d+)",
                                         p, why));
  EXPECT_FALSE(progress_pattern::compile("(?P<percent>x{1000}){1000}", p, why));
}

TEST(progress_pattern, read) {
  progress_pattern p;
  std::string why;
  ASSERT_TRUE(progress_pattern::compile(
    R"(epoch (?P<current>\d+)/(?P<total>\d+))", p, why));
  job_progress out;
  ASSERT_TRUE(p.read("epoch 2/8 epoch 3/8 loss", out));
  EXPECT_EQ(out.current, 3);
  EXPECT_EQ(out.total, 8);
  EXPECT_DOUBLE_EQ(out.percent, 37.5);
  EXPECT_EQ(out.text, "epoch 2/8 epoch 3/8 loss");
  // Matches are found left to right; no suffix of one counts as another.
  ASSERT_TRUE(p.read("epoch 13/18", out));
  EXPECT_EQ(out.current, 13);
  EXPECT_EQ(out.total, 18);
  EXPECT_FALSE(p.read("nothing", out));
  ASSERT_TRUE(
    progress_pattern::compile(R"((?i)done: (?P<percent>[\d.]+))", p, why));
  ASSERT_TRUE(p.read("DONE: 12.5", out));
  EXPECT_DOUBLE_EQ(out.percent, 12.5);
  EXPECT_LT(out.current, 0);
  EXPECT_FALSE(p.read("done: 101", out));
  EXPECT_FALSE(p.read("done: 1.2.3", out));
  ASSERT_TRUE(progress_pattern::compile(R"(item (?P<current>\w+))", p, why));
  EXPECT_FALSE(p.read("item abc", out)) << "a group that holds no number";
  ASSERT_TRUE(p.read("item 7", out));
  EXPECT_EQ(out.current, 7);
  EXPECT_LT(out.percent, 0);
  // Optional groups that did not take part are unknown, not zero.
  ASSERT_TRUE(progress_pattern::compile(
    R"((?P<current>\d+)(?:/(?P<total>\d+))?)", p, why));
  ASSERT_TRUE(p.read("got 5", out));
  EXPECT_EQ(out.current, 5);
  EXPECT_LT(out.total, 0);
  // A pattern that can match empty still ends.
  ASSERT_TRUE(progress_pattern::compile(R"((?P<current>\d*))", p, why));
  EXPECT_TRUE(p.read("a 3 b", out));
  ASSERT_TRUE(progress_pattern::compile(
    R"((?P<current>\d+)(?:/(?P<total>\d+))?)", p, why));
  // Copies share the program.
  progress_pattern copy = p;
  EXPECT_TRUE(copy.read("4/8", out));
  EXPECT_EQ(out.percent, 50);
  progress_pattern none;
  EXPECT_FALSE(none.read("50%", out));
}

TEST(progress_pattern, hostile_input_is_fast) {
  progress_pattern p;
  std::string why;
  ASSERT_TRUE(
    progress_pattern::compile(R"((?P<current>\d+)/(?P<total>\d+))", p, why));
  std::string line;
  while (line.size() < (1u << 20))
    line += "12/";
  job_progress out;
  EXPECT_LT(seconds([&] { p.read(line, out); }), 0.5);
}

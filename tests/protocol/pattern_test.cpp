// Client patterns: the known bad patterns of backtracking engines either
// compile and match a 100,000-character hostile input (RE2 is linear; with
// std::regex the first one took jobd down) or are refused with
// INVALID_ARGUMENTS naming `pattern`.
#include "test_util.hpp"

#include "protocol/pattern.hpp"

#include <string>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

constexpr size_t hostile_size = 100000;

std::string repeat(const std::string& unit, size_t size) {
  std::string out;
  while (out.size() < size)
    out += unit;
  out.resize(size);
  return out;
}

pattern compiled(const std::string& text) {
  pattern p;
  std::string error;
  EXPECT_TRUE(pattern::compile(text, p, error)) << text << ": " << error;
  return p;
}

std::string refusal(const std::string& text) {
  pattern p;
  std::string error;
  EXPECT_FALSE(pattern::compile(text, p, error)) << text;
  return error;
}

// The pattern as the value of a JSON string.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string wait_args(const std::string& pattern_text) {
  return R"({"jobId":"j","until":"output","pattern":)"
         + json_string(pattern_text) + "}";
}

// Through console_wait_job: dispatched with the pattern intact.
void expect_accepted(const std::string& text) {
  auto q
    = std::get<wait_query>(dispatched("console_wait_job", wait_args(text)));
  EXPECT_EQ(q.pattern, text);
}

// Through console_wait_job: refused, naming the field.
std::string expect_refused(const std::string& text) {
  std::string field;
  auto msg = rejected("console_wait_job", wait_args(text), &field);
  EXPECT_EQ(field, "pattern") << msg;
  return msg;
}

} // namespace

TEST(pattern, empty_matches_everything) {
  pattern p;
  std::string error;
  ASSERT_TRUE(pattern::compile("", p, error));
  EXPECT_TRUE(p.empty());
  EXPECT_TRUE(p.search(""));
  EXPECT_TRUE(p.search("anything"));
}

TEST(pattern, plain_patterns) {
  auto p = compiled("listening on port \\d+");
  EXPECT_TRUE(p.search("server listening on port 8080\n"));
  EXPECT_FALSE(p.search("listening on port x"));
  EXPECT_TRUE(compiled("(?i)error").search("FATAL ERROR"));
  EXPECT_FALSE(compiled("^b").search("a\nb"));
  EXPECT_TRUE(compiled("(?m)^b").search("a\nb"));
  EXPECT_TRUE(compiled("caf\xC3\xA9").search("un caf\xC3\xA9 noir"));
}

TEST(pattern, copies_share_the_program) {
  auto p = compiled("a+b");
  pattern copy = p;
  EXPECT_TRUE(copy.search("xaab"));
  EXPECT_FALSE(copy.empty());
}

TEST(pattern, dot_or_newline_star_on_a_long_line) {
  // The pattern of issue 9: std::regex recursed per character and crashed on
  // a 16,000-character line.
  auto p = compiled("(.|\n)*x");
  auto line = repeat("a", hostile_size);
  EXPECT_FALSE(p.search(line));
  EXPECT_TRUE(p.search(line + "x"));
  EXPECT_FALSE(p.search(repeat("ab\n", hostile_size)));
  EXPECT_TRUE(p.search(repeat("ab\n", hostile_size) + "x"));
  expect_accepted("(.|\n)*x");
}

TEST(pattern, nested_quantifiers) {
  // Exponential for backtracking engines on a non-matching tail.
  auto input = repeat("a", hostile_size) + "!";
  EXPECT_FALSE(compiled("(a+)+$").search(input));
  EXPECT_TRUE(compiled("(a+)+$").search(repeat("a", hostile_size)));
  EXPECT_FALSE(compiled("(a|aa)+$").search(input));
  EXPECT_TRUE(compiled("(a|aa)+$").search(repeat("a", hostile_size)));
  auto xs = repeat("x", hostile_size);
  EXPECT_FALSE(compiled("(x+x+)+y").search(xs));
  EXPECT_TRUE(compiled("(x+x+)+y").search(xs + "y"));
  for (auto text : {"(a+)+$", "(a|aa)+$", "(x+x+)+y"})
    expect_accepted(text);
}

TEST(pattern, email_like_catastrophe) {
  const std::string text = "^(([a-z])+.)+[A-Z]([a-z])+$";
  auto p = compiled(text);
  EXPECT_FALSE(p.search(repeat("a", hostile_size) + "!"));
  EXPECT_TRUE(p.search(repeat("a", hostile_size) + "Ab"));
  expect_accepted(text);
}

TEST(pattern, nested_counted_repetition_is_refused) {
  // std::regex expanded it a million times; RE2 refuses it outright.
  auto why = refusal("a{1000}{1000}");
  EXPECT_NE(why.find("repetition"), std::string::npos) << why;
  auto msg = expect_refused("a{1000}{1000}");
  EXPECT_EQ(msg.rfind("pattern is not a valid RE2 regular expression: ", 0), 0u)
    << msg;
  // Within the engine's limits a counted repetition is fine.
  auto p = compiled("a{1000}");
  EXPECT_TRUE(p.search(repeat("a", hostile_size)));
  EXPECT_FALSE(p.search(repeat("ab", hostile_size)));
}

TEST(pattern, too_large_a_program_is_refused) {
  std::string big;
  for (int i = 0; i < 100; ++i)
    big += ".{1000}";
  auto why = refusal(big);
  EXPECT_NE(why.find("too complex"), std::string::npos) << why;
  auto msg = expect_refused(big);
  EXPECT_NE(msg.find("at most 5000"), std::string::npos) << msg;
}

TEST(pattern, program_size_is_capped) {
  // Each \pL is some 1200 instructions: 300 of them (900 characters) made a
  // 357,905-instruction program that took RE2 most of a second to build and
  // would cost as much per byte once its DFA gives up.
  std::string letters;
  for (int i = 0; i < 300; ++i)
    letters += "\\pL";
  auto why = refusal(letters);
  EXPECT_NE(why.find("too complex"), std::string::npos) << why;
  EXPECT_NE(refusal("(\\pL|\\pN){20}").find("instructions"), std::string::npos);
  EXPECT_NE(refusal("[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}"
                    "[a-z]{1000}Q")
              .find("too complex"),
            std::string::npos);
  // One Unicode class, and a long counted repetition, stay usable.
  auto p = compiled("\\pL+ \\d+");
  EXPECT_TRUE(p.search("caf\xC3\xA9 42"));
  EXPECT_FALSE(p.search(repeat("1 ", hostile_size)));
  auto q = compiled("x{1000}");
  EXPECT_TRUE(q.search(repeat("x", hostile_size)));
  expect_accepted("\\pL+");
}

TEST(pattern, deep_nesting) {
  // 1000 levels compile (RE2 parses without recursion) and match.
  std::string deep = std::string(1000, '(') + "a" + std::string(1000, ')');
  auto p = compiled(deep);
  EXPECT_TRUE(p.search(repeat("ba", hostile_size)));
  EXPECT_FALSE(p.search(repeat("b", hostile_size)));
  // As an argument it exceeds the schema's 1024 characters.
  auto msg = expect_refused(deep);
  EXPECT_EQ(msg, "pattern must have at most 1024 characters");
  // 511 levels fit in 1024 characters and are accepted.
  std::string fits = std::string(511, '(') + "a" + std::string(511, ')');
  ASSERT_LE(fits.size(), 1024u);
  expect_accepted(fits);
  EXPECT_TRUE(compiled(fits).search(repeat("xa", hostile_size)));
  // Empty groups nested 1000 deep match everywhere.
  std::string empty = std::string(1000, '(') + std::string(1000, ')');
  EXPECT_TRUE(compiled(empty).search(repeat("z", hostile_size)));
}

TEST(pattern, unbalanced_parentheses_are_refused_briefly) {
  std::string opens(1024, '(');
  auto why = refusal(opens);
  EXPECT_NE(why.find("missing )"), std::string::npos) << why;
  auto msg = expect_refused(opens);
  // The message quotes a bounded part of the pattern, not all of it.
  EXPECT_LT(msg.size(), 300u) << msg;
}

TEST(pattern, back_references_are_refused_with_a_clear_message) {
  auto why = refusal("(a)\\1");
  EXPECT_NE(why.find("back-reference"), std::string::npos) << why;
  EXPECT_NE(why.find("\\1"), std::string::npos) << why;
  auto msg = expect_refused("(a)\\1");
  EXPECT_EQ(msg,
            "pattern is not a valid RE2 regular expression: back-references "
            "such as \\1 are not supported (RE2 syntax: matching in linear "
            "time rules them out)");
  EXPECT_NE(refusal("(?P<n>a)\\k<n>").find("back-reference"),
            std::string::npos);
  EXPECT_NE(expect_refused("(a)(b)\\9").find("\\9"), std::string::npos);
}

TEST(pattern, look_around_is_refused_with_a_clear_message) {
  for (auto text : {"(?=a)b", "(?!a)b", "(?<=a)b", "(?<!a)b"}) {
    auto msg = expect_refused(text);
    EXPECT_NE(msg.find("look-ahead and look-behind"), std::string::npos)
      << text << ": " << msg;
  }
}

TEST(pattern, other_syntax_errors_name_the_field) {
  for (auto text : {"a**", "x{2,1}", "[z-a]", "(?P=n)", "\\8"})
    expect_refused(text);
}

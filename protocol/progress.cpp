// The progress heuristic and options.progressPattern. Every scan below moves
// forward only (lookahead is bounded), so the time is linear in the line
// whatever it holds.
#include "protocol/progress.hpp"

#include "protocol/utf8.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <vector>

namespace jobd {

namespace {

// The most bytes of the source line job_progress::text keeps.
constexpr size_t max_text = 200;

// Longer digit runs are ids or hashes, never progress (and would lose
// precision as doubles).
constexpr size_t max_digits = 15;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_alnum(char c) {
  return is_digit(c) || is_alpha(c);
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// -- the line
// ------------------------------------------------------------------

// Appends `seg` without ANSI escapes (CSI, OSC, two- and three-byte escapes)
// and other control bytes; tabs become spaces.
void append_plain(std::string& out, std::string_view seg) {
  size_t i = 0;
  while (i < seg.size()) {
    unsigned char c = static_cast<unsigned char>(seg[i]);
    if (c == 0x1B) {
      ++i;
      if (i >= seg.size())
        break;
      char kind = seg[i++];
      if (kind == '[') {
        // Parameters and intermediates, then one final byte 0x40-0x7E.
        while (i < seg.size() && !(seg[i] >= 0x40 && seg[i] <= 0x7E))
          ++i;
        if (i < seg.size())
          ++i;
      } else if (kind == ']') {
        // Until BEL or ESC backslash.
        while (i < seg.size() && seg[i] != '\a'
               && !(seg[i] == 0x1B && i + 1 < seg.size() && seg[i + 1] == '\\'))
          ++i;
        if (i < seg.size())
          i += seg[i] == '\a' ? 1 : 2;
      } else if (kind == '(' || kind == ')' || kind == '*' || kind == '+') {
        if (i < seg.size())
          ++i;
      }
      continue;
    }
    if (c == '\t')
      out += ' ';
    else if (c >= 0x20 && c != 0x7F)
      out += static_cast<char>(c);
    ++i;
  }
}

void trim_trailing(std::string& s) {
  while (!s.empty() && is_blank(s.back()))
    s.pop_back();
}

// -- numbers
// -------------------------------------------------------------------

// A number token at `i`: digits, optionally '.' digits. `end` is past it.
struct number {
  double value = 0;
  size_t end = 0;
  bool ok = false;
};

// Reads digits[.digits] at `i`. A second '.' followed by a digit (a version,
// an IP address) makes it no number; `end` then skips the whole dotted run.
number read_number(std::string_view s, size_t i) {
  number n;
  size_t j = i;
  double value = 0;
  while (j < s.size() && is_digit(s[j])) {
    value = value * 10 + (s[j] - '0');
    ++j;
  }
  size_t int_digits = j - i;
  if (int_digits == 0) {
    n.end = i;
    return n;
  }
  bool too_long = int_digits > max_digits;
  if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
    ++j;
    double scale = 0.1;
    size_t frac = 0;
    while (j < s.size() && is_digit(s[j])) {
      value += (s[j] - '0') * scale;
      scale /= 10;
      ++j;
      ++frac;
    }
    too_long = too_long || frac > max_digits;
    if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
      while (j < s.size() && (is_digit(s[j]) || s[j] == '.'))
        ++j;
      n.end = j;
      return n;
    }
  }
  n.end = j;
  n.value = value;
  n.ok = !too_long;
  return n;
}

// Whether a number may start at `i`: not inside a word, a path, a version,
// a signed delta, a thousands group or a time.
bool starts_free(std::string_view s, size_t i) {
  if (i == 0)
    return true;
  char c = s[i - 1];
  if (is_alnum(c) || c == '.' || c == '_' || c == '/' || c == '\\' || c == '-'
      || c == '+' || c == '$' || c == '#')
    return false;
  if ((c == ':' || c == ',') && i >= 2 && is_digit(s[i - 2]))
    return false;
  return true;
}

// Whether a count's total may end at `end`: no path or date goes on, no
// decimal or time part follows, no further digits.
bool ends_free(std::string_view s, size_t end) {
  if (end >= s.size())
    return true;
  char c = s[end];
  if (is_digit(c) || c == '_' || c == '/' || c == '\\')
    return false;
  if ((c == '.' || c == ',' || c == ':' || c == '-') && end + 1 < s.size()
      && is_alnum(s[end + 1]))
    return false;
  return true;
}

bool word_at(std::string_view s, size_t i, std::string_view word) {
  if (i + word.size() > s.size())
    return false;
  for (size_t k = 0; k < word.size(); ++k) {
    char c = s[i + k];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != word[k])
      return false;
  }
  return true;
}

// -- bars
// ----------------------------------------------------------------------

// The fill of `[====>    ]`, `[####----]` or tqdm's `|█████▌    |` between
// `open` and the matching close at `i`; -1 if it is not a bar. `end` is
// where scanning goes on.
double read_bar(std::string_view s, size_t i, size_t& end) {
  char close = s[i] == '[' ? ']' : '|';
  size_t j = i + 1;
  double filled = 0;
  size_t cells = 0;
  bool in_empty = false;
  while (j < s.size() && s[j] != close) {
    char c = s[j];
    if (c == '=' || c == '#') {
      if (in_empty)
        break;
      filled += 1;
      ++cells;
      ++j;
    } else if (c == '>') {
      if (in_empty)
        break;
      // The head of `===>`: the cell it is in is half done.
      filled += 0.5;
      ++cells;
      ++j;
      in_empty = true;
    } else if (c == ' ' || c == '-' || c == '.') {
      in_empty = true;
      ++cells;
      ++j;
    } else if (static_cast<unsigned char>(c) == 0xE2 && j + 2 < s.size()
               && static_cast<unsigned char>(s[j + 1]) == 0x96) {
      // U+2588 FULL BLOCK .. U+258F ONE EIGHTH BLOCK: E2 96 88..8F.
      auto b = static_cast<unsigned char>(s[j + 2]);
      if (b < 0x88 || b > 0x8F || in_empty)
        break;
      filled += b == 0x88 ? 1.0 : (0x90 - b) / 8.0;
      if (b != 0x88)
        in_empty = true;
      ++cells;
      j += 3;
    } else {
      break;
    }
  }
  end = j;
  if (j >= s.size() || s[j] != close || cells < 4 || filled <= 0)
    return -1;
  end = j + 1;
  return std::min(100.0, filled * 100.0 / static_cast<double>(cells));
}

struct reading {
  double percent = -1;
  double current = -1;
  double total = -1;
  double bar = -1;
};

// One left-to-right pass; later findings replace earlier ones.
void scan(std::string_view s, reading& r) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '[' || c == '|') {
      size_t end;
      double fill = read_bar(s, i, end);
      if (fill >= 0)
        r.bar = fill;
      // After a failed bar, go on at its next byte: the cells it read hold
      // no '[' or '|', so no byte is read by more than two bar attempts.
      i = fill >= 0 ? end : i + 1;
      continue;
    }
    if (!is_digit(c)) {
      ++i;
      continue;
    }
    if (!starts_free(s, i)) {
      while (i < s.size() && (is_digit(s[i]) || s[i] == '.'))
        ++i;
      continue;
    }
    auto n = read_number(s, i);
    size_t j = n.end;
    if (!n.ok) {
      i = j;
      continue;
    }
    // `45%`, `45 %`.
    size_t k = j < s.size() && s[j] == ' ' ? j + 1 : j;
    if (k < s.size() && s[k] == '%') {
      if (n.value <= 100)
        r.percent = n.value;
      i = k + 1;
      continue;
    }
    // `12/40`, `3 of 10`.
    size_t m = std::string_view::npos;
    if (j < s.size() && s[j] == '/')
      m = j + 1;
    else if (j < s.size() && s[j] == ' ' && word_at(s, j + 1, "of ")
             && j + 4 < s.size() && is_digit(s[j + 4]))
      m = j + 4;
    if (m == std::string_view::npos || m >= s.size() || !is_digit(s[m])) {
      i = j;
      continue;
    }
    auto total = read_number(s, m);
    if (total.ok && ends_free(s, total.end) && total.value > 0
        && n.value <= total.value) {
      r.current = n.value;
      r.total = total.value;
      i = total.end;
      continue;
    }
    // A date, path or chain: skip all of it, so no part reads as a count.
    i = total.end;
    while (i < s.size() && (is_digit(s[i]) || s[i] == '/' || s[i] == '.'))
      ++i;
  }
}

std::string excerpt(std::string_view line) {
  size_t b = 0;
  while (b < line.size() && is_blank(line[b]))
    ++b;
  line.remove_prefix(b);
  if (line.size() <= max_text)
    return std::string(line);
  std::string out(line.substr(0, protocol::utf8_floor(line, max_text - 3)));
  out += "...";
  return out;
}

// "45", "45.5", " 45 %" as a number; false if there is none.
bool group_number(std::string_view text, double& out) {
  size_t i = 0;
  while (i < text.size() && is_blank(text[i]))
    ++i;
  auto n = read_number(text, i);
  if (!n.ok)
    return false;
  size_t j = n.end;
  while (j < text.size() && (is_blank(text[j]) || text[j] == '%'))
    ++j;
  if (j != text.size())
    return false;
  out = n.value;
  return true;
}

} // namespace

std::string last_progress_line(std::string_view text) {
  // From the end: the last segment between \n or \r that is not blank once
  // escapes are gone. Each byte is looked at a bounded number of times.
  size_t end = text.size();
  std::string plain;
  while (true) {
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n' && text[start - 1] != '\r')
      --start;
    auto seg = text.substr(start, end - start);
    plain.clear();
    // Only the end of a long segment matters; escapes cut at the window's
    // start lose at most their own bytes.
    if (seg.size() > 4 * max_progress_line)
      seg.remove_prefix(
        protocol::utf8_ceil(seg, seg.size() - 4 * max_progress_line));
    append_plain(plain, seg);
    trim_trailing(plain);
    if (!plain.empty() || start == 0) {
      if (plain.size() > max_progress_line) {
        size_t cut
          = protocol::utf8_ceil(plain, plain.size() - max_progress_line);
        plain.erase(0, cut);
      }
      return plain;
    }
    end = start - 1;
  }
}

bool parse_progress(std::string_view line, job_progress& out) {
  reading r;
  scan(line, r);
  double percent = r.percent;
  if (percent < 0 && r.total > 0)
    percent = r.current * 100.0 / r.total;
  if (percent < 0)
    percent = r.bar;
  if (percent < 0)
    return false;
  out.known = true;
  out.percent = percent;
  out.current = r.total > 0 ? r.current : -1;
  out.total = r.total > 0 ? r.total : -1;
  out.text = excerpt(line);
  return true;
}

bool progress_pattern::compile(std::string_view text, progress_pattern& out,
                               std::string& error) {
  // The same syntax, size and memory rules as every client pattern.
  pattern checked;
  if (!pattern::compile(text, checked, error))
    return false;
  if (checked.empty()) {
    error = "the pattern is empty";
    return false;
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_encoding(RE2::Options::EncodingUTF8);
  opts.set_max_mem(pattern::max_memory);
  auto re = std::make_shared<const re2::RE2>(
    re2::StringPiece{text.data(), text.size()}, opts);
  if (!re->ok()) {
    error = "the pattern cannot be compiled";
    return false;
  }
  auto& groups = re->NamedCapturingGroups();
  if (groups.empty()) {
    error = "the pattern needs a named group (?P<percent>...), "
            "(?P<current>...) or (?P<total>...)";
    return false;
  }
  for (auto& [name, index] : groups) {
    if (name != "percent" && name != "current" && name != "total") {
      error = "the pattern's named groups may only be percent, current and "
              "total, not "
              + (name.size() > 40 ? name.substr(0, 40) + "..." : name);
      return false;
    }
  }
  out.re_ = std::move(re);
  return true;
}

bool progress_pattern::read(std::string_view line, job_progress& out) const {
  if (re_ == nullptr)
    return false;
  if (line.size() > max_progress_line)
    line.remove_prefix(
      protocol::utf8_ceil(line, line.size() - max_progress_line));
  // The last of the matches found left to right: each search needs only
  // the match's bounds (the fast path); the groups are read once, of the
  // last one. The line is short, so the searches stay cheap.
  re2::StringPiece input{line.data(), line.size()};
  re2::StringPiece whole;
  size_t pos = 0;
  size_t start = 0, end = 0;
  bool found = false;
  while (pos <= input.size()
         && re_->Match(input, pos, input.size(), RE2::UNANCHORED, &whole, 1)) {
    // An empty match carries no number: it is passed over.
    auto at = static_cast<size_t>(whole.data() - input.data());
    if (whole.empty()) {
      pos = at + 1;
      continue;
    }
    found = true;
    start = at;
    end = pos = at + whole.size();
  }
  if (!found)
    return false;
  int n = re_->NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
  if (!re_->Match(input, start, end, RE2::ANCHOR_BOTH, groups.data(), n))
    return false;
  double values[3] = {-1, -1, -1}; // percent, current, total
  for (auto& [name, index] : re_->NamedCapturingGroups()) {
    auto& g = groups[static_cast<size_t>(index)];
    if (g.data() == nullptr)
      continue;
    double v;
    if (!group_number({g.data(), g.size()}, v))
      return false;
    values[name == "percent" ? 0 : name == "current" ? 1 : 2] = v;
  }
  double percent = values[0], current = values[1], total = values[2];
  if (percent > 100)
    return false;
  bool count = current >= 0 && total > 0 && current <= total;
  if (percent < 0 && count)
    percent = current * 100.0 / total;
  if (percent < 0 && current < 0 && total < 0)
    return false;
  out.known = true;
  out.percent = percent;
  out.current = current;
  out.total = total;
  out.text = excerpt(line);
  return true;
}

} // namespace jobd

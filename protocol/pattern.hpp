// The one place where a client's regular expression is compiled and run.
// RE2 (Debian libre2-dev) matches in time linear in the input and in memory
// bounded per pattern, with no recursion: no pattern and no input can crash
// jobd or hold an actor for long (std::regex recursed per character and
// took jobd down on a 16,000-character line).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
} // namespace re2

namespace jobd {

/// A compiled client pattern (RE2 syntax: Perl-like, without
/// back-references or look-around). Cheap to copy: copies share the
/// compiled program, which is immutable and safe to use from any thread.
class pattern {
public:
  /// Memory RE2 may use for one pattern's compiled program and its DFA
  /// caches (the DFA keeps matching fast for patterns it can serve).
  static constexpr int64_t max_memory = 8 * 1024 * 1024;

  /// Most instructions a pattern may compile to. Matching is linear in the
  /// input, but when RE2's DFA gives up the cost per byte grows with the
  /// program, and so does compiling it: `\pL` is about 1200 instructions,
  /// `[a-z]{1000}` about 1000, typical log patterns under 100.
  static constexpr int max_program_size = 5000;

  /// A first compile under this budget finds a program over the limit
  /// without building it whole (an 8 MiB attempt took 0.2-0.4 s).
  static constexpr int64_t probe_memory = 256 * 1024;

  /// An empty pattern: matches everything.
  pattern() = default;

  /// Compiles `text`; false with the engine's reason in `error` if it is
  /// not a valid pattern or too large (back-references and look-around are
  /// named as such). `error` is short: it never quotes the whole pattern.
  static bool compile(std::string_view text, pattern& out, std::string& error);

  /// True if `text` contains a match (always, for the empty pattern).
  bool search(std::string_view text) const;

  /// True if the whole of `text` matches (always, for the empty pattern):
  /// a template parameter's pattern.
  bool full_match(std::string_view text) const;

  bool empty() const {
    return re_ == nullptr;
  }

private:
  std::shared_ptr<const re2::RE2> re_;
};

} // namespace jobd

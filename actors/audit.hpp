// AUDIT: the audit log (--audit-log FILE). Appends one JSON line per tool
// call (from ENDPOINT), per lifecycle event of any session's job (it listens
// to SCHEDULER as METRICS does) and per server start and stop; entries are
// built in actors/audit_format.hpp. The file is created mode 0600 (and made
// so if it existed), never through a symlink, and rotated by size: FILE.1
// is the newest old file, at most `keep` of them. Write errors go to stderr
// once per kind and never stop jobd. Spawn it detached: its I/O blocks.
#pragma once

#include "actors/actors.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <memory>
#include <set>
#include <string>

namespace jobd {

struct audit_options {
  std::string path;
  /// A write that would make the file larger rotates it first (an entry
  /// larger than this still goes whole into a fresh file).
  uint64_t max_bytes = uint64_t{64} << 20;
  /// Old files kept (FILE.1 .. FILE.keep), at least 1.
  uint64_t keep = 5;
};

/// The open log file; used by one thread at a time (the AUDIT actor).
class audit_log {
public:
  explicit audit_log(audit_options options);
  ~audit_log();
  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;

  /// Opens (or creates) the file for appending, mode 0600. False with the
  /// reason if it cannot (a symlink, a directory, no permission).
  bool open(std::string& why);

  /// Appends one whole line (ending in '\n'), rotating first when it would
  /// pass max_bytes. Errors are reported to stderr once per kind.
  void append(const std::string& line);

  /// Flushes to disk and closes.
  void close();

  const audit_options& options() const {
    return options_;
  }
  /// Bytes in the current file.
  uint64_t size() const {
    return size_;
  }

private:
  bool reopen(std::string& why);
  void rotate();
  void report(const std::string& kind, const std::string& message);

  audit_options options_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::set<std::string> reported_;
};

struct audit_state {
  std::shared_ptr<audit_log> log;
  bool stopped = false;
  static inline const char* name = "audit";
};

using audit_ptr = audit_actor::stateful_pointer<audit_state>;

/// Writes the server's start entry at once; `log` is open (audit_log::open
/// at start-up, so that a log that cannot be opened stops jobd from
/// starting, never from auditing quietly).
audit_actor::behavior_type audit(audit_ptr self,
                                 std::shared_ptr<audit_log> log);

} // namespace jobd

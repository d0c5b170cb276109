// Pseudo-terminals for jobs with stdin_mode::tty: made in the parent (the
// child only dup2s the slave and makes it its controlling terminal), sized
// with TIOCSWINSZ (the kernel sends SIGWINCH to the foreground group).
#pragma once

#include <cstdint>
#include <string>

namespace jobd {

struct terminal_fds {
  /// The master (O_RDWR, O_CLOEXEC): the job's output and input.
  int master = -1;
  /// The slave, opened with O_NOCTTY and O_CLOEXEC: the child dup2s it
  /// onto 0, 1 and 2; the parent closes it once the child started.
  int slave = -1;
};

/// Opens a terminal of `cols` x `rows`; false with errno set on failure
/// (nothing is left open then).
bool open_terminal(int32_t cols, int32_t rows, terminal_fds& out);

/// TIOCSWINSZ on the master `fd`; false on failure or a size out of range.
bool resize_terminal(int fd, int32_t cols, int32_t rows);

/// The terminal's end-of-file character (VEOF, ^D unless changed).
char eof_char(int fd);

} // namespace jobd

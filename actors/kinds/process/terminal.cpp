#include "actors/kinds/process/terminal.hpp"

#include "actors/kinds/process/spawn.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace jobd {

namespace {

bool set_size(int fd, int32_t cols, int32_t rows) {
  if (cols <= 0 || rows <= 0 || cols > USHRT_MAX || rows > USHRT_MAX) {
    errno = EINVAL;
    return false;
  }
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  return ::ioctl(fd, TIOCSWINSZ, &ws) == 0;
}

} // namespace

bool open_terminal(int32_t cols, int32_t rows, terminal_fds& out) {
  int master = above_stdio(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master < 0)
    return false;
  char name[128];
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0
      || ::ptsname_r(master, name, sizeof name) != 0
      || !set_size(master, cols, rows)) {
    const int error = errno;
    ::close(master);
    errno = error;
    return false;
  }
  const int slave = above_stdio(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave < 0) {
    const int error = errno;
    ::close(master);
    errno = error;
    return false;
  }
  out.master = master;
  out.slave = slave;
  return true;
}

bool resize_terminal(int fd, int32_t cols, int32_t rows) {
  return fd >= 0 && set_size(fd, cols, rows);
}

char eof_char(int fd) {
  termios tio{};
  if (::tcgetattr(fd, &tio) == 0 && tio.c_cc[VEOF] != _POSIX_VDISABLE)
    return static_cast<char>(tio.c_cc[VEOF]);
  return '\x04';
}

} // namespace jobd

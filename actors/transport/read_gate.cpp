#include "actors/transport/read_gate.hpp"

#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>

namespace jobd {

read_gate::read_gate() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

read_gate::~read_gate() {
  if (fd_ >= 0)
    ::close(fd_);
}

void read_gate::pause() {
  if (!paused_.exchange(true, std::memory_order_acq_rel))
    pauses_.fetch_add(1, std::memory_order_relaxed);
}

void read_gate::resume() {
  if (!paused_.exchange(false, std::memory_order_acq_rel))
    return;
  uint64_t one = 1;
  auto rc = ::write(fd_, &one, sizeof one);
  (void) rc; // fails only if the counter overflowed, which drain() prevents
}

void read_gate::drain() {
  uint64_t count = 0;
  auto rc = ::read(fd_, &count, sizeof count);
  (void) rc; // EAGAIN: nothing to drain
}

} // namespace jobd

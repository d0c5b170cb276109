#include "actors/transport/read_gate.hpp"

#include <algorithm>
#include <sys/eventfd.h>
#include <unistd.h>

namespace jobd {

read_gate::read_gate(uint64_t max_lines, uint64_t max_bytes)
  : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), max_lines_(max_lines),
    max_bytes_(max_bytes) {}

read_gate::~read_gate() {
  if (fd_ >= 0)
    ::close(fd_);
}

void read_gate::pause() {
  if (!replies_paused_.exchange(true, std::memory_order_acq_rel))
    pauses_.fetch_add(1, std::memory_order_relaxed);
}

void read_gate::resume() {
  if (replies_paused_.exchange(false, std::memory_order_acq_rel))
    wake();
}

void read_gate::line_read(uint64_t bytes) {
  std::lock_guard<std::mutex> guard{mtx_};
  ++lines_;
  bytes_ += bytes;
  if (lines_ >= max_lines_ || bytes_ >= max_bytes_)
    input_blocked_ = true;
}

void read_gate::line_handled(uint64_t bytes) {
  bool opened = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    // Never below zero, whatever a caller miscounts.
    lines_ -= lines_ > 0 ? 1 : 0;
    bytes_ -= std::min(bytes_, bytes);
    if (input_blocked_ && lines_ <= max_lines_ / 2
        && bytes_ <= max_bytes_ / 2) {
      input_blocked_ = false;
      opened = true;
    }
  }
  if (opened)
    wake();
}

bool read_gate::paused() const {
  if (replies_paused_.load(std::memory_order_acquire))
    return true;
  std::lock_guard<std::mutex> guard{mtx_};
  return input_blocked_;
}

void read_gate::wake() {
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

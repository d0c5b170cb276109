// Backpressure between a client's outgoing queue and the reader of its
// requests: the sink closes the gate while too many replies wait for the
// client, and the reader reads no new request until it opens again. A
// client that sends requests without reading replies thus cannot grow
// jobd's memory without bound, and no actor ever waits for it.
#pragma once

#include <atomic>
#include <cstdint>

namespace jobd {

class read_gate {
public:
  read_gate();
  ~read_gate();

  read_gate(const read_gate&) = delete;
  read_gate& operator=(const read_gate&) = delete;

  /// Stop reading requests (from the sink, any thread).
  void pause();
  /// Read again; wakes a reader polling fd().
  void resume();

  bool paused() const {
    return paused_.load(std::memory_order_acquire);
  }

  /// How often the gate closed so far (diagnostics and tests).
  uint64_t pauses() const {
    return pauses_.load(std::memory_order_relaxed);
  }

  /// An eventfd that turns readable when the gate opens: a paused reader
  /// polls it (with its other fds), then calls drain() and checks paused().
  int fd() const {
    return fd_;
  }
  void drain();

private:
  int fd_;
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> pauses_{0};
};

} // namespace jobd

// Backpressure between a client's connection and the ENDPOINT serving it.
// The reader of the client's requests reads nothing while the gate is
// closed, which it is while
// - too many replies wait for the client (the sink pauses and resumes it), or
// - too many lines were read but not yet handled by the ENDPOINT (the reader
//   counts what it hands over, the ENDPOINT what it handled), so that a
//   client sending faster than the ENDPOINT works cannot fill its mailbox.
// A client that sends requests without reading replies thus cannot grow
// jobd's memory without bound, and no actor ever waits for it: the client's
// own writes block once its pipe is full.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace jobd {

class read_gate {
public:
  /// At most `max_lines` lines or `max_bytes` of them read and not handled.
  explicit read_gate(uint64_t max_lines = 1024,
                     uint64_t max_bytes = 8 * 1024 * 1024);
  ~read_gate();

  read_gate(const read_gate&) = delete;
  read_gate& operator=(const read_gate&) = delete;

  /// Stop reading: too many replies are queued (from the sink, any thread).
  void pause();
  /// The replies drained; wakes a reader polling fd().
  void resume();

  /// The reader handed a line of `bytes` (0 for a skipped one) over.
  void line_read(uint64_t bytes);
  /// The ENDPOINT handled a line of `bytes`. Once the limit was reached,
  /// the reader is woken only when half of it is free again, so that a
  /// flood costs one wake-up per many lines, not one per line.
  void line_handled(uint64_t bytes);

  /// Should the reader wait (poll fd()) instead of reading?
  bool paused() const;

  /// How often the replies closed the gate so far (diagnostics and tests).
  uint64_t pauses() const {
    return pauses_.load(std::memory_order_relaxed);
  }

  /// An eventfd that turns readable when the gate may have opened: a paused
  /// reader polls it (with its other fds), then calls drain() and checks
  /// paused() again.
  int fd() const {
    return fd_;
  }
  void drain();

private:
  void wake();

  int fd_;
  uint64_t max_lines_;
  uint64_t max_bytes_;
  std::atomic<bool> replies_paused_{false};
  std::atomic<uint64_t> pauses_{0};
  mutable std::mutex mtx_;
  uint64_t lines_ = 0;
  uint64_t bytes_ = 0;
  // The limit was reached and half of it is not free yet.
  bool input_blocked_ = false;
};

} // namespace jobd

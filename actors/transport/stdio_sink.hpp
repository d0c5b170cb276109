// The line sink for a client on stdio: a bounded queue in front of a
// non-blocking fd, drained by a writer thread of its own. send() never
// waits for the client: a message goes out at once when nothing is queued
// and the fd takes it, else it waits in the queue (replies without limit but
// under backpressure, notifications coalesced or dropped).
#pragma once

#include "actors/transport/line_sink.hpp"
#include "actors/transport/read_gate.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <sys/uio.h>
#include <thread>
#include <unordered_map>

namespace jobd {

struct stdio_sink_options {
  /// Queued replies above which the gate closes (bytes or lines, whichever
  /// is reached first); it opens again once both are below half.
  uint64_t reply_high_bytes = 64 * 1024 * 1024;
  uint64_t reply_high_lines = 65536;
  /// Queued notifications (bytes) above which keyless ones are dropped,
  /// oldest first; the drop notice goes out once they are below half.
  uint64_t notification_high_bytes = 1024 * 1024;
  /// How long close() keeps writing to a client that does not read.
  std::chrono::milliseconds flush_timeout{1000};
  /// A line sent this long after the one before (and with nothing queued)
  /// is written at once by the caller: one syscall of latency for a client
  /// that waits for each reply. Lines that follow each other closer go to
  /// the writer thread, which writes what piled up with one writev: a
  /// pipelining client then costs a syscall per batch, not per line.
  std::chrono::microseconds direct_gap{200};
  /// Closed while replies are over their bound; nullptr: no backpressure.
  std::shared_ptr<read_gate> gate;
};

/// Counters of a sink, for tests and diagnostics.
struct stdio_sink_stats {
  uint64_t queued_lines = 0;
  uint64_t queued_bytes = 0;
  uint64_t reply_lines = 0;
  uint64_t reply_bytes = 0;
  uint64_t written_lines = 0;
  /// write/writev calls that wrote something (a batch is one).
  uint64_t writes = 0;
  /// Notifications replaced by a newer one with the same key.
  uint64_t coalesced = 0;
  /// Keyless notifications dropped.
  uint64_t dropped = 0;
  bool closed = false;
};

class stdio_sink final : public line_sink {
public:
  /// Writes to `fd` (not closed by the sink). A pipe or FIFO is reopened
  /// through /proc/self/fd with its own O_NONBLOCK, a socket is written with
  /// MSG_DONTWAIT; anything else gets O_NONBLOCK, restored by close().
  /// SIGPIPE must be ignored in the process (jobd's main does): send() may
  /// write from the caller's thread.
  explicit stdio_sink(int fd, stdio_sink_options options = {});

  /// close().
  ~stdio_sink() override;

  stdio_sink(const stdio_sink&) = delete;
  stdio_sink& operator=(const stdio_sink&) = delete;

  void send(std::string line, message_kind kind,
            std::string coalesce_key = {}) override;

  void attach(sink_handlers handlers) override;

  /// Writes what is queued for at most the flush timeout, then stops the
  /// writer thread; later messages are discarded. Idempotent.
  void close();

  stdio_sink_stats stats() const;

private:
  struct item {
    std::string text; // with its newline
    size_t written = 0;
    message_kind kind = message_kind::reply;
    std::string key;
  };
  using item_list = std::list<item>;
  enum class gate_change { none, paused, resumed };

  void run();
  void enqueue(item x, bool lossy);
  void forget(item_list::iterator pos);
  void take_batch(item_list& batch);
  // 0 once all is written, an errno if a write failed, -1 if close() ran
  // out of time.
  int write_batch(item_list& batch);
  void account_written(item_list& batch, size_t n);
  // False once close()'s deadline passed.
  bool wait_writable();
  ssize_t write_some(const iovec* parts, int count);
  gate_change update_gate();
  static void log_gate(gate_change change, uint64_t reply_bytes);
  void fail(int err);
  void discard_queue();

  // Where and how we write (see the constructor).
  int fd_ = -1;
  bool owns_fd_ = false;
  bool socket_ = false;
  int restore_flags_ = -1;
  // Wakes the writer thread out of poll() when close() begins.
  int wake_fd_ = -1;
  stdio_sink_options opts_;

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  item_list queue_;
  // The queued notification of each coalescing key.
  std::unordered_map<std::string, item_list::iterator> keyed_;
  // Queued keyless notifications, oldest first.
  std::deque<item_list::iterator> lossy_;
  // Replies and notifications not written yet, including the writer's
  // batch in hand.
  uint64_t reply_lines_ = 0;
  uint64_t reply_bytes_ = 0;
  uint64_t notification_lines_ = 0;
  uint64_t notification_bytes_ = 0;
  uint64_t written_lines_ = 0;
  // Written by the caller of send() and by the writer thread.
  std::atomic<uint64_t> writes_{0};
  uint64_t coalesced_ = 0;
  uint64_t dropped_total_ = 0;
  // Dropped since the client was last told.
  uint64_t dropped_untold_ = 0;
  bool gate_closed_ = false;
  // The writer thread holds a batch: no one else may write.
  bool writing_ = false;
  /// When the last line was sent (direct_gap).
  std::chrono::steady_clock::time_point last_sent_{};
  // A write failed in send(): the writer thread reports it.
  int failed_errno_ = 0;
  // No more writing (failed, or gave up at close()).
  bool closed_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;

  std::mutex handlers_mtx_;
  sink_handlers handlers_;
  // A failure came before a closed handler was attached.
  bool failure_untold_ = false;

  std::mutex close_mtx_;
  std::thread thread_;
};

} // namespace jobd

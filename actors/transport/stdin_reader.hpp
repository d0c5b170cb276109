// The thread that reads the client's lines from stdin and hands each to the
// ENDPOINT. It polls stdin together with an eventfd, so stopping it never
// waits for the client to close stdin. While the read gate is closed (the
// client does not read its replies, or ENDPOINT has not handled enough of
// the lines already read) it reads nothing.
#pragma once

#include "actors/actors.hpp"
#include "actors/transport/read_gate.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace jobd {

class stdin_reader {
public:
  /// Starts reading `fd` at once; lines longer than `max_line_bytes` are
  /// skipped and reported by their length. Reading pauses while `gate` (if
  /// any) is paused; every line handed over is counted there.
  stdin_reader(int fd, endpoint_actor sink, uint64_t max_line_bytes,
               std::shared_ptr<read_gate> gate = nullptr);

  /// Stops and joins the thread.
  ~stdin_reader();

  stdin_reader(const stdin_reader&) = delete;
  stdin_reader& operator=(const stdin_reader&) = delete;

  void stop();

private:
  void run();
  // Sends a line (or the length of a skipped one), counted by the gate
  // until ENDPOINT reports it handled.
  void hand_over(std::string line);
  void hand_over(uint64_t skipped_length);

  int fd_;
  int wake_fd_;
  endpoint_actor sink_;
  uint64_t max_line_bytes_;
  std::shared_ptr<read_gate> gate_;
  std::thread thread_;
};

} // namespace jobd

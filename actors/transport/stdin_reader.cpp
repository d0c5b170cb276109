#include "actors/transport/stdin_reader.hpp"

#include <caf/send.hpp>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>

namespace jobd {

stdin_reader::stdin_reader(int fd, endpoint_actor sink, uint64_t max_line_bytes,
                           std::shared_ptr<read_gate> gate)
  : fd_(fd), wake_fd_(::eventfd(0, EFD_CLOEXEC)), sink_(std::move(sink)),
    max_line_bytes_(max_line_bytes), gate_(std::move(gate)) {
  thread_ = std::thread{[this] { run(); }};
}

stdin_reader::~stdin_reader() {
  stop();
  ::close(wake_fd_);
}

void stdin_reader::stop() {
  if (!thread_.joinable())
    return;
  uint64_t one = 1;
  auto rc = ::write(wake_fd_, &one, sizeof one);
  (void) rc;
  thread_.join();
}

void stdin_reader::hand_over(std::string line) {
  if (gate_)
    gate_->line_read(line.size());
  caf::anon_send(sink_, atom::line_v, std::move(line));
}

void stdin_reader::hand_over(uint64_t skipped_length) {
  if (gate_)
    gate_->line_read(0);
  caf::anon_send(sink_, atom::line_v, skipped_length);
}

void stdin_reader::run() {
  std::string line;
  // While skipping an oversized line: its length so far; 0 otherwise.
  uint64_t skipped = 0;
  char block[64 * 1024];
  // What was read and not yet split into lines.
  const char* pos = block;
  const char* end = block;
  for (;;) {
    if (gate_ && gate_->paused()) {
      // Wait for the gate without reading: what the client sends meanwhile
      // stays in the pipe, and the client's writes block, not ours.
      pollfd fds[2] = {{gate_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR)
        break;
      if (fds[1].revents != 0)
        return;
      gate_->drain();
      continue;
    }
    if (pos < end) {
      // One line per turn, so that the gate is checked between lines.
      auto nl = static_cast<const char*>(std::memchr(pos, '\n', end - pos));
      auto line_end = nl ? nl : end;
      auto len = static_cast<uint64_t>(line_end - pos);
      if (skipped > 0 || line.size() + len > max_line_bytes_) {
        // Too long: drop it without holding it in memory, report at its end.
        skipped += line.size() + len;
        line.clear();
      } else {
        line.append(pos, len);
      }
      pos = nl ? nl + 1 : end;
      if (nl == nullptr)
        continue;
      if (skipped > 0) {
        hand_over(skipped);
        skipped = 0;
      } else {
        if (!line.empty() && line.back() == '\r')
          line.pop_back(); // tolerate CRLF framing
        if (!line.empty())
          hand_over(std::move(line));
        line = std::string{};
      }
      continue;
    }
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents != 0)
      return; // asked to stop: the owner shuts down
    if (gate_ && gate_->paused())
      continue; // closed while we waited: read nothing more
    auto n = ::read(fd_, block, sizeof block);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      break; // EOF or error: the client is gone
    pos = block;
    end = block + n;
  }
  if (skipped > 0)
    hand_over(skipped);
  else if (!line.empty())
    hand_over(std::move(line));
  caf::anon_send(sink_, atom::shutdown_v);
}

} // namespace jobd

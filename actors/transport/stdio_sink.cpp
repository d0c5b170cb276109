#include "actors/transport/stdio_sink.hpp"

#include "actors/logger.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace jobd {

namespace {

// One writev takes at most this much of the queue (IOV_MAX is 1024), so
// counters and the gate follow the client's pace.
constexpr size_t batch_lines = 256;
constexpr size_t batch_bytes = 1024 * 1024;

} // namespace

// Called after the lock is released: stderr may be slow too.
void stdio_sink::log_gate(gate_change change, uint64_t reply_bytes) {
  if (change == gate_change::paused)
    log::warning("the client does not read its replies ("
                 + std::to_string(reply_bytes)
                 + " bytes queued): reading requests paused");
  else if (change == gate_change::resumed)
    log::info("the client reads again: reading requests resumed");
}

stdio_sink::stdio_sink(int fd, stdio_sink_options options)
  : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
    opts_(std::move(options)) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    failed_errno_ = errno;
  } else if (S_ISSOCK(st.st_mode)) {
    // send() has a per-call MSG_DONTWAIT: no flag to change.
    fd_ = fd;
    socket_ = true;
  } else {
    fd_ = fd;
    if (S_ISFIFO(st.st_mode)) {
      // O_NONBLOCK belongs to the open file description, which the client
      // (or a shell) may share with us: a description of our own for the
      // same pipe keeps the flag to ourselves.
      auto path = "/proc/self/fd/" + std::to_string(fd);
      int own = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (own >= 0) {
        fd_ = own;
        owns_fd_ = true;
      } else if (errno == ENXIO) {
        failed_errno_ = EPIPE; // nobody reads the pipe any more
      }
    }
    if (!owns_fd_ && failed_errno_ == 0) {
      // A terminal, a file, or /proc is missing: set the flag on the shared
      // description and put it back in close(). Files never block anyway.
      int flags = ::fcntl(fd, F_GETFL);
      if (flags >= 0 && (flags & O_NONBLOCK) == 0
          && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0)
        restore_flags_ = flags;
    }
  }
  if (failed_errno_ != 0)
    closed_ = true;
  thread_ = std::thread{[this] { run(); }};
}

stdio_sink::~stdio_sink() {
  close();
  if (wake_fd_ >= 0)
    ::close(wake_fd_);
}

void stdio_sink::send(std::string line, message_kind kind,
                      std::string coalesce_key) {
  line.push_back('\n');
  auto change = gate_change::none;
  uint64_t reply_bytes = 0;
  bool first_drop = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ || stopping_)
      return;
    item x{std::move(line), 0, kind, std::move(coalesce_key)};
    bool lossy = kind == message_kind::notification && x.key.empty();
    auto now = std::chrono::steady_clock::now();
    bool burst = now - last_sent_ < opts_.direct_gap;
    last_sent_ = now;
    if (!burst && queue_.empty() && !writing_ && dropped_untold_ == 0) {
      // Nothing ahead of it and none just before: write at once from this
      // thread (the fd does not block), and queue only what the client does
      // not take now. This keeps the latency of a reading client at one
      // syscall.
      iovec part{x.text.data(), x.text.size()};
      auto n = write_some(&part, 1);
      if (n == static_cast<ssize_t>(x.text.size())) {
        ++written_lines_;
        return;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        // The writer thread reports it, off the caller's thread.
        failed_errno_ = errno;
        closed_ = true;
        cv_.notify_one();
        return;
      }
      if (n > 0) {
        // Begun: its rest goes out before anything else, whatever it is.
        x.written = static_cast<size_t>(n);
        x.key.clear();
        lossy = false;
      }
    }
    auto before = dropped_untold_;
    enqueue(std::move(x), lossy);
    first_drop = before == 0 && dropped_untold_ > 0;
    if (kind == message_kind::reply) {
      change = update_gate();
      reply_bytes = reply_bytes_;
    }
  }
  cv_.notify_one();
  log_gate(change, reply_bytes);
  if (first_drop)
    log::warning("the client does not read: dropping notifications");
}

void stdio_sink::enqueue(item x, bool lossy) {
  auto bytes = static_cast<uint64_t>(x.text.size());
  if (x.kind == message_kind::reply) {
    ++reply_lines_;
    reply_bytes_ += bytes;
    queue_.push_back(std::move(x));
    return;
  }
  if (!x.key.empty()) {
    if (auto i = keyed_.find(x.key); i != keyed_.end()) {
      // Only the newest matters; it goes where it was sent (after any reply
      // queued meanwhile), so no notification overtakes a reply.
      forget(i->second);
      keyed_.erase(i);
      ++coalesced_;
    }
  }
  ++notification_lines_;
  notification_bytes_ += bytes;
  queue_.push_back(std::move(x));
  auto last = std::prev(queue_.end());
  if (!last->key.empty())
    keyed_.emplace(last->key, last);
  else if (lossy)
    lossy_.push_back(last);
  // Over the bound: drop keyless ones, oldest first, never the newest.
  while (notification_bytes_ > opts_.notification_high_bytes
         && lossy_.size() > 1) {
    forget(lossy_.front());
    lossy_.pop_front();
    ++dropped_total_;
    ++dropped_untold_;
  }
}

void stdio_sink::forget(item_list::iterator pos) {
  auto bytes = static_cast<uint64_t>(pos->text.size());
  if (pos->kind == message_kind::reply) {
    --reply_lines_;
    reply_bytes_ -= bytes;
  } else {
    --notification_lines_;
    notification_bytes_ -= bytes;
  }
  queue_.erase(pos);
}

void stdio_sink::attach(sink_handlers handlers) {
  std::lock_guard<std::mutex> guard{handlers_mtx_};
  handlers_ = std::move(handlers);
  // A failure before anyone listened (e.g. at construction) is told now.
  if (failure_untold_ && handlers_.closed) {
    failure_untold_ = false;
    handlers_.closed();
  }
}

void stdio_sink::close() {
  std::lock_guard<std::mutex> closing{close_mtx_};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!stopping_) {
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + opts_.flush_timeout;
    }
  }
  cv_.notify_all();
  uint64_t one = 1;
  auto rc = ::write(wake_fd_, &one, sizeof one);
  (void) rc; // the writer also rechecks its deadline by timeout
  if (thread_.joinable())
    thread_.join();
  std::lock_guard<std::mutex> guard{mtx_};
  if (owns_fd_) {
    ::close(fd_);
    owns_fd_ = false;
    fd_ = -1;
  } else if (restore_flags_ >= 0) {
    ::fcntl(fd_, F_SETFL, restore_flags_);
    restore_flags_ = -1;
  }
}

stdio_sink_stats stdio_sink::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  stdio_sink_stats s;
  s.reply_lines = reply_lines_;
  s.reply_bytes = reply_bytes_;
  s.writes = writes_.load(std::memory_order_relaxed);
  s.queued_lines = reply_lines_ + notification_lines_;
  s.queued_bytes = reply_bytes_ + notification_bytes_;
  s.written_lines = written_lines_;
  s.coalesced = coalesced_;
  s.dropped = dropped_total_;
  s.closed = closed_;
  return s;
}

void stdio_sink::run() {
  // A broken pipe is an error code here, never a signal, whatever the
  // process does with SIGPIPE.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    // The drop notice is due once the client caught up with what is left.
    auto notice_due = [this] {
      return dropped_untold_ > 0
             && notification_bytes_ <= opts_.notification_high_bytes / 2;
    };
    cv_.wait(lock, [&] {
      return !queue_.empty() || notice_due() || stopping_ || failed_errno_ != 0;
    });
    if (failed_errno_ != 0) {
      auto err = failed_errno_;
      lock.unlock();
      fail(err);
      return;
    }
    if (closed_)
      return;
    uint64_t notice = notice_due() ? std::exchange(dropped_untold_, 0) : 0;
    if (queue_.empty() && notice == 0)
      return; // stopping, and everything was written
    item_list batch;
    take_batch(batch);
    writing_ = true;
    lock.unlock();
    if (notice > 0) {
      // The client reads again: tell it what it missed, first.
      log::warning("dropped " + std::to_string(notice)
                   + " notifications while the client did not read");
      std::string text;
      {
        std::lock_guard<std::mutex> guard{handlers_mtx_};
        if (handlers_.drop_notice)
          text = handlers_.drop_notice(notice);
      }
      if (!text.empty()) {
        text.push_back('\n');
        std::lock_guard<std::mutex> guard{mtx_};
        ++notification_lines_;
        notification_bytes_ += text.size();
        // Never between the two parts of a line begun in send().
        auto pos = batch.begin();
        if (pos != batch.end() && pos->written > 0)
          ++pos;
        batch.insert(pos,
                     item{std::move(text), 0, message_kind::notification, {}});
      }
    }
    auto err = write_batch(batch);
    lock.lock();
    writing_ = false;
    if (err > 0) {
      lock.unlock();
      fail(err);
      return;
    }
    if (err < 0) {
      // close() ran out of time: the client did not read.
      auto left = reply_lines_ + notification_lines_;
      closed_ = true;
      discard_queue();
      update_gate();
      lock.unlock();
      log::warning("the client did not read: " + std::to_string(left)
                   + " messages not sent at exit");
      return;
    }
  }
}

void stdio_sink::take_batch(item_list& batch) {
  size_t bytes = 0;
  while (
    !queue_.empty() && batch.size() < batch_lines
    && (batch.empty() || bytes + queue_.front().text.size() <= batch_bytes)) {
    auto first = queue_.begin();
    if (!first->key.empty())
      keyed_.erase(first->key);
    if (!lossy_.empty() && lossy_.front() == first)
      lossy_.pop_front();
    bytes += first->text.size();
    batch.splice(batch.end(), queue_, first);
  }
}

int stdio_sink::write_batch(item_list& batch) {
  std::vector<iovec> parts;
  parts.reserve(batch_lines + 1);
  while (!batch.empty()) {
    parts.clear();
    for (auto& x : batch)
      parts.push_back(
        iovec{x.text.data() + x.written, x.text.size() - x.written});
    auto n = write_some(parts.data(), static_cast<int>(parts.size()));
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return errno;
      if (!wait_writable())
        return -1;
      continue;
    }
    account_written(batch, static_cast<size_t>(n));
  }
  return 0;
}

void stdio_sink::account_written(item_list& batch, size_t n) {
  uint64_t lines[2] = {0, 0};
  uint64_t bytes[2] = {0, 0};
  while (!batch.empty()) {
    auto& x = batch.front();
    auto rest = x.text.size() - x.written;
    if (n < rest) {
      x.written += n;
      break;
    }
    n -= rest;
    auto k = x.kind == message_kind::reply ? 0 : 1;
    ++lines[k];
    bytes[k] += x.text.size();
    batch.pop_front();
  }
  auto change = gate_change::none;
  uint64_t reply_bytes = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    reply_lines_ -= lines[0];
    reply_bytes_ -= bytes[0];
    notification_lines_ -= lines[1];
    notification_bytes_ -= bytes[1];
    written_lines_ += lines[0] + lines[1];
    change = update_gate();
    reply_bytes = reply_bytes_;
  }
  log_gate(change, reply_bytes);
}

bool stdio_sink::wait_writable() {
  for (;;) {
    int timeout = -1;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
        if (left.count() <= 0)
          return false;
        timeout = static_cast<int>(left.count()) + 1;
      }
    }
    pollfd fds[2] = {{fd_, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
    auto rc = ::poll(fds, 2, timeout);
    if (rc < 0 && errno != EINTR)
      return true; // let the write report what is wrong
    if (rc <= 0)
      continue; // interrupted, or the deadline passed: check again
    if (fds[1].revents != 0) {
      uint64_t count = 0;
      auto n = ::read(wake_fd_, &count, sizeof count);
      (void) n; // close() began: from now on the deadline counts
      continue;
    }
    return true; // writable, or an error the write reports
  }
}

ssize_t stdio_sink::write_some(const iovec* parts, int count) {
  for (;;) {
    ssize_t n;
    if (socket_) {
      msghdr msg{};
      msg.msg_iov = const_cast<iovec*>(parts);
      msg.msg_iovlen = static_cast<size_t>(count);
      n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      n = ::writev(fd_, parts, count);
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n > 0)
      writes_.fetch_add(1, std::memory_order_relaxed);
    return n;
  }
}

stdio_sink::gate_change stdio_sink::update_gate() {
  if (!opts_.gate)
    return gate_change::none;
  bool over = reply_bytes_ > opts_.reply_high_bytes
              || reply_lines_ > opts_.reply_high_lines;
  bool under = closed_
               || (reply_bytes_ <= opts_.reply_high_bytes / 2
                   && reply_lines_ <= opts_.reply_high_lines / 2);
  if (!gate_closed_ && over && !closed_) {
    gate_closed_ = true;
    opts_.gate->pause();
    return gate_change::paused;
  }
  if (gate_closed_ && under) {
    gate_closed_ = false;
    opts_.gate->resume();
    return gate_change::resumed;
  }
  return gate_change::none;
}

void stdio_sink::fail(int err) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    discard_queue();
    update_gate(); // a reader paused for us must not wait forever
  }
  log::warning(std::string{"cannot write to the client ("} + std::strerror(err)
               + "), shutting down");
  std::lock_guard<std::mutex> guard{handlers_mtx_};
  if (handlers_.closed)
    handlers_.closed();
  else
    failure_untold_ = true;
}

void stdio_sink::discard_queue() {
  queue_.clear();
  keyed_.clear();
  lossy_.clear();
  reply_lines_ = 0;
  reply_bytes_ = 0;
  notification_lines_ = 0;
  notification_bytes_ = 0;
}

} // namespace jobd

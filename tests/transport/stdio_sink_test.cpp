// The stdio sink on real pipes and sockets: send() never blocks, replies
// all arrive in order, notifications coalesce or drop as documented, lines
// never interleave, a write error is told once, close() is bounded, and the
// read gate follows the queued replies.
#include "actors/transport/stdio_sink.hpp"

#include "eventually.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <limits>
#include <map>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using jobd::test::eventually;

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using jobd::message_kind;
using jobd::stdio_sink;
using jobd::stdio_sink_options;

// The sink writes from the caller's thread too: as in jobd, a reader that
// went away must be an error code, not a signal.
const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

struct fd_pair {
  int read = -1;
  int write = -1;
  ~fd_pair() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read >= 0)
      ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0)
      ::close(write);
    write = -1;
  }
};

fd_pair make_pipe() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return fd_pair{fds[0], fds[1]};
}

fd_pair make_socketpair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return fd_pair{fds[0], fds[1]};
}

// Reads lines from an fd until `count` arrived, EOF, or the timeout.
class line_reader {
public:
  explicit line_reader(int fd) : fd_(fd) {}

  std::vector<std::string> read(size_t count,
                                std::chrono::milliseconds timeout = 10s) {
    auto deadline = clock_type::now() + timeout;
    while (lines_.size() < count) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
      if (left.count() <= 0)
        break;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[65536];
      auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0)
        break;
      partial_.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (auto nl = partial_.find('\n'); nl != std::string::npos;
           nl = partial_.find('\n', start)) {
        lines_.push_back(partial_.substr(start, nl - start));
        start = nl + 1;
      }
      partial_.erase(0, start);
    }
    return lines_;
  }

  // Everything until the writer side closes (or the timeout).
  std::vector<std::string> read_to_eof(std::chrono::milliseconds timeout) {
    return read(std::numeric_limits<size_t>::max(), timeout);
  }

  const std::string& partial() const {
    return partial_;
  }

private:
  int fd_;
  std::string partial_;
  std::vector<std::string> lines_;
};

std::string reply_text(size_t i, size_t size = 200) {
  auto text = "{\"id\":" + std::to_string(i) + ",\"pad\":\"";
  text.append(size > text.size() + 2 ? size - text.size() - 2 : 0, 'x');
  return text + "\"}";
}

// Fills the pipe and leaves the rest of a large reply queued, so that what
// follows waits in the queue.
void fill(stdio_sink& sink, size_t bytes = 1024 * 1024) {
  sink.send(reply_text(0, bytes), message_kind::reply);
  ASSERT_GT(sink.stats().queued_bytes, 0u);
}

TEST(StdioSink, SendNeverBlocksAndRepliesArriveInOrder) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  auto start = clock_type::now();
  for (size_t i = 0; i < 10000; ++i)
    sink.send(reply_text(i), message_kind::reply);
  auto took = clock_type::now() - start;
  // 2 MB into a 64 KiB pipe nobody reads: only a non-blocking send returns.
  EXPECT_LT(took, 5s);
  EXPECT_GT(sink.stats().reply_lines, 0u) << "the pipe took everything?";
  line_reader reader{p.read};
  auto lines = reader.read(10000);
  ASSERT_EQ(lines.size(), 10000u);
  for (size_t i = 0; i < lines.size(); ++i)
    ASSERT_EQ(lines[i], reply_text(i)) << "line " << i;
  EXPECT_TRUE(eventually([&] { return sink.stats().queued_lines == 0; }));
  EXPECT_EQ(sink.stats().written_lines, 10000u);
}

TEST(StdioSink, EmptyQueueWritesAtOnce) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  sink.send("{\"id\":1}", message_kind::reply);
  // Already in the pipe when send() returns: no hand-over, no batching.
  pollfd pfd{p.read, POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 0), 1);
  line_reader reader{p.read};
  EXPECT_EQ(reader.read(1), std::vector<std::string>{"{\"id\":1}"});
}

// A pipelining client: lines sent back to back go out in batches (one
// writev for many), in order, none lost.
TEST(StdioSink, BackToBackLinesShareWrites) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  line_reader reader{p.read};
  std::thread reading{[&] { reader.read(1000); }};
  for (size_t i = 0; i < 1000; ++i)
    sink.send(reply_text(i), message_kind::reply);
  reading.join();
  auto lines = reader.read(1000);
  ASSERT_EQ(lines.size(), 1000u);
  for (size_t i = 0; i < lines.size(); ++i)
    ASSERT_EQ(lines[i], reply_text(i)) << "line " << i;
  EXPECT_EQ(sink.stats().written_lines, 1000u);
  EXPECT_LT(sink.stats().writes, 500u) << "one write per line";
}

TEST(StdioSink, LinesLargerThanThePipeStayWhole) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  std::vector<std::string> sent;
  for (size_t i = 0; i < 40; ++i) {
    sent.push_back(reply_text(i, (i % 4 == 0) ? 300000 : 10 + i * 997));
    // Keyed notifications with distinct keys: none is coalesced or dropped.
    if (i % 3 == 0)
      sink.send(sent.back(), message_kind::notification,
                "key " + std::to_string(i));
    else
      sink.send(sent.back(), message_kind::reply);
  }
  line_reader reader{p.read};
  auto lines = reader.read(sent.size());
  ASSERT_EQ(lines.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i)
    EXPECT_EQ(lines[i], sent[i]) << "line " << i;
}

TEST(StdioSink, NoLineInterleavesAcrossThreads) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  constexpr size_t threads = 4;
  constexpr size_t per_thread = 2000;
  std::vector<std::thread> senders;
  for (size_t t = 0; t < threads; ++t)
    senders.emplace_back([&sink, t] {
      for (size_t i = 0; i < per_thread; ++i) {
        auto size = (i % 100 == 0) ? 100000 : 50 + (i * 37) % 3000;
        std::string line = std::to_string(t) + ":" + std::to_string(i) + ":";
        line.append(size, static_cast<char>('a' + t));
        sink.send(std::move(line), message_kind::reply);
      }
    });
  // Read slowly at first, so sends meet a full pipe and a queue.
  std::this_thread::sleep_for(50ms);
  line_reader reader{p.read};
  auto lines = reader.read(threads * per_thread, 30s);
  for (auto& s : senders)
    s.join();
  ASSERT_EQ(lines.size(), threads * per_thread);
  std::vector<size_t> next(threads, 0);
  for (auto& line : lines) {
    auto c1 = line.find(':');
    auto c2 = line.find(':', c1 + 1);
    ASSERT_NE(c2, std::string::npos) << line.substr(0, 80);
    auto t = std::stoul(line.substr(0, c1));
    auto i = std::stoul(line.substr(c1 + 1, c2 - c1 - 1));
    ASSERT_LT(t, threads);
    EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
    next[t] = i + 1;
    auto size = (i % 100 == 0) ? 100000 : 50 + (i * 37) % 3000;
    ASSERT_EQ(line.size(), c2 + 1 + size) << "a line was cut or mixed";
    EXPECT_EQ(line.find_first_not_of(static_cast<char>('a' + t), c2 + 1),
              std::string::npos)
      << "bytes of another line inside line " << t << ":" << i;
  }
}

TEST(StdioSink, ProgressKeepsOnlyTheNewestPerToken) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  fill(sink);
  for (int i = 1; i <= 100; ++i) {
    sink.send("progress a " + std::to_string(i), message_kind::notification,
              "progress \"a\"");
    sink.send("progress b " + std::to_string(i), message_kind::notification,
              "progress \"b\"");
  }
  sink.send("end", message_kind::reply);
  EXPECT_EQ(sink.stats().coalesced, 198u);
  line_reader reader{p.read};
  auto lines = reader.read(4);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], reply_text(0, 1024 * 1024));
  EXPECT_EQ(lines[1], "progress a 100");
  EXPECT_EQ(lines[2], "progress b 100");
  EXPECT_EQ(lines[3], "end");
}

TEST(StdioSink, CoalescedNotificationNeverOvertakesAReply) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  fill(sink);
  sink.send("updated 1", message_kind::notification, "updated job://x");
  sink.send("reply", message_kind::reply);
  sink.send("updated 2", message_kind::notification, "updated job://x");
  line_reader reader{p.read};
  auto lines = reader.read(3);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "reply");
  EXPECT_EQ(lines[2], "updated 2");
}

TEST(StdioSink, ResourceUpdatesOnePerUriAndOneListChanged) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  fill(sink);
  for (int i = 0; i < 50; ++i) {
    sink.send("updated job://a", message_kind::notification, "updated job://a");
    sink.send("updated job://b", message_kind::notification, "updated job://b");
    sink.send("list_changed", message_kind::notification, "list_changed");
  }
  line_reader reader{p.read};
  auto lines = reader.read(4);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "updated job://a");
  EXPECT_EQ(lines[2], "updated job://b");
  EXPECT_EQ(lines[3], "list_changed");
  EXPECT_EQ(sink.stats().coalesced, 147u);
  sink.send("after", message_kind::reply);
  EXPECT_EQ(reader.read(5).back(), "after") << "nothing else was queued";
}

TEST(StdioSink, LogMessagesDropOldestAndTheClientIsToldOnce) {
  auto p = make_pipe();
  stdio_sink_options opts;
  opts.notification_high_bytes = 4096;
  stdio_sink sink{p.write, opts};
  sink.attach(
    {nullptr, [](uint64_t n) { return "dropped " + std::to_string(n); }});
  fill(sink);
  for (int i = 0; i < 1000; ++i) {
    auto line = "log " + std::to_string(i) + " ";
    line.append(100 - line.size(), '.');
    sink.send(line, message_kind::notification);
  }
  sink.send("end", message_kind::reply);
  auto stats = sink.stats();
  EXPECT_GT(stats.dropped, 900u);
  EXPECT_LE(stats.queued_bytes - stats.reply_bytes, 4096u);
  line_reader reader{p.read};
  // The big reply, the kept ones, the notice and the end.
  auto lines = reader.read(3 + 1000 - stats.dropped);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], reply_text(0, 1024 * 1024));
  std::vector<int> kept;
  int notices = 0;
  bool end_seen = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto& line = lines[i];
    if (line.rfind("log ", 0) == 0) {
      EXPECT_FALSE(end_seen) << "a log message overtook a later reply";
      kept.push_back(std::stoi(line.substr(4)));
    } else if (line.rfind("dropped ", 0) == 0) {
      ++notices;
      EXPECT_EQ(line, "dropped " + std::to_string(stats.dropped));
    } else {
      EXPECT_EQ(line, "end");
      end_seen = true;
    }
  }
  EXPECT_EQ(notices, 1);
  EXPECT_TRUE(end_seen);
  ASSERT_FALSE(kept.empty());
  // The newest ones survive, in order.
  EXPECT_EQ(kept.back(), 999);
  for (size_t i = 1; i < kept.size(); ++i)
    EXPECT_EQ(kept[i], kept[i - 1] + 1);
  EXPECT_EQ(kept.size() + stats.dropped, 1000u);
}

TEST(StdioSink, RepliesAreNeverDropped) {
  auto p = make_pipe();
  stdio_sink_options opts;
  opts.notification_high_bytes = 1024;
  stdio_sink sink{p.write, opts};
  fill(sink);
  for (int i = 1; i <= 3000; ++i) {
    sink.send(reply_text(static_cast<size_t>(i)), message_kind::reply);
    sink.send("log", message_kind::notification);
  }
  auto dropped = sink.stats().dropped;
  EXPECT_GT(dropped, 0u);
  line_reader reader{p.read};
  std::vector<std::string> replies;
  for (auto& line : reader.read(6001 - dropped))
    if (line != "log")
      replies.push_back(line);
  ASSERT_EQ(replies.size(), 3001u);
  for (size_t i = 1; i < replies.size(); ++i)
    ASSERT_EQ(replies[i], reply_text(i));
}

TEST(StdioSink, BrokenPipeIsToldOnce) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  std::atomic<int> closed{0};
  sink.attach({[&closed] { ++closed; }, nullptr});
  p.close_read();
  for (int i = 0; i < 100; ++i)
    sink.send(reply_text(static_cast<size_t>(i)), message_kind::reply);
  EXPECT_TRUE(eventually([&] { return closed.load() > 0; }));
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < 100; ++i)
    sink.send("more", message_kind::reply);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(closed.load(), 1);
  EXPECT_TRUE(sink.stats().closed);
  EXPECT_EQ(sink.stats().queued_lines, 0u);
}

TEST(StdioSink, BrokenPipeWhileQueuedIsToldOnce) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  std::atomic<int> closed{0};
  sink.attach({[&closed] { ++closed; }, nullptr});
  fill(sink);
  for (int i = 0; i < 100; ++i)
    sink.send(reply_text(static_cast<size_t>(i)), message_kind::reply);
  p.close_read();
  EXPECT_TRUE(eventually([&] { return closed.load() > 0; }));
  sink.send("more", message_kind::reply);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(closed.load(), 1);
}

TEST(StdioSink, FailureBeforeAttachIsToldOnAttach) {
  auto p = make_pipe();
  p.close_read();
  stdio_sink sink{p.write};
  sink.send("x", message_kind::reply);
  // Let the writer thread notice first: the failure must wait for a handler.
  EXPECT_TRUE(eventually([&] { return sink.stats().closed; }));
  std::this_thread::sleep_for(20ms);
  std::atomic<int> closed{0};
  sink.attach({[&closed] { ++closed; }, nullptr});
  EXPECT_TRUE(eventually([&] { return closed.load() > 0; }));
  sink.attach({[&closed] { ++closed; }, nullptr});
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(closed.load(), 1);
}

TEST(StdioSink, BadDescriptorIsToldOnce) {
  // Far above any descriptor this process has open.
  stdio_sink sink{1 << 20};
  std::atomic<int> closed{0};
  sink.attach({[&closed] { ++closed; }, nullptr});
  sink.send("x", message_kind::reply);
  EXPECT_TRUE(eventually([&] { return closed.load() > 0; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(closed.load(), 1);
}

TEST(StdioSink, DetachedHandlersNoLongerRun) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  std::atomic<int> closed{0};
  sink.attach({[&closed] { ++closed; }, nullptr});
  sink.attach({});
  p.close_read();
  sink.send("x", message_kind::reply);
  EXPECT_TRUE(eventually([&] { return sink.stats().closed; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(closed.load(), 0);
}

TEST(StdioSink, CloseWithANonReadingClientIsBounded) {
  auto p = make_pipe();
  stdio_sink_options opts;
  opts.flush_timeout = 300ms;
  stdio_sink sink{p.write, opts};
  fill(sink, 4 * 1024 * 1024);
  auto start = clock_type::now();
  sink.close();
  auto took = clock_type::now() - start;
  EXPECT_GE(took, 250ms) << "gave up before the timeout";
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(sink.stats().closed);
  sink.send("after close", message_kind::reply); // discarded, no crash
}

TEST(StdioSink, CloseFlushesWhatIsQueued) {
  auto p = make_pipe();
  auto sink = std::make_unique<stdio_sink>(p.write);
  for (size_t i = 0; i < 2000; ++i)
    sink->send(reply_text(i, 1000), message_kind::reply);
  std::vector<std::string> lines;
  std::thread reader{[&] {
    line_reader r{p.read};
    lines = r.read_to_eof(10s);
  }};
  sink->close();
  // The sink's own description of the pipe is closed: only ours is left.
  p.close_write();
  reader.join();
  ASSERT_EQ(lines.size(), 2000u);
  EXPECT_EQ(lines.back(), reply_text(1999, 1000));
}

TEST(StdioSink, CloseWithNothingQueuedIsImmediate) {
  auto p = make_pipe();
  stdio_sink sink{p.write};
  sink.send("x", message_kind::reply);
  auto start = clock_type::now();
  sink.close();
  EXPECT_LT(clock_type::now() - start, 100ms);
}

TEST(StdioSink, GateClosesOverTheBoundAndOpensBelowHalf) {
  auto p = make_pipe();
  auto gate = std::make_shared<jobd::read_gate>();
  stdio_sink_options opts;
  opts.reply_high_bytes = 256 * 1024;
  opts.gate = gate;
  stdio_sink sink{p.write, opts};
  size_t sent = 0;
  uint64_t bytes = 0;
  while (!gate->paused() && sent < 10000) {
    auto line = reply_text(sent++, 1000);
    bytes += line.size() + 1;
    sink.send(std::move(line), message_kind::reply);
  }
  ASSERT_TRUE(gate->paused());
  EXPECT_EQ(gate->pauses(), 1u);
  // It closed once the replies not yet written passed the bound: not
  // before, and not later than what the pipe can have taken meanwhile (the
  // writer may fill it after the gate closed, so the queue is not checked).
  auto pipe_bytes = static_cast<uint64_t>(::fcntl(p.write, F_GETPIPE_SZ));
  EXPECT_GT(bytes, opts.reply_high_bytes);
  EXPECT_LE(bytes, opts.reply_high_bytes + pipe_bytes + 1001);
  // Replies sent while paused are still queued, never dropped.
  for (size_t i = 0; i < 100; ++i)
    sink.send(reply_text(sent++, 1000), message_kind::reply);
  std::vector<std::string> lines;
  std::thread reader{[&] {
    line_reader r{p.read};
    lines = r.read(sent, 10s);
  }};
  EXPECT_TRUE(eventually([&] { return !gate->paused(); }));
  reader.join();
  EXPECT_EQ(gate->pauses(), 1u);
  ASSERT_EQ(lines.size(), sent);
  EXPECT_EQ(lines.back(), reply_text(sent - 1, 1000));
}

TEST(StdioSink, GateCountsLinesToo) {
  auto p = make_pipe();
  auto gate = std::make_shared<jobd::read_gate>();
  stdio_sink_options opts;
  opts.reply_high_lines = 100;
  opts.gate = gate;
  opts.flush_timeout = 50ms; // nobody reads this one
  stdio_sink sink{p.write, opts};
  fill(sink);
  for (int i = 0; i < 100; ++i)
    sink.send("{}", message_kind::reply);
  EXPECT_TRUE(gate->paused());
  // Notifications never close the gate: they are bounded by coalescing.
  EXPECT_EQ(gate->pauses(), 1u);
}

TEST(StdioSink, BrokenPipeOpensTheGate) {
  auto p = make_pipe();
  auto gate = std::make_shared<jobd::read_gate>();
  stdio_sink_options opts;
  opts.reply_high_bytes = 64 * 1024;
  opts.gate = gate;
  stdio_sink sink{p.write, opts};
  fill(sink);
  ASSERT_TRUE(gate->paused());
  p.close_read();
  EXPECT_TRUE(eventually([&] { return !gate->paused(); }));
}

TEST(StdioSink, SocketNeverBlocksAndKeepsOrder) {
  auto s = make_socketpair();
  stdio_sink sink{s.write};
  auto start = clock_type::now();
  for (size_t i = 0; i < 10000; ++i)
    sink.send(reply_text(i), message_kind::reply);
  EXPECT_LT(clock_type::now() - start, 5s);
  line_reader reader{s.read};
  auto lines = reader.read(10000);
  ASSERT_EQ(lines.size(), 10000u);
  for (size_t i = 0; i < lines.size(); ++i)
    ASSERT_EQ(lines[i], reply_text(i));
  // The flag of the shared description is left alone.
  EXPECT_EQ(::fcntl(s.write, F_GETFL) & O_NONBLOCK, 0);
}

TEST(StdioSink, SocketPeerGoneIsToldOnce) {
  auto s = make_socketpair();
  stdio_sink sink{s.write};
  std::atomic<int> closed{0};
  sink.attach({[&closed] { ++closed; }, nullptr});
  s.close_read();
  for (int i = 0; i < 10; ++i)
    sink.send("x", message_kind::reply);
  EXPECT_TRUE(eventually([&] { return closed.load() > 0; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(closed.load(), 1);
}

TEST(StdioSink, PipeFlagsOfTheSharedDescriptionAreLeftAlone) {
  auto p = make_pipe();
  {
    stdio_sink sink{p.write};
    sink.send("x", message_kind::reply);
    EXPECT_EQ(::fcntl(p.write, F_GETFL) & O_NONBLOCK, 0);
  }
  line_reader reader{p.read};
  EXPECT_EQ(reader.read(1).size(), 1u);
}

TEST(StdioSink, RegularFileGetsEverythingAndItsFlagsBack) {
  char path[] = "/tmp/jobd-sink-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  auto flags = ::fcntl(fd, F_GETFL);
  {
    stdio_sink sink{fd};
    for (size_t i = 0; i < 1000; ++i)
      sink.send(reply_text(i), message_kind::reply);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFL), flags);
  ::lseek(fd, 0, SEEK_SET);
  line_reader reader{fd};
  auto lines = reader.read(1000, 1s);
  ::close(fd);
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_EQ(lines.back(), reply_text(999));
}

} // namespace

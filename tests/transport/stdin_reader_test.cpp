// The stdin reader and its read gate: while the gate is closed no request
// is read (they wait in the pipe), and reading resumes when it opens.
#include "actors/transport/stdin_reader.hpp"

#include "eventually.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <string>
#include <thread>
#include <unistd.h>

using jobd::test::eventually;

namespace {

using namespace std::chrono_literals;

struct counters {
  std::atomic<int> lines{0};
  std::atomic<int> shutdowns{0};
};

struct fake_endpoint_state {
  static inline const char* name = "fake_endpoint";
};

// Counts what the reader hands over.
jobd::endpoint_actor::behavior_type
fake_endpoint(jobd::endpoint_actor::stateful_pointer<fake_endpoint_state>,
              std::shared_ptr<counters> seen) {
  using namespace jobd;
  return {
    [seen](atom::line, const std::string&) { ++seen->lines; },
    [](atom::line, uint64_t) {},
    [seen](atom::shutdown) { ++seen->shutdowns; },
    [](atom::event, const job_event&) {},
    [](atom::output, const output_news&) {},
    [](atom::tick) {},
    [](atom::start, scheduler_actor&, metrics_actor&, store_actor&,
       schedules_actor&) {},
  };
}

struct reader_fixture : ::testing::Test {
  reader_fixture() : sys{init(cfg)} {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    in_read = fds[0];
    in_write = fds[1];
    ep = sys.spawn(fake_endpoint, seen);
  }
  ~reader_fixture() override {
    if (in_write >= 0)
      ::close(in_write);
    ::close(in_read);
  }
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.add_message_types<caf::id_block::jobd>();
    return c;
  }
  void write(const std::string& text) {
    ASSERT_EQ(::write(in_write, text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::shared_ptr<counters> seen = std::make_shared<counters>();
  jobd::endpoint_actor ep;
  int in_read = -1;
  int in_write = -1;
};

TEST_F(reader_fixture, ReadsLinesWhileTheGateIsOpen) {
  auto gate = std::make_shared<jobd::read_gate>();
  jobd::stdin_reader reader{in_read, ep, 1024, gate};
  write("a\nb\n");
  EXPECT_TRUE(eventually([&] { return seen->lines == 2; }));
}

TEST_F(reader_fixture, ReadsNothingWhileTheGateIsClosed) {
  auto gate = std::make_shared<jobd::read_gate>();
  gate->pause();
  jobd::stdin_reader reader{in_read, ep, 1024, gate};
  write("a\nb\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(seen->lines, 0);
  gate->resume();
  EXPECT_TRUE(eventually([&] { return seen->lines == 2; }));
  gate->pause();
  // Let the reader see the closed gate before the next line comes.
  std::this_thread::sleep_for(20ms);
  write("c\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(seen->lines, 2);
  gate->resume();
  EXPECT_TRUE(eventually([&] { return seen->lines == 3; }));
}

TEST_F(reader_fixture, NeverRunsFarAheadOfTheEndpoint) {
  // Four lines in flight at most: the fake endpoint never reports one
  // handled, the test does.
  auto gate = std::make_shared<jobd::read_gate>(4, 1024 * 1024);
  jobd::stdin_reader reader{in_read, ep, 1024, gate};
  write("1\n2\n3\n4\n5\n6\n7\n8\n");
  EXPECT_TRUE(eventually([&] { return seen->lines == 4; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen->lines, 4) << "read past the limit within one block";
  // Reading resumes once half the limit is free, not at every line.
  gate->line_handled(1);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen->lines, 4);
  gate->line_handled(1);
  EXPECT_TRUE(eventually([&] { return seen->lines == 6; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen->lines, 6);
  for (int i = 0; i < 4; ++i)
    gate->line_handled(1);
  EXPECT_TRUE(eventually([&] { return seen->lines == 8; }));
}

TEST_F(reader_fixture, InputBytesCountToo) {
  auto gate = std::make_shared<jobd::read_gate>(1000, 10);
  jobd::stdin_reader reader{in_read, ep, 1024, gate};
  write("0123456789abc\nx\n");
  EXPECT_TRUE(eventually([&] { return seen->lines == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen->lines, 1);
  gate->line_handled(13);
  EXPECT_TRUE(eventually([&] { return seen->lines == 2; }));
}

TEST(ReadGate, OpensForRepliesAndInputAlike) {
  jobd::read_gate gate{2, 1000};
  auto readable = [&] {
    pollfd pfd{gate.fd(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) == 1;
  };
  EXPECT_FALSE(gate.paused());
  gate.pause();
  EXPECT_TRUE(gate.paused());
  EXPECT_FALSE(readable());
  gate.resume();
  EXPECT_FALSE(gate.paused());
  EXPECT_TRUE(readable());
  gate.drain();
  EXPECT_FALSE(readable());
  gate.line_read(1);
  gate.line_read(1);
  EXPECT_TRUE(gate.paused());
  gate.line_handled(1);
  EXPECT_FALSE(gate.paused());
  EXPECT_TRUE(readable());
  gate.drain();
  gate.line_handled(1);
  EXPECT_FALSE(readable()) << "woken although it was not closed";
  // Replies and input close it independently.
  gate.pause();
  gate.line_read(1);
  gate.line_read(1);
  gate.resume();
  EXPECT_TRUE(gate.paused());
  gate.line_handled(1);
  EXPECT_FALSE(gate.paused());
  EXPECT_EQ(gate.pauses(), 2u);
  // Bytes count as well as lines.
  gate.line_handled(1);
  gate.line_read(1000);
  EXPECT_TRUE(gate.paused());
  gate.line_handled(1000);
  EXPECT_FALSE(gate.paused());
}

TEST_F(reader_fixture, StopsWhilePaused) {
  auto gate = std::make_shared<jobd::read_gate>();
  gate->pause();
  auto start = std::chrono::steady_clock::now();
  {
    jobd::stdin_reader reader{in_read, ep, 1024, gate};
    write("a\n");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(seen->lines, 0);
}

TEST_F(reader_fixture, EndOfInputIsShutdown) {
  jobd::stdin_reader reader{in_read, ep, 1024};
  write("a\n");
  ::close(in_write);
  in_write = -1;
  EXPECT_TRUE(eventually([&] { return seen->shutdowns == 1; }));
  EXPECT_EQ(seen->lines, 1);
}

} // namespace

// Launching, output, exit status and flow control, in both tracking modes.
#include "reactor_fixture.hpp"

#include <caf/send.hpp>

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobd::test {
namespace {

class launching : public both_modes {};

TEST_P(launching, reports_both_streams_and_exit_code) {
  auto rec = sh("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(rec->wait_done());
  ASSERT_FALSE(rec->failure);
  EXPECT_TRUE(rec->spawned);
  EXPECT_GT(rec->pid, 0);
  EXPECT_EQ(rec->tracking, expected_tracking());
  EXPECT_EQ(reactor->tracking_mode(), expected_tracking());
  EXPECT_FALSE(rec->misordered);
  EXPECT_EQ(rec->out, "out\n");
  EXPECT_EQ(rec->err, "err\n");
  ASSERT_TRUE(WIFEXITED(*rec->status));
  EXPECT_EQ(WEXITSTATUS(*rec->status), 3);
  EXPECT_EQ(reactor->live_children(), 0u);
  EXPECT_EQ(reactor->live_trees(), 0u);
}

TEST_P(launching, stderr_right_before_exit_is_never_lost) {
  constexpr int total = 200;
  constexpr int batch = 20;
  int complete = 0;
  for (int first = 0; first < total; first += batch) {
    std::vector<rec_ptr> recs;
    for (int i = 0; i < batch; ++i)
      recs.push_back(sh("echo boom >&2"));
    for (auto& rec : recs) {
      ASSERT_TRUE(rec->wait_done(10s));
      ASSERT_FALSE(rec->failure);
      EXPECT_FALSE(rec->misordered);
      EXPECT_EQ(rec->err, "boom\n");
      EXPECT_EQ(rec->out, "");
      EXPECT_TRUE(WIFEXITED(*rec->status) && WEXITSTATUS(*rec->status) == 0);
      if (rec->err == "boom\n")
        ++complete;
    }
  }
  EXPECT_EQ(complete, total);
}

TEST_P(launching, killed_by_signal_gives_raw_status) {
  auto rec = run({"/bin/sleep", "30"});
  ASSERT_TRUE(rec->wait_spawned());
  EXPECT_TRUE(reactor->signal(rec->pid, 0));
  EXPECT_TRUE(reactor->signal(rec->pid, SIGKILL));
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_EQ(WTERMSIG(*rec->status), SIGKILL);
  EXPECT_FALSE(reactor->signal(rec->pid, 0));
  EXPECT_FALSE(rec->misordered);
}

TEST_P(launching, self_kill_is_a_signal_not_an_exit_code) {
  auto killed = sh("kill -9 $$");
  auto exited = sh("exit 9");
  ASSERT_TRUE(killed->wait_done());
  ASSERT_TRUE(exited->wait_done());
  ASSERT_TRUE(WIFSIGNALED(*killed->status));
  EXPECT_EQ(WTERMSIG(*killed->status), 9);
  ASSERT_TRUE(WIFEXITED(*exited->status));
  EXPECT_EQ(WEXITSTATUS(*exited->status), 9);
}

TEST_P(launching, missing_executable_is_command_not_found) {
  auto rec = run({"/nonexistent/jobd-no-such-program", "x"});
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(rec->failure);
  EXPECT_EQ(rec->failure->first, "COMMAND_NOT_FOUND");
  EXPECT_NE(rec->failure->second.find("No such file or directory"),
            std::string::npos)
    << rec->failure->second;
  EXPECT_FALSE(rec->spawned);
  // The child that failed to exec was reaped, its cgroup removed.
  EXPECT_TRUE(my_zombies().empty());
  EXPECT_EQ(reactor->live_children(), 0u);
  EXPECT_EQ(reactor->live_trees(), 0u);
}

TEST_P(launching, non_executable_file_is_permission_denied) {
  char path[] = "/tmp/jobd-reactor-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "#!/bin/sh\necho hi\n", 18), 18);
  ::close(fd);
  ::chmod(path, 0644);
  auto rec = run({path});
  ASSERT_TRUE(rec->wait_done());
  ::unlink(path);
  ASSERT_TRUE(rec->failure);
  EXPECT_EQ(rec->failure->first, "PERMISSION_DENIED");
  EXPECT_NE(rec->failure->second.find("Permission denied"), std::string::npos)
    << rec->failure->second;
  EXPECT_TRUE(my_zombies().empty());
}

TEST_P(launching, honours_working_directory) {
  char dir[] = "/tmp/jobd-reactor-dir-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  auto spec = make_spec({"/bin/pwd"});
  spec.working_directory = dir;
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  ::rmdir(dir);
  ASSERT_FALSE(rec->failure);
  char* real = ::realpath("/tmp", nullptr);
  std::string expected = std::string{real} + (dir + 4) + "\n";
  std::free(real);
  EXPECT_EQ(rec->out, expected);
}

// A descriptor (what the process kind opens and checks at start under
// --allow-dir) wins over the path, whatever that names by now.
TEST_P(launching, enters_the_working_directory_descriptor_not_the_path) {
  char checked[] = "/tmp/jobd-reactor-checked-XXXXXX";
  char other[] = "/tmp/jobd-reactor-other-XXXXXX";
  ASSERT_NE(::mkdtemp(checked), nullptr);
  ASSERT_NE(::mkdtemp(other), nullptr);
  const int fd = ::open(checked, O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto spec = make_spec({"/bin/pwd"});
  spec.working_directory = other;
  spec.working_directory_fd = std::make_shared<const directory_handle>(fd);
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  char* real = ::realpath(checked, nullptr);
  const std::string expected = std::string{real} + "\n";
  std::free(real);
  ::rmdir(checked);
  ::rmdir(other);
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  EXPECT_EQ(rec->out, expected);
}

TEST_P(launching, missing_working_directory_is_reported) {
  auto spec = make_spec({"/bin/pwd"});
  spec.working_directory = "/nonexistent/jobd-no-such-dir";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(rec->failure);
  EXPECT_EQ(rec->failure->first, "INVALID_WORKING_DIRECTORY");
}

TEST_P(launching, environment_is_inherited_and_overridden) {
  ::setenv("JOBD_REACTOR_INHERITED", "inherited", 1);
  ::setenv("JOBD_REACTOR_OVERRIDDEN", "old", 1);
  auto spec = make_sh(
    "echo $FOO; echo $JOBD_REACTOR_INHERITED; echo $JOBD_REACTOR_OVERRIDDEN");
  spec.environment["FOO"] = "bar baz";
  spec.environment["JOBD_REACTOR_OVERRIDDEN"] = "new";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  ::unsetenv("JOBD_REACTOR_INHERITED");
  ::unsetenv("JOBD_REACTOR_OVERRIDDEN");
  ASSERT_FALSE(rec->failure);
  EXPECT_EQ(rec->out, "bar baz\ninherited\nnew\n");
}

TEST_P(launching, argv_is_passed_literally) {
  auto rec = run({"/bin/echo", "a b", "$HOME", ";"});
  ASSERT_TRUE(rec->wait_done());
  EXPECT_EQ(rec->out, "a b $HOME ;\n");
}

TEST_P(launching, argv0_is_the_given_one) {
  auto spec = make_spec({"custom-name", "-c", "echo $0"});
  spec.executable = "/bin/sh";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_EQ(rec->out, "custom-name\n");
}

TEST_P(launching, stdin_is_dev_null) {
  auto rec = run({"/bin/cat"});
  ASSERT_TRUE(rec->wait_done(3s));
  EXPECT_EQ(rec->out, "");
  EXPECT_EQ(rec->err, "");
  ASSERT_TRUE(WIFEXITED(*rec->status));
  EXPECT_EQ(WEXITSTATUS(*rec->status), 0);
}

TEST_P(launching, only_stdio_descriptors_are_inherited) {
  // The cgroup.procs descriptor the child wrote to is gone as well.
  auto rec = run({"/bin/ls", "/proc/self/fd"});
  ASSERT_TRUE(rec->wait_done());
  // 0, 1, 2 and the descriptor ls opened on the directory itself.
  EXPECT_EQ(rec->out, "0\n1\n2\n3\n");
}

TEST_P(launching, child_gets_default_signal_dispositions) {
  // The server may ignore SIGPIPE; its jobs must not inherit that.
  auto previous = std::signal(SIGPIPE, SIG_IGN);
  auto rec = run({"/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"});
  ASSERT_TRUE(rec->wait_done());
  std::signal(SIGPIPE, previous);
  EXPECT_EQ(rec->out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_P(launching, output_across_the_read_buffer_sizes_arrives_whole) {
  // Every stream is read into the reactor's one 128 KiB buffer once it is
  // readable: exactly a page, a page and a byte, and more than the buffer
  // holds, each whole and in order.
  for (int size : {4096, 4097, 300000}) {
    auto rec = sh("seq -w 1 1000000 | head -c " + std::to_string(size));
    ASSERT_TRUE(rec->wait_done(10s)) << size;
    ASSERT_FALSE(rec->failure)
      << rec->failure->first << ": " << rec->failure->second;
    std::string expected;
    for (int i = 1; static_cast<int>(expected.size()) < size; ++i) {
      auto line = std::to_string(i);
      expected += std::string(7 - line.size(), '0') + line + "\n";
    }
    expected.resize(static_cast<size_t>(size));
    EXPECT_EQ(rec->out.size(), expected.size()) << size;
    EXPECT_TRUE(rec->out == expected) << size;
  }
}

TEST_P(launching, flow_control_bounds_what_is_in_flight) {
  constexpr int64_t total = 100'000'000;
  constexpr int64_t limit = 1024 * 1024;
  auto spec
    = make_spec({"/usr/bin/head", "-c", std::to_string(total), "/dev/zero"});
  spec.in_flight = std::make_shared<std::atomic<int64_t>>(0);
  spec.max_in_flight = limit;
  auto rec = std::make_shared<recorder>();
  rec->keep_bytes = false;
  rec->consume_delay = 50us;
  rec = start(spec, rec);
  ASSERT_TRUE(rec->wait_done(60s));
  ASSERT_FALSE(rec->failure);
  // The drain never cuts a pipe that no process holds any more, however
  // long flow control keeps it unread.
  EXPECT_EQ(rec->total_bytes, total);
  EXPECT_EQ(spec.in_flight->load(), 0);
  // One 128 KiB read per pipe may start just below the limit.
  EXPECT_LE(rec->peak_in_flight, limit + 2 * 128 * 1024);
  EXPECT_TRUE(WIFEXITED(*rec->status) && WEXITSTATUS(*rec->status) == 0);
}

TEST_P(launching, foreign_pids_are_refused) {
  // Signal 0 only: a broken refusal must not hit the test runner.
  EXPECT_FALSE(reactor->signal(::getpgrp(), 0));
  EXPECT_FALSE(reactor->signal(::getpid(), 0));
  EXPECT_FALSE(reactor->signal(::getpid(), 0, false));
  EXPECT_FALSE(reactor->signal(1, 0));
  EXPECT_FALSE(reactor->signal(0, 0));
  EXPECT_FALSE(reactor->signal(-1, 0));
  auto rec = run({"/bin/sleep", "30"});
  ASSERT_TRUE(rec->wait_spawned());
  EXPECT_FALSE(reactor->signal(rec->pid, -1));
  EXPECT_FALSE(reactor->signal(rec->pid, 100000));
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done());
}

TEST_P(launching, orphaned_tree_is_killed) {
  auto rec = std::make_shared<recorder>();
  auto sink = sys.spawn(recording_sink, rec);
  reactor->launch(make_sh("sleep 30 & echo $!; sleep 30"), sink);
  ASSERT_TRUE(rec->wait_spawned());
  ASSERT_TRUE(rec->wait_lines(1));
  const pid_t leader = static_cast<pid_t>(rec->pid);
  const pid_t child = rec->pid_on_line(0);
  ASSERT_GT(child, 0);
  // The reactor's handle keeps the actor reachable: end it explicitly.
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  sink = nullptr;
  EXPECT_TRUE(eventually(3s, [&] { return reactor->live_trees() == 0; }));
  EXPECT_TRUE(is_gone(leader));
  EXPECT_TRUE(eventually(2s, [&] { return is_gone(child); }));
  EXPECT_FALSE(rec->status); // nothing is sent to a dead sink
}

TEST_P(launching, stop_is_bounded_and_refuses_new_launches) {
  auto rec = run({"/bin/sleep", "30"});
  ASSERT_TRUE(rec->wait_spawned());
  const pid_t pid = static_cast<pid_t>(rec->pid);
  auto begin = std::chrono::steady_clock::now();
  reactor->stop(200ms);
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(is_gone(pid));
  EXPECT_EQ(reactor->live_children(), 0u);
  EXPECT_EQ(reactor->live_trees(), 0u);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_FALSE(rec->misordered);
  auto late = run({"/bin/true"});
  ASSERT_TRUE(late->wait_done());
  ASSERT_TRUE(late->failure);
  EXPECT_EQ(late->failure->first, "SPAWN_FAILED");
}

INSTANTIATE_TEST_SUITE_P(modes, launching,
                         ::testing::Values(tree_tracking::automatic,
                                           tree_tracking::pgroup),
                         mode_name);

} // namespace
} // namespace jobd::test

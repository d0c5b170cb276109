// The process reactor against real processes and a real actor system: a
// recording job actor collects what the reactor reports.
#include "actors/kinds/process/process_reactor.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;

namespace jobd {
namespace {

/// What the reactor told one job, filled by the recording actor.
struct recorder {
  std::mutex mtx;
  std::condition_variable cv;
  bool spawned = false;
  int64_t pid = 0;
  std::optional<std::pair<std::string, std::string>> failure;
  std::string out;
  std::string err;
  bool out_eof = false;
  bool err_eof = false;
  std::optional<int32_t> status;
  /// Data or eof arrived before spawned.
  bool misordered = false;
  /// Count bytes without keeping them.
  bool keep_bytes = true;
  int64_t total_bytes = 0;
  int64_t peak_in_flight = 0;
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  /// Per data message, to make the consumer slow.
  std::chrono::microseconds consume_delay{0};

  template <class Pred>
  bool wait_for(std::chrono::milliseconds timeout, Pred pred) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, timeout, [&] { return pred(*this); });
  }

  bool wait_spawned(std::chrono::milliseconds timeout = 5s) {
    return wait_for(timeout, [](recorder& r) { return r.spawned || r.failure; })
           && spawned;
  }

  /// Waits for exited and both eofs, or spawn_failed.
  bool wait_done(std::chrono::milliseconds timeout = 5s) {
    return wait_for(timeout, [](recorder& r) {
      return r.failure || (r.status && r.out_eof && r.err_eof);
    });
  }

  template <class F> void update(F f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      f(*this);
    }
    cv.notify_all();
  }
};

using rec_ptr = std::shared_ptr<recorder>;

process_job_actor::behavior_type recording_job(process_job_actor::pointer,
                                               rec_ptr rec) {
  return {
    [](atom::start) {},
    [](atom::status) { return job_info{}; },
    [](atom::output, const output_query&) { return output_page{}; },
    [](atom::cancel, int64_t) { return cancel_result{}; },
    [](atom::wait, const wait_query&) { return wait_result{}; },
    [](atom::shutdown) { return true; },
    [rec](atom::spawned, int64_t pid) {
      rec->update([&](recorder& r) {
        r.spawned = true;
        r.pid = pid;
      });
    },
    [rec](atom::spawn_failed, const std::string& code,
          const std::string& message) {
      rec->update([&](recorder& r) { r.failure.emplace(code, message); });
    },
    [rec](atom::data, stream_kind kind, const std::string& bytes) {
      if (rec->consume_delay.count() > 0)
        std::this_thread::sleep_for(rec->consume_delay);
      rec->update([&](recorder& r) {
        if (!r.spawned)
          r.misordered = true;
        r.total_bytes += static_cast<int64_t>(bytes.size());
        if (r.in_flight) {
          r.peak_in_flight = std::max(r.peak_in_flight, r.in_flight->load());
          r.in_flight->fetch_sub(static_cast<int64_t>(bytes.size()));
        }
        if (r.keep_bytes)
          (kind == stream_kind::out ? r.out : r.err) += bytes;
      });
    },
    [rec](atom::eof, stream_kind kind) {
      rec->update([&](recorder& r) {
        if (!r.spawned)
          r.misordered = true;
        (kind == stream_kind::out ? r.out_eof : r.err_eof) = true;
      });
    },
    [rec](atom::exited, int32_t status) {
      rec->update([&](recorder& r) { r.status = status; });
    },
    [](atom::timeout) {},
    [](atom::escalate) {},
    [](atom::flush) {},
    [](atom::recheck) {},
    [](atom::expire, uint64_t) {},
    [](atom::progress) {},
    [](atom::settle) {},
  };
}

launch_spec make_spec(std::vector<std::string> argv) {
  launch_spec spec;
  spec.executable = argv.front();
  spec.argv = std::move(argv);
  return spec;
}

/// Fields of /proc/<pid>/stat: state and pgrp; nullopt if gone.
struct proc_stat {
  char state = '?';
  int ppid = 0;
  int pgrp = 0;
};

std::optional<proc_stat> read_stat(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!in || !std::getline(in, text))
    return std::nullopt;
  // The command name may contain spaces: parse after its closing paren.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{text.substr(close + 2)};
  proc_stat st;
  rest >> st.state >> st.ppid >> st.pgrp;
  return st;
}

std::vector<int> all_pids() {
  std::vector<int> pids;
  if (DIR* dir = ::opendir("/proc")) {
    while (auto* entry = ::readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (end != entry->d_name && *end == '\0')
        pids.push_back(static_cast<int>(pid));
    }
    ::closedir(dir);
  }
  return pids;
}

/// Live (non-zombie) processes of group `pgid`.
std::vector<int> group_members(int pgid) {
  std::vector<int> result;
  for (int pid : all_pids())
    if (auto st = read_stat(pid); st && st->pgrp == pgid && st->state != 'Z')
      result.push_back(pid);
  return result;
}

/// Zombie children of this process (never reaped by the reactor).
std::vector<int> my_zombies() {
  std::vector<int> result;
  for (int pid : all_pids())
    if (auto st = read_stat(pid);
        st && st->ppid == ::getpid() && st->state == 'Z')
      result.push_back(pid);
  return result;
}

/// A process counts as gone once it is dead; in a sandbox whose pid 1 does
/// not reap orphans, its /proc entry may stay behind as a zombie.
bool is_gone(int pid) {
  auto st = read_stat(pid);
  return !st || st->state == 'Z';
}

template <class Pred>
bool eventually(std::chrono::milliseconds timeout, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
}

caf::actor_system_config& configured(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::jobd>();
  return cfg;
}

class process_reactor_test : public ::testing::Test {
protected:
  process_reactor_test() : sys{configured(cfg)} {
    reactor = std::make_unique<process_reactor>();
  }

  ~process_reactor_test() override {
    // Whatever a failed test left running dies here, bounded.
    reactor->kill_all(SIGKILL);
    reactor.reset();
    jobs.clear();
  }

  rec_ptr start(launch_spec spec, rec_ptr rec = std::make_shared<recorder>()) {
    rec->in_flight = spec.in_flight;
    auto job = sys.spawn(recording_job, rec);
    jobs.push_back(job);
    reactor->launch(std::move(spec), job);
    return rec;
  }

  rec_ptr run(std::vector<std::string> argv) {
    return start(make_spec(std::move(argv)));
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::unique_ptr<process_reactor> reactor;
  std::vector<process_job_actor> jobs;
};

TEST_F(process_reactor_test, reports_both_streams_and_exit_code) {
  auto rec = run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(rec->wait_done());
  ASSERT_FALSE(rec->failure);
  EXPECT_TRUE(rec->spawned);
  EXPECT_GT(rec->pid, 0);
  EXPECT_FALSE(rec->misordered);
  EXPECT_EQ(rec->out, "out\n");
  EXPECT_EQ(rec->err, "err\n");
  ASSERT_TRUE(WIFEXITED(*rec->status));
  EXPECT_EQ(WEXITSTATUS(*rec->status), 3);
  EXPECT_TRUE(eventually(2s, [&] { return reactor->live_children() == 0; }));
  EXPECT_FALSE(reactor->group_alive(rec->pid));
}

TEST_F(process_reactor_test, stderr_right_before_exit_is_never_lost) {
  constexpr int total = 200;
  constexpr int batch = 20;
  int complete = 0;
  for (int first = 0; first < total; first += batch) {
    std::vector<rec_ptr> recs;
    for (int i = 0; i < batch; ++i)
      recs.push_back(run({"/bin/sh", "-c", "echo boom >&2"}));
    for (auto& rec : recs) {
      ASSERT_TRUE(rec->wait_done(10s));
      ASSERT_FALSE(rec->failure);
      EXPECT_EQ(rec->err, "boom\n");
      EXPECT_EQ(rec->out, "");
      EXPECT_TRUE(WIFEXITED(*rec->status) && WEXITSTATUS(*rec->status) == 0);
      if (rec->err == "boom\n")
        ++complete;
    }
  }
  EXPECT_EQ(complete, total);
}

TEST_F(process_reactor_test, killed_by_signal_gives_raw_status) {
  auto rec = run({"/bin/sleep", "30"});
  ASSERT_TRUE(rec->wait_spawned());
  EXPECT_TRUE(reactor->group_alive(rec->pid));
  EXPECT_TRUE(reactor->signal_group(rec->pid, SIGKILL));
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_EQ(WTERMSIG(*rec->status), SIGKILL);
  EXPECT_FALSE(reactor->group_alive(rec->pid));
  EXPECT_FALSE(reactor->signal_group(rec->pid, SIGKILL));
}

TEST_F(process_reactor_test, self_kill_is_a_signal_not_an_exit_code) {
  auto killed = run({"/bin/sh", "-c", "kill -9 $$"});
  auto exited = run({"/bin/sh", "-c", "exit 9"});
  ASSERT_TRUE(killed->wait_done());
  ASSERT_TRUE(exited->wait_done());
  ASSERT_TRUE(WIFSIGNALED(*killed->status));
  EXPECT_EQ(WTERMSIG(*killed->status), 9);
  ASSERT_TRUE(WIFEXITED(*exited->status));
  EXPECT_EQ(WEXITSTATUS(*exited->status), 9);
}

TEST_F(process_reactor_test, signal_reaches_the_whole_group) {
  auto rec = run({"/bin/sh", "-c", "sleep 30 & sleep 30 & wait"});
  ASSERT_TRUE(rec->wait_spawned());
  const int pgid = static_cast<int>(rec->pid);
  std::vector<int> members;
  ASSERT_TRUE(eventually(2s,
                         [&] {
                           members = group_members(pgid);
                           return members.size() == 3;
                         }))
    << "members: " << members.size();
  for (int pid : members)
    EXPECT_EQ(read_stat(pid)->pgrp, pgid);
  EXPECT_TRUE(reactor->signal_group(pgid, SIGTERM));
  for (int pid : members)
    EXPECT_TRUE(eventually(2s, [&] { return is_gone(pid); })) << pid;
  // kill(-pgid, 0) still finds zombies: the group is empty only once pid 1
  // reaped the orphaned sleeps, which this sandbox's init does every ~2 s.
  EXPECT_TRUE(eventually(5s, [&] { return !reactor->group_alive(pgid); }));
  ASSERT_TRUE(rec->wait_done());
  EXPECT_TRUE(WIFSIGNALED(*rec->status));
}

TEST_F(process_reactor_test, missing_executable_is_command_not_found) {
  auto rec = run({"/nonexistent/jobd-no-such-program", "x"});
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(rec->failure);
  EXPECT_EQ(rec->failure->first, "COMMAND_NOT_FOUND");
  EXPECT_NE(rec->failure->second.find("No such file or directory"),
            std::string::npos)
    << rec->failure->second;
  EXPECT_FALSE(rec->spawned);
  // The child that failed to exec was reaped.
  EXPECT_TRUE(my_zombies().empty());
  EXPECT_EQ(reactor->live_children(), 0u);
}

TEST_F(process_reactor_test, non_executable_file_is_permission_denied) {
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

TEST_F(process_reactor_test, honours_working_directory) {
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

TEST_F(process_reactor_test, missing_working_directory_is_reported) {
  auto spec = make_spec({"/bin/pwd"});
  spec.working_directory = "/nonexistent/jobd-no-such-dir";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  ASSERT_TRUE(rec->failure);
  EXPECT_EQ(rec->failure->first, "INVALID_WORKING_DIRECTORY");
}

TEST_F(process_reactor_test, environment_is_inherited_and_overridden) {
  ::setenv("JOBD_REACTOR_INHERITED", "inherited", 1);
  ::setenv("JOBD_REACTOR_OVERRIDDEN", "old", 1);
  auto spec = make_spec(
    {"/bin/sh", "-c",
     "echo $FOO; echo $JOBD_REACTOR_INHERITED; echo $JOBD_REACTOR_OVERRIDDEN"});
  spec.environment["FOO"] = "bar baz";
  spec.environment["JOBD_REACTOR_OVERRIDDEN"] = "new";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  ::unsetenv("JOBD_REACTOR_INHERITED");
  ::unsetenv("JOBD_REACTOR_OVERRIDDEN");
  ASSERT_FALSE(rec->failure);
  EXPECT_EQ(rec->out, "bar baz\ninherited\nnew\n");
}

TEST_F(process_reactor_test, argv_is_passed_literally) {
  auto rec = run({"/bin/echo", "a b", "$HOME", ";"});
  ASSERT_TRUE(rec->wait_done());
  EXPECT_EQ(rec->out, "a b $HOME ;\n");
}

TEST_F(process_reactor_test, argv0_is_the_given_one) {
  auto spec = make_spec({"custom-name", "-c", "echo $0"});
  spec.executable = "/bin/sh";
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done());
  EXPECT_EQ(rec->out, "custom-name\n");
}

TEST_F(process_reactor_test, stdin_is_dev_null) {
  auto rec = run({"/bin/cat"});
  ASSERT_TRUE(rec->wait_done(3s));
  EXPECT_EQ(rec->out, "");
  EXPECT_EQ(rec->err, "");
  ASSERT_TRUE(WIFEXITED(*rec->status));
  EXPECT_EQ(WEXITSTATUS(*rec->status), 0);
}

TEST_F(process_reactor_test, only_stdio_descriptors_are_inherited) {
  auto rec = run({"/bin/ls", "/proc/self/fd"});
  ASSERT_TRUE(rec->wait_done());
  // 0, 1, 2 and the descriptor ls opened on the directory itself.
  EXPECT_EQ(rec->out, "0\n1\n2\n3\n");
}

TEST_F(process_reactor_test, child_gets_default_signal_dispositions) {
  // The server may ignore SIGPIPE; its jobs must not inherit that.
  auto previous = std::signal(SIGPIPE, SIG_IGN);
  auto rec = run({"/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"});
  ASSERT_TRUE(rec->wait_done());
  std::signal(SIGPIPE, previous);
  EXPECT_EQ(rec->out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_F(process_reactor_test, flow_control_bounds_what_is_in_flight) {
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
  EXPECT_EQ(rec->total_bytes, total);
  EXPECT_EQ(spec.in_flight->load(), 0);
  // One 64 KiB read per pipe may start just below the limit.
  EXPECT_LE(rec->peak_in_flight, limit + 2 * 64 * 1024);
  EXPECT_TRUE(WIFEXITED(*rec->status) && WEXITSTATUS(*rec->status) == 0);
}

TEST_F(process_reactor_test, foreign_groups_are_refused) {
  // Signal 0 only: a broken refusal must not hit the test runner.
  EXPECT_FALSE(reactor->signal_group(::getpgrp(), 0));
  EXPECT_FALSE(reactor->group_alive(::getpgrp()));
  EXPECT_FALSE(reactor->signal_group(1, 0));
  EXPECT_FALSE(reactor->signal_group(0, 0));
  EXPECT_FALSE(reactor->signal_group(-1, 0));
  EXPECT_FALSE(reactor->group_alive(::getpid()));
}

TEST_F(process_reactor_test, orphaned_child_is_killed) {
  auto rec = std::make_shared<recorder>();
  auto job = sys.spawn(recording_job, rec);
  reactor->launch(make_spec({"/bin/sleep", "30"}), job);
  ASSERT_TRUE(rec->wait_spawned());
  const int pid = static_cast<int>(rec->pid);
  // The reactor's handle keeps the actor reachable: end it explicitly.
  caf::anon_send_exit(job, caf::exit_reason::user_shutdown);
  job = nullptr;
  EXPECT_TRUE(eventually(3s, [&] { return reactor->live_children() == 0; }));
  EXPECT_TRUE(is_gone(pid));
}

TEST_F(process_reactor_test, stop_is_bounded_and_refuses_new_launches) {
  auto rec = run({"/bin/sleep", "30"});
  ASSERT_TRUE(rec->wait_spawned());
  const int pid = static_cast<int>(rec->pid);
  auto begin = std::chrono::steady_clock::now();
  reactor->stop(200ms);
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(is_gone(pid));
  EXPECT_EQ(reactor->live_children(), 0u);
  auto late = run({"/bin/true"});
  ASSERT_TRUE(late->wait_done());
  ASSERT_TRUE(late->failure);
  EXPECT_EQ(late->failure->first, "SPAWN_FAILED");
}

} // namespace
} // namespace jobd

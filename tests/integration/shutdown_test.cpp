// Shutdown on stdin EOF, SIGTERM and SIGINT: every job's process group is
// killed and jobd exits 0 within 2 s.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace jobd_it;

namespace {

enum class how { eof, sigterm, sigint };

const char* name(how h) {
  switch (h) {
    case how::eof:
      return "stdin EOF";
    case how::sigterm:
      return "SIGTERM";
    case how::sigint:
      return "SIGINT";
  }
  return "?";
}

void trigger(jobd_process& j, how h) {
  switch (h) {
    case how::eof:
      j.close_stdin();
      break;
    case how::sigterm:
      j.kill_signal(SIGTERM);
      break;
    case how::sigint:
      j.kill_signal(SIGINT);
      break;
  }
}

void expect_clean_exit(jobd_process& j, how h, int64_t t0) {
  auto st = j.wait_exit(2500);
  auto elapsed = now_ms() - t0;
  ASSERT_TRUE(st.has_value())
    << "jobd did not exit within 2.5 s of " << name(h);
  EXPECT_LE(elapsed, 2000) << "jobd took " << elapsed << " ms to exit after "
                           << name(h);
  EXPECT_TRUE(WIFEXITED(*st))
    << "jobd ended by signal " << (WIFSIGNALED(*st) ? WTERMSIG(*st) : 0)
    << " after " << name(h);
  if (WIFEXITED(*st)) {
    EXPECT_EQ(WEXITSTATUS(*st), 0)
      << "after " << name(h) << "; stderr: " << j.stderr_text().substr(0, 2000);
  }
}

void shutdown_with_running_jobs(how h) {
  SCOPED_TRACE(name(h));
  char marker[] = "/tmp/jobd-it-marker-XXXXXX";
  int fd = mkstemp(marker);
  ASSERT_GE(fd, 0);
  close(fd);
  unlink(marker);

  jobd_process j(std::vector<std::string>{"--max-concurrent-jobs", "2"});
  auto a = j.submit("sleep", "[\"30\"]");
  auto b = j.submit_sh("trap '' TERM; sleep 30 & sleep 30; wait");
  auto c = j.submit_sh(std::string("touch ") + marker);
  auto sa = j.wait_running(a);
  auto sb = j.wait_running(b);
  auto pa = static_cast<pid_t>(num((*sa)["job"], "pid"));
  auto pb = static_cast<pid_t>(num((*sb)["job"], "pid"));
  ASSERT_GT(pa, 0);
  ASSERT_GT(pb, 0);
  ASSERT_TRUE(wait_group_size(pb, 3, 3000)) << describe(procs_in_group(pb));
  auto sc = j.status(c);
  EXPECT_EQ(str((*sc)["job"], "status"), "pending");

  auto t0 = now_ms();
  trigger(j, h);
  expect_clean_exit(j, h, t0);
  EXPECT_TRUE(wait_group_gone(pa, 300)) << describe(procs_in_group(pa));
  EXPECT_TRUE(wait_group_gone(pb, 300))
    << "a job ignoring SIGTERM survived shutdown: "
    << describe(procs_in_group(pb));
  sleep_ms(300);
  struct stat stbuf;
  EXPECT_NE(stat(marker, &stbuf), 0)
    << "a pending job was started during shutdown";
  unlink(marker);
}

} // namespace

TEST(Shutdown, StdinEofKillsJobsAndExitsZero) {
  shutdown_with_running_jobs(how::eof);
}

TEST(Shutdown, SigtermKillsJobsAndExitsZero) {
  shutdown_with_running_jobs(how::sigterm);
}

TEST(Shutdown, SigintKillsJobsAndExitsZero) {
  shutdown_with_running_jobs(how::sigint);
}

TEST(Shutdown, SimpleSleepJobOnEof) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"30\"]");
  auto st = j.wait_running(id);
  auto pid = static_cast<pid_t>(num((*st)["job"], "pid"));
  auto t0 = now_ms();
  j.close_stdin();
  expect_clean_exit(j, how::eof, t0);
  EXPECT_TRUE(wait_group_gone(pid, 300)) << describe(procs_in_group(pid));
}

TEST(Shutdown, IdleServerExitsAtOnce) {
  for (how h : {how::eof, how::sigterm, how::sigint}) {
    SCOPED_TRACE(name(h));
    jobd_process j;
    auto t0 = now_ms();
    trigger(j, h);
    expect_clean_exit(j, h, t0);
    EXPECT_LT(now_ms() - t0, 1000);
  }
}

TEST(Shutdown, EofWithoutHandshake) {
  jobd_options o;
  o.handshake = false;
  jobd_process j(o);
  auto t0 = now_ms();
  j.close_stdin();
  expect_clean_exit(j, how::eof, t0);
}

TEST(Shutdown, EofWhileAWaitIsPending) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"30\"]");
  j.wait_running(id);
  j.send_tool("console_wait_job",
              "{\"jobId\":" + q(id) + ",\"timeoutMs\":30000}");
  sleep_ms(100);
  auto t0 = now_ms();
  j.close_stdin();
  expect_clean_exit(j, how::eof, t0);
}

TEST(Shutdown, EofAfterPartialLine) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"30\"]");
  j.wait_running(id);
  j.send_raw("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth");
  auto t0 = now_ms();
  j.close_stdin();
  expect_clean_exit(j, how::eof, t0);
}

TEST(Shutdown, SigtermWithManyJobs) {
  jobd_process j(std::vector<std::string>{
    "--max-concurrent-jobs", "30", "--max-concurrent-jobs-per-session", "30"});
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i)
    ids.push_back(j.submit_sh("sleep 30 & sleep 30; wait"));
  std::vector<pid_t> pids;
  for (auto& id : ids) {
    auto st = j.wait_running(id);
    pids.push_back(static_cast<pid_t>(num((*st)["job"], "pid")));
  }
  for (auto p : pids)
    wait_group_size(p, 3, 2000);
  auto t0 = now_ms();
  j.kill_signal(SIGTERM);
  expect_clean_exit(j, how::sigterm, t0);
  for (auto p : pids)
    EXPECT_TRUE(wait_group_gone(p, 300)) << describe(procs_in_group(p));
}

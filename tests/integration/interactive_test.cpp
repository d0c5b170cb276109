// Working with running jobs through the MCP tools, with real programs:
// stdin pipes (a read loop, sort, python3 -i), terminals (tty, stty size,
// Ctrl-C, resize), signals to the tree or the leader, pause and resume (CPU
// use stops, the timeout clock stops, cancel works), restart, waiting on
// many, idempotent submits, progress read from output, run-and-wait and
// resource usage.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <signal.h>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace jobd_it;

namespace {

std::string id_args(const std::string& id, const std::string& more = "") {
  return "{\"jobId\":" + q(id) + more + "}";
}

tool_result send_input(jobd_process& j, const std::string& id,
                       const std::string& text, const std::string& more = "") {
  return j.tool("console_send_input",
                id_args(id, ",\"text\":" + q(text) + more));
}

/// Waits until the job's output contains `needle`.
bool wait_output(jobd_process& j, const std::string& id,
                 const std::string& needle, int timeout_ms = 5000) {
  auto deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    if (j.output_text(id).find(needle) != std::string::npos)
      return true;
    sleep_ms(20);
  }
  return false;
}

/// User plus system CPU ticks of every process in the group `pgid`.
long group_cpu_ticks(pid_t pgid) {
  long total = 0;
  for (auto& p : procs_in_group(pgid)) {
    std::ifstream in{"/proc/" + std::to_string(p.pid) + "/stat"};
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream fields{text.substr(close + 2)};
    std::string field;
    // After the command: state is field 3; utime 14 and stime 15.
    for (int i = 3; i <= 15 && fields >> field; ++i)
      if (i == 14 || i == 15)
        total += std::atol(field.c_str());
  }
  return total;
}

jobd_options tracking(const char* mode) {
  jobd_options opts;
  opts.env.emplace_back("JOBD_TRACKING", mode);
  return opts;
}

void cancel(jobd_process& j, const std::string& id) {
  j.tool("console_cancel_job", id_args(id, ",\"options\":{\"graceMs\":0}"));
}

} // namespace

// -- stdin --------------------------------------------------------------------

TEST(Stdin, ReadLoopGetsLinesInOrder) {
  jobd_process j;
  auto id = j.submit_sh("while read l; do echo \"got $l\"; done; echo eof",
                        "{\"stdin\":\"pipe\"}");
  for (const char* line : {"one", "two", "three"}) {
    auto r = send_input(j, id, line, ",\"appendNewline\":true");
    ASSERT_TRUE(r.ok()) << r.dump();
  }
  auto r = send_input(j, id, "", ",\"closeStdin\":true");
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_TRUE(boolean(*r, "closed")) << r.dump();
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
  EXPECT_EQ(j.output_text(id, "stdout"), "got one\ngot two\ngot three\neof\n");
}

TEST(Stdin, SortGetsEverythingOnClose) {
  jobd_process j;
  auto id = j.submit("sort", "[]", "{\"stdin\":\"pipe\"}");
  ASSERT_TRUE(send_input(j, id, "pear\napple\n").ok());
  ASSERT_TRUE(send_input(j, id, "fig",
                         ",\"appendNewline\":true,"
                         "\"closeStdin\":true")
                .ok());
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
  EXPECT_EQ(j.output_text(id, "stdout"), "apple\nfig\npear\n");
}

TEST(Stdin, PythonInteractive) {
  if (::access("/usr/bin/python3", X_OK) != 0)
    GTEST_SKIP() << "no python3";
  jobd_process j;
  auto id
    = j.submit("python3", "[\"-i\",\"-q\",\"-u\"]", "{\"stdin\":\"pipe\"}");
  ASSERT_TRUE(
    send_input(j, id, "print(6 * 7)", ",\"appendNewline\":true").ok());
  EXPECT_TRUE(wait_output(j, id, "42")) << j.output_text(id);
  ASSERT_TRUE(send_input(j, id, "x = 'a' * 3\nprint(x)\n").ok());
  EXPECT_TRUE(wait_output(j, id, "aaa")) << j.output_text(id);
  ASSERT_TRUE(send_input(j, id, "", ",\"closeStdin\":true").ok());
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
}

TEST(Stdin, InputBeforeTheJobRunsIsKept) {
  // One slot: the second job waits in the queue and gets its input when it
  // starts.
  jobd_process j{std::vector<std::string>{"--max-concurrent-jobs", "1"}};
  auto first = j.submit_sh("sleep 0.5");
  auto second = j.submit("cat", "[]", "{\"stdin\":\"pipe\"}");
  auto r = send_input(j, second, "early\n", ",\"closeStdin\":true");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto st = j.wait_terminal(second);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
  EXPECT_EQ(j.output_text(second, "stdout"), "early\n");
  j.wait_terminal(first);
}

TEST(Stdin, ErrorsNameTheCase) {
  jobd_process j{std::vector<std::string>{"--max-stdin-bytes", "1024"}};
  auto plain = j.submit_sh("sleep 30");
  j.wait_running(plain);
  auto r = send_input(j, plain, "x");
  EXPECT_EQ(r.code(), "STDIN_NOT_OPEN") << r.dump();

  // A job that never reads: the queue fills (the pipe takes some first).
  auto piped = j.submit_sh("sleep 30", "{\"stdin\":\"pipe\"}");
  j.wait_running(piped);
  r = send_input(j, piped, std::string(2000, 'x'));
  EXPECT_EQ(r.code(), "STDIN_FULL") << r.dump();
  r = send_input(j, piped, "", ",\"closeStdin\":true");
  ASSERT_TRUE(r.ok()) << r.dump();
  r = send_input(j, piped, "late");
  EXPECT_EQ(r.code(), "STDIN_CLOSED") << r.dump();
  auto st = j.status(piped);
  EXPECT_FALSE(boolean((*st)["job"], "stdinOpen")) << st.dump();

  r = send_input(j, "job-0-nope", "x");
  EXPECT_EQ(r.code(), "JOB_NOT_FOUND") << r.dump();
  cancel(j, plain);
  cancel(j, piped);
  j.wait_terminal(piped);
  r = send_input(j, piped, "x");
  EXPECT_EQ(r.code(), "JOB_ALREADY_FINISHED") << r.dump();
}

TEST(Stdin, JobThatStopsReadingClosesItsStdin) {
  jobd_process j;
  auto id = j.submit_sh("read l; echo \"got $l\"; exec sleep 30",
                        "{\"stdin\":\"pipe\"}");
  ASSERT_TRUE(send_input(j, id, "a\n").ok());
  EXPECT_TRUE(wait_output(j, id, "got a"));
  cancel(j, id);
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "cancelled");
  EXPECT_FALSE(boolean((*st)["job"], "stdinOpen")) << st.dump();
}

// -- terminals
// -----------------------------------------------------------------

TEST(Terminal, ProgramsSeeATerminalOfTheGivenSize) {
  jobd_process j;
  auto id = j.submit_sh("tty; test -t 0 && test -t 1 && echo is-a-tty; "
                        "stty size",
                        "{\"tty\":true,\"cols\":100,\"rows\":30}");
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
  auto out = j.output_text(id, "stdout");
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
  EXPECT_NE(out.find("is-a-tty"), std::string::npos) << out;
  EXPECT_NE(out.find("30 100"), std::string::npos) << out;
  EXPECT_EQ(j.output_text(id, "stderr"), "");
  EXPECT_EQ(str((*st)["job"], "stdin"), "tty") << st.dump();
}

TEST(Terminal, CtrlCInterruptsLikeAKeyboard) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"30\"]", "{\"tty\":true}");
  j.wait_running(id);
  sleep_ms(100);
  auto t0 = now_ms();
  auto r = send_input(j, id, "\u0003");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto st = j.wait_terminal(id, 5000);
  EXPECT_LT(now_ms() - t0, 3000);
  EXPECT_EQ(str((*st)["job"], "status"), "failed") << st.dump();
  EXPECT_EQ(str((*st)["job"], "signal"), "SIGINT") << st.dump();
}

TEST(Terminal, ResizeSendsSigwinch) {
  jobd_process j;
  auto id = j.submit_sh("trap 'stty size' WINCH; echo ready; "
                        "while :; do sleep 0.05; done",
                        "{\"tty\":true,\"cols\":80,\"rows\":24}");
  ASSERT_TRUE(wait_output(j, id, "ready"));
  auto r = j.tool("console_resize_terminal",
                  id_args(id, ",\"cols\":132,\"rows\":43"));
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_TRUE(wait_output(j, id, "43 132")) << j.output_text(id);
  cancel(j, id);
  j.wait_terminal(id);
  auto plain = j.submit_sh("sleep 30");
  j.wait_running(plain);
  r = j.tool("console_resize_terminal",
             id_args(plain, ",\"cols\":132,\"rows\":43"));
  EXPECT_TRUE(r.is_error) << r.dump();
  cancel(j, plain);
}

TEST(Terminal, PythonOnATerminal) {
  if (::access("/usr/bin/python3", X_OK) != 0)
    GTEST_SKIP() << "no python3";
  jobd_process j;
  auto id = j.submit("python3", "[\"-q\"]", "{\"tty\":true}");
  ASSERT_TRUE(send_input(j, id, "print(6 * 7)\r").ok());
  EXPECT_TRUE(wait_output(j, id, "42")) << j.output_text(id);
  ASSERT_TRUE(send_input(j, id, "exit()\r").ok());
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
}

// -- signals
// ---------------------------------------------------------------------

TEST(Signal, ReachesTheTreeOrOnlyTheLeader) {
  jobd_process j;
  auto id = j.submit_sh("trap 'echo leader-usr1' USR1; sleep 300 & "
                        "echo child $!; while :; do sleep 0.05; done");
  ASSERT_TRUE(wait_output(j, id, "child "));
  auto out = j.output_text(id, "stdout");
  const auto child = static_cast<pid_t>(std::atol(out.c_str() + 6));
  ASSERT_GT(child, 0);
  auto r = j.tool("console_signal_job",
                  id_args(id, ",\"signal\":\"SIGUSR1\",\"target\":\"leader\""));
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_TRUE(boolean(*r, "delivered")) << r.dump();
  EXPECT_TRUE(wait_output(j, id, "leader-usr1"));
  EXPECT_TRUE(pid_alive(child)) << "only the leader was signalled";
  // The whole tree: the background sleep dies of it.
  r = j.tool("console_signal_job", id_args(id, ",\"signal\":\"USR1\""));
  ASSERT_TRUE(r.ok()) << r.dump();
  auto deadline = now_ms() + 2000;
  while (pid_alive(child) && now_ms() < deadline)
    sleep_ms(10);
  EXPECT_FALSE(pid_alive(child));
  r = j.tool("console_signal_job", id_args(id, ",\"signal\":\"SIGTERM\""));
  ASSERT_TRUE(r.ok()) << r.dump();
  auto st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "signal"), "SIGTERM") << st.dump();
  r = j.tool("console_signal_job", id_args(id, ",\"signal\":\"SIGINT\""));
  EXPECT_EQ(r.code(), "JOB_ALREADY_FINISHED") << r.dump();
  r = j.tool("console_signal_job", id_args(id, ",\"signal\":\"SIGSTOP\""));
  EXPECT_TRUE(r.is_error || r.rpc_error) << r.dump();
}

// -- pause and resume
// --------------------------------------------------------------

void pause_freezes_the_tree(const char* mode) {
  jobd_process j{tracking(mode)};
  auto id = j.submit_sh("yes > /dev/null");
  auto run = j.wait_running(id);
  const auto pid = static_cast<pid_t>(num((*run)["job"], "pid"));
  ASSERT_GT(pid, 0);
  sleep_ms(200);
  auto r = j.tool("console_pause_job", id_args(id));
  ASSERT_TRUE(r.ok()) << r.dump();
  auto st = j.status(id);
  EXPECT_EQ(str((*st)["job"], "status"), "running") << st.dump();
  EXPECT_TRUE(boolean((*st)["job"], "paused")) << st.dump();
  EXPECT_GT(parse_iso_ms(str((*st)["job"], "pausedAt")), 0) << st.dump();
  sleep_ms(100); // let a freeze in progress settle
  auto before = group_cpu_ticks(pid);
  sleep_ms(500);
  EXPECT_EQ(group_cpu_ticks(pid), before) << "CPU time grew while paused";
  r = j.tool("console_resume_job", id_args(id));
  ASSERT_TRUE(r.ok()) << r.dump();
  before = group_cpu_ticks(pid);
  sleep_ms(500);
  EXPECT_GT(group_cpu_ticks(pid), before) << "no CPU time after resume";
  st = j.status(id);
  EXPECT_FALSE(boolean((*st)["job"], "paused")) << st.dump();
  // Paused again, then cancelled: answered, and the tree goes.
  ASSERT_TRUE(j.tool("console_pause_job", id_args(id)).ok());
  auto t0 = now_ms();
  auto c = j.tool("console_cancel_job",
                  id_args(id, ",\"options\":{\"graceMs\":300}"), 5000);
  EXPECT_TRUE(c.ok()) << c.dump();
  EXPECT_LT(now_ms() - t0, 3000);
  st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "cancelled") << st.dump();
  EXPECT_TRUE(wait_group_gone(pid, 2000));
}

TEST(Pause, FreezesTheTreeCgroup) {
  pause_freezes_the_tree("auto");
}

TEST(Pause, FreezesTheTreePgroup) {
  pause_freezes_the_tree("pgroup");
}

TEST(Pause, TheTimeoutClockStops) {
  jobd_process j;
  // Runs 0.5 s of its own time and times out after 1 s of running: paused
  // for 1.2 s, it completes only if the pause stops the clock.
  auto id = j.submit_sh("sleep 0.5", "{\"timeout\":1000}");
  j.wait_running(id);
  ASSERT_TRUE(j.tool("console_pause_job", id_args(id)).ok());
  sleep_ms(1200);
  auto st = j.status(id);
  EXPECT_EQ(str((*st)["job"], "status"), "running") << st.dump();
  ASSERT_TRUE(j.tool("console_resume_job", id_args(id)).ok());
  st = j.wait_terminal(id);
  EXPECT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
  EXPECT_GE(num((*st)["job"], "pausedMs"), 1100) << st.dump();
}

TEST(Pause, ShutdownEndsAPausedJob) {
  auto j = std::make_unique<jobd_process>();
  auto id = j->submit_sh("sleep 300");
  auto run = j->wait_running(id);
  const auto pid = static_cast<pid_t>(num((*run)["job"], "pid"));
  ASSERT_TRUE(j->tool("console_pause_job", id_args(id)).ok());
  j->close_stdin();
  EXPECT_TRUE(j->wait_exit(10000).has_value());
  EXPECT_TRUE(wait_group_gone(pid, 2000));
}

TEST(Pause, RefusedForJobsNotRunning) {
  jobd_process j{std::vector<std::string>{"--max-concurrent-jobs", "1"}};
  auto first = j.submit_sh("sleep 30");
  auto second = j.submit_sh("sleep 30");
  j.wait_running(first);
  auto r = j.tool("console_pause_job", id_args(second));
  EXPECT_EQ(r.code(), "JOB_NOT_RUNNING") << r.dump();
  cancel(j, second);
  cancel(j, first);
  j.wait_terminal(first);
  r = j.tool("console_resume_job", id_args(first));
  EXPECT_EQ(r.code(), "JOB_ALREADY_FINISHED") << r.dump();
}

// -- restart
// ----------------------------------------------------------------------

TEST(Restart, ANewJobWithTheSameSpec) {
  jobd_process j;
  auto id = j.submit("sh", "[\"-c\",\"echo run $X\"]",
                     "{\"environment\":{\"X\":\"again\"},\"tags\":{\"t\":1}}");
  j.wait_terminal(id);
  auto r = j.tool("console_restart_job", id_args(id));
  ASSERT_TRUE(r.ok()) << r.dump();
  auto again = str(*r, "jobId");
  EXPECT_NE(again, id);
  auto st = j.wait_terminal(again);
  EXPECT_EQ(str((*st)["job"], "restartOf"), id) << st.dump();
  EXPECT_EQ(j.output_text(again, "stdout"), "run again\n");
  EXPECT_EQ(num((*st)["job"], "tags.t"), 1) << st.dump();
}

TEST(Restart, ReplaceCancelsTheRunningJobFirst) {
  jobd_process j;
  auto id = j.submit_sh("sleep 30");
  j.wait_running(id);
  auto r = j.tool("console_restart_job", id_args(id));
  ASSERT_TRUE(r.ok()) << r.dump();
  auto beside = str(*r, "jobId");
  EXPECT_EQ(str((*j.status(id))["job"], "status"), "running");
  r = j.tool("console_restart_job", id_args(id, ",\"replace\":true"), 10000);
  ASSERT_TRUE(r.ok()) << r.dump();
  auto replaced = str(*r, "jobId");
  EXPECT_EQ(str((*j.status(id))["job"], "status"), "cancelled");
  EXPECT_EQ(str((*j.wait_running(replaced))["job"], "status"), "running");
  cancel(j, beside);
  cancel(j, replaced);
  r = j.tool("console_restart_job", id_args("job-0-nope"));
  EXPECT_EQ(r.code(), "JOB_NOT_FOUND") << r.dump();
}

// -- waiting on many
// ------------------------------------------------------------

TEST(WaitMany, AnyAnswersWithTheFirst) {
  jobd_process j;
  auto quick = j.submit_sh("sleep 0.2");
  auto slow1 = j.submit_sh("sleep 30");
  auto slow2 = j.submit_sh("sleep 30");
  auto t0 = now_ms();
  auto r = j.tool("console_wait_job",
                  "{\"jobIds\":[" + q(slow1) + "," + q(quick) + "," + q(slow2)
                    + "],\"mode\":\"any\",\"timeoutMs\":10000}",
                  15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_LT(now_ms() - t0, 5000);
  auto ended = at(*r, "ended");
  ASSERT_TRUE(ended && ended->IsArray()) << r.dump();
  ASSERT_EQ(ended->Size(), 1u) << r.dump();
  EXPECT_EQ(std::string{(*ended)[0].GetString()}, quick);
  auto jobs = at(*r, "jobs");
  ASSERT_TRUE(jobs && jobs->IsArray() && jobs->Size() == 3) << r.dump();
  EXPECT_EQ(str((*jobs)[0], "id"), slow1) << "in the order asked";
  EXPECT_EQ(str((*jobs)[0], "status"), "running");
  cancel(j, slow1);
  cancel(j, slow2);
}

TEST(WaitMany, AllWaitsForEveryJobOrTimesOut) {
  jobd_process j;
  auto a = j.submit_sh("sleep 0.1");
  auto b = j.submit_sh("sleep 0.3");
  auto r = j.tool("console_wait_job",
                  "{\"jobIds\":[" + q(a) + "," + q(b)
                    + "],\"mode\":\"all\",\"timeoutMs\":10000}",
                  15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(at(*r, "ended")->Size(), 2u) << r.dump();
  auto slow = j.submit_sh("sleep 30");
  auto t0 = now_ms();
  r = j.tool("console_wait_job",
             "{\"jobIds\":[" + q(a) + "," + q(slow)
               + "],\"mode\":\"all\",\"timeoutMs\":300}",
             5000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_GE(now_ms() - t0, 250);
  EXPECT_EQ(str(*r, "reason"), "timeout") << r.dump();
  EXPECT_EQ(at(*r, "ended")->Size(), 1u) << r.dump();
  r = j.tool("console_wait_job",
             "{\"jobIds\":[" + q(a) + ",\"job-0-nope\"],\"timeoutMs\":300}");
  EXPECT_EQ(r.code(), "JOB_NOT_FOUND") << r.dump();
  cancel(j, slow);
}

TEST(WaitMany, AThousandJobs) {
  jobd_process j{std::vector<std::string>{"--max-concurrent-jobs", "50"}};
  std::string ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = j.submit("true", "[]");
    ids += (i ? "," : "") + q(id);
  }
  auto r = j.tool("console_wait_job",
                  "{\"jobIds\":[" + ids
                    + "],\"mode\":\"all\","
                      "\"timeoutMs\":60000}",
                  70000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(at(*r, "ended")->Size(), 1000u);
}

// -- idempotent submits
// ------------------------------------------------------------

TEST(Idempotency, ASecondSubmitReturnsTheFirstJob) {
  jobd_process j;
  auto args = std::string{"{\"command\":\"sleep\",\"args\":[\"30\"],"
                          "\"options\":{\"idempotencyKey\":\"build-42\"}}"};
  auto first = j.tool("console_execute_async", args);
  ASSERT_TRUE(first.ok()) << first.dump();
  auto second = j.tool("console_execute_async", args);
  ASSERT_TRUE(second.ok()) << second.dump();
  EXPECT_EQ(str(*second, "jobId"), str(*first, "jobId"));
  EXPECT_TRUE(boolean(*second, "deduplicated")) << second.dump();
  EXPECT_FALSE(has(*first, "deduplicated") && boolean(*first, "deduplicated"));
  // Back to back, before the first is admitted: still one job.
  auto a
    = j.send_tool("console_execute_async", "{\"command\":\"true\",\"options\":"
                                           "{\"idempotencyKey\":\"burst\"}}");
  auto b
    = j.send_tool("console_execute_async", "{\"command\":\"true\",\"options\":"
                                           "{\"idempotencyKey\":\"burst\"}}");
  auto ra = j.tool_result_of(a);
  auto rb = j.tool_result_of(b);
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.dump() << rb.dump();
  EXPECT_EQ(str(*ra, "jobId"), str(*rb, "jobId"));
  // Another session has keys of its own.
  auto other = j.tool("console_execute_async",
                      "{\"command\":\"true\",\"options\":{\"idempotencyKey\":"
                      "\"build-42\",\"sessionId\":\"s2\"}}");
  ASSERT_TRUE(other.ok()) << other.dump();
  EXPECT_NE(str(*other, "jobId"), str(*first, "jobId"));
  cancel(j, str(*first, "jobId"));
  j.wait_terminal(str(*first, "jobId"));
  // Once the first job is cleaned up, the key starts a new one.
  auto c = j.tool("console_cleanup_jobs", "{}");
  ASSERT_TRUE(c.ok()) << c.dump();
  auto third = j.tool("console_execute_async", args);
  ASSERT_TRUE(third.ok()) << third.dump();
  EXPECT_NE(str(*third, "jobId"), str(*first, "jobId"));
  cancel(j, str(*third, "jobId"));
}

// -- progress
// ----------------------------------------------------------------------

TEST(Progress, ACarriageReturnBarBecomesPercent) {
  jobd_process j;
  auto id = j.submit_sh("printf ' 10%%\\r'; sleep 0.2; printf ' 55%%\\r'; "
                        "exec sleep 30");
  auto deadline = now_ms() + 5000;
  tool_result st;
  while (now_ms() < deadline) {
    st = j.status(id);
    if (has((*st)["job"], "progress.percent")
        && (*st)["job"]["progress"]["percent"].GetDouble() == 55)
      break;
    sleep_ms(50);
  }
  ASSERT_TRUE(has((*st)["job"], "progress.percent")) << st.dump();
  EXPECT_EQ((*st)["job"]["progress"]["percent"].GetDouble(), 55) << st.dump();
  cancel(j, id);
}

TEST(Progress, CountsAndCustomPatterns) {
  jobd_process j;
  auto id = j.submit_sh("echo 'Step 3/12: compiling'; exec sleep 30");
  auto pattern = j.submit_sh(
    "echo 'done 7 of 9 files'; exec sleep 30",
    "{\"progressPattern\":\"done (?P<current>\\\\d+) of (?P<total>\\\\d+)\"}");
  ASSERT_TRUE(wait_output(j, id, "compiling"));
  ASSERT_TRUE(wait_output(j, pattern, "files"));
  sleep_ms(300);
  auto st = j.status(id);
  EXPECT_EQ(num((*st)["job"], "progress.current"), 3) << st.dump();
  EXPECT_EQ(num((*st)["job"], "progress.total"), 12) << st.dump();
  st = j.status(pattern);
  EXPECT_EQ(num((*st)["job"], "progress.current"), 7) << st.dump();
  EXPECT_EQ(num((*st)["job"], "progress.total"), 9) << st.dump();
  auto bad = j.tool("console_execute_async",
                    "{\"command\":\"true\",\"options\":{\"progressPattern\":"
                    "\"(?P<current>\"}}");
  EXPECT_EQ(bad.code(), "INVALID_ARGUMENTS") << bad.dump();
  cancel(j, id);
  cancel(j, pattern);
}

// -- run and wait
// ---------------------------------------------------------------

TEST(RunAndWait, AShortCommandInOneCall) {
  jobd_process j;
  auto r
    = j.tool("console_execute_async",
             "{\"command\":\"sh\",\"args\":[\"-c\",\"echo hello; exit 3\"],"
             "\"options\":{\"waitMs\":10000}}",
             15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_TRUE(boolean(*r, "finished")) << r.dump();
  EXPECT_EQ(num(*r, "exitCode"), 3) << r.dump();
  EXPECT_NE(str(*r, "output.tail").find("hello"), std::string::npos)
    << r.dump();
  EXPECT_FALSE(str(*r, "jobId").empty());
}

TEST(RunAndWait, ALongCommandKeepsRunning) {
  jobd_process j;
  auto t0 = now_ms();
  auto r = j.tool("console_execute_async",
                  "{\"command\":\"sh\",\"args\":[\"-c\",\"echo started; "
                  "exec sleep 30\"],\"options\":{\"waitMs\":500,"
                  "\"waitOutput\":{\"tail\":5}}}",
                  10000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_GE(now_ms() - t0, 400);
  EXPECT_FALSE(boolean(*r, "finished")) << r.dump();
  auto id = str(*r, "jobId");
  EXPECT_EQ(str((*j.status(id))["job"], "status"), "running");
  EXPECT_NE(str(*r, "output.tail").find("started"), std::string::npos)
    << r.dump();
  cancel(j, id);
}

// -- resource usage
// ----------------------------------------------------------------

TEST(Usage, CpuAndMemoryOfFinishedJobs) {
  jobd_process j;
  auto id = j.submit_sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");
  auto st = j.wait_terminal(id, 30000);
  ASSERT_EQ(str((*st)["job"], "status"), "completed") << st.dump();
  ASSERT_TRUE(has((*st)["job"], "usage")) << st.dump();
  EXPECT_GT(num((*st)["job"], "usage.cpuUserMs")
              + num((*st)["job"], "usage.cpuSystemMs"),
            0)
    << st.dump();
  EXPECT_GT(num((*st)["job"], "usage.maxRssKb"), 0) << st.dump();
  auto list = j.tool("console_list_jobs", "{}");
  ASSERT_TRUE(list.ok()) << list.dump();
  EXPECT_TRUE(has((*list)["jobs"][0], "usage")) << list.dump();
  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok()) << m.dump();
  EXPECT_GE(num(*m, "metrics.usage.jobs"), 1) << m.dump();
  EXPECT_GT(num(*m, "metrics.usage.maxRssKb"), 0) << m.dump();
}

// Durable jobs against the real binary: restarts after a clean exit and
// after kill -9, interrupted and requeued jobs, two instances on one state
// directory, files jobd must refuse, a full disk.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace jobd_it;

namespace {

namespace fs = std::filesystem;

/// Where a jobd with pid `pid` makes its job cgroups (below the cgroup it
/// inherited from us): `<cgroup2 mount><our cgroup>/jobd-<pid>`.
std::string jobd_cgroup_dir(pid_t pid) {
  std::ifstream self{"/proc/self/cgroup"};
  std::string line, own;
  while (std::getline(self, line))
    if (line.rfind("0::", 0) == 0)
      own = line.substr(3);
  std::ifstream mounts{"/proc/self/mounts"};
  while (std::getline(mounts, line)) {
    std::istringstream fields{line};
    std::string dev, where, type;
    fields >> dev >> where >> type;
    if (type == "cgroup2")
      return where + (own == "/" ? "" : own) + "/jobd-" + std::to_string(pid);
  }
  return {};
}

/// A temporary state directory, removed at the end.
struct state_dir {
  std::string path;
  state_dir() {
    char tmpl[] = "/tmp/jobd-store-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~state_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string db() const {
    return path + "/jobd.db";
  }
  jobd_options options(std::vector<std::string> extra = {}) const {
    jobd_options o;
    o.args = {"--state-dir", path};
    o.args.insert(o.args.end(), extra.begin(), extra.end());
    return o;
  }
};

// Runs SQL on a database file directly (as another program would). Not
// through std::system: the harness reaps every child, which races it.
bool sql_exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK
            && sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

// Fills the file system below `path` to the last byte.
void fill(const std::string& path) {
  std::ofstream out{path, std::ios::binary};
  std::string block(4096, '\0');
  while (out.write(block.data(), block.size()))
    out.flush();
}

/// A small tmpfs mounted on a test's state directory (root only), unmounted
/// at the end.
struct tmpfs {
  std::string path;
  bool mounted = false;
  tmpfs(std::string where, unsigned long flags, const char* options)
    : path(std::move(where)) {
    mounted = ::geteuid() == 0
              && ::mount("tmpfs", path.c_str(), "tmpfs", flags, options) == 0;
  }
  ~tmpfs() {
    if (mounted)
      ::umount2(path.c_str(), MNT_DETACH);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>(in), {}};
}

// Starts jobd expecting it to refuse: its exit status and stderr.
std::pair<int, std::string> refused_start(const state_dir& dir) {
  auto o = dir.options();
  o.handshake = false;
  o.protocol_stdout = false;
  o.check_output_schema = false;
  jobd_process j{o};
  auto status = j.wait_exit(10000);
  EXPECT_TRUE(status.has_value()) << "jobd did not stop";
  return {status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1,
          j.stderr_text()};
}

} // namespace

TEST(Store, StateDirectoryAndDatabaseArePrivate) {
  state_dir dir;
  auto sub = dir.path + "/nested/jobd";
  {
    jobd_options o;
    o.args = {"--state-dir", sub};
    jobd_process j{o};
    j.wait_terminal(j.submit_sh("echo hi"));
  }
  struct stat st {};
  ASSERT_EQ(::stat(sub.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((sub + "/jobd.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Store, EphemeralKeepsNothingOnDisk) {
  state_dir dir;
  {
    jobd_process j{dir.options({"--ephemeral"})};
    j.wait_terminal(j.submit_sh("echo hi"));
    auto m = j.tool("console_get_job_metrics", "{}");
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(str(*m, "metrics.persistence"), "ephemeral");
  }
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(Store, ACleanRestartAnswersForOldJobsAsBefore) {
  state_dir dir;
  std::string done, failed, tagged;
  std::string status_before, output_before, list_before;
  {
    jobd_process j{dir.options()};
    done = j.submit_sh("for i in 1 2 3; do echo line $i; done; echo err >&2");
    failed = j.submit_sh("exit 3");
    tagged = j.submit("true", "[]", R"({"tags":{"team":"nlp","n":3}})");
    for (auto& id : {done, failed, tagged})
      j.wait_terminal(id);
    auto s = j.status(done);
    ASSERT_TRUE(s.ok());
    status_before = to_json(*at(*s, "job"));
    auto o = j.tool("console_get_job_output", R"({"jobId":")" + done + "\"}");
    output_before = to_json(*o);
    auto l
      = j.tool("console_list_jobs", R"({"options":{"tags":{"team":"nlp"}}})");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(num(*l, "total"), 1);
  }
  jobd_process k{dir.options()};
  auto s = k.status(done);
  ASSERT_TRUE(s.ok()) << s.dump();
  // The same job: only the owner's liveness changed (its jobd is gone).
  auto after = to_json(*at(*s, "job"));
  EXPECT_EQ(str(*s, "job.status"), "completed");
  EXPECT_EQ(num(*s, "job.exitCode"), 0);
  EXPECT_FALSE(boolean(*s, "job.owner.live"));
  auto strip = [](std::string text) {
    auto p = text.find("\"live\":");
    return p == std::string::npos ? text : text.substr(0, p);
  };
  EXPECT_EQ(strip(after), strip(status_before));
  auto o = k.tool("console_get_job_output", R"({"jobId":")" + done + "\"}");
  EXPECT_EQ(to_json(*o), output_before);
  EXPECT_EQ(k.output_text(done, "stdout"), "line 1\nline 2\nline 3\n");
  EXPECT_EQ(k.output_text(done, "stderr"), "err\n");
  auto f = k.status(failed);
  EXPECT_EQ(str(*f, "job.status"), "failed");
  EXPECT_EQ(num(*f, "job.exitCode"), 3);
  auto l
    = k.tool("console_list_jobs", R"({"options":{"tags":{"team":"nlp"}}})");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(num(*l, "total"), 1);
  EXPECT_EQ(std::string{(*at(*l, "jobs"))[0]["id"].GetString()}, tagged);
  auto m = k.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(num(*m, "metrics.totalJobs"), 3);
  EXPECT_EQ(num(*m, "metrics.completedJobs"), 2);
  EXPECT_EQ(num(*m, "metrics.failedJobs"), 1);
  EXPECT_EQ(num(*m, "metrics.retainedJobs"), 3);
  EXPECT_EQ(str(*m, "metrics.persistence"), "ok");
  // Serials continue: a new job's number is past every old one.
  auto fresh = k.submit_sh("true");
  auto serial = [](const std::string& id) {
    return std::stoll(id.substr(4, id.find('-', 4) - 4));
  };
  EXPECT_GT(serial(fresh), serial(tagged));
  // Cleanup acts on the store: the old jobs go, and stay gone.
  k.wait_terminal(fresh);
  auto c = k.tool("console_cleanup_jobs", R"({"options":{"keepCount":1}})");
  ASSERT_TRUE(c.ok()) << c.dump();
  EXPECT_EQ(num(*c, "cleaned"), 3);
  EXPECT_EQ(k.status(done).code(), "JOB_NOT_FOUND");
}

/// `tracking`: JOBD_TRACKING for both jobd (a cgroup, or the process group
/// that the next jobd kills only if its leader is the recorded process).
void kill_nine_leaves_a_record_and_no_process(const char* tracking) {
  state_dir dir;
  // The killed jobd's object lives on: its leftovers are the next one's to
  // end (the harness would end them when it goes).
  auto with_tracking = [&](jobd_options o) {
    o.env.emplace_back("JOBD_TRACKING", tracking);
    return o;
  };
  jobd_process j{with_tracking(dir.options({"--max-concurrent-jobs", "1"}))};
  // A job that ended first leaves its emptied cgroup kept for later jobs.
  auto first = j.wait_terminal(j.submit_sh("true"));
  EXPECT_EQ(str(*first, "job.status"), "completed");
  auto running = j.submit_sh(
    "echo started; setsid sh -c 'echo $$ >&2; exec sleep 300' x & sleep 300");
  auto r = j.wait_running(running);
  auto pid = static_cast<pid_t>(num(*r, "job.pid"));
  ASSERT_GT(pid, 0);
  const bool in_cgroup = str(*r, "job.tracking") == "cgroup";
  if (std::string{tracking} == "pgroup") {
    EXPECT_FALSE(in_cgroup);
  }
  const auto cgroups = jobd_cgroup_dir(j.pid());
  pid_t escapee = 0;
  for (int i = 0; i < 250 && escapee == 0; ++i) {
    escapee
      = static_cast<pid_t>(std::atol(j.output_text(running, "stderr").c_str()));
    if (escapee == 0)
      sleep_ms(20);
  }
  ASSERT_GT(escapee, 0);
  auto pending = j.submit_sh("echo second");
  // Output reaches the store within a flush interval.
  sleep_ms(400);
  j.kill_signal(SIGKILL);
  j.wait_exit(5000);
  jobd_process k{with_tracking(dir.options())};
  auto s = k.status(running);
  ASSERT_TRUE(s.ok()) << s.dump();
  EXPECT_EQ(str(*s, "job.status"), "failed");
  EXPECT_EQ(str(*s, "job.errorCode"), "INTERRUPTED");
  EXPECT_EQ(k.output_text(running, "stdout"), "started\n");
  // Its whole tree is gone (cgroup or group kill), and with a cgroup the
  // setsid escapee too, and the dead jobd's cgroups with the one it kept.
  EXPECT_TRUE(wait_group_gone(pid, 5000));
  if (in_cgroup) {
    for (int i = 0; i < 250 && pid_alive(escapee); ++i)
      sleep_ms(20);
    EXPECT_FALSE(pid_alive(escapee));
    EXPECT_FALSE(fs::exists(cgroups)) << cgroups;
  } else if (pid_alive(escapee)) {
    ::kill(escapee, SIGKILL); // it left the group: ours (the test's) to end
  }
  // The pending job is queued again under its old id, and runs.
  auto p = k.wait_terminal(pending);
  EXPECT_EQ(str(*p, "job.status"), "completed") << p.dump();
  EXPECT_EQ(k.output_text(pending, "stdout"), "second\n");
}

TEST(Store, KillNineLeavesARecordOfTheRunningJobAndNoProcess) {
  kill_nine_leaves_a_record_and_no_process("auto");
}

TEST(Store, KillNineLeavesNoProcessGroupEither) {
  kill_nine_leaves_a_record_and_no_process("pgroup");
}

TEST(Store, NoRequeueCancelsWhatWasPending) {
  state_dir dir;
  jobd_process j{dir.options({"--max-concurrent-jobs", "1"})};
  j.wait_running(j.submit_sh("sleep 300"));
  auto pending = j.submit_sh("echo never");
  sleep_ms(200);
  j.kill_signal(SIGKILL);
  j.wait_exit(5000);
  jobd_process k{dir.options({"--no-requeue"})};
  auto s = k.status(pending);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(str(*s, "job.status"), "cancelled");
  EXPECT_EQ(str(*s, "job.errorCode"), "INTERRUPTED");
}

TEST(Store, RequeuedJobsKeepTheirOrderAndPriority) {
  state_dir dir;
  std::vector<std::string> low, high;
  jobd_process j{dir.options({"--max-concurrent-jobs", "1"})};
  j.wait_running(j.submit_sh("sleep 300"));
  for (int i = 0; i < 3; ++i)
    low.push_back(j.submit_sh("echo low" + std::to_string(i)));
  for (int i = 0; i < 2; ++i)
    high.push_back(
      j.submit_sh("echo high" + std::to_string(i), R"({"priority":9})"));
  sleep_ms(200);
  j.kill_signal(SIGKILL);
  j.wait_exit(5000);
  jobd_process k{dir.options({"--max-concurrent-jobs", "1"})};
  std::vector<std::pair<int64_t, std::string>> starts;
  for (auto& id : high)
    starts.emplace_back(0, id);
  for (auto& id : low)
    starts.emplace_back(0, id);
  for (auto& [at_ms, id] : starts) {
    auto s = k.wait_terminal(id);
    ASSERT_EQ(str(*s, "job.status"), "completed") << s.dump();
    at_ms = parse_iso_ms(str(*s, "job.startedAt"));
  }
  // high0, high1, low0, low1, low2: each started no earlier than the one
  // before it.
  for (size_t i = 1; i < starts.size(); ++i)
    EXPECT_LE(starts[i - 1].first, starts[i].first)
      << starts[i - 1].second << " vs " << starts[i].second;
}

TEST(Store, KillNineDuringABurstLosesNoAcknowledgedJobAndReusesNoId) {
  state_dir dir;
  std::set<std::string> acknowledged;
  jobd_process j{dir.options({"--max-concurrent-jobs", "4"})};
  {
    std::vector<int64_t> calls;
    for (int i = 0; i < 300; ++i)
      calls.push_back(
        j.send_tool("console_execute_async", R"({"command":"true"})"));
    // Take the first half of the answers, then kill in the middle.
    for (size_t i = 0; i < calls.size() / 2; ++i) {
      auto r = j.tool_result_of(calls[i], 20000);
      ASSERT_TRUE(r.ok()) << r.dump();
      acknowledged.insert(str(*r, "jobId"));
    }
    // An acknowledged job may still sit in the batch: the kill is one
    // commit interval later, as a crash would be at worst.
    sleep_ms(150);
    j.kill_signal(SIGKILL);
    j.wait_exit(5000);
  }
  jobd_process k{dir.options()};
  auto l = k.tool("console_list_jobs", R"({"options":{"limit":1000}})", 20000);
  ASSERT_TRUE(l.ok());
  std::set<std::string> listed;
  auto& jobs = *at(*l, "jobs");
  for (auto& job : jobs.GetArray())
    EXPECT_TRUE(listed.insert(job["id"].GetString()).second)
      << "listed twice: " << job["id"].GetString();
  for (auto& id : acknowledged)
    EXPECT_EQ(listed.count(id), 1u) << "lost " << id;
  // Every listed job ends (nothing stays pending or running for ever).
  for (auto& id : listed)
    k.wait_terminal(id, 20000);
  // New ids are new.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(listed.count(k.submit_sh("true")), 0u);
}

TEST(Store, TwoInstancesOnOneStateDirectoryBothServe) {
  state_dir dir;
  jobd_process a{dir.options()};
  jobd_process b{dir.options()};
  auto in_a = a.submit_sh("echo from-a; sleep 300");
  auto in_b = b.submit_sh("echo from-b");
  a.wait_running(in_a);
  b.wait_terminal(in_b);
  // Each sees the other's jobs once they were committed (within a batch
  // interval), with their owner.
  auto deadline = now_ms() + 2000;
  for (;;) {
    auto seen = b.status(in_a);
    if ((seen.ok() && str(*seen, "job.status") == "running")
        || now_ms() >= deadline)
      break;
    sleep_ms(20);
  }
  auto s = b.status(in_a);
  ASSERT_TRUE(s.ok()) << s.dump();
  EXPECT_EQ(str(*s, "job.status"), "running");
  EXPECT_TRUE(boolean(*s, "job.owner.live"));
  EXPECT_EQ(num(*s, "job.owner.pid"), a.pid());
  auto o = a.status(in_b);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(num(*o, "job.owner.pid"), b.pid());
  EXPECT_EQ(a.output_text(in_b, "stdout"), "from-b\n");
  for (auto* j : {&a, &b}) {
    auto l = j->tool("console_list_jobs", "{}");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(num(*l, "total"), 2);
  }
  // Cancel through the other instance is refused, naming the owner.
  auto c = b.tool("console_cancel_job", R"({"jobId":")" + in_a + "\"}");
  EXPECT_EQ(c.code(), "JOB_OWNED_ELSEWHERE") << c.dump();
  EXPECT_NE(c.message().find(std::to_string(a.pid())), std::string::npos);
  // A wait through the other instance ends when the owner's job ends.
  auto w = b.send_tool("console_wait_job",
                       R"({"jobId":")" + in_a + R"(","timeoutMs":20000})");
  sleep_ms(200);
  auto cancelled
    = a.tool("console_cancel_job",
             R"({"jobId":")" + in_a + R"(","options":{"graceMs":0}})");
  ASSERT_TRUE(cancelled.ok()) << cancelled.dump();
  auto waited = b.tool_result_of(w, 10000);
  ASSERT_TRUE(waited.ok()) << waited.dump();
  EXPECT_EQ(str(*waited, "reason"), "exit");
  EXPECT_EQ(str(*waited, "job.status"), "cancelled");
}

TEST(Store, ASurvivorInterruptsTheJobsOfADeadInstance) {
  state_dir dir;
  jobd_process a{dir.options()};
  jobd_process b{dir.options({"--cleanup-interval-ms", "200"})};
  auto job = a.submit_sh("sleep 300");
  auto r = a.wait_running(job);
  auto pid = static_cast<pid_t>(num(*r, "job.pid"));
  a.kill_signal(SIGKILL);
  a.wait_exit(5000);
  // b notices on a sweep (or when asked about the job).
  auto deadline = now_ms() + 10000;
  std::string status;
  while (now_ms() < deadline) {
    auto s = b.status(job);
    status = str(*s, "job.status");
    if (status == "failed")
      break;
    sleep_ms(100);
  }
  EXPECT_EQ(status, "failed");
  EXPECT_EQ(str(*b.status(job), "job.errorCode"), "INTERRUPTED");
  EXPECT_TRUE(wait_group_gone(pid, 5000));
}

TEST(Store, ACorruptFileIsRefusedAndLeftAlone) {
  state_dir dir;
  std::string garbage(8192, '\0');
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<char>((i * 7919) % 251);
  { std::ofstream{dir.db(), std::ios::binary} << garbage; }
  auto [code, err] = refused_start(dir);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_EQ(read_file(dir.db()), garbage);
}

TEST(Store, AForeignDatabaseIsRefused) {
  state_dir dir;
  ASSERT_TRUE(
    sql_exec(dir.db(), "CREATE TABLE photos(id INTEGER PRIMARY KEY);"));
  auto before = read_file(dir.db());
  auto [code, err] = refused_start(dir);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("not a jobd database"), std::string::npos) << err;
  EXPECT_EQ(read_file(dir.db()), before);
}

TEST(Store, ADatabaseOfANewerJobdIsRefused) {
  state_dir dir;
  { jobd_process j{dir.options()}; }
  ASSERT_TRUE(sql_exec(dir.db(), "PRAGMA user_version = 99;"));
  auto before = read_file(dir.db());
  auto [code, err] = refused_start(dir);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("schema version 99"), std::string::npos) << err;
  EXPECT_EQ(read_file(dir.db()), before);
}

// A small tmpfs that fills up: jobs go on, persistence degrades and comes
// back when space returns. Needs root (mount); skipped otherwise.
TEST(Store, AFullDiskDegradesPersistenceAndItRecovers) {
  state_dir dir;
  tmpfs fs{dir.path, 0, "size=16m,mode=0700"};
  if (!fs.mounted)
    GTEST_SKIP() << "needs root to mount a tmpfs";
  jobd_process j{dir.options()};
  auto before = j.submit_sh("echo before");
  j.wait_terminal(before);
  // Fill the file system to the last byte.
  auto filler = dir.path + "/filler";
  fill(filler);
  // A job with more output than fits.
  auto big = j.submit_sh("head -c 600000 /dev/urandom | base64");
  auto s = j.wait_terminal(big);
  EXPECT_EQ(str(*s, "job.status"), "completed");
  auto deadline = now_ms() + 5000;
  std::string state;
  while (now_ms() < deadline) {
    auto m = j.tool("console_get_job_metrics", "{}");
    state = str(*m, "metrics.persistence");
    if (state == "degraded") {
      EXPECT_FALSE(str(*m, "metrics.persistenceError").empty());
      break;
    }
    sleep_ms(100);
  }
  EXPECT_EQ(state, "degraded");
  // jobd keeps serving: new jobs run, more than one block of serials.
  std::set<std::string> ids;
  for (int i = 0; i < 150; ++i)
    ids.insert(j.submit("true", "[]"));
  EXPECT_EQ(ids.size(), 150u);
  auto during = j.submit_sh("echo during");
  EXPECT_EQ(str(*j.wait_terminal(during), "job.status"), "completed");
  ::unlink(filler.c_str());
  deadline = now_ms() + 10000;
  while (now_ms() < deadline) {
    auto m = j.tool("console_get_job_metrics", "{}");
    state = str(*m, "metrics.persistence");
    if (state == "ok")
      break;
    sleep_ms(200);
  }
  EXPECT_EQ(state, "ok");
  // One warning, not one per write.
  auto err = j.stderr_text();
  size_t warnings = 0;
  for (auto p = err.find("persistence is degraded"); p != std::string::npos;
       p = err.find("persistence is degraded", p + 1))
    ++warnings;
  EXPECT_EQ(warnings, 1u) << err;
  // What ran meanwhile was kept once space came back.
  j.close_stdin();
  j.wait_exit(10000);
  jobd_process k{dir.options()};
  EXPECT_EQ(str(*k.status(during), "job.status"), "completed");
}

// A read-only state directory: jobd still serves (keeping jobs in memory)
// and says so in its metrics. Needs root (mount); skipped otherwise.
TEST(Store, AReadOnlyStateDirectoryStillServesDegraded) {
  state_dir dir;
  tmpfs fs{dir.path, MS_RDONLY, "size=1m"};
  if (!fs.mounted)
    GTEST_SKIP() << "needs root to mount a tmpfs";
  jobd_process j{dir.options()};
  auto id = j.submit_sh("echo works");
  EXPECT_EQ(str(*j.wait_terminal(id), "job.status"), "completed");
  EXPECT_EQ(j.output_text(id), "works\n");
  auto m = j.tool("console_get_job_metrics", "{}");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(str(*m, "metrics.persistence"), "degraded");
  EXPECT_NE(str(*m, "metrics.persistenceError").find(dir.path),
            std::string::npos);
  EXPECT_NE(j.stderr_text().find("kept in memory only"), std::string::npos);
}

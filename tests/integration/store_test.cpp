// Durable jobs against the real binary: the state directory, a restart
// after a clean exit, files jobd must refuse, a full disk. Restarts after
// kill -9 and instances: store_recovery_test.cpp.
#include "jobd_harness.hpp"
#include "store_state_dir.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

using namespace jobd_it;

namespace {

namespace fs = std::filesystem;

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

TEST(Store, InitializeIsAnsweredWhileTheStoreOpensAndToolCallsWaitForIt) {
  state_dir dir;
  std::string id;
  {
    jobd_process j{dir.options()};
    id = j.submit_sh("echo kept");
    j.wait_terminal(id);
  }
  // Another program holds the database's write lock: jobd's store waits
  // for it (busy_timeout) while the rest of jobd starts.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::atomic<bool> released{false};
  std::thread holder;
  {
    // initialize and tools/list (the harness's handshake) are answered
    // with the lock still held.
    jobd_process k{dir.options()};
    EXPECT_FALSE(released.load());
    holder = std::thread{[&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
      released = true;
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }};
    // A tool call waits until the store is open, then gets its answer.
    auto s = k.status(id);
    EXPECT_TRUE(released.load());
    ASSERT_TRUE(s.ok()) << s.dump();
    EXPECT_EQ(str(*s, "job.status"), "completed");
    auto m = k.tool("console_get_job_metrics", "{}");
    ASSERT_TRUE(m.ok()) << m.dump();
    EXPECT_EQ(str(*m, "metrics.persistence"), "ok");
  }
  holder.join();
  sqlite3_close(db);
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

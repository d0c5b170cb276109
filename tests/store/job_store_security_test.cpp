// The store's part of issue 13: a job's security controls (job_info.security
// and usage.limit_exceeded in the row, options.limits, options.sandbox and
// the applied controls in the spec) survive a round trip and a requeue after
// a crash; rows and specs written before (schema 7) read as unconfined.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "store_fixture.hpp"
#include "workflow_fixture.hpp"

#include <gtest/gtest.h>

using namespace jobd;
using namespace jobd::test;

namespace {

job_security confined() {
  job_security s;
  s.limits.cpu_seconds = 30;
  s.limits.memory_bytes = int64_t{1} << 30;
  s.limits.max_processes = 64;
  s.limits.open_files = 128;
  s.limits.file_size_bytes = 1 << 20;
  s.enforced_by = {{"cpuSeconds", "rlimit"},
                   {"memoryBytes", "cgroup-v1"},
                   {"maxProcesses", "cgroup-v1"},
                   {"openFiles", "rlimit"},
                   {"fileSizeBytes", "rlimit"}};
  s.sandboxed = true;
  s.landlock_abi = 7;
  s.writable = {"/srv/work", "/tmp", "/dev/shm"};
  s.readable = {"/srv", "/usr", "/etc"};
  s.env_policy = "allowlist";
  return s;
}

void expect_same(const job_security& a, const job_security& b) {
  EXPECT_EQ(a.limits.cpu_seconds, b.limits.cpu_seconds);
  EXPECT_EQ(a.limits.memory_bytes, b.limits.memory_bytes);
  EXPECT_EQ(a.limits.max_processes, b.limits.max_processes);
  EXPECT_EQ(a.limits.open_files, b.limits.open_files);
  EXPECT_EQ(a.limits.file_size_bytes, b.limits.file_size_bytes);
  EXPECT_EQ(a.enforced_by, b.enforced_by);
  EXPECT_EQ(a.sandboxed, b.sandboxed);
  EXPECT_EQ(a.landlock_abi, b.landlock_abi);
  EXPECT_EQ(a.writable, b.writable);
  EXPECT_EQ(a.readable, b.readable);
  EXPECT_EQ(a.env_policy, b.env_policy);
}

job_spec spec_of_job(const job_info& j) {
  job_spec spec;
  spec.command = j.command;
  spec.session_id = j.session_id;
  spec.limits.cpu_seconds = 30;
  spec.limits.max_processes = 64;
  spec.sandbox = true;
  spec.security = confined();
  return spec;
}

using jobd::test::put;

std::string raw_text(const std::string& path, const std::string& sql) {
  sql::database raw{path, false};
  sql::statement q{raw, sql.c_str()};
  return q.step() && !q.is_null(0) ? q.text_at(0) : std::string{"NULL"};
}

} // namespace

TEST(JobStoreSecurity, TheControlsAndTheLimitExceededSurviveARoundTrip) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = stored_job(1, "s", job_status::running, "sec");
  j.security = confined();
  auto spec = spec_of_job(j);
  put(db, j, &spec);
  auto got = db.find(j.id);
  ASSERT_TRUE(got);
  expect_same(got->security, j.security);
  EXPECT_EQ(got->usage.limit_exceeded, "");
  auto page = db.list({});
  ASSERT_EQ(page.jobs.size(), 1u);
  expect_same(page.jobs[0].security, j.security);
  // The job is stopped by its memory limit: a later row says so.
  j.status = job_status::failed;
  j.finished_at = j.started_at + 10;
  j.error_code = codes::limit_exceeded;
  j.error = "Stopped by its limit memoryBytes";
  j.usage.known = true;
  j.usage.max_rss_kb = 1 << 20;
  j.usage.limit_exceeded = "memoryBytes";
  put(db, j);
  got = db.find(j.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->usage.limit_exceeded, "memoryBytes");
  EXPECT_EQ(got->error_code, "LIMIT_EXCEEDED");
  expect_same(got->security, j.security);
  // The spec keeps what was asked and what was applied.
  bool found = false;
  auto s = db.spec_of(j.id, found);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->limits.cpu_seconds, 30);
  EXPECT_EQ(s->limits.max_processes, 64);
  EXPECT_EQ(s->limits.memory_bytes, 0);
  EXPECT_TRUE(s->sandbox);
  expect_same(s->security, spec.security);
}

TEST(JobStoreSecurity, AnUnconfinedJobCostsNothingAndReadsAsDefaults) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = stored_job(1, "s", job_status::completed, "sec");
  job_spec spec;
  spec.command = j.command;
  put(db, j, &spec);
  auto path = dir.path + "/jobd.db";
  EXPECT_EQ(raw_text(path, "SELECT security FROM jobs"), "NULL");
  auto text = raw_text(path, "SELECT spec FROM jobs");
  EXPECT_EQ(text.find("limits"), std::string::npos) << text;
  EXPECT_EQ(text.find("sandbox"), std::string::npos) << text;
  EXPECT_EQ(text.find("security"), std::string::npos) << text;
  auto got = db.find(j.id);
  ASSERT_TRUE(got);
  expect_same(got->security, job_security{});
  bool found = false;
  auto s = db.spec_of(j.id, found);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->limits.any());
  EXPECT_FALSE(s->sandbox);
  expect_same(s->security, job_security{});
  // Only a policy other than inherit: kept as well.
  j.security.env_policy = "clean";
  put(db, j);
  EXPECT_EQ(db.find(j.id)->security.env_policy, "clean");
}

TEST(JobStoreSecurity, ARequeuedJobKeepsItsControls) {
  temp_dir dir;
  auto j = stored_job(1, "s", job_status::pending, "sec");
  j.started_at = 0;
  j.security = confined();
  auto spec = spec_of_job(j);
  {
    job_store dead{at(dir)};
    put(dead, j, &spec);
    // A crash: the instance never marks itself ended.
    sql::database raw{dir.path + "/jobd.db", false};
    raw.exec("CREATE TRIGGER keep_alive BEFORE UPDATE OF ended_at ON "
             "instances BEGIN SELECT RAISE(IGNORE); END;");
  }
  job_store survivor{at(dir)};
  auto requeue = survivor.recover();
  ASSERT_EQ(requeue.size(), 1u);
  auto& r = requeue[0];
  EXPECT_EQ(r.info.id, j.id);
  expect_same(r.info.security, j.security);
  EXPECT_EQ(r.spec.limits.cpu_seconds, 30);
  EXPECT_EQ(r.spec.limits.max_processes, 64);
  EXPECT_TRUE(r.spec.sandbox);
  expect_same(r.spec.security, spec.security);
}

TEST(JobStoreSecurity, ASchemaSevenDatabaseReadsAsUnconfined) {
  temp_dir dir;
  auto path = dir.path + "/jobd.db";
  create_schema_at(path, 7);
  {
    sql::database raw{path, false};
    raw.exec(
      "INSERT INTO jobs(serial, id, owner, status, session, kind, command, "
      "args, shell, working_directory, priority, timeout_ms, tags, "
      "created_at, started_at, finished_at, exit_code, signal, error_code, "
      "error, pid, run_ms, tracking, process_start, stdout_bytes, "
      "stderr_bytes, chunks, dropped_chunks, dropped_bytes, buffered_bytes, "
      "last_sequence, spec) VALUES "
      "(7, 'job-7-old', 'igone', 2, 'old', 'process', 'echo', '[]', 0, "
      "'/tmp', 5, 0, '[]', 1, 2, 3, 0, 0, '', '', 0, 1, '', '', 0, 0, 0, 0, "
      "0, 0, 0, '{\"environment\":{\"A\":\"b\"},\"timeoutMs\":9}');");
  }
  job_store db{at(dir)};
  sql::database check{path, false};
  EXPECT_EQ(check.query_int("PRAGMA user_version"), store_schema_version);
  auto j = db.find("job-7-old");
  ASSERT_TRUE(j);
  expect_same(j->security, job_security{});
  EXPECT_EQ(j->usage.limit_exceeded, "");
  bool found = false;
  auto s = db.spec_of("job-7-old", found);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->environment.at("A"), "b");
  EXPECT_FALSE(s->limits.any());
  EXPECT_FALSE(s->sandbox);
  expect_same(s->security, job_security{});
  // The new columns work on the migrated file.
  auto n = stored_job(8, "old", job_status::failed, "new");
  n.security = confined();
  n.usage.limit_exceeded = "cpuSeconds";
  put(db, n);
  expect_same(db.find(n.id)->security, n.security);
  EXPECT_EQ(db.find(n.id)->usage.limit_exceeded, "cpuSeconds");
}

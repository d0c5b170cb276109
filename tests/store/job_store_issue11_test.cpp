// The store's part of issue 11: the new job_info and job_spec fields survive
// a round trip, the spec is kept after a job ends (restart), the newest job
// of a session with an idempotency key is found, schema 5 migrates, and the
// usage totals kept by triggers match the rows.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "store_fixture.hpp"
#include "workflow_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <random>

using namespace jobd;
using namespace jobd::test;

namespace {

namespace fs = std::filesystem;

job_info i11_job(uint64_t serial, std::string session = "s",
                 job_status status = job_status::completed) {
  return stored_job(serial, std::move(session), status, "i11");
}

job_info with_usage(job_info j, int64_t user, int64_t sys, int64_t rss) {
  j.usage.known = true;
  j.usage.cpu_user_ms = user;
  j.usage.cpu_system_ms = sys;
  j.usage.max_rss_kb = rss;
  return j;
}

using jobd::test::put;

void expect_same(const usage_totals& a, const usage_totals& b,
                 const std::string& what) {
  EXPECT_EQ(a.jobs, b.jobs) << what;
  EXPECT_EQ(a.cpu_user_ms, b.cpu_user_ms) << what;
  EXPECT_EQ(a.cpu_system_ms, b.cpu_system_ms) << what;
  EXPECT_EQ(a.run_ms, b.run_ms) << what;
  EXPECT_EQ(a.max_rss_kb_sum, b.max_rss_kb_sum) << what;
  // The largest peak seen: removals do not lower it.
  EXPECT_GE(a.max_rss_kb, b.max_rss_kb) << what;
}

// The usage totals counted from the rows themselves (a scan), per session
// ("" for all of them).
usage_totals scanned(const std::string& path, const std::string& session) {
  sql::database raw{path, false};
  sql::statement q{raw, "SELECT count(*), coalesce(sum(cpu_user_ms), 0), "
                        "coalesce(sum(cpu_system_ms), 0), "
                        "coalesce(sum(run_ms), 0), coalesce(max(max_rss_kb), "
                        "0), coalesce(sum(max_rss_kb), 0) FROM jobs WHERE "
                        "usage_known = 1 AND status >= 2 "
                        "AND (?1 = '' OR session = ?1)"};
  q.bind(1, session);
  usage_totals u;
  if (q.step()) {
    u.jobs = static_cast<uint64_t>(q.int_at(0));
    u.cpu_user_ms = q.int_at(1);
    u.cpu_system_ms = q.int_at(2);
    u.run_ms = q.int_at(3);
    u.max_rss_kb = q.int_at(4);
    u.max_rss_kb_sum = q.int_at(5);
  }
  return u;
}

} // namespace

TEST(JobStoreIssue11, EveryNewFieldSurvivesARoundTrip) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = i11_job(1, "s", job_status::running);
  j.restart_of = "job-0-old";
  j.idempotency_key = "deploy-42";
  j.input = stdin_mode::tty;
  j.stdin_open = true;
  j.cols = 132;
  j.rows = 43;
  j.paused = true;
  j.paused_at = 1234;
  j.paused_ms = 567;
  j.progress.known = true;
  j.progress.percent = 45.5;
  j.progress.current = 9;
  j.progress.total = 20;
  j.progress.text = "step 9/20 \"quoted\" \xc3\xa9";
  j.progress.at = 1500;
  j = with_usage(j, 120, 30, 65536);
  job_spec spec;
  spec.command = j.command;
  spec.session_id = j.session_id;
  spec.environment["A"] = "1";
  spec.kill_grace_ms = 777;
  spec.output_byte_limit = 4096;
  spec.kind_options = R"({"x":1})";
  spec.input = stdin_mode::tty;
  spec.cols = 132;
  spec.rows = 43;
  spec.idempotency_key = j.idempotency_key;
  spec.progress_pattern = R"((?P<current>\d+)/(?P<total>\d+))";
  spec.wait_ms = 2500;
  spec.wait_tail_lines = 7;
  spec.wait_max_bytes = 999;
  spec.restart_of = j.restart_of;
  put(db, j, &spec);
  auto check = [&](const job_info& got) {
    EXPECT_EQ(got.restart_of, j.restart_of);
    EXPECT_EQ(got.idempotency_key, j.idempotency_key);
    EXPECT_EQ(got.input, stdin_mode::tty);
    EXPECT_TRUE(got.stdin_open);
    EXPECT_EQ(got.cols, 132);
    EXPECT_EQ(got.rows, 43);
    EXPECT_TRUE(got.paused);
    EXPECT_EQ(got.paused_at, 1234);
    EXPECT_EQ(got.paused_ms, 567);
    EXPECT_TRUE(got.progress.known);
    EXPECT_DOUBLE_EQ(got.progress.percent, 45.5);
    EXPECT_DOUBLE_EQ(got.progress.current, 9);
    EXPECT_DOUBLE_EQ(got.progress.total, 20);
    EXPECT_EQ(got.progress.text, j.progress.text);
    EXPECT_EQ(got.progress.at, 1500);
    EXPECT_TRUE(got.usage.known);
    EXPECT_EQ(got.usage.cpu_user_ms, 120);
    EXPECT_EQ(got.usage.cpu_system_ms, 30);
    EXPECT_EQ(got.usage.max_rss_kb, 65536);
  };
  auto got = db.find(j.id);
  ASSERT_TRUE(got);
  check(*got);
  auto page = db.list({});
  ASSERT_EQ(page.jobs.size(), 1u);
  check(page.jobs[0]);
  bool found = false;
  auto s = db.spec_of(j.id, found);
  ASSERT_TRUE(found);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->environment.at("A"), "1");
  EXPECT_EQ(s->kill_grace_ms, 777);
  EXPECT_EQ(s->output_byte_limit, 4096);
  EXPECT_EQ(s->kind_options, spec.kind_options);
  EXPECT_EQ(s->input, stdin_mode::tty);
  EXPECT_EQ(s->cols, 132);
  EXPECT_EQ(s->rows, 43);
  EXPECT_EQ(s->idempotency_key, "deploy-42");
  EXPECT_EQ(s->progress_pattern, spec.progress_pattern);
  EXPECT_EQ(s->wait_ms, 2500);
  EXPECT_EQ(s->wait_tail_lines, 7u);
  EXPECT_EQ(s->wait_max_bytes, 999u);
  EXPECT_EQ(s->restart_of, "job-0-old");
  // Later rows change what may change; unknown progress is unknown again.
  j.paused = false;
  j.paused_ms = 900;
  j.stdin_open = false;
  j.progress = {};
  j.progress.percent = std::numeric_limits<double>::quiet_NaN();
  // What the first row set stays, whatever a later row says.
  j.idempotency_key.clear();
  j.restart_of.clear();
  j.input = stdin_mode::null;
  put(db, j);
  got = db.find(j.id);
  EXPECT_EQ(got->restart_of, "job-0-old");
  EXPECT_EQ(got->input, stdin_mode::tty);
  EXPECT_FALSE(got->paused);
  EXPECT_EQ(got->paused_ms, 900);
  EXPECT_FALSE(got->stdin_open);
  EXPECT_FALSE(got->progress.known);
  EXPECT_EQ(got->idempotency_key, "deploy-42");
  // A NaN percent is stored as unknown (-1), never as broken JSON.
  j.progress.known = true;
  put(db, j);
  EXPECT_TRUE(db.find(j.id)->progress.known);
  EXPECT_DOUBLE_EQ(db.find(j.id)->progress.percent, -1);
}

TEST(JobStoreIssue11, TheSpecIsKeptAfterTheJobEnds) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = i11_job(1, "s", job_status::pending);
  job_spec spec;
  spec.command = "make";
  spec.args = {"-j", "2"};
  spec.shell = true;
  spec.session_id = "s";
  spec.working_directory = "/tmp";
  spec.environment["CC"] = "gcc";
  spec.timeout_ms = 60000;
  spec.priority = 8;
  spec.tags["team"] = "\"ml\"";
  spec.kill_grace_ms = 100;
  spec.input = stdin_mode::pipe;
  j.command = spec.command;
  j.args = spec.args;
  j.shell = true;
  j.working_directory = spec.working_directory;
  j.timeout_ms = spec.timeout_ms;
  j.priority = spec.priority;
  j.tags = spec.tags;
  j.input = stdin_mode::pipe;
  put(db, j, &spec);
  j.status = job_status::running;
  put(db, j);
  j.status = job_status::failed;
  j.finished_at = j.started_at + 5;
  put(db, j);
  bool found = false;
  auto s = db.spec_of(j.id, found);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->command, "make");
  EXPECT_EQ(s->args, spec.args);
  EXPECT_TRUE(s->shell);
  EXPECT_EQ(s->session_id, "s");
  EXPECT_EQ(s->working_directory, "/tmp");
  EXPECT_EQ(s->environment, spec.environment);
  EXPECT_EQ(s->timeout_ms, 60000);
  EXPECT_EQ(s->priority, 8);
  EXPECT_EQ(s->tags, spec.tags);
  EXPECT_EQ(s->kill_grace_ms, 100);
  EXPECT_EQ(s->kind, "process");
  EXPECT_EQ(s->input, stdin_mode::pipe);
  EXPECT_EQ(s->cols, 80); // defaults where the spec said nothing
  EXPECT_EQ(s->wait_ms, 0);
  // A job whose spec was not kept (it ended under schema 5) is found, but
  // has none; an unknown one is not found.
  put(db, i11_job(2));
  EXPECT_FALSE(db.spec_of("job-2-i11", found));
  EXPECT_TRUE(found);
  EXPECT_FALSE(db.spec_of("nope", found));
  EXPECT_FALSE(found);
}

TEST(JobStoreIssue11, FindsTheNewestJobOfASessionWithAKey) {
  temp_dir dir;
  job_store db{at(dir)};
  auto keyed = [](uint64_t serial, std::string session, std::string key) {
    auto j = i11_job(serial, std::move(session));
    j.idempotency_key = std::move(key);
    return j;
  };
  db.begin();
  db.put_job(keyed(1, "a", "k"), nullptr);
  db.put_job(keyed(2, "b", "k"), nullptr);
  db.put_job(keyed(3, "a", "k"), nullptr);
  db.put_job(keyed(4, "a", "other"), nullptr);
  db.put_job(keyed(5, "a", ""), nullptr);
  db.commit();
  EXPECT_EQ(db.find_by_key("a", "k"), "job-3-i11");
  EXPECT_EQ(db.find_by_key("b", "k"), "job-2-i11");
  EXPECT_EQ(db.find_by_key("a", "other"), "job-4-i11");
  EXPECT_EQ(db.find_by_key("c", "k"), "");
  EXPECT_EQ(db.find_by_key("a", ""), ""); // no key: never deduplicated
  EXPECT_EQ(db.find_by_key("a' OR '1'='1", "k"), "");
  // A removed job is gone: the older one with the key is found again.
  {
    sql::database raw{dir.path + "/jobd.db", false};
    raw.exec("DELETE FROM jobs WHERE serial = 3");
  }
  EXPECT_EQ(db.find_by_key("a", "k"), "job-1-i11");
  cleanup_query all;
  db.cleanup(all, 0);
  EXPECT_EQ(db.find_by_key("a", "k"), "");
  EXPECT_EQ(db.find_by_key("b", "k"), "");
  // The lookup is an index search, not a scan.
  sql::database raw{dir.path + "/jobd.db", false};
  sql::statement plan{raw, "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE "
                           "session = ?1 AND idempotency_key = ?2 ORDER BY "
                           "serial DESC LIMIT 1"};
  ASSERT_TRUE(plan.step());
  EXPECT_NE(plan.text_at(3).find("jobs_idempotency"), std::string::npos)
    << plan.text_at(3);
}

TEST(JobStoreIssue11, MigratesAVersionFiveDatabase) {
  temp_dir dir;
  auto path = dir.path + "/jobd.db";
  create_schema_at(path, 5);
  {
    // The rows schema 5 wrote: a finished job (its spec cleared) and a
    // pending one with a spec of the old shape.
    sql::database raw{path, false};
    raw.exec(
      "INSERT INTO jobs VALUES (7, 'job-7-old', 'igone', 2, 'old', "
      "'process', 'echo', '[\"hi\"]', 0, '/tmp', 5, 0, '[]', 1, 2, 3, "
      "0, 0, '', '', 0, 1, '', '', 3, 0, 1, 0, 0, 3, 1, NULL);"
      "INSERT INTO jobs VALUES (8, 'job-8-old', 'igone', 0, 'old', "
      "'process', 'sleep', '[\"1\"]', 0, '/tmp', 5, 0, '[]', 1, 0, 0, "
      "0, 0, '', '', 0, 0, '', '', 0, 0, 0, 0, 0, 0, 0, "
      "'{\"environment\":{\"A\":\"b\"},\"timeoutMs\":9,\"killGraceMs\":3,"
      "\"outputByteLimit\":-1,\"kindOptions\":\"\"}');");
  }
  job_store db{at(dir)};
  sql::database check{path, false};
  EXPECT_EQ(check.query_int("PRAGMA user_version"), store_schema_version);
  auto j = db.find("job-7-old");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, job_status::completed);
  EXPECT_EQ(j->restart_of, "");
  EXPECT_EQ(j->idempotency_key, "");
  EXPECT_EQ(j->input, stdin_mode::null);
  EXPECT_FALSE(j->stdin_open);
  EXPECT_FALSE(j->paused);
  EXPECT_EQ(j->paused_ms, 0);
  EXPECT_FALSE(j->progress.known);
  EXPECT_FALSE(j->usage.known);
  bool found = false;
  EXPECT_FALSE(db.spec_of("job-7-old", found)); // cleared by schema 5
  EXPECT_TRUE(found);
  auto s = db.spec_of("job-8-old", found);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->environment.at("A"), "b");
  EXPECT_EQ(s->timeout_ms, 9);
  EXPECT_EQ(s->kill_grace_ms, 3);
  EXPECT_EQ(s->input, stdin_mode::null);
  EXPECT_EQ(s->cols, 80);
  EXPECT_EQ(s->rows, 24);
  EXPECT_TRUE(s->progress_pattern.empty());
  auto m = db.figures();
  EXPECT_EQ(m.usage.jobs, 0u);
  EXPECT_EQ(m.retained_jobs, 2u);
  // The new columns, index and triggers work on the migrated file.
  auto n = with_usage(i11_job(9, "old"), 10, 2, 300);
  n.idempotency_key = "k";
  put(db, n);
  EXPECT_EQ(db.find_by_key("old", "k"), n.id);
  EXPECT_EQ(db.figures().usage.jobs, 1u);
}

TEST(JobStoreIssue11, UsageTotalsMatchTheRowsThroughEveryChange) {
  temp_dir dir;
  auto path = dir.path + "/jobd.db";
  job_store db{at(dir)};
  std::mt19937_64 rng{11};
  const char* sessions[] = {"a", "b", "c"};
  db.begin();
  for (uint64_t s = 1; s <= 60; ++s) {
    auto j = i11_job(s, sessions[s % 3], job_status::running);
    j.run_ms = 0;
    db.put_job(j, nullptr); // running, then finished: usage_moved
    j.status = s % 4 == 0 ? job_status::failed : job_status::completed;
    j.run_ms = static_cast<int64_t>(rng() % 1000);
    j.finished_at = j.started_at + j.run_ms;
    if (s % 5 != 0) // some with unknown usage: not counted
      j = with_usage(j, static_cast<int64_t>(rng() % 500),
                     static_cast<int64_t>(rng() % 100),
                     static_cast<int64_t>(rng() % 100000));
    db.put_job(j, nullptr);
    if (s % 7 == 0)
      db.put_job(j, nullptr); // the same finished row again: counted once
  }
  for (uint64_t s = 61; s <= 70; ++s) // finished at once: usage_in
    db.put_job(with_usage(i11_job(s, "c"), 1, 1, static_cast<int64_t>(s)),
               nullptr);
  db.put_job(with_usage(i11_job(71, "a", job_status::running), 5, 5, 5),
             nullptr);
  db.commit();
  auto verify = [&](const std::string& when) {
    auto m = db.figures();
    expect_same(m.usage, scanned(path, ""), when + ": overall");
    for (auto id : {"a", "b", "c"}) {
      auto s = session_of(m, id);
      auto want = scanned(path, id);
      if (s == nullptr) {
        EXPECT_EQ(want.jobs, 0u) << when << ": " << id;
        continue;
      }
      expect_same(s->usage, want, when + ": session " + id);
    }
  };
  verify("filled");
  EXPECT_GT(db.figures().usage.jobs, 40u);
  // Removing the job with the largest max_rss_kb of a session: the sums
  // follow; the largest peak is the largest seen (not lowered by removals).
  auto before = session_of(db.figures(), "a")->usage.max_rss_kb;
  {
    sql::database raw{path, false};
    raw.exec("DELETE FROM jobs WHERE serial = (SELECT serial FROM jobs WHERE "
             "usage_known = 1 AND status >= 2 AND session = 'a' ORDER BY "
             "max_rss_kb DESC LIMIT 1)");
  }
  {
    auto m = db.figures();
    auto a = session_of(m, "a");
    ASSERT_NE(a, nullptr);
    auto want = scanned(path, "a");
    EXPECT_EQ(a->usage.jobs, want.jobs);
    EXPECT_EQ(a->usage.max_rss_kb_sum, want.max_rss_kb_sum);
    EXPECT_EQ(a->usage.max_rss_kb, before);
  }
  cleanup_query q;
  q.keep_count = 20;
  db.cleanup(q, 0);
  verify("after a cleanup keeping 20");
  q.keep_count = 0;
  db.cleanup(q, 0);
  verify("after removing every finished job");
  EXPECT_EQ(db.figures().usage.jobs, 0u);
  sql::database raw{path, false};
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM session_usage"), 0);
}

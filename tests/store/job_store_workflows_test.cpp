// The store's part of issue 12 for job rows: every new job_info and
// job_spec field survives status, list, output and requeue; schema 6
// upgrades in place and keeps its jobs. The list filters are in
// job_store_filters_test.cpp.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "workflow_fixture.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <set>

using namespace jobd;
using namespace jobd::test;

TEST(JobStoreWorkflows, EveryNewFieldSurvivesStatusListAndSpec) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = backoff_job(3);
  auto spec = full_spec(j);
  put(db, j, &spec);
  auto got = db.find(j.id);
  ASSERT_TRUE(got);
  expect_workflow_fields(*got, j);
  auto page = db.list({});
  ASSERT_EQ(page.jobs.size(), 1u);
  expect_workflow_fields(page.jobs[0], j);
  bool found = false;
  auto s = db.spec_of(j.id, found);
  ASSERT_TRUE(s);
  expect_spec_fields(*s, spec);
  // A spec with the defaults writes none of them, and reads them back.
  job_spec plain;
  auto p = job(4);
  put(db, p, &plain);
  s = db.spec_of(p.id, found);
  ASSERT_TRUE(s);
  expect_spec_fields(*s, plain);
  sql::database raw{dir.path + "/jobd.db", false};
  sql::statement text{raw, "SELECT spec FROM jobs WHERE serial = 4"};
  ASSERT_TRUE(text.step());
  EXPECT_EQ(text.text_at(0), R"({"timeoutMs":-1})");
}

TEST(JobStoreWorkflows, LaterRowsChangeTheStateAndKeepTheIdentity) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = backoff_job(1);
  submit(db, j);
  // The next attempt runs: what changes is written...
  auto next = j;
  next.status = job_status::running;
  next.pending_reason.clear();
  next.waiting_for.clear();
  next.attempt = 3;
  next.next_attempt_at = 0;
  // ...and what the first row set stays, whatever a later row says.
  next.depends_on.clear();
  next.condition = dependency_condition::success;
  next.schedule_id.clear();
  next.template_name.clear();
  put(db, next);
  auto got = db.find(j.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, job_status::running);
  EXPECT_EQ(got->pending_reason, "");
  EXPECT_TRUE(got->waiting_for.empty());
  EXPECT_EQ(got->attempt, 3);
  EXPECT_EQ(got->next_attempt_at, 0);
  EXPECT_EQ(got->attempts.size(), 2u);
  EXPECT_EQ(got->depends_on, j.depends_on);
  EXPECT_EQ(got->condition, dependency_condition::failure);
  EXPECT_EQ(got->schedule_id, "sched-1-abc");
  EXPECT_EQ(got->template_name, "deploy");
  // Empty lists are NULL (no JSON text kept for them).
  sql::database raw{dir.path + "/jobd.db", false};
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM jobs WHERE waiting_for IS "
                          "NULL AND serial = 1"),
            1);
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM job_dependencies"), 2);
}

TEST(JobStoreWorkflows, AStartedJobOfAnOlderSchemaRanItsFirstAttempt) {
  temp_dir dir;
  job_store db{at(dir)};
  auto never = job(1, "s", job_status::pending);
  never.started_at = 0;
  never.finished_at = 0;
  put(db, never);
  put(db, job(2)); // attempt 0 in the row, but it started
  EXPECT_EQ(db.find(id_of(1))->attempt, 0);
  EXPECT_EQ(db.find(id_of(2))->attempt, 1);
  EXPECT_EQ(db.find(id_of(2))->max_attempts, 1);
}

TEST(JobStoreWorkflows, OutputRowsKeepTheirAttempt) {
  temp_dir dir;
  job_store db{at(dir)};
  auto j = job(1, "s", job_status::running);
  put(db, j);
  std::vector<output_chunk> chunks{
    {1, 10, stream_kind::out, "first\n", 1},
    {2, 11, stream_kind::err, "oops\n", 1},
    {3, 20, stream_kind::out, "second\n", 2},
    {4, 21, stream_kind::out, "max\n", std::numeric_limits<int32_t>::max()}};
  output_stats stats;
  stats.chunks = 4;
  stats.last_sequence = 4;
  stats.buffered_bytes = 22;
  stats.stdout_bytes = 17;
  stats.stderr_bytes = 5;
  db.begin();
  db.put_output(j.serial, chunks, 1, stats);
  db.commit();
  auto info = db.find(j.id);
  ASSERT_TRUE(info);
  auto buffer = db.load_output(*info);
  output_query q;
  auto page = buffer->read(q);
  ASSERT_EQ(page.chunks.size(), 4u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(page.chunks[i].attempt, chunks[i].attempt) << i;
    EXPECT_EQ(page.chunks[i].content, chunks[i].content) << i;
  }
  // Every page, not only the first.
  q.since = 2;
  q.limit = 1;
  page = buffer->read(q);
  ASSERT_EQ(page.chunks.size(), 1u);
  EXPECT_EQ(page.chunks[0].attempt, 2);
  q.latest = true;
  q.since = 0;
  page = buffer->read(q);
  ASSERT_EQ(page.chunks.size(), 1u);
  EXPECT_EQ(page.chunks[0].attempt, std::numeric_limits<int32_t>::max());
}

TEST(JobStoreWorkflows, AJobInBackoffIsRequeuedWithItsAttempts) {
  temp_dir dir;
  auto j = backoff_job(2);
  auto spec = full_spec(j);
  {
    job_store dead{at(dir)};
    auto d = j;
    d.pid = 0; // its last attempt's process is gone
    dead.begin();
    dead.put_job(d, &spec);
    dead.commit();
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
  EXPECT_EQ(r.info.status, job_status::pending);
  expect_workflow_fields(r.info, j);
  expect_spec_fields(r.spec, spec);
  EXPECT_EQ(r.info.owner_instance, survivor.instance());
}

TEST(JobStoreWorkflows, UpgradesASchemaSixDatabaseInPlace) {
  temp_dir dir;
  auto path = dir.path + "/jobd.db";
  create_schema_at(path, 6);
  {
    // Rows as schema 6 wrote them: a finished job with output and a tag,
    // and a pending one with its spec.
    sql::database raw{path, false};
    raw.exec(
      "INSERT INTO jobs(serial, id, owner, status, session, kind, command, "
      "args, shell, working_directory, priority, timeout_ms, tags, "
      "created_at, started_at, finished_at, exit_code, signal, error_code, "
      "error, pid, run_ms, tracking, process_start, stdout_bytes, "
      "stderr_bytes, chunks, dropped_chunks, dropped_bytes, buffered_bytes, "
      "last_sequence, spec, restart_of, idempotency_key) VALUES "
      "(7, 'job-7-old', 'igone', 2, 'old', 'process', 'echo', '[\"hi\"]', 0, "
      "'/tmp', 5, 0, '[[\"team\",\"\\\"ml\\\"\"]]', 1, 2, 3, 0, 0, '', '', "
      "0, 1, '', '', 3, 0, 1, 0, 0, 3, 1, '{\"timeoutMs\":-1}', '', 'k'),"
      "(8, 'job-8-old', 'igone', 0, 'old', 'process', 'sleep', '[\"1\"]', 0, "
      "'/tmp', 5, 0, '[]', 1, 0, 0, 0, 0, '', '', 0, 0, '', '', 0, 0, 0, 0, "
      "0, 0, 0, '{\"environment\":{\"A\":\"b\"},\"timeoutMs\":9}', '', "
      "NULL);"
      "INSERT INTO tags VALUES ('team', '\"ml\"', 7);"
      "INSERT INTO output VALUES (7, 1, 5, 0, 'hi\n');");
  }
  job_store db{at(dir)};
  sql::database check{path, false};
  EXPECT_EQ(check.query_int("PRAGMA user_version"), store_schema_version);
  auto j = db.find("job-7-old");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, job_status::completed);
  EXPECT_EQ(j->idempotency_key, "k");
  EXPECT_EQ(j->tags.at("team"), "\"ml\"");
  EXPECT_EQ(j->pending_reason, "");
  EXPECT_TRUE(j->depends_on.empty());
  EXPECT_TRUE(j->waiting_for.empty());
  EXPECT_EQ(j->schedule_id, "");
  EXPECT_EQ(j->template_name, "");
  EXPECT_EQ(j->attempt, 1); // it started
  EXPECT_EQ(j->max_attempts, 1);
  EXPECT_TRUE(j->attempts.empty());
  auto page = db.load_output(*j)->read({});
  ASSERT_EQ(page.chunks.size(), 1u);
  EXPECT_EQ(page.chunks[0].content, "hi\n");
  EXPECT_EQ(page.chunks[0].attempt, 1);
  bool found = false;
  auto s = db.spec_of("job-8-old", found);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->environment.at("A"), "b");
  EXPECT_EQ(s->timeout_ms, 9);
  expect_spec_fields(*s, job_spec{});
  EXPECT_EQ(db.find("job-8-old")->attempt, 0);
  EXPECT_EQ(db.list({}).total, 2u);
  list_query by_tag;
  by_tag.tags["team"] = "\"ml\"";
  EXPECT_EQ(ids(db.list(by_tag)), std::vector<std::string>{"job-7-old"});
  // The new tables and columns work on the upgraded file.
  auto n = backoff_job(9);
  submit(db, n);
  list_query q;
  q.depends_on = "job-1-dep";
  EXPECT_EQ(ids(db.list(q)), std::vector<std::string>{n.id});
  job_template t;
  t.name = "after-upgrade";
  t.job = "{}";
  db.put_template(t);
  EXPECT_TRUE(db.get_template("after-upgrade"));
  // A second open finds nothing to migrate.
  job_store again{at(dir)};
  EXPECT_EQ(again.list({}).total, 3u);
}

// The store's part of issue 12 for job rows: every new job_info and
// job_spec field survives status, list, output and requeue; the list
// filters dependsOn, scheduleId and templateName alone and with the others
// and cursors; cleanup takes the dependency rows along; schema 6 upgrades
// in place and keeps its jobs.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <set>

using namespace jobd;
using namespace jobd::test;

namespace {

job_info job(uint64_t serial, std::string session = "s",
             job_status status = job_status::completed) {
  return stored_job(serial, std::move(session), status, "wf");
}

std::string id_of(uint64_t serial) {
  return "job-" + std::to_string(serial) + "-wf";
}

void put(job_store& db, const job_info& j, const job_spec* spec = nullptr) {
  db.begin();
  db.put_job(j, spec);
  db.commit();
}

// A job's first row, with a spec, as SCHEDULER writes it.
void submit(job_store& db, const job_info& j) {
  job_spec spec;
  spec.command = j.command;
  spec.session_id = j.session_id;
  spec.tags = j.tags;
  spec.depends_on = j.depends_on;
  spec.schedule_id = j.schedule_id;
  spec.template_name = j.template_name;
  put(db, j, &spec);
}

// The ids of a page, in order.
std::vector<std::string> ids(const list_page& page) {
  std::vector<std::string> out;
  for (auto& j : page.jobs)
    out.push_back(j.id);
  return out;
}

// Every page of a query, `limit` jobs at a time, through the cursors.
std::vector<std::string> all_pages(job_store& db, list_query q,
                                   uint64_t limit) {
  std::vector<std::string> out;
  q.limit = limit;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = db.list(q);
    for (auto& j : page.jobs)
      out.push_back(j.id);
    if (page.next_cursor.empty())
      return out;
    q.cursor = page.next_cursor;
  }
  ADD_FAILURE() << "the cursors never ended";
  return out;
}

// A job in retry backoff after two failed attempts, with every workflow
// field set.
job_info backoff_job(uint64_t serial) {
  auto j = job(serial, "s", job_status::pending);
  j.finished_at = 0;
  j.pending_reason = pending_reasons::backoff;
  j.depends_on = {"job-1-dep", "job-2-dep \"quoted\" \xc3\xa9"};
  j.condition = dependency_condition::failure;
  j.waiting_for = {"job-2-dep \"quoted\" \xc3\xa9"};
  j.scheduled_for = 1700000000123;
  j.schedule_id = "sched-1-abc";
  j.template_name = "deploy";
  j.attempt = 2;
  j.max_attempts = 5;
  j.next_attempt_at = 1700000009999;
  j.attempts = {{1, 100, 200, "failed", 3, 0, ""},
                {2, 300, 400, "failed", -1, 9, codes::timeout}};
  return j;
}

void expect_workflow_fields(const job_info& got, const job_info& want) {
  EXPECT_EQ(got.pending_reason, want.pending_reason);
  EXPECT_EQ(got.depends_on, want.depends_on);
  EXPECT_EQ(got.condition, want.condition);
  EXPECT_EQ(got.waiting_for, want.waiting_for);
  EXPECT_EQ(got.scheduled_for, want.scheduled_for);
  EXPECT_EQ(got.schedule_id, want.schedule_id);
  EXPECT_EQ(got.template_name, want.template_name);
  EXPECT_EQ(got.attempt, want.attempt);
  EXPECT_EQ(got.max_attempts, want.max_attempts);
  EXPECT_EQ(got.next_attempt_at, want.next_attempt_at);
  ASSERT_EQ(got.attempts.size(), want.attempts.size());
  for (size_t i = 0; i < want.attempts.size(); ++i) {
    auto& a = got.attempts[i];
    auto& b = want.attempts[i];
    EXPECT_EQ(a.attempt, b.attempt) << i;
    EXPECT_EQ(a.started_at, b.started_at) << i;
    EXPECT_EQ(a.finished_at, b.finished_at) << i;
    EXPECT_EQ(a.status, b.status) << i;
    EXPECT_EQ(a.exit_code, b.exit_code) << i;
    EXPECT_EQ(a.signal, b.signal) << i;
    EXPECT_EQ(a.error_code, b.error_code) << i;
  }
}

job_spec full_spec(const job_info& j) {
  job_spec spec;
  spec.command = j.command;
  spec.session_id = j.session_id;
  spec.depends_on = j.depends_on;
  spec.condition = j.condition;
  spec.retry.max_attempts = 5;
  spec.retry.backoff_ms = 250;
  spec.retry.backoff_factor = 1.5;
  spec.retry.max_backoff_ms = 60000;
  spec.retry.jitter = false;
  spec.retry.on_failure = false;
  spec.retry.on_timeout = true;
  spec.retry.exit_codes = {1, 75, std::numeric_limits<int32_t>::max(),
                           std::numeric_limits<int32_t>::min()};
  spec.start_at = j.scheduled_for;
  spec.schedule_id = j.schedule_id;
  spec.template_name = j.template_name;
  return spec;
}

void expect_spec_fields(const job_spec& got, const job_spec& want) {
  EXPECT_EQ(got.depends_on, want.depends_on);
  EXPECT_EQ(got.condition, want.condition);
  EXPECT_EQ(got.retry.max_attempts, want.retry.max_attempts);
  EXPECT_EQ(got.retry.backoff_ms, want.retry.backoff_ms);
  EXPECT_DOUBLE_EQ(got.retry.backoff_factor, want.retry.backoff_factor);
  EXPECT_EQ(got.retry.max_backoff_ms, want.retry.max_backoff_ms);
  EXPECT_EQ(got.retry.jitter, want.retry.jitter);
  EXPECT_EQ(got.retry.on_failure, want.retry.on_failure);
  EXPECT_EQ(got.retry.on_timeout, want.retry.on_timeout);
  EXPECT_EQ(got.retry.exit_codes, want.retry.exit_codes);
  EXPECT_EQ(got.start_at, want.start_at);
  EXPECT_EQ(got.schedule_id, want.schedule_id);
  EXPECT_EQ(got.template_name, want.template_name);
}

} // namespace

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

TEST(JobStoreWorkflows, ListFiltersAloneCombinedAndThroughCursors) {
  temp_dir dir;
  job_store db{at(dir)};
  // 40 jobs: every 2nd depends on job-0-root, every 3rd is of schedule A,
  // every 5th made from template T; sessions a/b alternate; every 4th has
  // tag team=ml; statuses vary.
  std::set<uint64_t> want_dep;
  for (uint64_t s = 1; s <= 40; ++s) {
    auto status = s % 7 == 0 ? job_status::failed : job_status::completed;
    auto j = job(s, s % 2 == 0 ? "a" : "b", status);
    if (s % 2 == 0) {
      j.depends_on = {"job-0-root", "job-" + std::to_string(s - 1) + "-wf"};
      want_dep.insert(s);
    }
    if (s % 3 == 0) {
      j.schedule_id = "sched-A";
    } else if (s % 3 == 1) {
      j.schedule_id = "sched-B";
    }
    if (s % 5 == 0)
      j.template_name = "T";
    if (s % 4 == 0)
      j.tags["team"] = "\"ml\"";
    submit(db, j);
  }
  // What a query should answer: newest first.
  auto expected = [&](auto pred) {
    std::vector<std::string> out;
    for (uint64_t s = 40; s >= 1; --s)
      if (pred(s))
        out.push_back(id_of(s));
    return out;
  };
  auto is_failed = [](uint64_t s) { return s % 7 == 0; };
  struct check_case {
    const char* what;
    list_query q;
    std::function<bool(uint64_t)> pred;
  };
  std::vector<check_case> cases;
  auto add = [&](const char* what, auto fill, std::function<bool(uint64_t)> p) {
    list_query q;
    fill(q);
    cases.push_back({what, q, std::move(p)});
  };
  add(
    "dependsOn", [](list_query& q) { q.depends_on = "job-0-root"; },
    [](uint64_t s) { return s % 2 == 0; });
  add(
    "dependsOn a job", [](list_query& q) { q.depends_on = "job-9-wf"; },
    [](uint64_t s) { return s == 10; });
  add(
    "scheduleId", [](list_query& q) { q.schedule_id = "sched-A"; },
    [](uint64_t s) { return s % 3 == 0; });
  add(
    "templateName", [](list_query& q) { q.template_name = "T"; },
    [](uint64_t s) { return s % 5 == 0; });
  add(
    "dependsOn + scheduleId",
    [](list_query& q) {
      q.depends_on = "job-0-root";
      q.schedule_id = "sched-A";
    },
    [](uint64_t s) { return s % 6 == 0; });
  add(
    "all three",
    [](list_query& q) {
      q.depends_on = "job-0-root";
      q.schedule_id = "sched-B";
      q.template_name = "T";
    },
    [](uint64_t s) { return s % 2 == 0 && s % 3 == 1 && s % 5 == 0; });
  add(
    "dependsOn + status",
    [](list_query& q) {
      q.depends_on = "job-0-root";
      q.statuses = {job_status::failed};
    },
    [&](uint64_t s) { return s % 2 == 0 && is_failed(s); });
  add(
    "scheduleId + session",
    [](list_query& q) {
      q.schedule_id = "sched-A";
      q.session_id = "b";
    },
    [](uint64_t s) { return s % 3 == 0 && s % 2 == 1; });
  add(
    "templateName + tag",
    [](list_query& q) {
      q.template_name = "T";
      q.tags["team"] = "\"ml\"";
    },
    [](uint64_t s) { return s % 5 == 0 && s % 4 == 0; });
  add(
    "dependsOn + tag + session",
    [](list_query& q) {
      q.depends_on = "job-0-root";
      q.tags["team"] = "\"ml\"";
      q.session_id = "a";
    },
    [](uint64_t s) { return s % 4 == 0; });
  add(
    "scheduleId + status + session",
    [](list_query& q) {
      q.schedule_id = "sched-B";
      q.statuses = {job_status::completed};
      q.session_id = "a";
    },
    [&](uint64_t s) { return s % 3 == 1 && s % 2 == 0 && !is_failed(s); });
  add(
    "unknown dependsOn", [](list_query& q) { q.depends_on = "job-x' OR 1"; },
    [](uint64_t) { return false; });
  add(
    "unknown scheduleId", [](list_query& q) { q.schedule_id = "%"; },
    [](uint64_t) { return false; });
  for (auto& c : cases) {
    auto want = expected(c.pred);
    auto first = db.list(c.q);
    EXPECT_EQ(ids(first), want) << c.what;
    EXPECT_EQ(first.total, want.size()) << c.what;
    for (uint64_t limit : {1u, 3u, 7u})
      EXPECT_EQ(all_pages(db, c.q, limit), want)
        << c.what << ", pages of " << limit;
  }
  // The totals of a page cut by limit count every match.
  list_query q;
  q.depends_on = "job-0-root";
  q.limit = 2;
  auto page = db.list(q);
  EXPECT_EQ(page.jobs.size(), 2u);
  EXPECT_EQ(page.total, want_dep.size());
  EXPECT_FALSE(page.next_cursor.empty());
}

TEST(JobStoreWorkflows, TheFiltersUseTheirIndexes) {
  temp_dir dir;
  { job_store db{at(dir)}; }
  sql::database raw{dir.path + "/jobd.db", false};
  auto plan = [&](const char* sql) {
    sql::statement p{raw, sql};
    std::string out;
    while (p.step())
      out += p.text_at(3) + "; ";
    return out;
  };
  auto schedule = plan("EXPLAIN QUERY PLAN SELECT serial FROM jobs WHERE 1 "
                       "AND schedule_id = ? AND serial < ? ORDER BY serial "
                       "DESC LIMIT 5");
  EXPECT_NE(schedule.find("jobs_schedule"), std::string::npos) << schedule;
  auto tmpl = plan("EXPLAIN QUERY PLAN SELECT serial FROM jobs WHERE 1 AND "
                   "template_name = ? AND serial < ? ORDER BY serial DESC "
                   "LIMIT 5");
  EXPECT_NE(tmpl.find("jobs_template"), std::string::npos) << tmpl;
  // Removing a job finds its dependency rows by serial, not by a scan.
  auto del = plan("EXPLAIN QUERY PLAN DELETE FROM job_dependencies WHERE "
                  "serial = ?");
  EXPECT_NE(del.find("job_dependencies_serial"), std::string::npos) << del;
}

TEST(JobStoreWorkflows, CleanupRemovesTheDependencyRows) {
  temp_dir dir;
  job_store db{at(dir)};
  for (uint64_t s = 1; s <= 10; ++s) {
    auto j = job(s, "s", s <= 8 ? job_status::completed : job_status::running);
    for (int d = 0; d < 100; ++d) // at the limit of dependsOn
      j.depends_on.push_back(std::string(250, 'd') + std::to_string(d));
    submit(db, j);
  }
  sql::database raw{dir.path + "/jobd.db", false};
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM job_dependencies"), 1000);
  EXPECT_EQ(db.find(id_of(3))->depends_on.size(), 100u);
  cleanup_query q;
  q.keep_count = 3;
  EXPECT_EQ(db.cleanup(q, 0).result.cleaned, 5u);
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM job_dependencies"), 500);
  q.keep_count = 0;
  db.cleanup(q, 0);
  // The running jobs keep theirs; nothing is left of the removed ones.
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM job_dependencies"), 200);
  EXPECT_EQ(raw.query_int("SELECT count(*) FROM job_dependencies WHERE "
                          "serial NOT IN (SELECT serial FROM jobs)"),
            0);
  list_query l;
  l.depends_on = std::string(250, 'd') + "7";
  EXPECT_EQ(ids(db.list(l)), (std::vector<std::string>{id_of(10), id_of(9)}));
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

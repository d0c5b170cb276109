// The job store on its own (no actors): migrations, serials shared by two
// instances, list and cleanup rules, the window and size bounds on stored
// output, hostile values.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "store_fixture.hpp"
#include "workflow_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <set>

using namespace jobd;
using namespace jobd::test;

namespace {

namespace fs = std::filesystem;

// Every job here is finished unless a test changes it.
job_info finished_job(uint64_t serial, std::string session = "s",
                      job_status status = job_status::completed) {
  return stored_job(serial, std::move(session), status);
}

using jobd::test::put;

output_chunk chunk(uint64_t seq, std::string text) {
  return {seq, 1, stream_kind::out, std::move(text)};
}

} // namespace

TEST(JobStore, MigratesAVersionOneDatabaseAndKeepsItsJobs) {
  temp_dir dir;
  auto path = dir.path + "/jobd.db";
  create_schema_at(path, 1);
  {
    sql::database raw{path, false};
    raw.exec("INSERT INTO jobs VALUES (7, 'job-7-old', 'igone', 2, 'old', "
             "'process', 'echo', '[\"hi\"]', 0, '/tmp', 5, 0, '[]', 1, 2, 3, "
             "0, 0, '', '', 0, 1, '', '', 3, 0, 1, 0, 0, 3, 1, NULL);"
             "INSERT INTO output VALUES (7, 1, 2, 0, 'hi\n');");
  }
  job_store db{at(dir)};
  sql::database check{path, false};
  EXPECT_EQ(check.query_int("PRAGMA user_version"), store_schema_version);
  auto j = db.find("job-7-old");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, job_status::completed);
  EXPECT_EQ(j->args, std::vector<std::string>{"hi"});
  auto out = db.load_output(*j);
  EXPECT_EQ(out->read({}).chunks.at(0).content, "hi\n");
  // Version 2's per-session figures were filled from the old rows.
  auto m = db.figures();
  ASSERT_EQ(m.sessions.size(), 1u);
  EXPECT_EQ(m.sessions[0].session_id, "old");
  EXPECT_EQ(m.sessions[0].completed, 1u);
  EXPECT_EQ(m.retained_jobs, 1u);
  // The serial counter never goes back below what the table holds.
  EXPECT_GT(db.reserve_serials(1), 7u);
}

TEST(JobStore, TwoInstancesNeverGetTheSameSerial) {
  temp_dir dir;
  job_store a{at(dir)};
  job_store b{at(dir)};
  std::set<uint64_t> seen;
  for (int i = 0; i < 50; ++i) {
    for (auto* db : {&a, &b}) {
      auto first = db->reserve_serials(64);
      for (uint64_t s = first; s < first + 64; ++s)
        EXPECT_TRUE(seen.insert(s).second) << s;
    }
  }
  EXPECT_NE(a.instance(), b.instance());
  EXPECT_TRUE(a.live(b.instance()));
}

TEST(JobStore, ListPagesNewestFirstWithFiltersAndCursors) {
  temp_dir dir;
  job_store db{at(dir)};
  db.begin();
  for (uint64_t s = 1; s <= 30; ++s) {
    auto j
      = finished_job(s, s % 2 == 0 ? "even" : "odd",
                     s % 3 == 0 ? job_status::failed : job_status::completed);
    if (s % 5 == 0)
      j.tags["team"] = "\"nlp\"";
    job_spec spec;
    db.put_job(j, &spec);
  }
  db.commit();
  list_query q;
  q.limit = 7;
  auto page = db.list(q);
  EXPECT_EQ(page.total, 30u);
  ASSERT_EQ(page.jobs.size(), 7u);
  EXPECT_EQ(page.jobs.front().serial, 30u);
  std::vector<uint64_t> all;
  for (;;) {
    for (auto& j : page.jobs)
      all.push_back(j.serial);
    if (page.next_cursor.empty())
      break;
    q.cursor = page.next_cursor;
    page = db.list(q);
  }
  ASSERT_EQ(all.size(), 30u);
  EXPECT_TRUE(std::is_sorted(all.rbegin(), all.rend()));
  list_query f;
  f.session_id = "even";
  f.statuses = {job_status::failed};
  EXPECT_EQ(db.list(f).total, 5u); // 6, 12, 18, 24, 30
  list_query t;
  t.tags["team"] = "\"nlp\"";
  auto tagged = db.list(t);
  EXPECT_EQ(tagged.total, 6u);
  for (auto& j : tagged.jobs)
    EXPECT_EQ(j.serial % 5, 0u);
  // Hostile values are values, never SQL.
  list_query evil;
  evil.session_id = "x' OR '1'='1";
  evil.tags["a'); DROP TABLE jobs; --"] = "\"1\"";
  EXPECT_EQ(db.list(evil).total, 0u);
  EXPECT_EQ(db.list({}).total, 30u);
  list_query huge;
  huge.limit = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(db.list(huge).jobs.size(), 30u);
  for (std::string bad :
       {std::string{"x"}, std::string{"c"}, std::string{"c12a"},
        "c" + std::string(30, '9'), std::string{"c-1"}}) {
    list_query b;
    b.cursor = bad;
    EXPECT_THROW(db.list(b), std::invalid_argument) << bad;
  }
}

TEST(JobStore, CleanupKeepsTheNewestAndHonoursExtremeAges) {
  temp_dir dir;
  job_store db{at(dir)};
  db.begin();
  for (uint64_t s = 1; s <= 10; ++s)
    db.put_job(finished_job(s), nullptr);
  auto running = finished_job(11);
  running.status = job_status::running;
  running.finished_at = 0;
  db.put_job(running, nullptr);
  db.commit();
  cleanup_query keep_all;
  keep_all.max_age_ms = int64_t{1} << 53; // older than the epoch: none
  EXPECT_EQ(db.cleanup(keep_all, 0).result.cleaned, 0u);
  cleanup_query q;
  q.keep_count = 3;
  auto done = db.cleanup(q, 0);
  EXPECT_EQ(done.result.cleaned, 7u);
  EXPECT_EQ(done.result.remaining, 4u); // 3 kept and the running one
  EXPECT_EQ(done.removed_own.size(), 7u);
  EXPECT_TRUE(db.find("job-10-test"));
  EXPECT_FALSE(db.find("job-7-test"));
  EXPECT_TRUE(db.find("job-11-test"));
  // The cumulative counters survive cleanup.
  EXPECT_EQ(db.figures().completed_jobs, 10u);
  EXPECT_EQ(db.figures().total_jobs, 11u);
}

TEST(JobStore, StoredOutputFollowsTheWindowAndTheSizeBound) {
  temp_dir dir;
  auto opts = at(dir);
  opts.max_bytes = 1 << 20;
  job_store db{opts};
  auto j = finished_job(1);
  j.status = job_status::running;
  put(db, j);
  output_stats st;
  st.chunks = 3;
  st.last_sequence = 3;
  st.buffered_bytes = 6;
  db.begin();
  db.put_output(1, {chunk(1, "a\n"), chunk(2, "b\n"), chunk(3, "c\n")}, 1, st);
  db.commit();
  // The window moved on: chunk 1 is gone from memory, and from the store.
  st.chunks = 4;
  st.last_sequence = 4;
  st.dropped_chunks = 1;
  st.dropped_bytes = 2;
  db.begin();
  db.put_output(1, {chunk(4, "d\n")}, 2, st);
  db.commit();
  auto out = db.load_output(*db.find(j.id));
  auto page = out->read({});
  ASSERT_EQ(page.chunks.size(), 3u);
  EXPECT_EQ(page.chunks.front().sequence, 2u);
  EXPECT_EQ(out->stats().dropped_chunks, 1u);
  // Over the bound, the oldest finished job's output goes, counted.
  for (uint64_t s = 2; s <= 5; ++s) {
    put(db, finished_job(s));
    db.begin();
    output_stats big;
    big.chunks = 1;
    big.last_sequence = 1;
    big.buffered_bytes = 400 * 1024;
    db.put_output(s, {chunk(1, std::string(400 * 1024, 'x'))}, 1, big);
    db.commit();
    db.enforce_max_bytes();
  }
  auto oldest = db.find("job-2-test");
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->output.buffered_bytes, 0u);
  EXPECT_GE(oldest->output.dropped_bytes, 400u * 1024);
  EXPECT_EQ(db.load_output(*oldest)->read({}).chunks.size(), 0u);
  EXPECT_EQ(db.load_output(*db.find("job-5-test"))->read({}).chunks.size(), 1u);
  // The running job's output is never pruned by the bound.
  EXPECT_EQ(db.load_output(*db.find(j.id))->read({}).chunks.size(), 3u);
}

TEST(JobStore, RecoveryInterruptsRunningAndRequeuesPendingJobsOfTheDead) {
  temp_dir dir;
  std::string dead_id;
  {
    job_store dead{at(dir)};
    dead_id = dead.instance();
    auto run = finished_job(1);
    run.status = job_status::running;
    run.finished_at = 0;
    run.pid = 0; // nothing to kill
    auto wait = finished_job(2);
    wait.status = job_status::pending;
    wait.finished_at = 0;
    wait.priority = 9;
    job_spec spec;
    spec.environment["A"] = "b=c";
    spec.kill_grace_ms = 1234;
    dead.begin();
    dead.put_job(run, &spec);
    dead.put_job(wait, &spec);
    dead.commit();
    // Simulate a crash: the instance never marks itself ended. Its lock
    // goes with the object, as with a dying process.
    sql::database raw{dir.path + "/jobd.db", false};
    raw.exec("CREATE TRIGGER keep_alive BEFORE UPDATE OF ended_at ON "
             "instances BEGIN SELECT RAISE(IGNORE); END;");
  }
  job_store survivor{at(dir)};
  auto requeue = survivor.recover();
  ASSERT_EQ(requeue.size(), 1u);
  EXPECT_EQ(requeue[0].info.id, "job-2-test");
  EXPECT_EQ(requeue[0].info.priority, 9);
  EXPECT_EQ(requeue[0].spec.environment.at("A"), "b=c");
  EXPECT_EQ(requeue[0].spec.kill_grace_ms, 1234);
  auto run = survivor.find("job-1-test");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, job_status::failed);
  EXPECT_EQ(run->error_code, codes::interrupted);
  EXPECT_FALSE(run->owner_live);
  // The requeued job is the survivor's now: a second survivor leaves it.
  EXPECT_EQ(survivor.find("job-2-test")->owner_instance, survivor.instance());
  job_store third{at(dir)};
  EXPECT_TRUE(third.recover().empty());
}

TEST(JobStore, CleanupGivesTheSpaceBack) {
  temp_dir dir;
  job_store db{at(dir)};
  for (uint64_t s = 1; s <= 20; ++s) {
    put(db, finished_job(s));
    output_stats st;
    st.chunks = 16;
    st.last_sequence = 16;
    st.buffered_bytes = 16 * 16384;
    std::vector<output_chunk> chunks;
    for (uint64_t i = 1; i <= 16; ++i)
      chunks.push_back(chunk(i, std::string(16384, 'a' + (i % 26))));
    db.begin();
    db.put_output(s, chunks, 1, st);
    db.commit();
  }
  sql::database probe{dir.path + "/jobd.db", false};
  auto pages_before = probe.query_int("PRAGMA page_count");
  auto done = db.cleanup({}, 0);
  EXPECT_EQ(done.result.cleaned, 20u);
  db.vacuum_step();
  auto pages_after = probe.query_int("PRAGMA page_count");
  // About 5 MiB of output was stored; most of its pages are gone.
  EXPECT_LT(pages_after * 4, pages_before)
    << pages_before << " -> " << pages_after;
  EXPECT_EQ(probe.query_int("SELECT value FROM meta WHERE key = "
                            "'output_bytes'"),
            0);
}

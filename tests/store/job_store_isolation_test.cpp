// Principals' namespaces in the store (docs/http.md, isolation): the
// session of each job (the owner query), list and cleanup restricted to a
// session prefix (an index-friendly range, never a prefix of another
// principal's name), and the STORE actor's owner answer.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/store/store_detail.hpp"

#include "workflow_fixture.hpp"

#include <gtest/gtest.h>

using namespace jobd;
using namespace jobd::test;

namespace isolation_store {

// Jobs 1-12: alice/a, alice/b, bob/a, alicia/a (a name that alice is a
// prefix of), "default" (no namespace) in turn; 1-10 finished, 11 (alice/a)
// and 12 (alice/b) running.
void fill(job_store& db) {
  const char* sessions[]
    = {"alice/a", "alice/b", "bob/a", "alicia/a", "default"};
  for (uint64_t s = 1; s <= 12; ++s)
    submit(db, job(s, sessions[(s - 1) % 5],
                   s <= 10 ? job_status::completed : job_status::running));
}

std::vector<std::string> sessions_listed(job_store& db, list_query q) {
  std::vector<std::string> out;
  for (auto& j : db.list(q).jobs)
    out.push_back(j.session_id);
  return out;
}

} // namespace isolation_store

TEST(JobStoreIsolation, PrefixEndIsTheLeastStringPastThePrefix) {
  EXPECT_EQ(prefix_end("alice/"), "alice0");
  EXPECT_EQ(prefix_end("a"), "b");
  EXPECT_EQ(prefix_end(std::string{"a\xff\xff"}), "b");
  EXPECT_EQ(prefix_end(std::string{"\xff"}), "");
  EXPECT_EQ(prefix_end(""), "");
}

TEST(JobStoreIsolation, SessionsOfEachJobInTheOrderAsked) {
  temp_dir dir;
  job_store db{at(dir)};
  isolation_store::fill(db);
  auto got = db.sessions_of({id_of(3), "job-99-nope", id_of(1), id_of(5), ""});
  EXPECT_EQ(got,
            (std::vector<std::string>{"bob/a", "", "alice/a", "default", ""}));
  EXPECT_TRUE(db.sessions_of({}).empty());
}

TEST(JobStoreIsolation, ListWithASessionPrefixShowsOnlyThatNamespace) {
  temp_dir dir;
  job_store db{at(dir)};
  isolation_store::fill(db);
  list_query q;
  q.session_prefix = "alice/";
  auto page = db.list(q);
  // 1, 2, 6, 7, 11, 12 (alicia's are not alice's).
  EXPECT_EQ(page.total, 6u);
  EXPECT_EQ(ids(page),
            (std::vector<std::string>{id_of(12), id_of(11), id_of(7), id_of(6),
                                      id_of(2), id_of(1)}));
  // Through cursors, with a status filter, with a session filter.
  EXPECT_EQ(all_pages(db, q, 2), ids(page));
  q.statuses = {job_status::running};
  EXPECT_EQ(ids(db.list(q)), (std::vector<std::string>{id_of(12), id_of(11)}));
  EXPECT_EQ(db.list(q).total, 2u);
  q.statuses.clear();
  q.session_id = "alice/b";
  EXPECT_EQ(isolation_store::sessions_listed(db, q),
            (std::vector<std::string>{"alice/b", "alice/b", "alice/b"}));
  // Another principal's session through the filter: nothing.
  q.session_id = "bob/a";
  EXPECT_TRUE(db.list(q).jobs.empty());
  EXPECT_EQ(db.list(q).total, 0u);
  // With tags: the count is not taken from the tag key alone.
  list_query t;
  t.session_prefix = "bob/";
  t.tags["team"] = "\"ml\"";
  EXPECT_EQ(db.list(t).total, 0u);
  // Without a prefix: everything.
  EXPECT_EQ(db.list(list_query{}).total, 12u);
}

TEST(JobStoreIsolation, CleanupWithASessionPrefixRemovesOnlyThatNamespace) {
  temp_dir dir;
  job_store db{at(dir)};
  isolation_store::fill(db);
  cleanup_query q;
  q.session_prefix = "alice/";
  q.keep_count = 1;
  auto done = db.cleanup(q, 0);
  // alice's finished jobs: 7, 6, 2, 1; the newest (7) kept.
  EXPECT_EQ(done.result.cleaned, 3u);
  EXPECT_EQ(done.result.remaining, 9u);
  list_query l;
  l.session_prefix = "alice/";
  EXPECT_EQ(ids(db.list(l)),
            (std::vector<std::string>{id_of(12), id_of(11), id_of(7)}));
  l.session_prefix = "alicia/";
  EXPECT_EQ(db.list(l).total, 2u);
  l.session_prefix = "bob/";
  EXPECT_EQ(db.list(l).total, 2u);
  // With a session filter too.
  q.keep_count = 0;
  q.session_id = "bob/a";
  q.session_prefix = "alice/";
  EXPECT_EQ(db.cleanup(q, 0).result.cleaned, 0u);
  q.session_prefix = "bob/";
  EXPECT_EQ(db.cleanup(q, 0).result.cleaned, 2u); // 3 and 8
}

TEST(JobStoreIsolation, APrefixUsesTheSessionIndex) {
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
  // The list's count (session_counts' key) and the cleanup's pick.
  auto count = plan("EXPLAIN QUERY PLAN SELECT coalesce(sum(n), 0) FROM "
                    "session_counts WHERE 1 AND session >= ? AND session < ?");
  EXPECT_NE(count.find("session>? AND session<?"), std::string::npos) << count;
  auto pick = plan("EXPLAIN QUERY PLAN SELECT serial, id, owner FROM jobs "
                   "WHERE status >= 2 AND session >= ?4 AND session < ?5 "
                   "ORDER BY serial DESC LIMIT -1 OFFSET ?3");
  EXPECT_EQ(pick.find("SCAN jobs;"), std::string::npos) << pick;
  // The page: the principal's rows from jobs_session, sorted by serial (a
  // temporary B-tree of that principal's matching rows).
  auto rows = plan("EXPLAIN QUERY PLAN SELECT serial FROM jobs WHERE 1 AND "
                   "session >= ? AND session < ? AND serial < ? ORDER BY "
                   "serial DESC LIMIT 5");
  EXPECT_NE(rows.find("jobs_session"), std::string::npos) << rows;
}

TEST_F(actor_system_test, TheStoreAnswersTheSessionOfEachJob) {
  store_options opts;
  opts.ephemeral = true;
  auto db = std::make_shared<job_store>(opts);
  isolation_store::fill(*db);
  auto st
    = sys.spawn(store, db, int64_t{1000}, int64_t{86400000}, std::string{});
  owner_list q;
  q.job_ids = {id_of(4), "job-0-unknown"};
  auto r = ask<owner_list>(st, atom::owner_v, q);
  ASSERT_TRUE(r) << sys.render(r.error());
  EXPECT_EQ(r->job_ids, q.job_ids);
  EXPECT_EQ(r->sessions, (std::vector<std::string>{"alicia/a", ""}));
  self->send_exit(st, caf::exit_reason::user_shutdown);
}

// The list filters of issue 12 (dependsOn, scheduleId, templateName) alone,
// combined with status, session and tags, and through cursors; the indexes
// they use; cleanup takes the dependency rows along.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "workflow_fixture.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <set>

using namespace jobd;
using namespace jobd::test;

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

// A new database (on disk or --ephemeral) is made from one script with the
// ALTERs folded in (start-up cost); it must be exactly the schema that the
// migration steps build from version 0, which upgrades rely on.
#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

using namespace jobd;
using namespace jobd::test;

namespace {

std::string squeeze(std::string_view sql) {
  std::string out;
  for (auto c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ')
        out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Everything about a schema that matters: each table's columns (order,
// type, NOT NULL, default, key) and its options, each index's and trigger's
// definition, and the rows of meta.
std::vector<std::string> describe(sql::database& db) {
  std::vector<std::string> out;
  sql::statement objects{db, "SELECT type, name, tbl_name, sql FROM "
                             "sqlite_schema WHERE name NOT LIKE 'sqlite_%' "
                             "ORDER BY type, name"};
  std::vector<std::string> tables;
  while (objects.step()) {
    auto type = objects.text_at(0);
    auto name = objects.text_at(1);
    if (type == "table") {
      tables.push_back(name);
      auto sql = objects.text_at(3);
      auto without_rowid = sql.find("WITHOUT ROWID") != std::string::npos;
      out.push_back("table " + name + (without_rowid ? " without rowid" : ""));
    } else {
      out.push_back(type + " " + name + " on " + objects.text_at(2) + ": "
                    + squeeze(objects.text_at(3)));
    }
  }
  for (auto& t : tables) {
    auto q = "SELECT cid, name, type, \"notnull\", coalesce(dflt_value, "
             "'<none>'), pk, hidden FROM pragma_table_xinfo('"
             + t + "') ORDER BY cid";
    sql::statement cols{db, q.c_str()};
    while (cols.step()) {
      std::string row = t + " column";
      for (int i = 0; i < 7; ++i)
        row += " " + cols.text_at(i);
      out.push_back(row);
    }
  }
  sql::statement meta{db, "SELECT key, value FROM meta ORDER BY key"};
  while (meta.step())
    out.push_back("meta " + meta.text_at(0) + " = " + meta.text_at(1));
  out.push_back("user_version "
                + std::to_string(db.query_int("PRAGMA user_version")));
  out.push_back("application_id "
                + std::to_string(db.query_int("PRAGMA application_id")));
  return out;
}

} // namespace

TEST(StoreSchema, ANewDatabaseHasTheSchemaTheStepsBuild) {
  temp_dir stepped_dir, fresh_dir;
  auto stepped_path = stepped_dir.path + "/jobd.db";
  create_schema_at(stepped_path, store_schema_version);
  { job_store fresh{at(fresh_dir)}; }
  sql::database stepped{stepped_path, false};
  sql::database fresh{fresh_dir.path + "/jobd.db", false};
  auto want = describe(stepped);
  auto got = describe(fresh);
  // Sanity: the description covers the schema (every table, the columns
  // of issue 12, the triggers of every step).
  auto has = [&](const std::string& prefix) {
    return std::any_of(want.begin(), want.end(),
                       [&](auto& line) { return line.rfind(prefix, 0) == 0; });
  };
  EXPECT_TRUE(has("table job_dependencies"));
  EXPECT_TRUE(has("jobs column 56 attempts TEXT 0 <none>"));
  EXPECT_TRUE(has("output column 5 attempt INTEGER 1 1"));
  EXPECT_TRUE(has("trigger usage_moved"));
  EXPECT_TRUE(has("trigger output_in"));
  EXPECT_TRUE(has("meta output_bytes = 0"));
  // Instances differ (the fresh store registered itself): compare the rest.
  EXPECT_EQ(got, want);
}

TEST(StoreSchema, AnEphemeralStoreHasTheSameSchema) {
  store_options opts;
  opts.ephemeral = true;
  job_store db{opts};
  // The whole path works in memory: a job with every new field, its list
  // filters, templates and schedules.
  auto j = stored_job(1, "s", job_status::pending, "eph");
  j.finished_at = 0;
  j.depends_on = {"job-0-x"};
  j.schedule_id = "sched-1";
  j.template_name = "t";
  j.attempt = 2;
  job_spec spec;
  spec.depends_on = j.depends_on;
  spec.retry.max_attempts = 3;
  db.begin();
  db.put_job(j, &spec);
  db.commit();
  list_query q;
  q.depends_on = "job-0-x";
  q.schedule_id = "sched-1";
  q.template_name = "t";
  auto page = db.list(q);
  ASSERT_EQ(page.jobs.size(), 1u);
  EXPECT_EQ(page.jobs[0].attempt, 2);
  bool found = false;
  EXPECT_EQ(db.spec_of(j.id, found)->retry.max_attempts, 3);
  job_template t;
  t.name = "t";
  db.put_template(t);
  EXPECT_EQ(db.list_templates().templates.size(), 1u);
  schedule_spec s;
  s.id = "sched-1";
  db.put_schedule(s);
  EXPECT_EQ(db.list_schedules().schedules.size(), 1u);
}

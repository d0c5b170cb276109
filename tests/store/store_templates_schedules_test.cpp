// Templates and schedules in the store (issue 12): insert, replace (the
// first created_at stays), get, list, erase, unknown names and ids, values
// at their limits; through the job store and through the STORE actor
// (TEMPLATE_NOT_FOUND), on disk, shared by every instance of the state
// directory, and in an ephemeral store.
#include "actors/store/store_actor.hpp"
#include "protocol/tools.hpp"

#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <limits>
#include <memory>
#include <thread>

using namespace jobd;
using namespace jobd::test;

namespace {

job_template a_template(std::string name) {
  job_template t;
  t.name = std::move(name);
  t.description = "Deploys {{env}}";
  t.job = R"({"command":"deploy","args":["{{env}}"],"options":{}})";
  template_parameter env;
  env.description = "where";
  env.pattern = "^(staging|prod)$";
  t.parameters["env"] = env;
  template_parameter empty_default;
  empty_default.has_default = true; // an empty default is a default
  t.parameters["suffix"] = empty_default;
  return t;
}

schedule_spec a_schedule(std::string id, int64_t created_at) {
  schedule_spec s;
  s.id = std::move(id);
  s.name = "nightly";
  s.cron = "0 3 * * *";
  s.timezone = "Europe/Berlin";
  s.job = R"({"command":"backup"})";
  s.overlap = overlap_policy::cancel_previous;
  s.catch_up = true;
  s.enabled = false;
  s.created_at = created_at;
  s.updated_at = created_at + 1;
  s.last_fired_at = created_at + 2;
  s.last_job_id = "job-9-x";
  s.fired = 3;
  s.skipped = 4;
  s.missed = 5;
  s.last_error = "TOO_MANY_JOBS: \"quoted\" \xc3\xa9";
  return s;
}

void expect_same(const job_template& a, const job_template& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.job, b.job);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (auto& [k, p] : b.parameters) {
    auto i = a.parameters.find(k);
    ASSERT_NE(i, a.parameters.end()) << k;
    EXPECT_EQ(i->second.description, p.description) << k;
    EXPECT_EQ(i->second.has_default, p.has_default) << k;
    EXPECT_EQ(i->second.default_value, p.default_value) << k;
    EXPECT_EQ(i->second.pattern, p.pattern) << k;
  }
}

void expect_same(const schedule_spec& a, const schedule_spec& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.cron, b.cron);
  EXPECT_EQ(a.timezone, b.timezone);
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.overlap, b.overlap);
  EXPECT_EQ(a.catch_up, b.catch_up);
  EXPECT_EQ(a.enabled, b.enabled);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.last_fired_at, b.last_fired_at);
  EXPECT_EQ(a.last_job_id, b.last_job_id);
  EXPECT_EQ(a.fired, b.fired);
  EXPECT_EQ(a.skipped, b.skipped);
  EXPECT_EQ(a.missed, b.missed);
  EXPECT_EQ(a.last_error, b.last_error);
}

} // namespace

TEST(StoreTemplates, SaveReplaceGetListErase) {
  temp_dir dir;
  job_store db{at(dir)};
  EXPECT_FALSE(db.get_template("deploy"));
  EXPECT_TRUE(db.list_templates().templates.empty());
  auto before = now_ms();
  auto saved = db.put_template(a_template("deploy"));
  expect_same(saved, a_template("deploy"));
  EXPECT_GE(saved.created_at, before);
  EXPECT_EQ(saved.updated_at, saved.created_at);
  auto got = db.get_template("deploy");
  ASSERT_TRUE(got);
  expect_same(*got, saved);
  EXPECT_EQ(got->created_at, saved.created_at);
  EXPECT_TRUE(got->parameters.at("suffix").has_default);
  EXPECT_FALSE(got->parameters.at("env").has_default);
  // Replaced by name: the new contents, the first created_at, a later
  // updated_at (whatever times the caller sent).
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto v2 = a_template("deploy");
  v2.description = "v2";
  v2.parameters.erase("suffix");
  v2.created_at = 1;
  v2.updated_at = 2;
  auto replaced = db.put_template(v2);
  EXPECT_EQ(replaced.created_at, saved.created_at);
  EXPECT_GT(replaced.updated_at, saved.updated_at);
  got = db.get_template("deploy");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->description, "v2");
  EXPECT_EQ(got->parameters.size(), 1u);
  EXPECT_EQ(got->created_at, saved.created_at);
  EXPECT_EQ(got->updated_at, replaced.updated_at);
  // Listed by name.
  db.put_template(a_template("zeta"));
  db.put_template(a_template("alpha"));
  auto list = db.list_templates();
  ASSERT_EQ(list.templates.size(), 3u);
  EXPECT_EQ(list.templates[0].name, "alpha");
  EXPECT_EQ(list.templates[1].name, "deploy");
  EXPECT_EQ(list.templates[2].name, "zeta");
  EXPECT_EQ(list.templates[1].description, "v2");
  // Erased; an unknown name (and one that looks like SQL) is not there.
  EXPECT_TRUE(db.erase_template("deploy"));
  EXPECT_FALSE(db.erase_template("deploy"));
  EXPECT_FALSE(db.erase_template("' OR 1=1 --"));
  EXPECT_FALSE(db.get_template("deploy"));
  EXPECT_EQ(db.list_templates().templates.size(), 2u);
  // Names are exact: no case folding, no patterns.
  EXPECT_FALSE(db.get_template("ALPHA"));
  EXPECT_FALSE(db.get_template("%"));
}

TEST(StoreTemplates, ValuesAtTheirLimitsRoundTrip) {
  temp_dir dir;
  job_store db{at(dir)};
  job_template t;
  t.name = std::string(protocol::limits::max_name, 'n');
  t.description = std::string(4096, 'd');
  // A large job text with every awkward character.
  t.job = std::string(1 << 20, 'j') + "\"\\\n\t\xc3\xa9{{p0}}";
  t.job.push_back('\0');
  t.job += "after NUL";
  for (size_t i = 0; i < protocol::limits::max_template_params; ++i) {
    template_parameter p;
    p.description = "param " + std::to_string(i) + " \"q\"";
    p.has_default = i % 2 == 0;
    p.default_value = p.has_default ? std::string(1024, 'v') + "\n" : "";
    p.pattern = i % 3 == 0 ? R"(^[a-z]+\d{1,3}$)" : "";
    t.parameters["p" + std::to_string(i)] = p;
  }
  auto saved = db.put_template(t);
  expect_same(saved, t);
  auto got = db.get_template(t.name);
  ASSERT_TRUE(got);
  expect_same(*got, t);
  EXPECT_EQ(got->job.size(), t.job.size());
  // A name one past the limit is the parser's business; the store keeps
  // what it is given.
  t.name += "x";
  db.put_template(t);
  EXPECT_TRUE(db.get_template(t.name));
  EXPECT_EQ(db.list_templates().templates.size(), 2u);
}

TEST(StoreSchedules, PutListEraseAndLimits) {
  temp_dir dir;
  job_store db{at(dir)};
  EXPECT_TRUE(db.list_schedules().schedules.empty());
  db.put_schedule(a_schedule("sched-2-b", 2000));
  db.put_schedule(a_schedule("sched-1-a", 1000));
  db.put_schedule(a_schedule("sched-3-c", 2000)); // same time: insertion order
  auto list = db.list_schedules();
  ASSERT_EQ(list.schedules.size(), 3u);
  EXPECT_EQ(list.schedules[0].spec.id, "sched-1-a");
  EXPECT_EQ(list.schedules[1].spec.id, "sched-2-b");
  EXPECT_EQ(list.schedules[2].spec.id, "sched-3-c");
  for (auto& s : list.schedules)
    EXPECT_TRUE(s.next_firings.empty());
  expect_same(list.schedules[0].spec, a_schedule("sched-1-a", 1000));
  // The whole row is replaced (a firing's counters, an update's fields);
  // the order stays.
  auto fired = a_schedule("sched-2-b", 2000);
  fired.enabled = true;
  fired.catch_up = false;
  fired.overlap = overlap_policy::queue;
  fired.fired = std::numeric_limits<uint64_t>::max(); // kept at int64 max
  fired.skipped = uint64_t{std::numeric_limits<int64_t>::max()};
  fired.missed = 0;
  fired.last_error.clear();
  fired.last_job_id = "job-10-y";
  db.put_schedule(fired);
  list = db.list_schedules();
  ASSERT_EQ(list.schedules.size(), 3u);
  auto& got = list.schedules[1].spec;
  EXPECT_EQ(got.id, "sched-2-b");
  EXPECT_TRUE(got.enabled);
  EXPECT_FALSE(got.catch_up);
  EXPECT_EQ(got.overlap, overlap_policy::queue);
  EXPECT_EQ(got.fired, uint64_t{std::numeric_limits<int64_t>::max()});
  EXPECT_EQ(got.skipped, uint64_t{std::numeric_limits<int64_t>::max()});
  EXPECT_EQ(got.missed, 0u);
  EXPECT_EQ(got.last_error, "");
  EXPECT_EQ(got.last_job_id, "job-10-y");
  EXPECT_EQ(list.schedules[2].spec.id, "sched-3-c");
  // Every overlap policy and the default one.
  auto skip = a_schedule("sched-4-d", 3000);
  skip.overlap = overlap_policy::skip;
  db.put_schedule(skip);
  EXPECT_EQ(db.list_schedules().schedules[3].spec.overlap,
            overlap_policy::skip);
  // Erase; unknown ids.
  EXPECT_TRUE(db.erase_schedule("sched-2-b"));
  EXPECT_FALSE(db.erase_schedule("sched-2-b"));
  EXPECT_FALSE(db.erase_schedule(""));
  EXPECT_FALSE(db.erase_schedule("' OR 1=1 --"));
  EXPECT_EQ(db.list_schedules().schedules.size(), 3u);
  // Long values.
  auto big = a_schedule(std::string(256, 'i'), 4000);
  big.name = std::string(protocol::limits::max_name, 'n');
  big.job = std::string(1 << 20, 'j');
  big.last_error = std::string(8192, 'e');
  db.put_schedule(big);
  list = db.list_schedules();
  ASSERT_EQ(list.schedules.size(), 4u);
  expect_same(list.schedules.back().spec, big);
}

TEST(StoreSchedules, BelongToTheStateDirectoryNotToAnInstance) {
  temp_dir dir;
  {
    job_store first{at(dir)};
    first.put_schedule(a_schedule("sched-1-a", 1000));
    first.put_template(a_template("deploy"));
    // A second instance sharing the directory sees them at once.
    job_store second{at(dir)};
    EXPECT_EQ(second.list_schedules().schedules.size(), 1u);
    EXPECT_TRUE(second.get_template("deploy"));
    second.put_schedule(a_schedule("sched-2-b", 2000));
    EXPECT_EQ(first.list_schedules().schedules.size(), 2u);
  }
  // And after both ended.
  job_store later{at(dir)};
  auto list = later.list_schedules();
  ASSERT_EQ(list.schedules.size(), 2u);
  expect_same(list.schedules[0].spec, a_schedule("sched-1-a", 1000));
  EXPECT_TRUE(later.get_template("deploy"));
}

namespace {

struct store_actor_test : actor_system_test {
  store_actor spawn_store(const store_options& opts) {
    return sys.spawn(store, std::make_shared<job_store>(opts), int64_t{1000},
                     int64_t{86400000}, std::string{});
  }

  // Every handler, with an ephemeral or an on-disk store.
  void exercise(const store_actor& st) {
    auto missing = ask<job_template>(st, atom::templates_v, atom::get_v,
                                     std::string{"nope"});
    ASSERT_FALSE(missing);
    auto err = to_tool_error(sys, missing.error());
    EXPECT_EQ(err.code, codes::template_not_found);
    EXPECT_NE(err.message.find("nope"), std::string::npos) << err.message;
    auto saved = ask<job_template>(st, atom::templates_v, atom::put_v,
                                   a_template("deploy"));
    ASSERT_TRUE(saved);
    EXPECT_GT(saved->created_at, 0);
    auto again = ask<job_template>(st, atom::templates_v, atom::put_v,
                                   a_template("deploy"));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->created_at, saved->created_at);
    auto got = ask<job_template>(st, atom::templates_v, atom::get_v,
                                 std::string{"deploy"});
    ASSERT_TRUE(got);
    expect_same(*got, a_template("deploy"));
    ask<job_template>(st, atom::templates_v, atom::put_v, a_template("build"));
    auto list = ask<template_list>(st, atom::templates_v, atom::list_v);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->templates.size(), 2u);
    EXPECT_EQ(list->templates[0].name, "build");
    auto gone = ask<delete_result>(st, atom::templates_v, atom::erase_v,
                                   std::string{"deploy"});
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->id, "deploy");
    EXPECT_TRUE(gone->deleted);
    gone = ask<delete_result>(st, atom::templates_v, atom::erase_v,
                              std::string{"deploy"});
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->id, "deploy");
    EXPECT_FALSE(gone->deleted);

    auto put = ask<bool>(st, atom::schedules_v, atom::put_v,
                         a_schedule("sched-1-a", 1000));
    ASSERT_TRUE(put);
    EXPECT_TRUE(*put);
    auto schedules = ask<schedule_list>(st, atom::schedules_v, atom::list_v);
    ASSERT_TRUE(schedules);
    ASSERT_EQ(schedules->schedules.size(), 1u);
    expect_same(schedules->schedules[0].spec, a_schedule("sched-1-a", 1000));
    EXPECT_TRUE(schedules->schedules[0].next_firings.empty());
    auto erased = ask<bool>(st, atom::schedules_v, atom::erase_v,
                            std::string{"sched-1-a"});
    ASSERT_TRUE(erased);
    EXPECT_TRUE(*erased);
    erased = ask<bool>(st, atom::schedules_v, atom::erase_v,
                       std::string{"sched-1-a"});
    ASSERT_TRUE(erased);
    EXPECT_FALSE(*erased);
    schedules = ask<schedule_list>(st, atom::schedules_v, atom::list_v);
    ASSERT_TRUE(schedules);
    EXPECT_TRUE(schedules->schedules.empty());
  }
};

} // namespace

TEST_F(store_actor_test, TemplateAndScheduleHandlersOnDisk) {
  temp_dir dir;
  exercise(spawn_store(at(dir)));
}

TEST_F(store_actor_test, TemplateAndScheduleHandlersEphemeral) {
  store_options opts;
  opts.ephemeral = true;
  exercise(spawn_store(opts));
}

TEST_F(store_actor_test, HandlersSeeTheJobRowsWrittenBeforeThem) {
  // A query commits the pending batch first: a schedule written after a
  // job's row sees the row (and vice versa), in one store.
  temp_dir dir;
  auto st = spawn_store(at(dir));
  auto j = stored_job(1, "s", job_status::completed, "wf");
  j.schedule_id = "sched-1-a";
  job_spec spec;
  self->send(st, atom::submit_v, j, spec);
  ask<bool>(st, atom::schedules_v, atom::put_v, a_schedule("sched-1-a", 1));
  list_query q;
  q.schedule_id = "sched-1-a";
  auto page = ask<list_page>(st, atom::list_v, q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id, j.id);
}

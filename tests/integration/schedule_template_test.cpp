// Templates and schedules through the MCP tools, with real programs:
// substitution into whole values (no injection), the call's options over
// the template's, schedules' next firings in a time zone, firings missed
// while jobd was down (caught up or counted), and of two jobds on one state
// directory only one firing.
#include "workflow_util.hpp"

using namespace jobd_it;
using namespace jobd_it::workflow;

// -- templates ---------------------------------------------------------------

TEST(Templates, ParametersAreSubstitutedAsWholeValuesNeverThroughAShell) {
  temp_dir state;
  {
    jobd_process j{state.options()};
    auto r = j.tool(
      "console_save_template",
      R"({"name":"greet","description":"says hello","command":"echo",)"
      R"("args":["hello","{{who}}","n={{n}}"],)"
      R"("options":{"environment":{"WHO":"{{who}}"},"tags":{"kind":"greeting"}},)"
      R"("parameters":{"who":{"description":"whom"},)"
      R"("n":{"default":"1","pattern":"[0-9]+"}}})");
    ASSERT_TRUE(r.ok()) << r.dump();
  }
  // Templates live in the store.
  jobd_process j{state.options()};
  auto l = j.tool("console_list_templates", "{}");
  ASSERT_TRUE(l.ok()) << l.dump();
  EXPECT_NE(to_json(*l).find("\"greet\""), std::string::npos) << l.dump();
  auto r = j.tool(
    "console_execute_async",
    R"x({"template":"greet","params":{"who":"; touch pwned $(id)"}})x");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto id = str(*r, "jobId");
  auto s = j.wait_terminal(id);
  EXPECT_EQ(str(*s, "job.template"), "greet") << s.dump();
  EXPECT_EQ(j.output_text(id), "hello ; touch pwned $(id) n=1\n");
  EXPECT_FALSE(fs::exists("pwned"));
  // The call's options win over the template's.
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x","n":7},)"
             R"("options":{"tags":{"kind":"mine"}}})");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto mine = str(*r, "jobId");
  auto sm = j.wait_terminal(mine);
  EXPECT_EQ(str(*sm, "job.tags.kind"), "mine") << sm.dump();
  EXPECT_EQ(j.output_text(mine), "hello x n=7\n");
  auto lt = j.tool("console_list_jobs", R"({"options":{"template":"greet"}})");
  EXPECT_EQ(num(*lt, "total"), 2) << lt.dump();
  // Refusals name the parameter.
  r = j.tool("console_execute_async", R"({"template":"greet","params":{}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  EXPECT_NE(r.message().find("who"), std::string::npos) << r.dump();
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x","n":"1; rm"}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x","zzz":"1"}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_execute_async", R"({"template":"nope"})");
  EXPECT_EQ(r.code(), "TEMPLATE_NOT_FOUND") << r.dump();
  auto d = j.tool("console_delete_template", R"({"name":"greet"})");
  ASSERT_TRUE(d.ok()) << d.dump();
  r = j.tool("console_execute_async",
             R"({"template":"greet","params":{"who":"x"}})");
  EXPECT_EQ(r.code(), "TEMPLATE_NOT_FOUND") << r.dump();
}

// -- schedules ---------------------------------------------------------------

TEST(Schedules, CreateListUpdateDelete) {
  jobd_process j;
  auto r
    = j.tool("console_create_schedule",
             R"({"name":"hourly","cron":"@hourly","timezone":"Europe/Berlin",)"
             R"("command":"echo","args":["tick"]})");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto text = to_json(*r);
  auto sid = str(*r, "schedule.scheduleId");
  ASSERT_FALSE(sid.empty()) << text;
  auto l = j.tool("console_list_schedules", "{}");
  ASSERT_TRUE(l.ok()) << l.dump();
  auto& first = (*at(*l, "schedules"))[0];
  ASSERT_EQ(first["nextFirings"].Size(), 5u) << l.dump();
  auto t0 = parse_iso_ms(first["nextFirings"][0].GetString());
  auto t1 = parse_iso_ms(first["nextFirings"][1].GetString());
  EXPECT_EQ(t1 - t0, 3600000);
  EXPECT_EQ(t0 % 3600000, 0); // Berlin is a whole number of hours from UTC
  r = j.tool("console_update_schedule",
             "{\"scheduleId\":" + q(sid) + ",\"enabled\":false}");
  ASSERT_TRUE(r.ok()) << r.dump();
  l = j.tool("console_list_schedules", "{}");
  EXPECT_EQ((*at(*l, "schedules"))[0]["nextFirings"].Size(), 0u) << l.dump();
  r = j.tool("console_create_schedule",
             R"({"cron":"61 * * * *","command":"true"})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool(
    "console_create_schedule",
    R"({"cron":"* * * * *","timezone":"Mars/Olympus","command":"true"})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  r = j.tool("console_delete_schedule", "{\"scheduleId\":" + q(sid) + "}");
  ASSERT_TRUE(r.ok()) << r.dump();
  r = j.tool("console_delete_schedule", "{\"scheduleId\":" + q(sid) + "}");
  EXPECT_EQ(r.code(), "SCHEDULE_NOT_FOUND") << r.dump();
}

TEST(Schedules, MissedFiringsRunOnceAtStartWithCatchUpElseAreCounted) {
  temp_dir state;
  std::string caught, skipped;
  {
    jobd_process j{state.options()};
    auto r = j.tool("console_create_schedule",
                    R"({"name":"catch","cron":"*/5 * * * *","command":"echo",)"
                    R"("args":["caught up"],"catchUp":true})");
    ASSERT_TRUE(r.ok()) << r.dump();
    caught = str(*r, "schedule.scheduleId");
    r = j.tool("console_create_schedule",
               R"({"name":"skip","cron":"*/5 * * * *","command":"true"})");
    ASSERT_TRUE(r.ok()) << r.dump();
    skipped = str(*r, "schedule.scheduleId");
  }
  // As if jobd had been down for the last two hours.
  auto two_hours_ago
    = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()
                     - 7200000);
  ASSERT_TRUE(sql_exec(state.path + "/jobd.db",
                       "UPDATE schedules SET last_fired_at = " + two_hours_ago
                         + ", created_at = " + two_hours_ago
                         + ", updated_at = " + two_hours_ago));
  jobd_process k{state.options()};
  auto deadline = now_ms() + 5000;
  tool_result l;
  while (now_ms() < deadline) {
    l = k.tool("console_list_jobs",
               "{\"options\":{\"scheduleId\":" + q(caught) + "}}");
    if (l.ok() && num(*l, "total") >= 1)
      break;
    sleep_ms(50);
  }
  ASSERT_EQ(num(*l, "total"), 1) << l.dump();
  auto id = std::string{(*at(*l, "jobs"))[0]["id"].GetString()};
  auto s = k.wait_terminal(id);
  EXPECT_EQ(str(*s, "job.scheduleId"), caught);
  EXPECT_FALSE(str(*s, "job.scheduledFor").empty());
  EXPECT_EQ(k.output_text(id), "caught up\n");
  auto none = k.tool("console_list_jobs",
                     "{\"options\":{\"scheduleId\":" + q(skipped) + "}}");
  EXPECT_EQ(num(*none, "total"), 0) << none.dump();
  auto sl = k.tool("console_list_schedules", "{}");
  auto text = to_json(*sl);
  // 24 firings in two hours: one caught up, and 24 missed by the other.
  EXPECT_NE(text.find("\"missed\":24"), std::string::npos) << text;
  auto m = k.tool("console_get_job_metrics", "{}");
  EXPECT_NE(to_json(*m).find("\"scheduleMisses\":24"), std::string::npos)
    << m.dump();
}

TEST(Schedules, OfTwoJobdsOnOneStateDirectoryOnlyOneFires) {
  temp_dir state;
  std::string sid;
  {
    jobd_process j{state.options()};
    auto r = j.tool("console_create_schedule",
                    R"({"cron":"*/5 * * * *","command":"echo",)"
                    R"("args":["once"],"catchUp":true})");
    ASSERT_TRUE(r.ok()) << r.dump();
    sid = str(*r, "schedule.scheduleId");
  }
  auto hour_ago
    = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()
                     - 3600000);
  ASSERT_TRUE(sql_exec(state.path + "/jobd.db",
                       "UPDATE schedules SET last_fired_at = " + hour_ago
                         + ", created_at = " + hour_ago
                         + ", updated_at = " + hour_ago));
  jobd_process a{state.options()};
  jobd_process b{state.options()};
  auto filter = "{\"options\":{\"scheduleId\":" + q(sid) + "}}";
  auto deadline = now_ms() + 5000;
  while (now_ms() < deadline) {
    auto l = a.tool("console_list_jobs", filter);
    if (l.ok() && num(*l, "total") >= 1)
      break;
    sleep_ms(50);
  }
  sleep_ms(500); // time for a second firing, if there were one
  auto l = b.tool("console_list_jobs", filter);
  ASSERT_TRUE(l.ok()) << l.dump();
  EXPECT_EQ(num(*l, "total"), 1) << l.dump();
  // The one that does not fire waits for its turn, it does not spin on
  // the firing it leaves to the other.
  auto before = cpu_seconds(b.pid());
  sleep_ms(2000);
  auto after = cpu_seconds(b.pid());
  ASSERT_GE(before, 0);
  EXPECT_LT(after - before, 0.5) << "the second jobd used a core while idle";
  // Both list the schedule, with the firing the other one made.
  auto sl = b.tool("console_list_schedules", "{}");
  EXPECT_NE(to_json(*sl).find(sid), std::string::npos) << sl.dump();
}

// Principals sharing one jobd (docs/http.md, isolation), on the
// deterministic scheduler: the per-principal limit (a principal at its
// limit never blocks another's jobs; the global limit holds), SCHEDULER's
// owner answers (held, recorded, stored, unknown), and scoped ENDPOINTs
// driven line by line with a sink that collects what they write: alice
// neither sees nor controls bob's jobs, hears none of their notifications,
// and the same sessionId and idempotencyKey make two jobs in two
// principals.
#include "fixture.hpp"

#include "actors/endpoint.hpp"
#include "actors/transport/line_sink.hpp"

#include <chrono>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace isolation_actor {

// Collects every line the ENDPOINT writes.
struct lines_sink : line_sink {
  std::vector<std::string> lines;
  sink_handlers handlers;
  void send(std::string line, message_kind, std::string) override {
    lines.push_back(std::move(line));
  }
  void attach(sink_handlers h) override {
    handlers = std::move(h);
  }
};

struct client {
  endpoint_actor ep;
  std::shared_ptr<lines_sink> sink;
  int next_id = 100;
};

// SCHEDULES as far as ENDPOINT sees it: keeps the jobs it was given.
schedules_actor::behavior_type
fake_schedules(schedules_actor::pointer,
               std::shared_ptr<std::vector<std::string>> jobs) {
  return {
    [jobs](atom::schedules, atom::submit, schedule_spec& s) {
      jobs->push_back(s.job);
      return schedule_info{std::move(s), {}};
    },
    [jobs](atom::schedules, atom::put, schedule_update& u) {
      jobs->push_back(u.values.job);
      return schedule_info{std::move(u.values), {}};
    },
    [](atom::schedules, atom::list) { return schedule_list{}; },
    [](atom::schedules, atom::erase, std::string& id) {
      return delete_result{std::move(id), false, true};
    },
    [](atom::tick, uint64_t) {},
  };
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace isolation_actor

using isolation_actor::contains;

class isolation_test : public actor_test {
protected:
  void start_limits(size_t max_running, size_t per_session,
                    size_t per_principal) {
    scheduler_config cfg;
    cfg.max_running_per_principal = per_principal;
    start(max_running, per_session, 5000, cfg);
  }

  /// A scoped ENDPOINT of `principal`, initialized, logging at debug.
  isolation_actor::client connect(const std::string& principal,
                                  bool admin = false, bool timed = false) {
    isolation_actor::client c;
    c.sink = std::make_shared<isolation_actor::lines_sink>();
    endpoint_config cfg;
    cfg.out = c.sink;
    cfg.principal = principal;
    cfg.scoped = true;
    cfg.admin = admin;
    cfg.owns_server = false;
    cfg.schedules = schedules;
    if (timed) {
      // Never destroyed here: its histograms are another file's (and a
      // stub on this branch), and its destructor is not in its header.
      static auto* histograms = new protocol::latency_histograms(
        std::vector<std::string>{"console_wait_job"});
      cfg.latency = std::shared_ptr<protocol::latency_histograms>(
        histograms, [](protocol::latency_histograms*) {});
    }
    c.ep = sys.spawn(endpoint, sched, metrics_actor{}, cfg);
    self->send(sched, atom::subscribe_v, caf::actor_cast<event_listener>(c.ep));
    line(c, R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":)"
            R"({"protocolVersion":"2025-06-18","capabilities":{},)"
            R"("clientInfo":{"name":"t","version":"1"}}})");
    line(c, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    line(c, R"({"jsonrpc":"2.0","id":2,"method":"logging/setLevel",)"
            R"("params":{"level":"debug"}})");
    c.sink->lines.clear();
    return c;
  }

  void line(isolation_actor::client& c, const std::string& text) {
    self->send(c.ep, atom::line_v, text);
    drain();
  }

  /// The reply to a tools/call (delivered by now), as text.
  std::string call(isolation_actor::client& c, const std::string& tool,
                   const std::string& args) {
    auto id = std::to_string(c.next_id++);
    self->send(c.ep, atom::line_v,
               R"({"jsonrpc":"2.0","id":)" + id
                 + R"(,"method":"tools/call","params":{"name":")" + tool
                 + R"(","arguments":)" + args + "}}");
    drain();
    return reply_to(c, id);
  }

  std::string reply_to(isolation_actor::client& c, const std::string& id) {
    for (auto& l : c.sink->lines)
      if (contains(l, R"("id":)" + id + ",") && !contains(l, R"("method")"))
        return l;
    return "(no reply to " + id + ")";
  }

  std::string resource(isolation_actor::client& c, const std::string& method,
                       const std::string& params) {
    auto id = std::to_string(c.next_id++);
    self->send(c.ep, atom::line_v,
               R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":")" + method
                 + R"(","params":)" + params + "}");
    drain();
    return reply_to(c, id);
  }

  std::shared_ptr<std::vector<std::string>> schedule_jobs
    = std::make_shared<std::vector<std::string>>();
  schedules_actor schedules
    = sys.spawn(isolation_actor::fake_schedules, schedule_jobs);

  endpoint_state& ep_state(isolation_actor::client& c) {
    return deref<endpoint_actor::stateful_base<endpoint_state>>(c.ep).state;
  }

  caf::expected<owner_list> owners(std::vector<std::string> ids) {
    owner_list q;
    q.job_ids = std::move(ids);
    return ask<owner_list>(atom::owner_v, q);
  }

  static void expect_not_found(const std::string& reply,
                               const std::string& id) {
    EXPECT_TRUE(contains(reply, "JOB_NOT_FOUND")) << reply;
    EXPECT_TRUE(contains(reply, "Job not found: " + id)) << reply;
  }
};

// -- the per-principal limit
// ---------------------------------------------------

TEST_F(isolation_test, a_principal_at_its_limit_does_not_block_another) {
  start_limits(4, 10, 2);
  // alice's jobs come first (priority 10) and in two sessions: together
  // they count against her limit of 2.
  auto a1 = submit_scripted("alice/a", 10);
  auto a2 = submit_scripted("alice/b", 10);
  auto a3 = submit_scripted("alice/a", 10);
  auto b1 = submit_scripted("bob/x", 5);
  auto b2 = submit_scripted("bob/x", 5);
  EXPECT_EQ(status(a1).status, job_status::running);
  EXPECT_EQ(status(a2).status, job_status::running);
  EXPECT_EQ(status(a3).status, job_status::pending);
  EXPECT_EQ(status(b1).status, job_status::running);
  EXPECT_EQ(status(b2).status, job_status::running);
  EXPECT_EQ(sched_state().running, 4u);
  // a3 is set aside, not in the ready queue ahead of anyone.
  EXPECT_EQ(sched_state().principal_blocked.count("alice"), 1u);
  // One of alice's ends: a3 takes her free slot.
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(a3).status, job_status::running);
  EXPECT_TRUE(sched_state().principal_blocked.empty());
  advance_time(1000ms);
  drain();
  EXPECT_TRUE(sched_state().principal_running.empty());
  EXPECT_EQ(sched_state().running, 0u);
}

TEST_F(isolation_test, the_global_limit_holds_over_principals) {
  start_limits(2, 10, 2);
  auto a1 = submit_scripted("alice/a", 5);
  auto b1 = submit_scripted("bob/x", 5);
  auto c1 = submit_scripted("carol/y", 5);
  auto a2 = submit_scripted("alice/a", 5);
  EXPECT_EQ(status(a1).status, job_status::running);
  EXPECT_EQ(status(b1).status, job_status::running);
  EXPECT_EQ(status(c1).status, job_status::pending);
  EXPECT_EQ(status(a2).status, job_status::pending);
  EXPECT_EQ(sched_state().running, 2u);
  // Both end: the next two in queue order start (carol first).
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(c1).status, job_status::running);
  EXPECT_EQ(status(a2).status, job_status::running);
  EXPECT_EQ(sched_state().running, 2u);
}

TEST_F(isolation_test, a_cancelled_set_aside_job_is_gone_from_the_queue) {
  start_limits(4, 10, 1);
  auto a1 = submit_scripted("alice/a", 5);
  auto a2 = submit_scripted("alice/a", 5);
  auto a3 = submit_scripted("alice/a", 5);
  EXPECT_EQ(status(a2).status, job_status::pending);
  auto c = ask<cancel_result>(atom::cancel_v, a2, int64_t{0});
  ASSERT_TRUE(c) << sys.render(c.error());
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(a2).status, job_status::cancelled);
  EXPECT_EQ(status(a3).status, job_status::running);
  (void) a1;
}

TEST_F(isolation_test, no_per_principal_limit_by_default) {
  start_limits(4, 10, 0);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(status(submit_scripted("alice/a", 5)).status,
              job_status::running);
  EXPECT_TRUE(sched_state().principal_running.empty());
}

// -- owners ------------------------------------------------------------------

TEST_F(isolation_test, owner_answers_held_recorded_stored_and_unknown_jobs) {
  start_limits(1, 10, 0);
  auto running = submit_scripted("alice/a", 5, 1000);
  auto pending = submit_scripted("bob/b", 5, 1000);
  auto done = submit_scripted("carol/c", 9, 10);
  advance_time(1000ms); // `running` ends, then `done` runs and ends
  drain();
  advance_time(10ms);
  drain();
  ASSERT_NE(sched_state().jobs.at(done).output, nullptr); // a record
  // A job only the store has (another instance's, an earlier run's).
  job_info stored;
  stored.id = "job-777-stored";
  stored.serial = 777;
  stored.session_id = "dave/d";
  stored.status = job_status::completed;
  stored.command = "true";
  stored.kind = "process";
  self->send(sched_state().config.store, atom::submit_v, stored, job_spec{});
  drain();
  auto r = owners({running, pending, done, "job-777-stored", "job-0-nope"});
  ASSERT_TRUE(r) << sys.render(r.error());
  EXPECT_EQ(r->sessions, (std::vector<std::string>{"alice/a", "bob/b",
                                                   "carol/c", "dave/d", ""}));
  // Only held ones: answered without the store.
  r = owners({pending});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sessions, std::vector<std::string>{"bob/b"});
}

// -- scoped ENDPOINTs
// ----------------------------------------------------------

TEST_F(isolation_test, alice_neither_sees_nor_controls_bobs_jobs) {
  start_limits(10, 10, 0);
  auto alice = connect("alice");
  auto bob = connect("bob");
  auto mine = submit_scripted("alice/build", 5, 5000);
  auto his = submit_scripted("bob/build", 5, 5000);
  auto q = [](const std::string& id) { return R"({"jobId":")" + id + R"("})"; };
  // Status, output, wait, cancel, signal, input, pause, resize, restart:
  // bob's job answers what an unknown one does.
  for (auto tool :
       {"console_get_job_status", "console_get_job_output", "console_wait_job",
        "console_cancel_job", "console_restart_job", "console_pause_job",
        "console_resume_job"}) {
    expect_not_found(call(alice, tool, q(his)), his);
    expect_not_found(call(alice, tool, q("job-0-unknown")), "job-0-unknown");
  }
  expect_not_found(call(alice, "console_signal_job",
                        R"({"jobId":")" + his + R"(","signal":"SIGTERM"})"),
                   his);
  expect_not_found(call(alice, "console_send_input",
                        R"({"jobId":")" + his + R"(","text":"x"})"),
                   his);
  expect_not_found(call(alice, "console_resize_terminal",
                        R"({"jobId":")" + his + R"(","cols":100,"rows":30})"),
                   his);
  expect_not_found(
    call(alice, "console_wait_job",
         R"({"jobIds":[")" + mine + R"(",")" + his + R"("],"timeoutMs":10})"),
    his);
  // Nothing of bob's changed.
  EXPECT_EQ(status(his).status, job_status::running);
  EXPECT_EQ(sched_state().jobs.size(), 2u); // no restart made a job
  // Her own job she sees; bob sees his.
  auto own = call(alice, "console_get_job_status", q(mine));
  EXPECT_TRUE(contains(own, R"(alice/build)")) << own;
  EXPECT_FALSE(contains(own, "JOB_NOT_FOUND")) << own;
  EXPECT_FALSE(
    contains(call(bob, "console_get_job_status", q(his)), "JOB_NOT_FOUND"));
  // Lists: only her own.
  auto list = call(alice, "console_list_jobs", "{}");
  EXPECT_TRUE(contains(list, mine)) << list;
  EXPECT_FALSE(contains(list, his)) << list;
  list
    = call(alice, "console_list_jobs", R"({"options":{"sessionId":"build"}})");
  EXPECT_TRUE(contains(list, mine)) << list;
  EXPECT_FALSE(contains(list, his)) << list;
  // Resources: the same.
  auto read
    = resource(alice, "resources/read", R"({"uri":"job://)" + his + R"("})");
  EXPECT_TRUE(contains(read, "Resource not found: job://" + his)) << read;
  read = resource(alice, "resources/read",
                  R"({"uri":"job://)" + his + R"(/output"})");
  EXPECT_TRUE(contains(read, "Resource not found")) << read;
  read
    = resource(alice, "resources/read", R"({"uri":"job://)" + mine + R"("})");
  EXPECT_FALSE(contains(read, "Resource not found")) << read;
  auto res = resource(alice, "resources/list", "{}");
  EXPECT_TRUE(contains(res, mine)) << res;
  EXPECT_FALSE(contains(res, his)) << res;
  // Cleanup of everything removes only her finished jobs.
  advance_time(5000ms);
  drain();
  auto clean = call(alice, "console_cleanup_jobs", R"({"options":{}})");
  EXPECT_TRUE(contains(clean, R"("cleaned":1)")) << clean;
  EXPECT_EQ(sched_state().jobs.count(his), 1u);
  EXPECT_EQ(sched_state().jobs.count(mine), 0u);
  // No call is left under way.
  EXPECT_TRUE(ep_state(alice).in_flight.empty());
}

TEST_F(isolation_test, an_admin_sees_every_job_and_still_submits_scoped) {
  start_limits(10, 10, 0);
  auto root = connect("root", true);
  auto his = submit_scripted("bob/build", 5, 5000);
  auto st
    = call(root, "console_get_job_status", R"({"jobId":")" + his + R"("})");
  EXPECT_TRUE(contains(st, "bob/build")) << st;
  auto list = call(root, "console_list_jobs",
                   R"({"options":{"sessionId":"bob/build"}})");
  EXPECT_TRUE(contains(list, his)) << list;
  auto sub = call(root, "console_execute_async",
                  R"({"command":"/bin/sh","args":["-c","x"]})");
  EXPECT_FALSE(contains(sub, R"("isError":true)")) << sub;
  size_t scoped = 0;
  for (auto& [id, e] : sched_state().jobs)
    scoped += e.info.session_id == "root/default" ? 1 : 0;
  EXPECT_EQ(scoped, 1u);
}

TEST_F(isolation_test, sessions_and_idempotency_keys_are_per_principal) {
  start_limits(10, 10, 0);
  auto alice = connect("alice");
  auto bob = connect("bob");
  auto args
    = std::string{R"({"command":"/bin/sh","args":["-c","x"],)"
                  R"("options":{"sessionId":"s","idempotencyKey":"k"}})"};
  auto a = call(alice, "console_execute_async", args);
  auto b = call(bob, "console_execute_async", args);
  auto again = call(alice, "console_execute_async", args);
  EXPECT_FALSE(contains(a, R"("isError":true)")) << a;
  EXPECT_FALSE(contains(b, R"("isError":true)")) << b;
  ASSERT_EQ(sched_state().jobs.size(), 2u);
  std::set<std::string> sessions;
  for (auto& [id, e] : sched_state().jobs)
    sessions.insert(e.info.session_id);
  EXPECT_EQ(sessions, (std::set<std::string>{"alice/s", "bob/s"}));
  EXPECT_TRUE(contains(again, R"("deduplicated":true)")) << again;
  // Submits without a sessionId go to the principal's "default".
  call(alice, "console_execute_async",
       R"({"command":"/bin/sh","args":["-c","y"]})");
  size_t found = 0;
  for (auto& [id, e] : sched_state().jobs)
    found += e.info.session_id == "alice/default" ? 1 : 0;
  EXPECT_EQ(found, 1u);
}

TEST_F(isolation_test, notifications_of_bobs_jobs_never_reach_alice) {
  start_limits(10, 10, 0);
  auto alice = connect("alice");
  auto bob = connect("bob");
  auto his = submit_scripted("bob/build", 5, 100);
  auto mine = submit_scripted("alice/build", 5, 100);
  // Subscribing to bob's job's resources tells alice nothing later.
  resource(alice, "resources/subscribe", R"({"uri":"job://)" + his + R"("})");
  resource(alice, "resources/subscribe",
           R"({"uri":"job://)" + his + R"(/output"})");
  advance_time(200ms);
  drain();
  bool saw_mine = false;
  for (auto& l : alice.sink->lines) {
    EXPECT_FALSE(contains(l, his)) << l;
    saw_mine = saw_mine || contains(l, mine);
  }
  EXPECT_TRUE(saw_mine); // her own lifecycle log messages
  bool bob_saw_his = false;
  for (auto& l : bob.sink->lines) {
    EXPECT_FALSE(contains(l, mine)) << l;
    bob_saw_his = bob_saw_his || contains(l, his);
  }
  EXPECT_TRUE(bob_saw_his);
}

TEST_F(isolation_test, dependencies_on_another_principals_jobs_are_unknown) {
  start_limits(10, 10, 0);
  auto alice = connect("alice");
  auto his = submit_scripted("bob/build", 5, 5000);
  auto r = call(alice, "console_execute_async",
                R"({"command":"/bin/sh","args":["-c","x"],)"
                R"("options":{"dependsOn":[")"
                  + his + R"("]}})");
  EXPECT_TRUE(contains(r, "JOB_NOT_FOUND")) << r;
  EXPECT_TRUE(contains(r, "Dependency " + his + " does not exist")) << r;
  EXPECT_EQ(sched_state().jobs.size(), 1u);
}

TEST_F(isolation_test, a_closed_sink_ends_the_session_not_the_server) {
  start_limits(10, 10, 0);
  auto alice = connect("alice");
  auto mine = submit_scripted("alice/build", 5, 1000);
  // A wait under way when the session ends: its answer finds nobody.
  self->send(alice.ep, atom::line_v,
             std::string{R"({"jsonrpc":"2.0","id":9,"method":"tools/call",)"
                         R"("params":{"name":"console_wait_job",)"
                         R"("arguments":{"jobId":")"}
               + mine + R"("}}})");
  drain();
  ASSERT_TRUE(alice.sink->handlers.closed);
  alice.sink->handlers.closed();
  drain();
  EXPECT_TRUE(alice.sink->lines.empty()
              || !contains(alice.sink->lines.back(), R"("id":9,)"));
  // Unsubscribed, gone; SCHEDULER was not shut down: jobs keep running
  // and new ones start.
  EXPECT_TRUE(sched_state().listeners.size() == 1u); // the recorder
  EXPECT_FALSE(sched_state().shutting_down);
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(mine).status, job_status::completed);
  EXPECT_EQ(status(submit_scripted("alice/build", 5)).status,
            job_status::running);
  // A shutdown from main: the same.
  auto bob = connect("bob");
  self->send(bob.ep, atom::shutdown_v);
  drain();
  EXPECT_FALSE(sched_state().shutting_down);
  EXPECT_EQ(sched_state().listeners.size(), 1u);
}

TEST_F(isolation_test, tool_calls_are_timed_until_their_reply) {
  start_limits(10, 10, 0);
  auto alice = connect("alice", false, true);
  auto mine = submit_scripted("alice/build", 5, 1000);
  self->send(alice.ep, atom::line_v,
             std::string{R"({"jsonrpc":"2.0","id":9,"method":"tools/call",)"
                         R"("params":{"name":"console_wait_job",)"
                         R"("arguments":{"jobId":")"}
               + mine + R"("}}})");
  drain();
  ASSERT_EQ(ep_state(alice).timed.count("9"), 1u);
  EXPECT_EQ(ep_state(alice).timed.at("9").tool, "console_wait_job");
  advance_time(1000ms);
  drain();
  EXPECT_FALSE(contains(reply_to(alice, "9"), "no reply"))
    << reply_to(alice, "9");
  EXPECT_TRUE(ep_state(alice).timed.empty());
  // Refused before any request (an unknown tool), and another
  // principal's job: measured too, nothing left.
  call(alice, "console_no_such_tool", "{}");
  expect_not_found(
    call(alice, "console_get_job_status", R"({"jobId":"job-0-x"})"), "job-0-x");
  EXPECT_TRUE(ep_state(alice).timed.empty());
}

TEST_F(isolation_test, a_schedules_jobs_are_in_the_principals_namespace) {
  start_limits(10, 10, 0);
  auto alice = connect("alice");
  call(
    alice, "console_create_schedule",
    R"({"name":"n","cron":"@hourly","command":"/bin/sh","args":["-c","x"]})");
  call(alice, "console_create_schedule",
       R"({"name":"n","cron":"@hourly","command":"/bin/sh",)"
       R"("options":{"sessionId":"nightly","priority":7}})");
  call(alice, "console_update_schedule",
       R"({"scheduleId":"sched-1","command":"/bin/true"})");
  call(alice, "console_update_schedule",
       R"({"scheduleId":"sched-1","enabled":false})");
  auto& jobs = *schedule_jobs;
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_TRUE(contains(jobs[0], R"("sessionId":"alice/default")")) << jobs[0];
  EXPECT_TRUE(contains(jobs[1], R"("sessionId":"alice/nightly")")) << jobs[1];
  EXPECT_TRUE(contains(jobs[1], R"("priority":7)")) << jobs[1];
  EXPECT_TRUE(contains(jobs[2], R"("sessionId":"alice/default")")) << jobs[2];
  EXPECT_EQ(jobs[3], ""); // no job in that update: nothing to scope
}

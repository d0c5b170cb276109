// SCHEDULER's gates on the deterministic scheduler: dependencies (each
// condition, failure cascading down a chain, dependencies that already
// ended, unknown ones refused), delayed starts (released at their time and
// not before, far-future times, times already past) and cancels of held
// jobs.
#include "fixture.hpp"

#include <chrono>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

constexpr int64_t max_int = 9007199254740991; // the schemas' maximum

} // namespace

class workflow_test : public actor_test {
protected:
  job_spec scripted(int ms, int exit_code) {
    job_spec spec;
    spec.kind = "scripted";
    spec.command = "scripted";
    spec.args = {std::to_string(ms), std::to_string(exit_code)};
    spec.session_id = "s";
    return spec;
  }

  caf::expected<submit_result> try_submit(job_spec spec) {
    return ask<submit_result>(atom::submit_v, std::move(spec));
  }

  std::string submit(job_spec spec) {
    auto r = try_submit(std::move(spec));
    if (!r)
      throw dsl_failure{"submit failed: " + sys.render(r.error())};
    return r->job_id;
  }

  std::string after(std::vector<std::string> deps, int ms = 100,
                    int exit_code = 0,
                    dependency_condition c = dependency_condition::success) {
    auto spec = scripted(ms, exit_code);
    spec.depends_on = std::move(deps);
    spec.condition = c;
    return submit(spec);
  }

  void advance(std::chrono::milliseconds ms) {
    advance_time(ms);
    drain();
  }
};

TEST_F(workflow_test, a_job_waits_for_its_dependency_to_complete) {
  start(10, 5);
  auto a = submit(scripted(1000, 0));
  auto b = after({a});
  auto info = status(b);
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.pending_reason, pending_reasons::dependencies);
  EXPECT_EQ(info.waiting_for, std::vector<std::string>{a});
  EXPECT_EQ(info.depends_on, std::vector<std::string>{a});
  EXPECT_EQ(info.queue_position, 0u);
  EXPECT_EQ(sched_state().running, 1u); // slots free, yet held
  advance(999ms);
  EXPECT_EQ(status(b).status, job_status::pending);
  advance(1ms);
  EXPECT_EQ(status(a).status, job_status::completed);
  info = status(b);
  EXPECT_EQ(info.status, job_status::running);
  EXPECT_TRUE(info.pending_reason.empty());
  advance(100ms);
  EXPECT_EQ(status(b).status, job_status::completed);
  EXPECT_TRUE(sched_state().held.empty());
}

TEST_F(workflow_test, waiting_for_shrinks_as_dependencies_end) {
  start(10, 5);
  auto a = submit(scripted(100, 0));
  auto b = submit(scripted(300, 0));
  auto c = after({a, b});
  EXPECT_EQ(status(c).waiting_for, (std::vector<std::string>{a, b}));
  advance(100ms);
  auto info = status(c);
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.waiting_for, std::vector<std::string>{b});
  advance(200ms);
  EXPECT_EQ(status(c).status, job_status::running);
}

TEST_F(workflow_test, a_failed_dependency_cascades_down_a_chain) {
  start(10, 5);
  auto a = submit(scripted(100, 1));
  auto b = after({a});
  auto c = after({b});
  auto d = after({c});
  advance(100ms);
  EXPECT_EQ(status(a).status, job_status::failed);
  for (auto& id : {b, c, d}) {
    auto info = status(id);
    EXPECT_EQ(info.status, job_status::cancelled) << id;
    EXPECT_EQ(info.error_code, codes::dependency_failed) << id;
    EXPECT_EQ(info.started_at, 0) << id;
  }
  EXPECT_NE(status(b).error.find(a), std::string::npos);
  EXPECT_NE(status(b).error.find("failed"), std::string::npos);
  EXPECT_NE(status(c).error.find(b), std::string::npos);
  EXPECT_NE(status(c).error.find("cancelled"), std::string::npos);
  EXPECT_EQ(started().size(), 1u);
  EXPECT_TRUE(sched_state().held.empty());
}

TEST_F(workflow_test, condition_finish_runs_after_a_failure) {
  start(10, 5);
  auto a = submit(scripted(100, 1));
  auto b = after({a}, 100, 0, dependency_condition::finish);
  advance(100ms);
  EXPECT_EQ(status(b).status, job_status::running);
}

TEST_F(workflow_test, condition_failure_runs_only_if_one_did_not_complete) {
  start(10, 5);
  auto ok = submit(scripted(100, 0));
  auto bad = submit(scripted(200, 1));
  auto on_ok = after({ok}, 100, 0, dependency_condition::failure);
  auto on_any = after({ok, bad}, 100, 0, dependency_condition::failure);
  advance(100ms);
  auto info = status(on_ok);
  EXPECT_EQ(info.status, job_status::cancelled);
  EXPECT_EQ(info.error_code, codes::dependency_failed);
  // One failed, but only once every dependency ended does it hold.
  info = status(on_any);
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.waiting_for, std::vector<std::string>{bad});
  advance(100ms);
  EXPECT_EQ(status(on_any).status, job_status::running);
}

TEST_F(workflow_test, dependencies_that_already_ended_are_evaluated_at_once) {
  start(10, 5);
  auto done = submit(scripted(100, 0));
  auto failed = submit(scripted(100, 2));
  advance(100ms);
  auto r = try_submit([&] {
    auto spec = scripted(100, 0);
    spec.depends_on = {done};
    return spec;
  }());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, job_status::running);
  auto doomed = after({failed});
  auto info = status(doomed);
  EXPECT_EQ(info.status, job_status::cancelled);
  EXPECT_EQ(info.error_code, codes::dependency_failed);
}

TEST_F(workflow_test, unknown_dependencies_are_refused_and_nothing_is_created) {
  start(10, 5);
  auto known = submit(scripted(100, 0));
  auto spec = scripted(100, 0);
  spec.depends_on = {known, "job-424242-zzzzz"};
  auto r = try_submit(spec);
  ASSERT_FALSE(r);
  auto err = to_tool_error(sys, r.error());
  EXPECT_EQ(err.code, codes::job_not_found);
  EXPECT_NE(err.message.find("job-424242-zzzzz"), std::string::npos);
  EXPECT_EQ(err.details["field"], "\"options.dependsOn\"");
  EXPECT_EQ(err.details["jobId"], "\"job-424242-zzzzz\"");
  EXPECT_EQ(sched_state().jobs.size(), 1u);
  spec.depends_on.assign(101, known);
  r = try_submit(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(to_tool_error(sys, r.error()).code, codes::invalid_arguments);
  // 100 (the same job, for brevity) are taken.
  spec.depends_on.assign(100, known);
  EXPECT_TRUE(try_submit(spec));
}

TEST_F(workflow_test, a_dependency_known_only_to_the_store_counts) {
  start(10, 5);
  auto a = submit(scripted(100, 0));
  advance(100ms);
  // Out of SCHEDULER's index but in the store, as an earlier run's job.
  auto& st = sched_state();
  auto& e = st.jobs.at(a);
  st.by_serial.erase(e.info.serial);
  st.finished_order.erase(e.finish_serial);
  st.jobs.erase(a);
  auto b = after({a});
  EXPECT_EQ(status(b).status, job_status::running);
}

TEST_F(workflow_test, cancelling_a_held_job_drops_its_gates) {
  start(10, 5);
  auto a = submit(scripted(1000, 0));
  auto b = after({a});
  auto c = ask<cancel_result>(atom::cancel_v, b, int64_t{0});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, job_status::cancelled);
  EXPECT_TRUE(sched_state().held.empty());
  advance(1000ms);
  EXPECT_EQ(status(b).status, job_status::cancelled);
  EXPECT_EQ(status(b).error_code, codes::cancelled);
  EXPECT_EQ(started().size(), 1u);
}

TEST_F(workflow_test, a_delayed_start_is_released_at_its_time_and_not_before) {
  start(10, 5);
  auto spec = scripted(100, 0);
  // The job measures the wall-clock time left once, then counts on the
  // actor clock (here the test's): a margin for the wall time this takes.
  spec.start_at = now_ms() + 10000;
  auto r = try_submit(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, job_status::pending);
  EXPECT_EQ(r->queue_position, 0u);
  auto info = status(r->job_id);
  EXPECT_EQ(info.pending_reason, pending_reasons::scheduled);
  EXPECT_EQ(info.scheduled_for, spec.start_at);
  advance(9000ms);
  EXPECT_EQ(status(r->job_id).status, job_status::pending);
  advance(1100ms);
  info = status(r->job_id);
  EXPECT_EQ(info.status, job_status::running);
  EXPECT_EQ(info.scheduled_for, spec.start_at);
}

TEST_F(workflow_test, a_start_time_in_the_past_starts_at_once) {
  start(10, 5);
  auto spec = scripted(100, 0);
  spec.start_at = now_ms() - 60000; // a schedule's firing time, say
  auto r = try_submit(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, job_status::running);
  EXPECT_EQ(status(r->job_id).scheduled_for, spec.start_at);
}

TEST_F(workflow_test, a_start_time_at_the_schema_maximum_never_fires_early) {
  start(10, 5);
  auto spec = scripted(100, 0);
  spec.start_at = max_int;
  auto id = submit(spec);
  for (int i = 0; i < 20; ++i)
    advance(std::chrono::hours{24 * 365}); // 20 years of actor time
  auto info = status(id);
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.pending_reason, pending_reasons::scheduled);
  EXPECT_EQ(info.scheduled_for, max_int);
  auto c = ask<cancel_result>(atom::cancel_v, id, int64_t{0});
  ASSERT_TRUE(c);
  EXPECT_EQ(status(id).status, job_status::cancelled);
  EXPECT_TRUE(sched_state().held.empty());
}

TEST_F(workflow_test, dependencies_then_a_start_time) {
  start(10, 5);
  auto a = submit(scripted(1000, 0));
  auto spec = scripted(100, 0);
  spec.depends_on = {a};
  spec.start_at = now_ms() + 10000;
  auto b = submit(spec);
  EXPECT_EQ(status(b).pending_reason, pending_reasons::dependencies);
  advance(1000ms);
  auto info = status(b);
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.pending_reason, pending_reasons::scheduled);
  EXPECT_TRUE(info.waiting_for.empty());
  // The wall clock stood still while the test's clock ran: the job counts
  // the 10 s from when it was told to wait for its time.
  advance(9000ms);
  EXPECT_EQ(status(b).status, job_status::pending);
  advance(1100ms);
  EXPECT_EQ(status(b).status, job_status::running);
}

TEST_F(workflow_test, a_restart_keeps_dependencies_but_not_the_start_time) {
  start(10, 5);
  auto a = submit(scripted(100, 0));
  auto spec = scripted(100, 0);
  spec.depends_on = {a};
  spec.start_at = now_ms() + 3600000;
  auto b = submit(spec);
  restart_request rr;
  rr.job_id = b;
  auto r = ask<submit_result>(atom::start_v, rr);
  ASSERT_TRUE(r);
  auto info = status(r->job_id);
  EXPECT_EQ(info.depends_on, std::vector<std::string>{a});
  EXPECT_EQ(info.pending_reason, pending_reasons::dependencies);
  advance(100ms);
  EXPECT_EQ(status(r->job_id).status, job_status::running);
  EXPECT_EQ(status(b).status, job_status::pending); // still until its time
}

TEST_F(workflow_test, a_requeued_job_evaluates_its_dependencies_again) {
  start(10, 5);
  auto a = submit(scripted(1000, 0));
  auto requeued
    = [&](std::string id, uint64_t serial, std::vector<std::string> deps) {
        requeued_job r;
        r.spec = scripted(100, 0);
        r.spec.depends_on = std::move(deps);
        r.info.id = std::move(id);
        r.info.serial = serial;
        r.info.created_at = now_ms() - 1000;
        r.info.status = job_status::pending;
        return r;
      };
  requeue_list list;
  list.jobs.push_back(requeued("job-90010-aaaaa", 90010, {a}));
  // A dependency the store no longer has cannot be met: it counts as
  // ended cancelled (a requeued job is not refused: it exists already).
  list.jobs.push_back(requeued("job-90011-bbbbb", 90011, {"job-424242-zzzzz"}));
  self->send(sched, list);
  drain();
  auto info = status("job-90010-aaaaa");
  EXPECT_EQ(info.status, job_status::pending);
  EXPECT_EQ(info.pending_reason, pending_reasons::dependencies);
  EXPECT_EQ(info.waiting_for, std::vector<std::string>{a});
  info = status("job-90011-bbbbb");
  EXPECT_EQ(info.status, job_status::cancelled);
  EXPECT_EQ(info.error_code, codes::dependency_failed);
  EXPECT_NE(info.error.find("job-424242-zzzzz"), std::string::npos);
  advance(1000ms);
  EXPECT_EQ(status("job-90010-aaaaa").status, job_status::running);
}

// Parked jobs, on the deterministic scheduler: a fresh job that waits for a
// slot has no actor until it starts (scheduler_parking.cpp), and behaves
// exactly as one with an actor: status and queue position, waits that end
// with the job or run out, output, input, cancel, start order and shutdown.
#include "fixture.hpp"

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

namespace {

class parking_test : public actor_test {
protected:
  size_t parked() {
    size_t n = 0;
    for (auto& [id, e] : sched_state().jobs)
      n += e.parked;
    return n;
  }

  size_t actors() {
    return sys.registry().running();
  }

  wait_query until_exit(const std::string& id, int64_t timeout_ms) {
    wait_query q;
    q.job_id = id;
    q.timeout_ms = timeout_ms;
    return q;
  }
};

} // namespace

TEST_F(parking_test, a_queued_job_has_no_actor_until_it_starts) {
  start(1, 5);
  auto blocker = submit_scripted("s", 5, 1000);
  auto before = actors();
  std::vector<std::string> queued;
  for (int i = 0; i < 50; ++i)
    queued.push_back(submit_scripted("s", 5, 10));
  EXPECT_EQ(parked(), 50u);
  EXPECT_EQ(actors(), before); // 50 jobs, not one actor more
  EXPECT_EQ(sched_state().job_addresses.size(), 1u); // the blocker's
  auto s = status(queued[3]);
  EXPECT_EQ(s.status, job_status::pending);
  EXPECT_EQ(s.queue_position, 4u);
  EXPECT_EQ(s.pending_reason, pending_reasons::queued);
  EXPECT_EQ(s.pid, 0);
  // They start in their order, each with an actor of its own then.
  advance_time(1000ms);
  drain();
  EXPECT_EQ(parked(), 49u);
  EXPECT_EQ(status(queued[0]).status, job_status::running);
  for (int i = 0; i < 60; ++i) {
    advance_time(10ms);
    drain();
  }
  std::vector<std::string> expected{blocker};
  expected.insert(expected.end(), queued.begin(), queued.end());
  EXPECT_EQ(started(), expected);
  for (auto& id : queued)
    EXPECT_EQ(status(id).status, job_status::completed);
  EXPECT_EQ(parked(), 0u);
  EXPECT_TRUE(sched_state().job_addresses.empty());
}

TEST_F(parking_test, a_wait_held_for_a_parked_job_ends_with_the_job) {
  start(1, 5);
  submit_scripted("s", 5, 1000);
  auto id = submit_scripted("s", 5, 100, 3);
  auto wait
    = self->request(sched, caf::infinite, atom::wait_v, until_exit(id, 30000));
  drain();
  EXPECT_TRUE(self->mailbox().empty());
  EXPECT_EQ(parked(), 1u); // the wait did not need its actor
  advance_time(1000ms);
  drain();
  advance_time(100ms);
  drain();
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(wait).receive(
    [&](wait_result& r) {
      EXPECT_EQ(r.reason, "exit");
      EXPECT_EQ(r.job.status, job_status::failed);
      EXPECT_EQ(r.job.exit_code, 3);
    },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
}

TEST_F(parking_test, a_wait_held_for_a_parked_job_runs_out_in_its_time) {
  start(1, 5);
  submit_scripted("s", 5, 10000);
  auto id = submit_scripted("s", 5, 100);
  auto wait
    = self->request(sched, caf::infinite, atom::wait_v, until_exit(id, 500));
  drain();
  advance_time(499ms);
  drain();
  EXPECT_TRUE(self->mailbox().empty());
  advance_time(1ms);
  drain();
  // The job's actor answered it as its own wait that ran out.
  advance_time(1ms);
  drain();
  ASSERT_EQ(self->mailbox().size(), 1u);
  std::move(wait).receive(
    [&](wait_result& r) {
      EXPECT_EQ(r.reason, "timeout");
      EXPECT_EQ(r.job.status, job_status::pending);
    },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_EQ(status(id).status, job_status::pending);
  EXPECT_EQ(status(id).queue_position, 1u);
}

TEST_F(parking_test, waits_on_many_parked_jobs_keep_them_parked) {
  start(1, 5);
  submit_scripted("s", 5, 1000);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(submit_scripted("s", 5, 10));
  for (auto& id : ids)
    self->send(sched, atom::wait_v, until_exit(id, 60000));
  drain();
  EXPECT_EQ(parked(), 20u);
  EXPECT_EQ(sched_state().parked_waits.size(), 20u);
  for (int i = 0; i < 40; ++i) {
    advance_time(50ms);
    drain();
  }
  EXPECT_TRUE(sched_state().parked_waits.empty());
  EXPECT_EQ(parked(), 0u);
}

TEST_F(parking_test, output_and_cancel_of_a_parked_job_are_its_actors) {
  start(1, 5);
  submit_scripted("s", 5, 1000);
  auto a = submit_scripted("s", 5, 100);
  auto b = submit_scripted("s", 5, 100);
  auto page = ask<output_page>(atom::output_v, a, output_query{});
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->chunks.empty());
  // Reading its output gave `a` its actor; `b` is still parked.
  EXPECT_EQ(parked(), 1u);
  auto wait
    = self->request(sched, caf::infinite, atom::wait_v, until_exit(b, 60000));
  auto c = ask<cancel_result>(atom::cancel_v, b, int64_t{100});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, job_status::cancelled);
  EXPECT_EQ(parked(), 0u);
  // The held wait went to the actor and ended with the cancel.
  bool answered = false;
  std::move(wait).receive(
    [&](wait_result& r) {
      answered = true;
      EXPECT_EQ(r.reason, "exit");
      EXPECT_EQ(r.job.status, job_status::cancelled);
    },
    [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_TRUE(answered);
  for (int i = 0; i < 3; ++i) {
    advance_time(1000ms);
    drain();
  }
  EXPECT_EQ(status(b).status, job_status::cancelled);
  EXPECT_EQ(status(a).status, job_status::completed);
  for (auto& id : started())
    EXPECT_NE(id, b);
}

TEST_F(parking_test, input_for_a_parked_job_waits_for_its_start) {
  start(1, 5);
  submit_scripted("s", 5, 1000);
  job_spec spec;
  spec.command = "/bin/cat";
  spec.session_id = "s";
  spec.input = stdin_mode::pipe;
  auto r = ask<submit_result>(atom::submit_v, spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, job_status::pending);
  EXPECT_EQ(parked(), 1u);
  auto in
    = ask<input_result>(atom::input_v, r->job_id, std::string{"hi\n"}, false);
  ASSERT_TRUE(in) << sys.render(in.error());
  EXPECT_EQ(in->queued, 3u); // held by its actor until the process runs
  EXPECT_EQ(parked(), 0u);
  advance_time(1000ms);
  drain();
  ASSERT_EQ(launcher->launches.size(), 1u);
  launcher->alive.insert(4242);
  self->send(launcher->launches.back().job, atom::spawned_v, int64_t{4242},
             std::string{"cgroup"});
  drain();
  EXPECT_EQ(status(r->job_id).status, job_status::running);
  // What it was given while parked reached it, in order.
  ASSERT_EQ(launcher->inputs.size(), 1u);
  EXPECT_EQ(launcher->inputs[0].bytes, "hi\n");
}

TEST_F(parking_test, shutdown_ends_parked_jobs_as_their_actors_would) {
  start(1, 5);
  submit_scripted("s", 5, 1000);
  auto id = submit_scripted("s", 5, 100);
  ASSERT_EQ(parked(), 1u);
  auto done = ask<bool>(atom::shutdown_v);
  ASSERT_TRUE(done);
  bool ended = false;
  for (auto& ev : recorded())
    if (ev.what == transition::finished && ev.job.id == id) {
      ended = true;
      EXPECT_EQ(ev.job.status, job_status::cancelled);
      EXPECT_NE(ev.job.error.find("shut down"), std::string::npos)
        << ev.job.error;
    }
  EXPECT_TRUE(ended);
}

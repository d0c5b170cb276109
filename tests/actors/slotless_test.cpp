// Jobs of a kind that takes no local slot (job_kind::takes_slot, as the
// slurm kind's): SCHEDULER starts them as soon as they are admitted, beside
// the jobs that hold the slots, never through their session, and METRICS
// counts them apart from the local concurrency.
#include "fixture.hpp"

#include "actors/metrics.hpp"

using namespace std::chrono_literals;

namespace jobd::test {
namespace {

class slotless_test : public actor_test {
protected:
  metrics_snapshot metrics_of(const metrics_actor& m) {
    auto req = self->request(m, caf::infinite, atom::metrics_v);
    drain();
    metrics_snapshot out;
    std::move(req).receive([&](metrics_snapshot& x) { out = std::move(x); },
                           [](caf::error&) {});
    return out;
  }
};

TEST_F(slotless_test, remote_jobs_run_beside_the_local_slots) {
  start(1, 1);
  auto stats = sys.spawn(metrics, uint64_t{1}, uint64_t{1}, store_actor{},
                         std::vector<std::string>{"remote"});
  self->send(sched, atom::subscribe_v, event_listener{stats});
  drain();
  std::vector<std::string> remote;
  for (int i = 0; i < 3; ++i)
    remote.push_back(submit_scripted("s", 5, 1000, 0, "remote"));
  auto local = submit_scripted("s", 5, 1000, 0);
  auto queued = submit_scripted("s", 5, 1000, 0);
  for (auto& id : remote)
    EXPECT_EQ(status(id).status, job_status::running) << id;
  EXPECT_EQ(status(local).status, job_status::running);
  EXPECT_EQ(status(queued).status, job_status::pending);
  EXPECT_EQ(sched_state().running, 1u);
  auto m = metrics_of(stats);
  EXPECT_EQ(m.running_jobs, 4u);
  EXPECT_EQ(m.concurrency_current, 1u);
  ASSERT_EQ(m.kinds.size(), 1u);
  EXPECT_EQ(m.kinds[0].kind, "remote");
  EXPECT_EQ(m.kinds[0].running, 3u);
  advance_time(1000ms);
  drain();
  for (auto& id : remote)
    EXPECT_EQ(status(id).status, job_status::completed) << id;
  EXPECT_EQ(status(local).status, job_status::completed);
  EXPECT_EQ(status(queued).status, job_status::running);
  EXPECT_EQ(sched_state().running, 1u);
  m = metrics_of(stats);
  EXPECT_EQ(m.kinds[0].running, 0u);
  EXPECT_EQ(m.kinds[0].completed, 3u);
  EXPECT_EQ(m.concurrency_current, 1u);
  self->send_exit(stats, caf::exit_reason::user_shutdown);
}

TEST_F(slotless_test, a_cancelled_remote_job_frees_no_local_slot) {
  start(1, 1);
  auto local = submit_scripted("s", 5, 1000, 0);
  auto remote = submit_scripted("s", 5, 1000, 0, "remote");
  auto next = submit_scripted("s", 5, 1000, 0);
  auto c = ask<cancel_result>(atom::cancel_v, remote, int64_t{0});
  ASSERT_TRUE(c) << sys.render(c.error());
  drain();
  EXPECT_EQ(status(remote).status, job_status::cancelled);
  // The local slot is still the first job's: the next one still waits.
  EXPECT_EQ(sched_state().running, 1u);
  EXPECT_EQ(status(local).status, job_status::running);
  EXPECT_EQ(status(next).status, job_status::pending);
  advance_time(1000ms);
  drain();
  EXPECT_EQ(status(next).status, job_status::running);
}

TEST_F(slotless_test, a_remote_job_waits_for_its_dependency_then_starts) {
  start(1, 1);
  auto first = submit_scripted("s", 5, 500, 0, "remote");
  job_spec spec;
  spec.kind = "remote";
  spec.command = "scripted";
  spec.args = {"500", "0"};
  spec.session_id = "s";
  spec.depends_on = {first};
  auto r = ask<submit_result>(atom::submit_v, spec);
  ASSERT_TRUE(r) << sys.render(r.error());
  auto second = r->job_id;
  EXPECT_EQ(status(second).status, job_status::pending);
  EXPECT_EQ(status(second).pending_reason, pending_reasons::dependencies);
  advance_time(500ms);
  drain();
  EXPECT_EQ(status(first).status, job_status::completed);
  EXPECT_EQ(status(second).status, job_status::running);
  advance_time(500ms);
  drain();
  EXPECT_EQ(status(second).status, job_status::completed);
  EXPECT_EQ(sched_state().running, 0u);
}

} // namespace
} // namespace jobd::test

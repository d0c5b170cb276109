// SCHEDULES' overlap rules (skip, queue, cancel_previous) against the real
// SCHEDULER.
#include "schedules_fixture.hpp"

using namespace std::chrono_literals;
using namespace jobd;
using namespace jobd::test;

TEST_F(schedules_test, overlap_skip_counts_and_submits_nothing) {
  start_all();
  // Each job runs 12 minutes: the 5-minute firing in between is skipped.
  auto info = create(every("*/5 * * * *", scripted_job(12 * 60000)));
  auto id = info.spec.id;
  advance(std::chrono::milliseconds{10 * minute_ms + 1000});
  EXPECT_EQ(jobs_of(id).size(), 1u);
  auto s = get(id);
  EXPECT_EQ(s.fired, 1u);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_EQ(s.last_fired_at, base_ms + 10 * minute_ms);
  // 17:00 ended the first job; the 20-minute firing runs.
  advance(std::chrono::milliseconds{10 * minute_ms});
  EXPECT_EQ(jobs_of(id).size(), 2u);
  s = get(id);
  EXPECT_EQ(s.fired, 2u);
  EXPECT_EQ(s.skipped, 2u); // 15:00 was skipped too
  auto m = metrics_now();
  EXPECT_EQ(m.schedule_firings, 2u);
  EXPECT_EQ(m.schedule_skips, 2u);
}

TEST_F(schedules_test, overlap_queue_makes_the_job_wait_for_the_previous) {
  start_all();
  auto spec = every("*/5 * * * *", scripted_job(7 * 60000));
  spec.overlap = overlap_policy::queue;
  auto id = create(spec).spec.id;
  advance(std::chrono::milliseconds{10 * minute_ms + 1000});
  auto jobs = jobs_of(id);
  auto ids = job_ids_of(id);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(jobs[0]->depends_on.empty());
  EXPECT_EQ(jobs[1]->depends_on, std::vector<std::string>{ids[0]});
  EXPECT_EQ(jobs[1]->condition, dependency_condition::finish);
  EXPECT_EQ(get(id).skipped, 0u);
  // At 15:00 the second job (started at 10:00 at the earliest, or after
  // the first, 05:00-12:00) has not ended: the third waits for it.
  advance(std::chrono::milliseconds{5 * minute_ms});
  jobs = jobs_of(id);
  ids = job_ids_of(id);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[2]->depends_on, std::vector<std::string>{ids[1]});
  // A job whose previous one ended gets no dependency.
  auto quick = every("*/5 * * * *", scripted_job(1000));
  quick.overlap = overlap_policy::queue;
  auto qid = create(quick).spec.id;
  advance(std::chrono::milliseconds{10 * minute_ms});
  auto qjobs = jobs_of(qid);
  ASSERT_EQ(qjobs.size(), 2u);
  EXPECT_TRUE(qjobs[1]->depends_on.empty());
}

TEST_F(schedules_test, overlap_cancel_previous_cancels_then_submits) {
  start_all();
  auto spec = every("*/5 * * * *", scripted_job(60 * 60000));
  spec.overlap = overlap_policy::cancel_previous;
  auto id = create(spec).spec.id;
  advance(std::chrono::milliseconds{5 * minute_ms + 1000});
  auto first = job_ids_of(id);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(status(first[0]).status, job_status::running);
  advance(std::chrono::milliseconds{5 * minute_ms}, 500ms);
  auto ids = job_ids_of(id);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(status(ids[0]).status, job_status::cancelled);
  EXPECT_NE(status(ids[1]).status, job_status::cancelled);
  EXPECT_TRUE(jobs_of(id)[1]->depends_on.empty());
  EXPECT_EQ(get(id).last_job_id, ids[1]);
  EXPECT_EQ(get(id).fired, 2u);
}

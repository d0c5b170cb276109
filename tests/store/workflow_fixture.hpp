// What the store tests of issue 12 share: jobs with workflow fields, their
// first row as SCHEDULER writes it, and reading list pages through cursors.
#pragma once

#include "actors/store/job_store.hpp"

#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace jobd::test {

inline job_info job(uint64_t serial, std::string session = "s",
                    job_status status = job_status::completed) {
  return stored_job(serial, std::move(session), status, "wf");
}

inline std::string id_of(uint64_t serial) {
  return "job-" + std::to_string(serial) + "-wf";
}

inline void put(job_store& db, const job_info& j,
                const job_spec* spec = nullptr) {
  db.begin();
  db.put_job(j, spec);
  db.commit();
}

// A job's first row, with a spec, as SCHEDULER writes it.
inline void submit(job_store& db, const job_info& j) {
  job_spec spec;
  spec.command = j.command;
  spec.session_id = j.session_id;
  spec.tags = j.tags;
  spec.depends_on = j.depends_on;
  spec.schedule_id = j.schedule_id;
  spec.template_name = j.template_name;
  put(db, j, &spec);
}

// The ids of a page, in order.
inline std::vector<std::string> ids(const list_page& page) {
  std::vector<std::string> out;
  for (auto& j : page.jobs)
    out.push_back(j.id);
  return out;
}

// Every page of a query, `limit` jobs at a time, through the cursors.
inline std::vector<std::string> all_pages(job_store& db, list_query q,
                                          uint64_t limit) {
  std::vector<std::string> out;
  q.limit = limit;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = db.list(q);
    for (auto& j : page.jobs)
      out.push_back(j.id);
    if (page.next_cursor.empty())
      return out;
    q.cursor = page.next_cursor;
  }
  ADD_FAILURE() << "the cursors never ended";
  return out;
}

// A job in retry backoff after two failed attempts, with every workflow
// field set.
inline job_info backoff_job(uint64_t serial) {
  auto j = job(serial, "s", job_status::pending);
  j.finished_at = 0;
  j.pending_reason = pending_reasons::backoff;
  j.depends_on = {"job-1-dep", "job-2-dep \"quoted\" \xc3\xa9"};
  j.condition = dependency_condition::failure;
  j.waiting_for = {"job-2-dep \"quoted\" \xc3\xa9"};
  j.scheduled_for = 1700000000123;
  j.schedule_id = "sched-1-abc";
  j.template_name = "deploy";
  j.attempt = 2;
  j.max_attempts = 5;
  j.next_attempt_at = 1700000009999;
  j.attempts = {{1, 100, 200, "failed", 3, 0, ""},
                {2, 300, 400, "failed", -1, 9, codes::timeout}};
  return j;
}

inline void expect_workflow_fields(const job_info& got, const job_info& want) {
  EXPECT_EQ(got.pending_reason, want.pending_reason);
  EXPECT_EQ(got.depends_on, want.depends_on);
  EXPECT_EQ(got.condition, want.condition);
  EXPECT_EQ(got.waiting_for, want.waiting_for);
  EXPECT_EQ(got.scheduled_for, want.scheduled_for);
  EXPECT_EQ(got.schedule_id, want.schedule_id);
  EXPECT_EQ(got.template_name, want.template_name);
  EXPECT_EQ(got.attempt, want.attempt);
  EXPECT_EQ(got.max_attempts, want.max_attempts);
  EXPECT_EQ(got.next_attempt_at, want.next_attempt_at);
  ASSERT_EQ(got.attempts.size(), want.attempts.size());
  for (size_t i = 0; i < want.attempts.size(); ++i) {
    auto& a = got.attempts[i];
    auto& b = want.attempts[i];
    EXPECT_EQ(a.attempt, b.attempt) << i;
    EXPECT_EQ(a.started_at, b.started_at) << i;
    EXPECT_EQ(a.finished_at, b.finished_at) << i;
    EXPECT_EQ(a.status, b.status) << i;
    EXPECT_EQ(a.exit_code, b.exit_code) << i;
    EXPECT_EQ(a.signal, b.signal) << i;
    EXPECT_EQ(a.error_code, b.error_code) << i;
  }
}

inline job_spec full_spec(const job_info& j) {
  job_spec spec;
  spec.command = j.command;
  spec.session_id = j.session_id;
  spec.depends_on = j.depends_on;
  spec.condition = j.condition;
  spec.retry.max_attempts = 5;
  spec.retry.backoff_ms = 250;
  spec.retry.backoff_factor = 1.5;
  spec.retry.max_backoff_ms = 60000;
  spec.retry.jitter = false;
  spec.retry.on_failure = false;
  spec.retry.on_timeout = true;
  spec.retry.exit_codes = {1, 75, std::numeric_limits<int32_t>::max(),
                           std::numeric_limits<int32_t>::min()};
  spec.start_at = j.scheduled_for;
  spec.schedule_id = j.schedule_id;
  spec.template_name = j.template_name;
  return spec;
}

inline void expect_spec_fields(const job_spec& got, const job_spec& want) {
  EXPECT_EQ(got.depends_on, want.depends_on);
  EXPECT_EQ(got.condition, want.condition);
  EXPECT_EQ(got.retry.max_attempts, want.retry.max_attempts);
  EXPECT_EQ(got.retry.backoff_ms, want.retry.backoff_ms);
  EXPECT_DOUBLE_EQ(got.retry.backoff_factor, want.retry.backoff_factor);
  EXPECT_EQ(got.retry.max_backoff_ms, want.retry.max_backoff_ms);
  EXPECT_EQ(got.retry.jitter, want.retry.jitter);
  EXPECT_EQ(got.retry.on_failure, want.retry.on_failure);
  EXPECT_EQ(got.retry.on_timeout, want.retry.on_timeout);
  EXPECT_EQ(got.retry.exit_codes, want.retry.exit_codes);
  EXPECT_EQ(got.start_at, want.start_at);
  EXPECT_EQ(got.schedule_id, want.schedule_id);
  EXPECT_EQ(got.template_name, want.template_name);
}

} // namespace jobd::test

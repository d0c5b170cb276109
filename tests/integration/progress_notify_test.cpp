// notifications/progress of waits sent with a progressToken, against the
// real binary: a wait on one job carries the job's own progress once its
// output shows any (however many lines came before), a wait on many counts
// output (any) or ended jobs (all), and a submit with options.waitMs reports
// as a wait does. Values increase within their scale (docs/tools.md,
// "Progress notifications").
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace jobd_it;

namespace {

struct progress_note {
  double progress = 0;
  /// 0 when the notification has no total.
  double total = 0;
  std::string message;
};

/// A tools/call whose request carries `_meta.progressToken`.
tool_result call_with_token(jobd_process& j, const std::string& tool,
                            const std::string& args, const std::string& token,
                            int timeout_ms) {
  auto id = j.send_request(
    "tools/call", "{\"name\":" + q(tool) + ",\"arguments\":" + args
                    + ",\"_meta\":{\"progressToken\":" + q(token) + "}}");
  return j.tool_result_of(id, timeout_ms);
}

/// The notifications/progress received for `token`, in order.
std::vector<progress_note> progress_for(jobd_process& j,
                                        const std::string& token) {
  std::vector<progress_note> out;
  for (auto& doc : j.notifications()) {
    if (str(*doc, "method") != "notifications/progress")
      continue;
    auto* t = at(*doc, "params.progressToken");
    if (t == nullptr || !t->IsString() || t->GetString() != token)
      continue;
    progress_note n;
    auto* p = at(*doc, "params.progress");
    EXPECT_TRUE(p != nullptr && p->IsNumber()) << to_json(*doc);
    if (p != nullptr && p->IsNumber())
      n.progress = p->GetDouble();
    if (auto* total = at(*doc, "params.total"); total && total->IsNumber())
      n.total = total->GetDouble();
    if (auto* m = at(*doc, "params.message"); m && m->IsString())
      n.message = m->GetString();
    out.push_back(std::move(n));
  }
  return out;
}

std::string notes_text(const std::vector<progress_note>& notes) {
  std::string text;
  for (auto& n : notes)
    text += "{" + std::to_string(n.progress) + " of " + std::to_string(n.total)
            + " \"" + n.message + "\"} ";
  return text;
}

/// Progress strictly increases between notifications of the same scale
/// (with or without a total; a single wait switches once, to the job's).
void expect_increasing(const std::vector<progress_note>& notes) {
  for (size_t i = 1; i < notes.size(); ++i) {
    if ((notes[i].total > 0) == (notes[i - 1].total > 0)) {
      EXPECT_GT(notes[i].progress, notes[i - 1].progress)
        << "at " << i << ": " << notes_text(notes);
    }
  }
}

void cancel_job(jobd_process& j, const std::string& id) {
  j.tool("console_cancel_job",
         "{\"jobId\":" + q(id) + ",\"options\":{\"graceMs\":0}}");
}

} // namespace

// Twenty lines (output sequence ~20) before `Step 3/12`: the progress
// notifications switch to the job's count, which is below the output count.
TEST(ProgressNotify, AWaitCarriesTheJobsCountAfterPlainLines) {
  jobd_process j;
  auto id = j.submit_sh("i=0; while [ $i -lt 20 ]; do i=$((i+1)); "
                        "echo \"plain line $i\"; sleep 0.03; done; sleep 0.3; "
                        "echo 'Step 3/12: compiling'; sleep 0.4; "
                        "echo 'Step 6/12: linking'; exec sleep 30");
  auto r = call_with_token(j, "console_wait_job",
                           "{\"jobId\":" + q(id) + ",\"timeoutMs\":4000}",
                           "count-after-lines", 10000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "timeout") << r.dump();
  auto notes = progress_for(j, "count-after-lines");
  ASSERT_FALSE(notes.empty()) << "no notifications/progress";
  bool counted = false;
  double lines_before = 0;
  for (auto& n : notes) {
    if (n.total == 0 && !counted)
      lines_before = std::max(lines_before, n.progress);
    if (n.total == 12 && (n.progress == 3 || n.progress == 6))
      counted = true;
    if (counted) {
      EXPECT_EQ(n.total, 12)
        << "once known, the job's scale: " << notes_text(notes);
    }
  }
  EXPECT_TRUE(counted) << "no progress 3 or 6 of 12: " << notes_text(notes);
  // What makes this case: the output count was past the job's own.
  EXPECT_GT(lines_before, 6) << notes_text(notes);
  expect_increasing(notes);
  cancel_job(j, id);
}

// Waiting for any of two: the output of both together, increasing.
TEST(ProgressNotify, AWaitOnAnyCountsOutput) {
  jobd_process j;
  auto talker = j.submit_sh(
    "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.12; done");
  auto quiet = j.submit_sh("sleep 30");
  auto r = call_with_token(j, "console_wait_job",
                           "{\"jobIds\":[" + q(quiet) + "," + q(talker)
                             + "],\"mode\":\"any\",\"timeoutMs\":10000}",
                           "many-any", 15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "any") << r.dump();
  auto notes = progress_for(j, "many-any");
  ASSERT_FALSE(notes.empty()) << "no notifications/progress";
  EXPECT_GE(notes.size(), 2u) << notes_text(notes);
  for (auto& n : notes) {
    EXPECT_EQ(n.total, 0) << notes_text(notes);
    EXPECT_GE(n.progress, 1) << notes_text(notes);
  }
  expect_increasing(notes);
  cancel_job(j, quiet);
}

// Waiting for all of three that end one after another: how many ended, of
// three (the last end is the reply).
TEST(ProgressNotify, AWaitOnAllCountsEndedJobs) {
  jobd_process j;
  auto a = j.submit_sh("sleep 0.2");
  auto b = j.submit_sh("sleep 0.6");
  auto c = j.submit_sh("sleep 1.0");
  auto r = call_with_token(j, "console_wait_job",
                           "{\"jobIds\":[" + q(a) + "," + q(b) + "," + q(c)
                             + "],\"mode\":\"all\",\"timeoutMs\":10000}",
                           "many-all", 15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "reason"), "all") << r.dump();
  auto notes = progress_for(j, "many-all");
  ASSERT_FALSE(notes.empty()) << "no notifications/progress";
  EXPECT_LE(notes.size(), 2u) << notes_text(notes);
  for (auto& n : notes) {
    EXPECT_EQ(n.total, 3) << notes_text(notes);
    EXPECT_GE(n.progress, 1) << notes_text(notes);
    EXPECT_LE(n.progress, 2) << notes_text(notes);
  }
  expect_increasing(notes);
}

// A submit with waitMs reports as a wait on its job: output first, then the
// job's percentage (of 100) once it prints one.
TEST(ProgressNotify, ASubmitWithWaitMsReports) {
  jobd_process j;
  auto r = call_with_token(
    j, "console_execute_async",
    "{\"command\":\"sh\",\"args\":[\"-c\",\"for i in 1 2 3 4 5 6 7 8 9 10 11 "
    "12; do echo step $i; sleep 0.03; done; sleep 0.3; echo '[40%]'; "
    "sleep 0.3; echo '[80%]'; sleep 0.3; exit 0\"],\"options\":{\"waitMs\":"
    "10000}}",
    "wait-ms", 15000);
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_TRUE(boolean(*r, "finished")) << r.dump();
  auto notes = progress_for(j, "wait-ms");
  ASSERT_FALSE(notes.empty()) << "no notifications/progress";
  bool percent = false;
  for (auto& n : notes)
    if (n.total == 100 && (n.progress == 40 || n.progress == 80))
      percent = true;
  EXPECT_TRUE(percent) << "no progress 40 or 80 of 100: " << notes_text(notes);
  expect_increasing(notes);
}

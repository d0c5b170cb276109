// SCHEDULER's per-session quotas (0 = none), checked when a new job is
// admitted, where QUEUE_FULL is decided, before the job is created or
// stored: a refused submit leaves nothing behind. What each counts, for
// the submit's session only (other sessions never matter):
//
// - max_queued_per_session: the session's jobs waiting to start. That is
//   every job in the index that is pending and not ended: queued for a
//   slot, and held ones too (waiting for a start time, dependencies or a
//   retry backoff). A submit that would make N+1 is refused.
// - max_retained_per_session: the session's jobs jobd keeps: every job in
//   SCHEDULER's index of it, finished ones included, until console_cleanup_
//   jobs or the sweeper removes them. A submit that would make N+1 is
//   refused.
// - max_output_bytes_per_session: the output bytes the session's jobs keep
//   (the sum of their buffered bytes, as SCHEDULER knows them: a running
//   job's from its progress news, a finished one's from its record). At or
//   over N, new submits are refused; running jobs keep their own caps.
//
// Submissions past the check but not indexed yet (their spec is being
// checked, or they wait for serials) count as queued and retained.
//
// Only new jobs are checked: a submit whose idempotency key names an
// existing job gets that job and is never refused by a quota, and jobs of a
// dead instance queued again are not new. A restart is a new job (it goes
// through submit), and so are schedule firings and template calls; a
// refused firing is the schedule's lastError, as QUEUE_FULL would be.
//
// The refusal is QUOTA_EXCEEDED with details {quota, limit, current,
// sessionId} and a message naming the flag.
#include "actors/scheduler.hpp"

#include <string>

namespace jobd {

quota_hold::quota_hold(const std::shared_ptr<admitting_counts>& counts,
                       std::string session)
  : counts_(counts), session_(std::move(session)) {
  ++(*counts)[session_];
}

quota_hold::~quota_hold() {
  release();
}

void quota_hold::release() {
  if (!held_)
    return;
  held_ = false;
  auto counts = counts_.lock();
  if (!counts)
    return;
  auto i = counts->find(session_);
  if (i != counts->end() && --i->second == 0)
    counts->erase(i);
}

namespace {

struct session_usage {
  uint64_t queued = 0;
  uint64_t retained = 0;
  uint64_t output_bytes = 0;
};

session_usage usage_of(scheduler_ptr self, const std::string& session) {
  auto& st = self->state;
  session_usage usage;
  if (auto i = st.admitting->find(session); i != st.admitting->end()) {
    usage.queued = i->second;
    usage.retained = i->second;
  }
  auto i = st.session_jobs.find(session);
  if (i == st.session_jobs.end())
    return usage;
  for (auto& id : i->second) {
    auto e = find_job(self, id);
    if (e == nullptr)
      continue;
    ++usage.retained;
    if (e->output) {
      usage.output_bytes += e->output->stats().buffered_bytes;
      continue;
    }
    usage.output_bytes += e->info.output.buffered_bytes;
    if (e->info.status == job_status::pending)
      ++usage.queued;
  }
  return usage;
}

caf::error refusal(const char* quota, uint64_t limit, uint64_t current,
                   const std::string& session, std::string message) {
  return make_tool_error(codes::quota_exceeded, std::move(message),
                         {{"quota", json_quote(quota)},
                          {"limit", std::to_string(limit)},
                          {"current", std::to_string(current)},
                          {"sessionId", json_quote(session)}});
}

} // namespace

caf::error check_quotas(scheduler_ptr self, const std::string& session,
                        quota_hold_ptr& hold) {
  auto& cfg = self->state.config;
  if (cfg.max_queued_per_session == 0 && cfg.max_retained_per_session == 0
      && cfg.max_output_bytes_per_session == 0)
    return caf::none;
  auto usage = usage_of(self, session);
  auto n = [](uint64_t x) { return std::to_string(x); };
  if (auto limit = cfg.max_queued_per_session;
      limit > 0 && usage.queued >= limit)
    return refusal("max_queued_per_session", limit, usage.queued, session,
                   "Session " + session + " has " + n(usage.queued)
                     + " jobs waiting to start; --max-queued-per-session is "
                     + n(limit) + " (wait for some to start or cancel some)");
  if (auto limit = cfg.max_retained_per_session;
      limit > 0 && usage.retained >= limit)
    return refusal("max_retained_per_session", limit, usage.retained, session,
                   "Session " + session + " has " + n(usage.retained)
                     + " jobs kept by jobd; --max-retained-per-session is "
                     + n(limit)
                     + " (remove finished jobs with console_cleanup_jobs)");
  if (auto limit = cfg.max_output_bytes_per_session;
      limit > 0 && usage.output_bytes >= limit)
    return refusal(
      "max_output_bytes_per_session", limit, usage.output_bytes, session,
      "Session " + session + "'s jobs keep " + n(usage.output_bytes)
        + " bytes of output; --max-output-bytes-per-session is " + n(limit)
        + " (remove finished jobs with console_cleanup_jobs)");
  hold = std::make_shared<quota_hold>(self->state.admitting, session);
  return caf::none;
}

void index_session_job(scheduler_ptr self, const job_info& job) {
  self->state.session_jobs[job.session_id].insert(job.id);
}

void unindex_session_job(scheduler_ptr self, const job_info& job) {
  auto& map = self->state.session_jobs;
  auto i = map.find(job.session_id);
  if (i == map.end())
    return;
  i->second.erase(job.id);
  if (i->second.empty())
    map.erase(i);
}

} // namespace jobd

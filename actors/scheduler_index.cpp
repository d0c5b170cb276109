// SCHEDULER's index: listing, cleanup, the records of finished jobs and the
// global output budget.
#include "actors/scheduler.hpp"

#include "actors/core/timing.hpp"
#include "actors/logger.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include <algorithm>
#include <limits>

namespace jobd {

namespace {

bool matches(const list_query& q, const job_info& job) {
  if (!q.statuses.empty()
      && std::find(q.statuses.begin(), q.statuses.end(), job.status)
           == q.statuses.end())
    return false;
  if (!q.session_id.empty() && q.session_id != job.session_id)
    return false;
  for (auto& [key, value] : q.tags) {
    auto i = job.tags.find(key);
    if (i == job.tags.end() || i->second != value)
      return false;
  }
  return true;
}

// Parses "c<serial>" (the serial of the last job of the previous page).
bool parse_cursor(const std::string& cursor, uint64_t& after) {
  if (cursor.size() < 2 || cursor.size() > 21 || cursor[0] != 'c')
    return false;
  uint64_t x = 0;
  for (size_t i = 1; i < cursor.size(); ++i) {
    auto c = cursor[i];
    if (c < '0' || c > '9')
      return false;
    auto digit = static_cast<uint64_t>(c - '0');
    if (x > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      return false;
    x = x * 10 + digit;
  }
  after = x;
  return true;
}

void remove_job(scheduler_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& e = i->second;
  job_event ev{transition::removed, e.info.status, e.info, nullptr};
  if (e.handle)
    self->send_exit(e.handle, caf::exit_reason::user_shutdown);
  if (e.output)
    st.record_bytes
      -= std::min(st.record_bytes, e.output->stats().buffered_bytes);
  st.finished_order.erase(e.finish_serial);
  st.by_serial.erase(e.info.serial);
  st.jobs.erase(i);
  publish(self, ev);
}

} // namespace

void publish(scheduler_ptr self, const job_event& ev) {
  for (auto& l : self->state.listeners)
    self->send(l, atom::event_v, ev);
}

uint64_t queue_position(scheduler_ptr self, const job_info& job) {
  auto& idx = self->state.pending.get<0>();
  return idx.rank(idx.lower_bound(queue_key{job.priority, job.serial})) + 1;
}

caf::result<list_page> list_jobs(scheduler_ptr self, const list_query& q) {
  auto& st = self->state;
  auto start = st.by_serial.rbegin();
  if (!q.cursor.empty()) {
    uint64_t after = 0;
    if (!parse_cursor(q.cursor, after))
      return make_tool_error(codes::invalid_arguments,
                             "options.cursor is not a cursor from this server",
                             {{"field", json_quote("options.cursor")}});
    start = std::make_reverse_iterator(st.by_serial.lower_bound(after));
  }
  list_page page;
  auto limit = q.limit == 0 ? std::numeric_limits<uint64_t>::max() : q.limit;
  for (auto& [serial, id] : st.by_serial) {
    (void) serial;
    if (matches(q, st.jobs.at(id).info))
      ++page.total;
  }
  for (auto i = start; i != st.by_serial.rend(); ++i) {
    auto& e = st.jobs.at(i->second);
    if (!matches(q, e.info))
      continue;
    if (page.jobs.size() == limit) {
      page.next_cursor = "c" + std::to_string(page.jobs.back().serial);
      break;
    }
    page.jobs.push_back(e.info);
    if (e.output)
      page.jobs.back().output = e.output->stats();
    if (e.info.status == job_status::pending)
      page.jobs.back().queue_position = queue_position(self, e.info);
  }
  return page;
}

cleanup_result cleanup_jobs(scheduler_ptr self, const cleanup_query& q) {
  auto& st = self->state;
  auto now = steady_ms();
  std::vector<std::string> matching; // newest first
  for (auto i = st.by_serial.rbegin(); i != st.by_serial.rend(); ++i) {
    auto& e = st.jobs.at(i->second);
    auto& info = e.info;
    // Only jobs whose record is kept: a job cancelled while pending is
    // terminal here before its actor handed over its record.
    if (!is_terminal(info.status) || !e.output)
      continue;
    if (!q.statuses.empty()
        && std::find(q.statuses.begin(), q.statuses.end(), info.status)
             == q.statuses.end())
      continue;
    if (!q.session_id.empty() && q.session_id != info.session_id)
      continue;
    // "At least max_age old", by the steady clock: a huge max_age keeps
    // every job instead of wrapping around.
    if (q.max_age_ms > 0 && now - e.finished_steady_ms < q.max_age_ms)
      continue;
    matching.push_back(info.id);
  }
  cleanup_result result;
  for (size_t i = q.keep_count; i < matching.size(); ++i) {
    remove_job(self, matching[i]);
    ++result.cleaned;
  }
  result.remaining = st.jobs.size();
  if (result.cleaned > 0)
    log::info("cleanup removed " + std::to_string(result.cleaned) + " jobs, "
              + std::to_string(result.remaining) + " remain");
  return result;
}

void keep_record(scheduler_ptr self, scheduler_state::entry& e,
                 std::shared_ptr<output_buffer> output) {
  auto& st = self->state;
  e.output = output ? std::move(output) : std::make_shared<output_buffer>();
  e.finished_steady_ms = steady_ms();
  e.finish_serial = st.next_finish++;
  st.finished_order.emplace(e.finish_serial, e.info.id);
  st.record_bytes += e.output->stats().buffered_bytes;
  enforce_output_budget(self);
}

void enforce_output_budget(scheduler_ptr self) {
  auto& st = self->state;
  auto budget = st.config.output_total_bytes;
  for (auto i = st.finished_order.begin();
       st.record_bytes > budget && i != st.finished_order.end();) {
    auto& e = st.jobs.at(i->second);
    // A record whose actor may still answer from it is not touched yet:
    // the actor's down message brings us back here.
    if (!e.actor_gone) {
      ++i;
      continue;
    }
    // A record reader may still be searching this output: trim a copy.
    if (e.output.use_count() > 1)
      e.output = std::make_shared<output_buffer>(*e.output);
    auto freed = e.output->drop_oldest(st.record_bytes - budget);
    st.record_bytes -= std::min(st.record_bytes, freed);
    e.info.output = e.output->stats();
    if (e.output->stats().buffered_bytes == 0)
      i = st.finished_order.erase(i);
    else
      ++i;
  }
}

} // namespace jobd

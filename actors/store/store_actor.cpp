#include "actors/store/store_actor.hpp"

#include "actors/core/job_record.hpp"
#include "actors/core/record_reader.hpp"
#include "actors/core/timing.hpp"
#include "actors/logger.hpp"
#include "actors/unexpected.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <random>
#include <unordered_map>

namespace jobd {

namespace {

using self_ptr = store_ptr;
using clock_type = std::chrono::steady_clock;

constexpr auto commit_gap = std::chrono::milliseconds(25);
constexpr auto retry_delay = std::chrono::seconds(1);
constexpr size_t batch_writes = 512;
constexpr uint64_t batch_output_bytes = 4 << 20;
// While writes fail, output beyond this waits nowhere: it is dropped.
constexpr uint64_t degraded_output_bytes = 64 << 20;

caf::error not_found(const std::string& id) {
  return make_tool_error(codes::job_not_found, "Job not found: " + id,
                         {{"jobId", json_quote(id)}});
}

caf::error store_failed(const std::exception& e) {
  return make_tool_error(codes::internal_error,
                         std::string{"The job store failed: "} + e.what());
}

void schedule_tick(self_ptr self, clock_type::duration delay) {
  auto& st = self->state;
  if (st.tick_scheduled)
    return;
  st.tick_scheduled = true;
  self->delayed_send(self, delay, atom::tick_v);
}

// Applies the batch in order. Output that a later write of the same job
// says left its window is not written at all (only to be deleted again).
// Of a job's rows only the last is written (a short job is pending,
// running and finished within one batch): it sets every column an earlier
// one would, and takes the job's spec along if an earlier one had it. The
// output between them needs no row yet, and the last row's counts are at
// least as new as that output's.
void apply_batch(job_store& db, std::vector<store_state::write>& batch) {
  std::unordered_map<uint64_t, uint64_t> kept_from;
  std::unordered_map<uint64_t, size_t> last_row;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& w = batch[i];
    if (w.output) {
      auto& k = kept_from[w.output->serial];
      k = std::max(k, w.output->first_kept);
    } else if (w.row) {
      last_row[w.row->serial] = i;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& w = batch[i];
    if (w.row) {
      auto& last = batch[last_row[w.row->serial]];
      if (&last != &w) {
        if (w.spec && !last.spec)
          last.spec = std::move(w.spec);
        continue;
      }
      db.put_job(*w.row, w.spec ? &*w.spec : nullptr);
    } else if (w.output) {
      db.put_output(w.output->serial, w.output->chunks,
                    kept_from[w.output->serial], w.output->stats);
    }
  }
}

// Commits the batch. On failure the batch stays for the next try and the
// store is degraded (logged once); the first success after that recovers.
bool flush(self_ptr self) {
  auto& st = self->state;
  if (st.batch.empty())
    return true;
  try {
    st.db->begin();
    apply_batch(*st.db, st.batch);
    st.db->commit();
    st.last_commit = clock_type::now();
    st.db->enforce_max_bytes();
  } catch (const sql::error& e) {
    st.db->rollback();
    if (st.degraded.empty())
      log::warning(std::string{"store: cannot write "} + st.db->path() + " ("
                   + e.what()
                   + "); jobs go on, persistence is degraded until it "
                     "works again");
    st.degraded = e.what();
    return false;
  }
  if (!st.degraded.empty()) {
    log::info("store: writing again after: " + st.degraded
              + (st.lost_bytes > 0 ? "; " + std::to_string(st.lost_bytes)
                                       + " output bytes were not kept"
                                   : std::string{}));
    st.degraded.clear();
    st.lost_bytes = 0;
  }
  st.batch.clear();
  st.batch_bytes = 0;
  return true;
}

void enqueue(self_ptr self, store_state::write w, uint64_t bytes) {
  auto& st = self->state;
  if (!st.degraded.empty()) {
    if (w.output && st.batch_bytes + bytes > degraded_output_bytes) {
      st.lost_bytes += bytes;
      return;
    }
    // Keep the batch bounded by the number of jobs: a newer row of a job
    // replaces its older one.
    if (w.row) {
      auto serial = w.row->serial;
      auto i = std::find_if(st.batch.begin(), st.batch.end(), [&](auto& x) {
        return x.row && x.row->serial == serial;
      });
      if (i != st.batch.end()) {
        if (!w.spec)
          w.spec = std::move(i->spec);
        *i = std::move(w);
        return;
      }
    }
  }
  auto first = st.batch.empty();
  st.batch.push_back(std::move(w));
  st.batch_bytes += bytes;
  if (!st.degraded.empty()) {
    schedule_tick(self, retry_delay);
  } else if (st.batch.size() >= batch_writes
             || st.batch_bytes >= batch_output_bytes) {
    flush(self);
  } else if (first) {
    // Group commit. After a quiet spell the flush message queues behind
    // what is in the mailbox now, so one transaction takes all the writes
    // that arrived meanwhile and a lone write is committed at once; under
    // load commits come at most every commit_gap, each taking everything
    // queued by then.
    auto since = clock_type::now() - st.last_commit;
    if (since >= commit_gap)
      self->send(self, atom::settle_v);
    else
      schedule_tick(self, commit_gap - since);
  }
}

// A job of a dead instance still looks active: recover it first.
std::optional<job_info> find_settled(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto info = st.db->find(id);
  if (info && !is_terminal(info->status) && !info->owner_live) {
    auto requeue = st.db->recover();
    // Sent anonymously: SCHEDULER answers each job it queues to the
    // sender, which must not be us (that answer is no message of ours, and
    // CAF's default handler prints it to stdout, the protocol channel).
    if (!requeue.empty() && st.requeuer)
      caf::anon_send(st.requeuer, requeue_list{std::move(requeue)});
    info = st.db->find(id);
  }
  return info;
}

// Answers a wait from the stored job, or nullopt while it must go on.
std::optional<wait_result> try_wait(self_ptr self, const wait_query& q,
                                    const pattern& pat, const job_info& info,
                                    bool expired) {
  auto out = self->state.db->load_output(info);
  auto reason = wait_reason(*out, q, 0, pat, is_terminal(info.status));
  if (reason == nullptr && !expired)
    return std::nullopt;
  return wait_answer(info, *out, q, reason != nullptr ? reason : "timeout");
}

void poll_remote_waits(self_ptr self) {
  auto& st = self->state;
  auto now = clock_type::now();
  for (auto i = st.remote_waits.begin(); i != st.remote_waits.end();) {
    std::optional<wait_result> answer;
    try {
      auto info = find_settled(self, i->query.job_id);
      if (!info) {
        i->promise.deliver(not_found(i->query.job_id));
        i = st.remote_waits.erase(i);
        continue;
      }
      answer = try_wait(self, i->query, i->compiled, *info, now >= i->expires);
    } catch (const std::exception& e) {
      i->promise.deliver(store_failed(e));
      i = st.remote_waits.erase(i);
      continue;
    }
    if (answer) {
      i->promise.deliver(std::move(*answer));
      i = st.remote_waits.erase(i);
    } else {
      ++i;
    }
  }
  if (!st.remote_waits.empty())
    schedule_tick(self, std::chrono::milliseconds(100));
}

// Runs a query after committing what is pending (read your writes); a
// failing query answers INTERNAL_ERROR instead of killing the store.
template <class F> auto query(self_ptr self, F f) -> decltype(f()) {
  flush(self);
  try {
    return f();
  } catch (const std::exception& e) {
    return store_failed(e);
  }
}

caf::result<wait_result> wait(self_ptr self, wait_query& q) {
  auto& st = self->state;
  flush(self);
  std::optional<job_info> info;
  try {
    info = find_settled(self, q.job_id);
  } catch (const std::exception& e) {
    return store_failed(e);
  }
  if (!info)
    return not_found(q.job_id);
  if (is_terminal(info->status)) {
    auto out = st.db->load_output(*info);
    if (q.until == wait_until::output && !q.pattern.empty()) {
      // Compiling and searching may take a while: not on the store.
      auto reader = self->system().spawn(
        record_reader, *info, std::shared_ptr<const output_buffer>{out});
      return self->delegate(reader, atom::wait_v, std::move(q));
    }
    return wait_answer(*info, *out, q,
                       wait_reason(*out, q, 0, pattern{}, true));
  }
  pattern compiled;
  std::string why;
  if (q.until == wait_until::output
      && !pattern::compile(q.pattern, compiled, why))
    return make_tool_error(codes::invalid_arguments,
                           "pattern is not a valid regular expression: " + why,
                           {{"field", json_quote("pattern")}});
  auto timeout = q.timeout_ms < 0 ? st.max_wait_ms
                                  : std::min(q.timeout_ms, st.max_wait_ms);
  auto rp = self->make_response_promise<wait_result>();
  st.remote_waits.push_back({std::move(q), std::move(compiled), rp,
                             deadline_after(clock_type::now(), timeout)});
  schedule_tick(self, std::chrono::milliseconds(100));
  return rp;
}

caf::result<cancel_result> cancel(self_ptr self, const std::string& id) {
  flush(self);
  std::optional<job_info> info;
  try {
    info = find_settled(self, id);
  } catch (const std::exception& e) {
    return store_failed(e);
  }
  if (!info)
    return not_found(id);
  if (is_terminal(info->status))
    return make_tool_error(codes::job_already_finished,
                           "Job " + id + " already finished ("
                             + to_string(info->status) + ")",
                           {{"status", json_quote(to_string(info->status))},
                            {"jobId", json_quote(id)}});
  return make_tool_error(
    codes::owned_elsewhere,
    "Job " + id + " is run by another jobd instance (" + info->owner_instance
      + ", pid " + std::to_string(info->owner_pid)
      + "); cancel it through that instance",
    {{"jobId", json_quote(id)},
     {"owner", "{\"instance\":" + json_quote(info->owner_instance)
                 + ",\"pid\":" + std::to_string(info->owner_pid) + "}"}});
}

// Serials from the shared counter. While the database refuses writes, new
// jobs still get serials: from a range of this instance's own far above
// the counter (a random base, 2^24 serials each), so no job waits for the
// disk and none can collide with a serial the counter handed out.
uint64_t reserve(self_ptr self, uint64_t n) {
  auto& st = self->state;
  flush(self);
  try {
    return st.db->reserve_serials(n);
  } catch (const std::exception& e) {
    if (st.fallback_serial == 0) {
      std::random_device rd;
      st.fallback_serial
        = (uint64_t{1} << 50) + (uint64_t{rd() & 0xfffff} << 24);
      log::warning(std::string{"store: cannot reserve job serials ("} + e.what()
                   + "); using this instance's own range");
    }
    auto first = st.fallback_serial;
    st.fallback_serial += n;
    return first;
  }
}

} // namespace

store_actor::behavior_type store(store_ptr self, std::shared_ptr<job_store> db,
                                 int64_t max_wait_ms, int64_t retention_ms,
                                 std::string unopened) {
  self->set_default_handler(log_and_drop);
  auto& st = self->state;
  st.db = std::move(db);
  st.max_wait_ms = max_wait_ms;
  st.retention_ms = retention_ms;
  st.unopened = std::move(unopened);
  return {
    [self](atom::submit, job_info& info, job_spec& spec) {
      enqueue(self, {std::move(info), std::move(spec), std::nullopt}, 0);
    },
    [self](atom::event, job_info& info) {
      enqueue(self, {std::move(info), std::nullopt, std::nullopt}, 0);
    },
    [self](atom::output, stored_output& out) {
      uint64_t bytes = 0;
      for (auto& c : out.chunks)
        bytes += c.content.size();
      enqueue(self, {std::nullopt, std::nullopt, std::move(out)}, bytes);
      return true;
    },
    [self](atom::status, const std::string& id) -> caf::result<job_info> {
      return query(self, [&]() -> caf::result<job_info> {
        auto info = find_settled(self, id);
        if (!info)
          return not_found(id);
        return std::move(*info);
      });
    },
    [self](atom::output, const std::string& id,
           const output_query& q) -> caf::result<output_page> {
      return query(self, [&]() -> caf::result<output_page> {
        auto info = find_settled(self, id);
        if (!info)
          return not_found(id);
        auto out = self->state.db->load_output(*info);
        return read_output(*info, *out, q);
      });
    },
    [self](atom::wait, wait_query& q) { return wait(self, q); },
    [self](atom::cancel, const std::string& id) { return cancel(self, id); },
    [self](atom::list, const list_query& q) -> caf::result<list_page> {
      flush(self);
      try {
        return self->state.db->list(q);
      } catch (const std::invalid_argument& e) {
        return make_tool_error(codes::invalid_arguments, e.what(),
                               {{"field", json_quote("options.cursor")}});
      } catch (const std::exception& e) {
        return store_failed(e);
      }
    },
    [self](atom::spec, const std::string& id) -> caf::result<job_spec> {
      return query(self, [&]() -> caf::result<job_spec> {
        bool found = false;
        auto spec = self->state.db->spec_of(id, found);
        if (!spec && found)
          return make_tool_error(codes::job_not_found,
                                 "The spec of job " + id
                                   + " was not kept (it ended before this "
                                     "jobd kept specs); it cannot be "
                                     "restarted",
                                 {{"jobId", json_quote(id)}});
        if (!spec)
          return not_found(id);
        return std::move(*spec);
      });
    },
    [self](atom::find, const std::string& session,
           const std::string& key) -> caf::result<std::string> {
      return query(self, [&]() -> caf::result<std::string> {
        return self->state.db->find_by_key(session, key);
      });
    },
    // The session of each stored job ("" for one not stored).
    [self](atom::owner, owner_list& q) -> caf::result<owner_list> {
      return query(self, [&]() -> caf::result<owner_list> {
        q.sessions = self->state.db->sessions_of(q.job_ids);
        return std::move(q);
      });
    },
    [self](atom::cleanup, const cleanup_query& q) -> caf::result<cleanup_done> {
      return query(self, [&]() -> caf::result<cleanup_done> {
        auto done = self->state.db->cleanup(q, self->state.retention_ms);
        if (done.result.cleaned > 0)
          self->state.db->vacuum_step();
        return done;
      });
    },
    [self](atom::metrics) -> caf::result<metrics_snapshot> {
      return query(self, [&]() -> caf::result<metrics_snapshot> {
        auto& st = self->state;
        auto m = st.db->figures();
        if (!st.degraded.empty() || !st.unopened.empty()) {
          m.persistence = "degraded";
          m.persistence_error = st.degraded.empty() ? st.unopened : st.degraded;
        }
        return m;
      });
    },
    [self](atom::templates, atom::put,
           const job_template& t) -> caf::result<job_template> {
      return query(self, [&]() -> caf::result<job_template> {
        return self->state.db->put_template(t);
      });
    },
    [self](atom::templates, atom::get,
           const std::string& name) -> caf::result<job_template> {
      return query(self, [&]() -> caf::result<job_template> {
        auto t = self->state.db->get_template(name);
        if (!t)
          return make_tool_error(codes::template_not_found,
                                 "Template not found: " + name,
                                 {{"name", json_quote(name)}});
        return std::move(*t);
      });
    },
    [self](atom::templates, atom::list) -> caf::result<template_list> {
      return query(self, [&]() -> caf::result<template_list> {
        return self->state.db->list_templates();
      });
    },
    [self](atom::templates, atom::erase,
           const std::string& name) -> caf::result<delete_result> {
      return query(self, [&]() -> caf::result<delete_result> {
        return delete_result{name, self->state.db->erase_template(name)};
      });
    },
    [self](atom::schedules, atom::put,
           const schedule_spec& s) -> caf::result<bool> {
      return query(self, [&]() -> caf::result<bool> {
        self->state.db->put_schedule(s);
        return true;
      });
    },
    [self](atom::schedules, atom::list) -> caf::result<schedule_list> {
      return query(self, [&]() -> caf::result<schedule_list> {
        return self->state.db->list_schedules();
      });
    },
    [self](atom::schedules, atom::erase,
           const std::string& id) -> caf::result<bool> {
      return query(self, [&]() -> caf::result<bool> {
        return self->state.db->erase_schedule(id);
      });
    },
    [self](atom::reserve, uint64_t n) -> uint64_t { return reserve(self, n); },
    [self](atom::recheck) -> caf::result<requeue_list> {
      return query(self, [&]() -> caf::result<requeue_list> {
        return requeue_list{self->state.db->recover()};
      });
    },
    [self](atom::flush) { return flush(self); },
    [self](atom::settle) { flush(self); },
    [self](atom::subscribe, requeue_target& r) {
      self->state.requeuer = std::move(r);
    },
    [self](atom::tick) {
      auto& st = self->state;
      st.tick_scheduled = false;
      if (!flush(self))
        schedule_tick(self, retry_delay);
      poll_remote_waits(self);
    },
  };
}

} // namespace jobd

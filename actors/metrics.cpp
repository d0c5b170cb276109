#include "actors/metrics.hpp"
#include "actors/unexpected.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace jobd {

double system_load() {
  double load = 0;
  if (auto f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1)
      load = 0;
    std::fclose(f);
  }
  auto cpus = std::thread::hardware_concurrency();
  return cpus > 0 ? load / cpus : load;
}

namespace {

// Moves one job between the status counters of a snapshot-like record.
template <class Counters> void count(Counters& c, job_status s, int delta) {
  switch (s) {
    case job_status::pending:
      c.pending += delta;
      break;
    case job_status::running:
      c.running += delta;
      break;
    case job_status::completed:
      c.completed += delta;
      break;
    case job_status::failed:
      c.failed += delta;
      break;
    case job_status::cancelled:
      c.cancelled += delta;
      break;
  }
}

// The global counters in the shape of a session's.
struct global_counters {
  uint64_t& pending;
  uint64_t& running;
  uint64_t& completed;
  uint64_t& failed;
  uint64_t& cancelled;
};

using self_ptr = metrics_actor::stateful_pointer<metrics_state>;

// Adds (delta 1) or takes away (-1) a finished job's usage. The largest
// max_rss_kb cannot be taken away without keeping every job's: it stays
// the largest seen until no counted job is left (as in the store's
// figures, which replace these whenever it answers).
void add_usage(usage_totals& u, const job_info& j, int delta) {
  if (delta > 0) {
    ++u.jobs;
    u.max_rss_kb = std::max(u.max_rss_kb, j.usage.max_rss_kb);
  } else if (u.jobs > 0) {
    --u.jobs;
  }
  u.cpu_user_ms += delta * j.usage.cpu_user_ms;
  u.cpu_system_ms += delta * j.usage.cpu_system_ms;
  u.run_ms += delta * j.run_ms;
  u.max_rss_kb_sum += delta * j.usage.max_rss_kb;
  if (u.jobs == 0)
    u = usage_totals{};
}

bool counts_usage(const job_info& j) {
  return j.usage.known && is_terminal(j.status);
}

uint64_t output_bytes(const output_stats& o) {
  return o.stdout_bytes + o.stderr_bytes;
}

// Adds to output_bytes what a running job produced since it was last seen.
// Its counters only grow (the buffer lives across attempts); a stale
// figure adds nothing.
void saw_output(metrics_state& st, uint64_t& seen, const output_stats& o) {
  auto now = output_bytes(o);
  if (now > seen) {
    st.totals.output_bytes += now - seen;
    seen = now;
  }
}

// Jobs started and the output they produced: a job is followed from its
// first start to its end (only those: output news of a job that ended are
// never counted twice), which costs an entry per running or retrying job.
void count_output(metrics_state& st, const job_event& ev) {
  auto i = st.live_output.find(ev.job.id);
  switch (ev.what) {
    case transition::started:
      ++st.totals.started_jobs;
      if (i == st.live_output.end())
        i = st.live_output.emplace(ev.job.id, 0).first;
      saw_output(st, i->second, ev.job.output);
      break;
    case transition::finished: {
      // A job never seen running (its start unannounced) counts it all.
      uint64_t seen = 0;
      saw_output(st, i != st.live_output.end() ? i->second : seen,
                 ev.job.output);
      if (i != st.live_output.end())
        st.live_output.erase(i);
      break;
    }
    case transition::removed:
      if (i != st.live_output.end())
        st.live_output.erase(i);
      break;
    case transition::retrying:
    case transition::updated:
      if (i != st.live_output.end())
        saw_output(st, i->second, ev.job.output);
      break;
    case transition::created:
      break;
  }
}

// The global counters are the server's history; a session's are the jobs it
// holds now, so a session whose jobs were all removed leaves no trace.
void on_event(self_ptr self, uint64_t per_session, const job_event& ev) {
  auto& st = self->state;
  auto& t = st.totals;
  count_output(st, ev);
  global_counters g{t.queue_size, t.running_jobs, t.completed_jobs,
                    t.failed_jobs, t.cancelled_jobs};
  kind_metrics ignored;
  auto apart = st.kinds.find(ev.job.kind);
  auto& k = apart == st.kinds.end() ? ignored : apart->second;
  auto& s = st.sessions[ev.job.session_id];
  if (s.session_id.empty()) {
    s.session_id = ev.job.session_id;
    s.limit = per_session;
  }
  // Moves the job in the global, its session's and its kind's counters.
  auto add_one = [&](job_status status, int delta) {
    count(g, status, delta);
    count(s, status, delta);
    count(k, status, delta);
  };
  switch (ev.what) {
    case transition::created:
      ++t.total_jobs;
      ++t.retained_jobs;
      ++s.total;
      add_one(job_status::pending, 1);
      break;
    case transition::started:
    case transition::finished:
      add_one(ev.previous, -1);
      add_one(ev.job.status, 1);
      if (ev.what == transition::finished && ev.job.started_at > 0) {
        st.run_ms_sum += static_cast<double>(ev.job.run_ms);
        ++st.run_count;
      }
      if (ev.what == transition::finished && counts_usage(ev.job)) {
        add_usage(t.usage, ev.job, 1);
        add_usage(s.usage, ev.job, 1);
      }
      if (ev.what == transition::finished
          && ev.job.error_code == codes::dependency_failed)
        ++t.dependency_failures;
      break;
    case transition::retrying:
      // The attempt ended; the job is pending again for the next one.
      add_one(ev.previous, -1);
      add_one(job_status::pending, 1);
      ++t.retries;
      break;
    case transition::removed:
      --t.retained_jobs;
      --s.total;
      count(s, ev.job.status, -1);
      if (counts_usage(ev.job)) {
        add_usage(t.usage, ev.job, -1);
        add_usage(s.usage, ev.job, -1);
      }
      if (s.total == 0)
        st.sessions.erase(ev.job.session_id);
      break;
    case transition::updated:
      // No change of state, unless a slotless job's cluster started it
      // (or queued it again).
      if (ev.previous != ev.job.status && !is_terminal(ev.previous)
          && !is_terminal(ev.job.status)) {
        add_one(ev.previous, -1);
        add_one(ev.job.status, 1);
      }
      break;
  }
}

} // namespace

metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self,
        uint64_t max_running, uint64_t per_session, store_actor store,
        std::vector<std::string> apart) {
  self->set_default_handler(log_and_drop);
  self->state.totals.concurrency_maximum = max_running;
  for (auto& kind : apart)
    self->state.kinds[kind].kind = kind;
  self->state.store = std::move(store);
  self->state.started_at = std::chrono::steady_clock::now();
  return {
    // Keeps the counters in step with each job's transitions.
    [self, per_session](atom::event, const job_event& ev) {
      on_event(self, per_session, ev);
    },
    // Output growth of a running job: output_bytes.
    [self](atom::output, const output_news& news) {
      auto& st = self->state;
      if (auto i = st.live_output.find(news.job_id); i != st.live_output.end())
        saw_output(st, i->second, news.output);
    },
    // SCHEDULES' firings: submitted, skipped (overlap), missed (down).
    [self](atom::schedules, uint64_t fired, uint64_t skipped, uint64_t missed) {
      auto& t = self->state.totals;
      t.schedule_firings += fired;
      t.schedule_skips += skipped;
      t.schedule_misses += missed;
    },
    // console_get_job_metrics: what this instance runs and queues now,
    // with the store's history (every instance's, surviving restarts).
    [self, per_session](atom::metrics) -> caf::result<metrics_snapshot> {
      auto& st = self->state;
      auto snapshot = st.totals;
      // Local slots only: jobs of other kinds are counted apart.
      snapshot.concurrency_current = snapshot.running_jobs;
      for (auto& [name, k] : st.kinds) {
        snapshot.kinds.push_back(k);
        snapshot.concurrency_current
          -= std::min(snapshot.concurrency_current, k.running);
      }
      snapshot.average_execution_ms
        = st.run_count > 0 ? st.run_ms_sum / st.run_count : 0.0;
      snapshot.system_load = system_load();
      snapshot.uptime_ms
        = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - st.started_at)
            .count();
      snapshot.sessions.reserve(st.sessions.size());
      for (auto& [id, s] : st.sessions)
        snapshot.sessions.push_back(s);
      if (!st.store)
        return snapshot;
      auto rp = self->make_response_promise<metrics_snapshot>();
      self->request(st.store, caf::infinite, atom::metrics_v)
        .then(
          [rp, snapshot, per_session](metrics_snapshot& stored) mutable {
            snapshot.total_jobs = stored.total_jobs;
            snapshot.completed_jobs = stored.completed_jobs;
            snapshot.failed_jobs = stored.failed_jobs;
            snapshot.cancelled_jobs = stored.cancelled_jobs;
            snapshot.average_execution_ms = stored.average_execution_ms;
            snapshot.retained_jobs = stored.retained_jobs;
            // The store's usage totals already hold this instance's
            // finished jobs (their rows): they replace ours, as the
            // sessions do, never add to them.
            snapshot.usage = stored.usage;
            snapshot.sessions = std::move(stored.sessions);
            for (auto& s : snapshot.sessions)
              s.limit = per_session;
            snapshot.persistence = std::move(stored.persistence);
            snapshot.persistence_error = std::move(stored.persistence_error);
            rp.deliver(std::move(snapshot));
          },
          // Without the store's figures, this instance's own.
          [rp, snapshot](caf::error&) mutable {
            snapshot.persistence = "degraded";
            snapshot.persistence_error = "the store did not answer";
            rp.deliver(std::move(snapshot));
          });
      return rp;
    },
  };
}

} // namespace jobd

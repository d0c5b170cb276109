#include "actors/scheduler.hpp"

#include "actors/logger.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>

namespace jobd {

namespace {

using self_ptr = scheduler_actor::stateful_pointer<scheduler_state>;
using entry = scheduler_state::entry;

std::string make_job_id(uint64_t serial) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = "job-" + std::to_string(serial) + "-";
  for (int i = 0; i < 5; ++i)
    id += alphabet[rng() % (sizeof alphabet - 1)];
  return id;
}

entry* find(self_ptr self, const std::string& id) {
  auto i = self->state.jobs.find(id);
  return i == self->state.jobs.end() ? nullptr : &i->second;
}

caf::error not_found(const std::string& id) {
  return make_tool_error(codes::job_not_found, "Job not found: " + id,
                         {{"jobId", json_quote(id)}});
}

session_actor session_for(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i != st.sessions.end())
    return i->second;
  auto handle = self->system().spawn(
    session, id, st.config.max_running_per_session, scheduler_actor{self});
  st.sessions.emplace(id, handle);
  return handle;
}

void publish(self_ptr self, const job_event& ev) {
  for (auto& l : self->state.listeners)
    self->send(l, atom::event_v, ev);
}

queue_key key_of(const job_info& job) {
  return {job.priority, job.serial};
}

// 1-based rank among all pending jobs in queue order.
uint64_t queue_position(self_ptr self, const job_info& job) {
  return self->state.pending.order_of_key(key_of(job)) + 1;
}

// Starts the best offered jobs while global slots are free.
void dispatch(self_ptr self) {
  auto& st = self->state;
  while (st.running < st.config.max_running && !st.ready.empty()
         && !st.shutting_down) {
    auto c = *st.ready.begin();
    st.ready.erase(st.ready.begin());
    auto e = find(self, c.job_id);
    if (e == nullptr || e->info.status != job_status::pending)
      continue;
    e->info.status = job_status::running;
    st.pending.erase(key_of(e->info));
    ++st.running;
    self->send(e->handle, atom::start_v);
    self->send(session_for(self, c.session_id), atom::started_v, c.job_id);
  }
}

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

caf::result<list_page> list_jobs(self_ptr self, const list_query& q) {
  auto& st = self->state;
  auto start = st.by_serial.rbegin();
  if (!q.cursor.empty()) {
    // The cursor is "c" + the serial of the last job of the previous page.
    uint64_t after = 0;
    try {
      size_t used = 0;
      if (q.cursor.size() < 2 || q.cursor[0] != 'c')
        throw std::invalid_argument{"cursor"};
      after = std::stoull(q.cursor.substr(1), &used);
      if (used != q.cursor.size() - 1)
        throw std::invalid_argument{"cursor"};
    } catch (const std::exception&) {
      return make_tool_error(codes::invalid_arguments,
                             "options.cursor is not a cursor from this server");
    }
    start = std::make_reverse_iterator(st.by_serial.lower_bound(after));
  }
  list_page page;
  for (auto& [serial, id] : st.by_serial) {
    (void) serial;
    if (matches(q, st.jobs[id].info))
      ++page.total;
  }
  auto limit = q.limit == 0 ? std::numeric_limits<uint64_t>::max() : q.limit;
  for (auto i = start; i != st.by_serial.rend(); ++i) {
    auto& info = st.jobs[i->second].info;
    if (!matches(q, info))
      continue;
    if (page.jobs.size() == limit) {
      page.next_cursor = "c" + std::to_string(page.jobs.back().serial);
      break;
    }
    page.jobs.push_back(info);
    if (info.status == job_status::pending)
      page.jobs.back().queue_position = queue_position(self, info);
  }
  return page;
}

void remove_job(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  job_event ev{transition::removed, i->second.info.status, i->second.info};
  self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
  st.by_serial.erase(i->second.info.serial);
  st.jobs.erase(i);
  publish(self, ev);
}

cleanup_result cleanup(self_ptr self, const cleanup_query& q) {
  auto& st = self->state;
  auto cutoff = q.max_age_ms > 0 ? now_ms() - q.max_age_ms : 0;
  std::vector<std::string> matching; // newest first
  for (auto i = st.by_serial.rbegin(); i != st.by_serial.rend(); ++i) {
    auto& info = st.jobs[i->second].info;
    if (!is_terminal(info.status))
      continue;
    if (!q.statuses.empty()
        && std::find(q.statuses.begin(), q.statuses.end(), info.status)
             == q.statuses.end())
      continue;
    if (!q.session_id.empty() && q.session_id != info.session_id)
      continue;
    if (cutoff > 0 && info.finished_at > cutoff)
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

// Marks a pending job cancelled here, so no offer can start it any more.
void cancel_pending(self_ptr self, entry& e) {
  auto& st = self->state;
  auto& info = e.info;
  st.ready.erase({info.id, info.session_id, info.priority, info.serial});
  info.status = job_status::cancelled;
  st.pending.erase(key_of(info));
  self->send(session_for(self, info.session_id), atom::forget_v, info.id);
}

// Stops every job, then answers; gives up waiting after a bound so that
// shutdown always finishes.
caf::result<bool> shutdown(self_ptr self) {
  auto& st = self->state;
  st.shutting_down = true;
  st.ready.clear();
  auto rp = self->make_response_promise<bool>();
  auto left = std::make_shared<size_t>(st.jobs.size() + 1);
  auto done = [self, rp, left]() mutable {
    if (--*left > 0)
      return;
    for (auto& [id, e] : self->state.jobs)
      self->send_exit(e.handle, caf::exit_reason::user_shutdown);
    for (auto& [id, s] : self->state.sessions)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    rp.deliver(true);
  };
  for (auto& [id, e] : st.jobs)
    self->request(e.handle, std::chrono::milliseconds(1500), atom::shutdown_v)
      .then([done](bool) mutable { done(); },
            [done](caf::error&) mutable { done(); });
  done();
  return rp;
}

} // namespace

scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self,
          scheduler_config config, factory_ptr factory) {
  self->state.config = std::move(config);
  self->state.factory = std::move(factory);
  // Jobs and sessions hold our handle and we hold theirs: take them along
  // when we go, or the cycle would keep them all alive.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, e] : self->state.jobs)
      self->send_exit(e.handle, msg.reason);
    for (auto& [id, s] : self->state.sessions)
      self->send_exit(s, msg.reason);
    self->quit(msg.reason);
  });
  return {
    // Creates a job through its kind and hands it to its session; answers
    // once the session had its say, so the reply tells running or pending.
    [self](atom::submit, job_spec spec) -> caf::result<submit_result> {
      auto& st = self->state;
      if (st.shutting_down)
        return make_tool_error(codes::internal_error, "jobd is shutting down");
      auto kind = st.factory->find(spec.kind);
      if (kind == nullptr)
        return make_tool_error(codes::unknown_job_kind,
                               "Unknown job kind: " + spec.kind);
      if (auto err = kind->validate(spec))
        return make_tool_error(err->code.c_str(), err->message);
      auto& defaults = st.config.defaults;
      if (spec.timeout_ms == use_default)
        spec.timeout_ms = defaults.timeout_ms;
      if (spec.kill_grace_ms == use_default)
        spec.kill_grace_ms = defaults.kill_grace_ms;
      if (spec.output_byte_limit == use_default)
        spec.output_byte_limit
          = static_cast<int64_t>(defaults.output.max_bytes);
      job_context ctx;
      ctx.serial = st.next_serial++;
      ctx.id = make_job_id(ctx.serial);
      ctx.spec = std::move(spec);
      ctx.created_at = now_ms();
      ctx.scheduler = scheduler_actor{self};
      ctx.defaults = defaults;
      auto info = initial_info(ctx);
      auto handle = kind->spawn(self->system(), ctx);
      auto id = ctx.id;
      st.jobs.emplace(id, entry{handle, info});
      st.by_serial.emplace(info.serial, id);
      st.pending.insert(key_of(info));
      log::info("job " + id + " created session=" + info.session_id
                + " command=" + info.command);
      publish(self, {transition::created, job_status::pending, info});
      candidate c{id, info.session_id, info.priority, info.serial};
      auto rp = self->make_response_promise<submit_result>();
      self
        ->request(session_for(self, info.session_id), caf::infinite,
                  atom::enqueue_v, c)
        .then([self, rp, id](bool) mutable {
          submit_result result{id, job_status::pending, 0};
          if (auto e = find(self, id)) {
            result.status = e->info.status;
            if (result.status == job_status::pending)
              result.queue_position = queue_position(self, e->info);
          }
          rp.deliver(std::move(result));
        });
      return rp;
    },
    // Status comes from the job; a pending one gets its queue position here.
    [self](atom::status, const std::string& id) -> caf::result<job_info> {
      auto e = find(self, id);
      if (e == nullptr)
        return not_found(id);
      if (e->info.status != job_status::pending)
        return self->delegate(e->handle, atom::status_v);
      auto rp = self->make_response_promise<job_info>();
      self->request(e->handle, caf::infinite, atom::status_v)
        .then(
          [self, rp](job_info& info) mutable {
            if (info.status == job_status::pending)
              info.queue_position = queue_position(self, info);
            rp.deliver(std::move(info));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    // Output is read from the job's own buffer.
    [self](atom::output, const std::string& id,
           output_query& q) -> caf::result<output_page> {
      auto e = find(self, id);
      if (e == nullptr)
        return not_found(id);
      return self->delegate(e->handle, atom::output_v, std::move(q));
    },
    // A pending job is cancelled here first so that it can never start; the
    // job answers (a running one once its process group is gone).
    [self](atom::cancel, const std::string& id,
           int64_t grace_ms) -> caf::result<cancel_result> {
      auto e = find(self, id);
      if (e == nullptr)
        return not_found(id);
      if (e->info.status == job_status::pending)
        cancel_pending(self, *e);
      return self->delegate(e->handle, atom::cancel_v, grace_ms);
    },
    // Waits are answered by the job itself.
    [self](atom::wait, wait_query& q) -> caf::result<wait_result> {
      auto e = find(self, q.job_id);
      if (e == nullptr)
        return not_found(q.job_id);
      return self->delegate(e->handle, atom::wait_v, std::move(q));
    },
    // Lists from the index, newest first.
    [self](atom::list, const list_query& q) { return list_jobs(self, q); },
    // Removes finished jobs (console_cleanup_jobs and SWEEPER).
    [self](atom::cleanup, const cleanup_query& q) { return cleanup(self, q); },
    // A session offers a job it may start.
    [self](atom::offer, const candidate& c) {
      auto e = find(self, c.job_id);
      if (e == nullptr || e->info.status != job_status::pending)
        return;
      self->state.ready.insert(c);
      dispatch(self);
    },
    // A session takes an offer back; false if the job started meanwhile.
    [self](atom::withdraw, const std::string& id) {
      auto e = find(self, id);
      if (e == nullptr)
        return true;
      auto& info = e->info;
      return self->state.ready.erase(
               {id, info.session_id, info.priority, info.serial})
             > 0;
    },
    // A job started or finished: update the index, free slots, tell others.
    [self](atom::event, job_event& ev) {
      auto& st = self->state;
      auto e = find(self, ev.job.id);
      if (e == nullptr)
        return;
      e->info = ev.job;
      if (ev.job.status != job_status::pending)
        st.pending.erase(key_of(ev.job));
      if (ev.what == transition::finished) {
        if (ev.previous == job_status::running) {
          --st.running;
          self->send(session_for(self, ev.job.session_id), atom::finished_v,
                     ev.job.id);
        }
        const auto& j = ev.job;
        log::info(
          "job " + j.id + " finished status=" + to_string(j.status)
          + " session=" + j.session_id + " command=" + j.command
          + " exit=" + std::to_string(j.exit_code)
          + " signal=" + std::to_string(j.signal) + " duration_ms="
          + std::to_string(j.started_at > 0 ? j.finished_at - j.started_at : 0)
          + (j.error_code.empty() ? "" : " code=" + j.error_code));
      } else if (ev.what == transition::started) {
        log::info("job " + ev.job.id + " started session=" + ev.job.session_id
                  + " pid=" + std::to_string(ev.job.pid));
      }
      publish(self, ev);
      dispatch(self);
    },
    // Adds a listener for lifecycle events.
    [self](atom::subscribe, event_listener& l) {
      self->state.listeners.push_back(std::move(l));
    },
    // Stops all jobs for server shutdown.
    [self](atom::shutdown) { return shutdown(self); },
  };
}

} // namespace jobd

// ENDPOINT's tool calls: each becomes one typed request to the actor that
// serves it (a run-and-wait submit becomes three: submit, wait, the output
// tail), and its reply a line for the client, unless the client cancelled
// the call meanwhile.
#include "actors/endpoint.hpp"

#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>

namespace jobd {

using self_ptr = endpoint_ptr;

namespace {

// True if the reply to `id` should be sent (the call was not cancelled).
// Audits its outcome either way (`error_code` empty: ok).
bool settle(self_ptr self, const std::string& id,
            const std::string& error_code) {
  auto& st = self->state;
  audit_call_end(self, id, error_code);
  unwatch(self, id);
  st.in_flight.erase(id);
  if (st.cancelled.erase(id) == 0)
    return true;
  call_ended(self, id, false);
  return false;
}

// The reply to a settled call: to the client, and its latency measured.
void reply_to(self_ptr self, const std::string& id, std::string line) {
  reply(self, std::move(line));
  call_ended(self, id, true);
}

template <class Result> auto on_result(self_ptr self, std::string id) {
  return [self, id](Result& result) {
    if (settle(self, id, {}))
      reply_to(self, id,
               self->state.session.render_result(
                 id, protocol::tool_result{std::move(result)}));
  };
}

auto on_error(self_ptr self, std::string id) {
  return [self, id](caf::error& err) {
    auto failure = to_tool_error(self->system(), err);
    if (settle(self, id, failure.code))
      reply_to(self, id, self->state.session.render_error(id, failure));
  };
}

// console_execute_async with options.waitMs: the job's status once it ended
// or the time is up, and the tail of its output.
void run_and_wait(self_ptr self, const std::string& id,
                  const std::string& token, submit_result& submitted,
                  const job_spec& spec) {
  auto& sched = self->state.scheduler;
  if (!token.empty())
    watch(self, id, token, {submitted.job_id}, false, false);
  wait_query q;
  q.job_id = submitted.job_id;
  q.timeout_ms = spec.wait_ms;
  q.until = wait_until::exit;
  output_query tail;
  tail.latest = true;
  tail.tail_lines = spec.wait_tail_lines;
  tail.max_bytes = spec.wait_max_bytes;
  auto reply = std::make_shared<submit_reply>();
  reply->result = std::move(submitted);
  reply->waited = true;
  self->request(sched, caf::infinite, atom::wait_v, std::move(q))
    .then(
      [self, id, reply, tail](wait_result& waited) {
        reply->job = std::move(waited.job);
        auto job_id = reply->job.id;
        self
          ->request(self->state.scheduler, caf::infinite, atom::output_v,
                    job_id, tail)
          .then(
            [self, id, reply](output_page& page) {
              reply->output = std::move(page);
              on_result<submit_reply>(self, id)(*reply);
            },
            on_error(self, id));
      },
      on_error(self, id));
}

// Submits a job (console_execute_async, also from a template): answered
// at once, or with options.waitMs once it ended or the time is up.
void submit_now(self_ptr self, const std::string& id, const std::string& token,
                job_spec spec) {
  auto& sched = self->state.scheduler;
  if (spec.wait_ms <= 0) {
    self->request(sched, caf::infinite, atom::submit_v, std::move(spec))
      .then(
        [self, id](submit_result& r) {
          submit_reply reply{std::move(r), false, {}, {}};
          on_result<submit_reply>(self, id)(reply);
        },
        on_error(self, id));
    return;
  }
  auto kept = std::make_shared<job_spec>(spec);
  self->request(sched, caf::infinite, atom::submit_v, std::move(spec))
    .then([self, id, token,
           kept](submit_result& r) { run_and_wait(self, id, token, r, *kept); },
          on_error(self, id));
}

// Scoped: the job's session goes into the principal's namespace, and a
// non-admin's dependencies must be its own (another principal's job is an
// unknown dependency).
void submit_job(self_ptr self, const std::string& id, const std::string& token,
                job_spec spec) {
  auto& cfg = self->state.config;
  if (!cfg.scoped) {
    submit_now(self, id, token, std::move(spec));
    return;
  }
  scope_spec(self, spec);
  if (cfg.admin || spec.depends_on.empty()) {
    submit_now(self, id, token, std::move(spec));
    return;
  }
  auto held = std::make_shared<job_spec>(std::move(spec));
  auto deps = held->depends_on;
  check_owners(
    self, std::move(deps),
    [self, id, token, held] { submit_now(self, id, token, std::move(*held)); },
    [self, id](const std::string& dep) {
      auto err = unknown_dependency(dep);
      on_error(self, id)(err);
    },
    on_error(self, id));
}

const protocol::tool_catalog& catalog(self_ptr self) {
  auto& tools = self->state.config.tools;
  return tools ? *tools : *protocol::default_catalog();
}

// A tool served by another actor than SCHEDULER, which may be missing in a
// configuration without it (tests): the call fails instead of hanging.
template <class Handle>
bool require(self_ptr self, const std::string& id, const Handle& handle,
             const char* what) {
  if (handle)
    return true;
  auto err = make_tool_error(codes::internal_error,
                             std::string{what} + " is not available");
  on_error(self, id)(err);
  return false;
}

struct call_visitor {
  self_ptr self;
  const std::string& id;
  const std::string& token;

  scheduler_actor& sched() {
    return self->state.scheduler;
  }

  void operator()(job_spec& spec) {
    submit_job(self, id, token, std::move(spec));
  }
  // The template comes from the STORE; instantiating it (substitution,
  // the call's options over the template's, the same checks as any
  // submit) is protocol work done here, off SCHEDULER.
  void operator()(protocol::template_call& call) {
    auto& store = self->state.config.store;
    if (!require(self, id, store, "the template store"))
      return;
    auto name = call.name;
    self
      ->request(store, caf::infinite, atom::templates_v, atom::get_v,
                std::move(name))
      .then(
        [self{self}, id{id}, token{token},
         call{std::move(call)}](job_template& tpl) {
          job_spec spec;
          tool_error err;
          if (!protocol::instantiate(catalog(self), tpl, call, spec, err)) {
            if (settle(self, id, err.code))
              reply_to(self, id, self->state.session.render_error(id, err));
            return;
          }
          submit_job(self, id, token, std::move(spec));
        },
        on_error(self, id));
  }
  void operator()(schedule_spec& x) {
    auto& to = self->state.config.schedules;
    if (require(self, id, to, "the schedule service"))
      self
        ->request(to, caf::infinite, atom::schedules_v, atom::submit_v,
                  std::move(x))
        .then(on_result<schedule_info>(self, id), on_error(self, id));
  }
  void operator()(schedule_update& x) {
    auto& to = self->state.config.schedules;
    if (require(self, id, to, "the schedule service"))
      self
        ->request(to, caf::infinite, atom::schedules_v, atom::put_v,
                  std::move(x))
        .then(on_result<schedule_info>(self, id), on_error(self, id));
  }
  void operator()(protocol::list_schedules_call&) {
    auto& to = self->state.config.schedules;
    if (require(self, id, to, "the schedule service"))
      self->request(to, caf::infinite, atom::schedules_v, atom::list_v)
        .then(on_result<schedule_list>(self, id), on_error(self, id));
  }
  void operator()(protocol::delete_schedule_call& x) {
    auto& to = self->state.config.schedules;
    if (require(self, id, to, "the schedule service"))
      self
        ->request(to, caf::infinite, atom::schedules_v, atom::erase_v,
                  std::move(x.id))
        .then(on_result<delete_result>(self, id), on_error(self, id));
  }
  void operator()(job_template& x) {
    auto& to = self->state.config.store;
    if (require(self, id, to, "the template store"))
      self
        ->request(to, caf::infinite, atom::templates_v, atom::put_v,
                  std::move(x))
        .then(on_result<job_template>(self, id), on_error(self, id));
  }
  void operator()(protocol::list_templates_call&) {
    auto& to = self->state.config.store;
    if (require(self, id, to, "the template store"))
      self->request(to, caf::infinite, atom::templates_v, atom::list_v)
        .then(on_result<template_list>(self, id), on_error(self, id));
  }
  void operator()(protocol::delete_template_call& x) {
    auto& to = self->state.config.store;
    if (require(self, id, to, "the template store"))
      self
        ->request(to, caf::infinite, atom::templates_v, atom::erase_v,
                  std::move(x.name))
        .then(on_result<delete_result>(self, id), on_error(self, id));
  }
  void operator()(std::string& job_id) {
    self->request(sched(), caf::infinite, atom::status_v, std::move(job_id))
      .then(on_result<job_info>(self, id), on_error(self, id));
  }
  void operator()(protocol::output_call& x) {
    self
      ->request(sched(), caf::infinite, atom::output_v, std::move(x.job_id),
                x.query)
      .then(on_result<output_page>(self, id), on_error(self, id));
  }
  void operator()(protocol::cancel_call& x) {
    self
      ->request(sched(), caf::infinite, atom::cancel_v, std::move(x.job_id),
                x.grace_ms)
      .then(on_result<cancel_result>(self, id), on_error(self, id));
  }
  void operator()(list_query& q) {
    self->request(sched(), caf::infinite, atom::list_v, std::move(q))
      .then(on_result<list_page>(self, id), on_error(self, id));
  }
  void operator()(protocol::metrics_call&) {
    auto& cfg = self->state.config;
    if (!cfg.scoped || cfg.admin) {
      self->request(self->state.metrics, caf::infinite, atom::metrics_v)
        .then(on_result<metrics_snapshot>(self, id), on_error(self, id));
      return;
    }
    // Global counters stay global; per-session entries only of the
    // namespace.
    self->request(self->state.metrics, caf::infinite, atom::metrics_v)
      .then(
        [self{self}, id{id}](metrics_snapshot& m) {
          scope_metrics(self, m);
          on_result<metrics_snapshot>(self, id)(m);
        },
        on_error(self, id));
  }
  void operator()(cleanup_query& q) {
    self->request(sched(), caf::infinite, atom::cleanup_v, std::move(q))
      .then(on_result<cleanup_result>(self, id), on_error(self, id));
  }
  void operator()(wait_query& q) {
    if (!token.empty())
      watch(self, id, token, {q.job_id}, false, false);
    self->request(sched(), caf::infinite, atom::wait_v, std::move(q))
      .then(on_result<wait_result>(self, id), on_error(self, id));
  }
  void operator()(wait_many_query& q) {
    if (!token.empty())
      watch(self, id, token, q.job_ids, true, q.all);
    self->request(sched(), caf::infinite, atom::wait_v, std::move(q))
      .then(on_result<wait_many_result>(self, id), on_error(self, id));
  }
  void operator()(input_request& x) {
    self
      ->request(sched(), caf::infinite, atom::input_v, std::move(x.job_id),
                std::move(x.text), x.close)
      .then(on_result<input_result>(self, id), on_error(self, id));
  }
  void operator()(signal_request& x) {
    self
      ->request(sched(), caf::infinite, atom::signal_v, std::move(x.job_id),
                x.signal, x.whole_tree)
      .then(on_result<signal_result>(self, id), on_error(self, id));
  }
  void operator()(pause_request& x) {
    self
      ->request(sched(), caf::infinite, atom::pause_v, std::move(x.job_id),
                x.pause)
      .then(on_result<job_info>(self, id), on_error(self, id));
  }
  void operator()(resize_request& x) {
    self
      ->request(sched(), caf::infinite, atom::resize_v, std::move(x.job_id),
                x.cols, x.rows)
      .then(on_result<job_info>(self, id), on_error(self, id));
  }
  void operator()(restart_request& x) {
    self->request(sched(), caf::infinite, atom::start_v, std::move(x))
      .then(on_result<submit_result>(self, id), on_error(self, id));
  }
};

} // namespace

void dispatch_call(self_ptr self, protocol::dispatch_call& call) {
  auto& st = self->state;
  st.in_flight.insert(call.id);
  if (!st.config.scoped) {
    std::visit(call_visitor{self, call.id, call.progress_token}, call.request);
    return;
  }
  scope_request(self, call.request);
  auto ids
    = st.config.admin ? std::vector<std::string>{} : named_jobs(call.request);
  if (ids.empty()) {
    std::visit(call_visitor{self, call.id, call.progress_token}, call.request);
    return;
  }
  // A non-admin's call naming jobs: each must be in its namespace (one
  // owner request); another principal's job answers what an unknown one
  // does.
  auto held = std::make_shared<protocol::dispatch_call>(std::move(call));
  check_owners(
    self, std::move(ids),
    [self, held] {
      if (self->state.cancelled.count(held->id) != 0) {
        settle(self, held->id, {});
        return;
      }
      std::visit(call_visitor{self, held->id, held->progress_token},
                 held->request);
    },
    [self, id{held->id}](const std::string& job_id) {
      auto err = unknown_job(job_id);
      on_error(self, id)(err);
    },
    on_error(self, held->id));
}

void audit_call_end(self_ptr self, const std::string& id,
                    const std::string& error_code) {
  auto& st = self->state;
  auto i = st.audited.find(id);
  if (i == st.audited.end())
    return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - i->second.start)
              .count();
  self->send(st.config.audit, atom::audit_v, st.session_id,
             std::move(i->second.tool), std::move(i->second.arguments),
             error_code, static_cast<int64_t>(ms));
  st.audited.erase(i);
}

void watch(self_ptr self, const std::string& id, const std::string& token,
           const std::vector<std::string>& job_ids, bool many, bool all) {
  auto& st = self->state;
  auto& mine = st.watched_jobs[id];
  if (many)
    st.many[id] = {job_ids.size(), all, 0, 0};
  for (auto& job : job_ids) {
    st.watches[job].push_back({id, token, 0, many});
    mine.push_back(job);
  }
}

void unwatch(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.watched_jobs.find(id);
  if (i == st.watched_jobs.end())
    return;
  for (auto& job : i->second) {
    auto j = st.watches.find(job);
    if (j == st.watches.end())
      continue;
    auto& list = j->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](auto& w) { return w.request_id == id; }),
               list.end());
    if (list.empty())
      st.watches.erase(j);
  }
  st.watched_jobs.erase(i);
  st.many.erase(id);
}

} // namespace jobd

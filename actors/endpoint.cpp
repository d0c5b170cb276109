#include "actors/endpoint.hpp"

#include "actors/audit_format.hpp"
#include "actors/logger.hpp"
#include "actors/unexpected.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/render.hpp"
#include "protocol/resources.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <unistd.h>
#include <utility>
#include <variant>

namespace jobd {

using self_ptr = endpoint_ptr;

// A response (result or error): never dropped. The sink queues what the
// client does not take yet, so this never waits for the client.
void reply(self_ptr self, std::string line) {
  self->state.config.out->send(std::move(line), message_kind::reply);
}

// A notification. One with a `key` replaces a queued older one with the same
// key (only the newest progress, update or list change matters); one without
// (a log message) may be dropped while the client does not read.
void notify_client(self_ptr self, std::string line, std::string key) {
  self->state.config.out->send(std::move(line), message_kind::notification,
                               std::move(key));
}

namespace {

// What the client is told after keyless notifications were dropped. Only
// log messages are keyless, and they are sent at warning or below, so a
// client that lost some also accepts this warning.
std::string drop_notice(uint64_t dropped) {
  return protocol::render_log_message(
    protocol::log_level::warning, "jobd",
    "{\"event\":\"notifications.dropped\",\"dropped\":"
      + std::to_string(dropped)
      + ",\"message\":\"log messages were dropped while the client did "
        "not read\"}");
}

// resources/list: one page of jobs from the index.
void list_resources(self_ptr self, protocol::resource_list_call& call) {
  list_query q;
  q.limit = protocol::resource_page_jobs;
  q.cursor = std::move(call.cursor);
  auto& cfg = self->state.config;
  if (cfg.scoped && !cfg.admin)
    q.session_prefix = protocol::session_prefix(cfg.principal);
  auto id = call.id;
  self->request(self->state.scheduler, caf::infinite, atom::list_v, q)
    .then(
      [self, id](list_page& page) {
        reply(self, protocol::render_resource_list(id, page));
      },
      [self, id](caf::error&) {
        reply(self, protocol::render_rpc_error(
                      id, protocol::rpc_code::invalid_params,
                      "cursor is not a cursor from this server"));
      });
}

// resources/read: a job's status or its newest output.
void read_job_resource(self_ptr self, protocol::resource_read_call& call) {
  auto& sched = self->state.scheduler;
  auto id = call.id;
  auto uri = call.uri;
  auto not_found = [self, id, uri](caf::error&) {
    reply(self,
          protocol::render_rpc_error(id, protocol::rpc_code::resource_not_found,
                                     "Resource not found: " + uri));
  };
  if (!call.output) {
    self->request(sched, caf::infinite, atom::status_v, call.job_id)
      .then(
        [self, id, uri](job_info& job) {
          reply(self, protocol::render_resource_status(id, uri, job));
        },
        not_found);
    return;
  }
  output_query q;
  q.latest = true;
  q.max_bytes = protocol::resource_output_bytes;
  self->request(sched, caf::infinite, atom::output_v, call.job_id, q)
    .then(
      [self, id, uri](output_page& page) {
        reply(self, protocol::render_resource_output(id, uri, page));
      },
      not_found);
}

// A non-admin reads only its namespace's jobs: another principal's job is
// a resource that does not exist.
void read_resource(self_ptr self, protocol::resource_read_call& call) {
  auto& cfg = self->state.config;
  if (!cfg.scoped || cfg.admin) {
    read_job_resource(self, call);
    return;
  }
  auto held = std::make_shared<protocol::resource_read_call>(std::move(call));
  auto not_found = [self, held](auto&&...) {
    reply(self, protocol::render_rpc_error(
                  held->id, protocol::rpc_code::resource_not_found,
                  "Resource not found: " + held->uri));
  };
  check_owners(
    self, {held->job_id}, [self, held] { read_job_resource(self, *held); },
    [not_found](const std::string&) { not_found(); },
    [not_found](caf::error&) { not_found(); });
}

// The MCP log level of a lifecycle event, and its name.
std::pair<protocol::log_level, const char*> describe(const job_event& ev) {
  using protocol::log_level;
  switch (ev.what) {
    case transition::created:
      // A schedule's firing is worth telling; other new jobs were asked for.
      if (!ev.job.schedule_id.empty())
        return {log_level::info, "schedule.fired"};
      return {log_level::debug, "job.created"};
    case transition::started:
      return {log_level::info, "job.started"};
    case transition::finished:
      switch (ev.job.status) {
        case job_status::failed:
          return {log_level::warning, "job.failed"};
        case job_status::cancelled:
          return {log_level::notice, "job.cancelled"};
        default:
          return {log_level::info, "job.completed"};
      }
    case transition::updated:
      return {log_level::debug, "job.updated"};
    case transition::retrying:
      return {log_level::warning, "job.retrying"};
    case transition::removed:
      break;
  }
  return {log_level::debug, "job.removed"};
}

using progress_watch = endpoint_state::progress_watch;
using progress_scale = progress_watch::progress_scale;

// The scale a job's progress reading is told in: its count (with the
// total), else its percentage (of 100), else a count without a total.
progress_scale scale_of(const job_progress& p) {
  if (p.total > 0 && p.current >= 0)
    return progress_scale::count;
  if (p.percent >= 0)
    return progress_scale::percent;
  if (p.current >= 0)
    return progress_scale::current;
  return progress_scale::output;
}

// The value and total of a single wait's next notification, in the watch's
// scale; false if there is none. Until the job's progress is known it is
// the output's sequence number (no total); from its first reading on, the
// job's progress in the scale of that reading, and later readings in the
// same scale (a percentage of a count's total, a count as a percentage):
// progress then always says what the job says, and never goes down again.
bool single_progress(progress_watch& w, uint64_t last_sequence,
                     const job_progress& p, double& value, double& total) {
  if (w.scale == progress_scale::output && p.known) {
    auto scale = scale_of(p);
    if (scale != progress_scale::output) {
      w.scale = scale;
      w.fresh = true;
    }
  }
  switch (w.scale) {
    case progress_scale::output:
      value = static_cast<double>(last_sequence);
      total = 0;
      return true;
    case progress_scale::count:
      if (p.total > 0 && p.current >= 0) {
        w.total = p.total;
        value = p.current;
      } else if (p.percent >= 0) {
        value = p.percent * w.total / 100;
      } else {
        return false;
      }
      total = w.total;
      return true;
    case progress_scale::percent:
      if (p.percent < 0)
        return false;
      value = p.percent;
      total = 100;
      return true;
    case progress_scale::current:
      if (p.current < 0)
        return false;
      value = p.current;
      total = p.total > 0 ? p.total : 0;
      return true;
  }
  return false;
}

// Progress of waits and output resource updates for a job whose output grew
// (or that ended: its output is complete).
void notify_output(self_ptr self, const std::string& job_id,
                   uint64_t last_sequence, const job_progress& progress,
                   bool ended) {
  auto& st = self->state;
  if (auto i = st.watches.find(job_id); i != st.watches.end()) {
    for (auto& w : i->second) {
      // Progress values must increase: each is sent only past the last
      // one of its scale.
      double value = 0;
      double total = 0;
      std::string message;
      // The end that ends a wait is followed by its reply at once: a
      // notification right before the reply can reach a client after it
      // (the TypeScript SDK handles notifications later than responses),
      // which it reports as progress for an unknown token. So the end of a
      // job is told only by the reply, except in a wait for all of many.
      auto m = w.many ? st.many.find(w.request_id) : st.many.end();
      if (w.many && m != st.many.end()) {
        auto& many = m->second;
        if (ended) {
          if (!many.all || ++many.ended >= many.jobs)
            continue;
          // Waiting for all: how many ended.
          value = static_cast<double>(many.ended);
          total = static_cast<double>(many.jobs);
          message = std::to_string(many.ended) + " of "
                    + std::to_string(many.jobs) + " jobs ended";
        } else {
          // Any of many: the output of all of them together.
          many.output += 1;
          if (many.all)
            continue;
          value = static_cast<double>(many.output);
          message = "output of " + std::to_string(many.jobs) + " jobs";
        }
      } else if (ended) {
        continue;
      } else if (!single_progress(w, last_sequence, progress, value, total)) {
        continue;
      } else if (w.scale == progress_scale::output) {
        message = "output up to sequence " + std::to_string(last_sequence);
      } else {
        message = progress.text;
      }
      if (!w.fresh && value <= w.last)
        continue;
      if (w.fresh && w.scale == progress_scale::output && value <= 0)
        continue;
      w.fresh = false;
      w.last = value;
      notify_client(self,
                    protocol::render_progress(w.token, value, total, message),
                    "progress " + w.token);
    }
  }
  if (st.session.has_subscriptions()) {
    auto uri = protocol::output_uri(job_id);
    if (st.session.subscribed(uri))
      notify_client(self, protocol::render_resource_updated(uri),
                    "updated " + uri);
  }
}

// Notifications a lifecycle event causes: resource updates, list changes
// (coalesced) and log messages. Each only if the client asked.
void notify(self_ptr self, const job_event& ev) {
  auto& st = self->state;
  auto& session = st.session;
  auto& job = ev.job;
  if (session.has_subscriptions()) {
    auto uri = protocol::status_uri(job.id);
    if (session.subscribed(uri))
      notify_client(self, protocol::render_resource_updated(uri),
                    "updated " + uri);
  }
  if (ev.what == transition::finished)
    notify_output(self, job.id, job.output.last_sequence, job.progress, true);
  // Unasked-for notifications only once the MCP handshake is complete.
  if ((ev.what == transition::created || ev.what == transition::removed)
      && session.client_ready()) {
    st.list_changed = true;
    if (!st.tick_scheduled) {
      st.tick_scheduled = true;
      self->delayed_send(self, std::chrono::milliseconds(100), atom::tick_v);
    }
  }
  auto [level, name] = describe(ev);
  if (session.should_log(level))
    notify_client(self, protocol::render_log_message(
                          level, "jobd", protocol::job_event_json(name, job)));
}

// Audits a tools/call or initialize line once the session handled it: a
// dispatched call when its reply comes (audit_call_end), one the session
// answered itself (unknown tool, invalid arguments) now, with the error
// code of that answer.
void audit_request(self_ptr self, audit_format::request_view& req,
                   const protocol::action& action,
                   const std::vector<std::string>& replies,
                   std::chrono::steady_clock::time_point start) {
  auto& st = self->state;
  if (req.method == "initialize") {
    self->send(st.config.audit, atom::audit_v, atom::start_v, st.session_id,
               std::move(req.client_name), std::move(req.client_version));
    return;
  }
  if (auto call = std::get_if<protocol::dispatch_call>(&action)) {
    st.audited[call->id]
      = {std::move(req.tool), std::move(req.arguments), start};
    return;
  }
  // A notification is never answered: not a call the server handled.
  if (req.id.empty() || replies.empty())
    return;
  auto code = audit_format::reply_error_code(replies.front());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - start)
              .count();
  self->send(st.config.audit, atom::audit_v, st.session_id, std::move(req.tool),
             std::move(req.arguments), std::move(code),
             static_cast<int64_t>(ms));
}

// What a line asks of the other actors: a tool call, the cancel of one, a
// resource read or listing.
void act(self_ptr self, protocol::action& action) {
  auto& st = self->state;
  if (auto call = std::get_if<protocol::dispatch_call>(&action)) {
    dispatch_call(self, *call);
  } else if (auto cancel = std::get_if<protocol::cancel_request>(&action)) {
    if (st.in_flight.count(cancel->id) != 0) {
      st.cancelled.insert(cancel->id);
      unwatch(self, cancel->id);
    }
  } else if (auto list = std::get_if<protocol::resource_list_call>(&action)) {
    list_resources(self, *list);
  } else if (auto read = std::get_if<protocol::resource_read_call>(&action)) {
    read_resource(self, *read);
  }
}

// Stops every job, then tells the owner; later lines are ignored. An
// ENDPOINT that does not own the server (an HTTP session's) just goes: the
// jobs keep running, and replies to its requests still under way are
// dropped by CAF (it is gone; nothing of it runs).
void stop(self_ptr self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  self->send(st.scheduler, atom::unsubscribe_v, event_listener{self});
  if (!st.config.owns_server) {
    self->quit();
    return;
  }
  self->request(st.scheduler, caf::infinite, atom::shutdown_v)
    .then(
      [self](bool) {
        if (self->state.config.on_stopped)
          self->state.config.on_stopped();
      },
      [self](caf::error&) {
        if (self->state.config.on_stopped)
          self->state.config.on_stopped();
      });
}

} // namespace

endpoint_actor::behavior_type
endpoint(endpoint_actor::stateful_pointer<endpoint_state> self,
         scheduler_actor scheduler, metrics_actor metrics,
         endpoint_config config) {
  self->set_default_handler(log_and_drop);
  auto& st = self->state;
  st.scheduler = std::move(scheduler);
  st.metrics = std::move(metrics);
  st.config = std::move(config);
  st.ready = st.scheduler != nullptr;
  if (st.config.tools)
    st.session = protocol::mcp_session{st.config.tools};
  st.session_id = !st.config.session_id.empty()
                    ? st.config.session_id
                    : "mcp-" + std::to_string(::getpid()) + "-"
                        + std::to_string(self->id());
  // A client we can no longer write to ends the session as stdin EOF does.
  // The sink calls from its own thread and holds only a weak reference, so
  // it neither runs ENDPOINT code nor keeps it alive; it stops calling once
  // ENDPOINT is gone.
  caf::weak_actor_ptr weak{self->ctrl()};
  st.config.out->attach({[weak] {
                           if (auto h = caf::actor_cast<endpoint_actor>(weak))
                             caf::anon_send(h, atom::shutdown_v);
                         },
                         drop_notice});
  self->attach_functor([out = st.config.out] { out->attach({}); });
  return {
    // One line from the client.
    [self](atom::line, const std::string& line) {
      auto& st = self->state;
      if (st.config.input)
        st.config.input->line_handled(line.size());
      if (st.stopping)
        return;
      std::vector<std::string> replies;
      audit_format::request_view req;
      auto start = std::chrono::steady_clock::now();
      bool parsed = (st.config.audit || st.config.latency)
                    && audit_format::read_request(line, req);
      bool audited = parsed && st.config.audit;
      bool timed = parsed && st.config.latency && req.method == "tools/call";
      std::string tool;
      if (timed)
        tool = req.tool;
      auto action = st.session.handle_line(line, replies);
      if (audited)
        audit_request(self, req, action, replies, start);
      for (auto& text : replies)
        reply(self, std::move(text));
      auto call = std::get_if<protocol::dispatch_call>(&action);
      if (timed) {
        if (call != nullptr)
          st.timed[call->id] = {std::move(tool), start};
        else if (!replies.empty())
          // Answered at once (an unknown tool, invalid arguments).
          st.config.latency->observe(tool,
                                     std::chrono::duration<double>(
                                       std::chrono::steady_clock::now() - start)
                                       .count());
      }
      if (std::holds_alternative<std::monostate>(action))
        return;
      if (st.ready)
        act(self, action);
      else
        st.held.push_back(std::move(action));
    },
    // A line over the size limit was skipped.
    [self](atom::line, uint64_t length) {
      if (self->state.config.input)
        self->state.config.input->line_handled(0);
      reply(self,
            protocol::rpc_error(
              "", protocol::rpc_code::invalid_request,
              "Message too large: " + std::to_string(length) + " bytes (limit "
                + std::to_string(self->state.config.max_line_bytes) + ")"));
    },
    // stdin closed or a signal arrived.
    [self](atom::shutdown) {
      if (self->state.ready)
        stop(self);
      else
        self->state.shutdown_held = true;
    },
    [self](atom::start, scheduler_actor& scheduler, metrics_actor& metrics,
           store_actor& store, schedules_actor& schedules) {
      auto& st = self->state;
      if (st.ready)
        return;
      st.scheduler = std::move(scheduler);
      st.metrics = std::move(metrics);
      st.config.store = std::move(store);
      st.config.schedules = std::move(schedules);
      st.ready = true;
      for (auto& action : std::exchange(st.held, {}))
        act(self, action);
      if (std::exchange(st.shutdown_held, false))
        stop(self);
    },
    // A job changed: notifications for the client, if it asked for them.
    [self](atom::event, const job_event& ev) {
      if (!self->state.stopping && in_namespace(self, ev.job.session_id))
        notify(self, ev);
    },
    // A job's output grew.
    [self](atom::output, const output_news& news) {
      if (!self->state.stopping && in_namespace(self, news.session_id))
        notify_output(self, news.job_id, news.output.last_sequence,
                      news.progress, false);
    },
    // Coalesced notifications are due.
    [self](atom::tick) {
      auto& st = self->state;
      st.tick_scheduled = false;
      if (st.list_changed && !st.stopping) {
        st.list_changed = false;
        notify_client(self, protocol::render_resource_list_changed(),
                      "list_changed");
      }
    },
  };
}

} // namespace jobd

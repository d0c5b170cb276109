#include "actors/endpoint.hpp"

#include "actors/logger.hpp"
#include "protocol/jsonrpc.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <cerrno>
#include <sys/uio.h>
#include <unistd.h>

namespace jobd {

namespace {

using self_ptr = endpoint_actor::stateful_pointer<endpoint_state>;

void stop(self_ptr self);

// Writes one message and its newline; a client that went away stops us.
void write_line(self_ptr self, const std::string& line) {
  auto fd = self->state.config.out_fd;
  char nl = '\n';
  iovec parts[2] = {{const_cast<char*>(line.data()), line.size()}, {&nl, 1}};
  size_t left = line.size() + 1;
  int i = 0;
  while (left > 0) {
    auto n = ::writev(fd, parts + i, 2 - i);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      log::warning("cannot write to the client, shutting down");
      stop(self);
      return;
    }
    left -= static_cast<size_t>(n);
    // Skip what was written, across the two parts.
    while (i < 2 && static_cast<size_t>(n) >= parts[i].iov_len) {
      n -= static_cast<ssize_t>(parts[i].iov_len);
      ++i;
    }
    if (i < 2) {
      parts[i].iov_base = static_cast<char*>(parts[i].iov_base) + n;
      parts[i].iov_len -= static_cast<size_t>(n);
    }
  }
}

// True if the reply to `id` should be sent (the call was not cancelled).
bool settle(self_ptr self, const std::string& id) {
  auto& st = self->state;
  st.in_flight.erase(id);
  return st.cancelled.erase(id) == 0;
}

template <class Result>
auto on_result(self_ptr self, std::string id) {
  return [self, id](Result& result) {
    if (settle(self, id))
      write_line(self, self->state.session.render_result(
                         id, protocol::tool_result{std::move(result)}));
  };
}

auto on_error(self_ptr self, std::string id) {
  return [self, id](caf::error& err) {
    if (settle(self, id))
      write_line(self, self->state.session.render_error(
                         id, to_tool_error(self->system(), err)));
  };
}

// Sends one tool call to the actor that serves it.
void dispatch(self_ptr self, protocol::dispatch_call& call) {
  auto& st = self->state;
  auto& id = call.id;
  st.in_flight.insert(id);
  auto& sched = st.scheduler;
  auto forever = caf::infinite;
  struct visitor {
    self_ptr self;
    const std::string& id;
    scheduler_actor& sched;
    caf::infinite_t forever;
    void operator()(job_spec& spec) {
      self->request(sched, forever, atom::submit_v, std::move(spec))
        .then(on_result<submit_result>(self, id), on_error(self, id));
    }
    void operator()(std::string& job_id) {
      self->request(sched, forever, atom::status_v, std::move(job_id))
        .then(on_result<job_info>(self, id), on_error(self, id));
    }
    void operator()(protocol::output_call& x) {
      self->request(sched, forever, atom::output_v, std::move(x.job_id), x.query)
        .then(on_result<output_page>(self, id), on_error(self, id));
    }
    void operator()(protocol::cancel_call& x) {
      self->request(sched, forever, atom::cancel_v, std::move(x.job_id),
                    x.grace_ms)
        .then(on_result<cancel_result>(self, id), on_error(self, id));
    }
    void operator()(list_query& q) {
      self->request(sched, forever, atom::list_v, std::move(q))
        .then(on_result<list_page>(self, id), on_error(self, id));
    }
    void operator()(protocol::metrics_call&) {
      self->request(self->state.metrics, forever, atom::metrics_v)
        .then(on_result<metrics_snapshot>(self, id), on_error(self, id));
    }
    void operator()(cleanup_query& q) {
      self->request(sched, forever, atom::cleanup_v, std::move(q))
        .then(on_result<cleanup_result>(self, id), on_error(self, id));
    }
    void operator()(wait_query& q) {
      self->request(sched, forever, atom::wait_v, std::move(q))
        .then(on_result<wait_result>(self, id), on_error(self, id));
    }
  };
  std::visit(visitor{self, id, sched, forever}, call.request);
}

// Stops every job, then tells the owner; later lines are ignored.
void stop(self_ptr self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  self->request(st.scheduler, caf::infinite, atom::shutdown_v)
    .then([self](bool) {
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
  auto& st = self->state;
  st.scheduler = std::move(scheduler);
  st.metrics = std::move(metrics);
  st.config = std::move(config);
  return {
    // One line from the client.
    [self](atom::line, const std::string& line) {
      auto& st = self->state;
      if (st.stopping)
        return;
      std::vector<std::string> replies;
      auto action = st.session.handle_line(line, replies);
      for (auto& reply : replies)
        write_line(self, reply);
      if (auto call = std::get_if<protocol::dispatch_call>(&action)) {
        dispatch(self, *call);
      } else if (auto cancel = std::get_if<protocol::cancel_request>(&action)) {
        if (st.in_flight.count(cancel->id) != 0)
          st.cancelled.insert(cancel->id);
      }
    },
    // A line over the size limit was skipped.
    [self](atom::line, uint64_t length) {
      write_line(self, protocol::rpc_error(
                         "", protocol::rpc_code::invalid_request,
                         "Message too large: " + std::to_string(length)
                           + " bytes (limit "
                           + std::to_string(self->state.config.max_line_bytes)
                           + ")"));
    },
    // stdin closed or a signal arrived.
    [self](atom::shutdown) { stop(self); },
    // Lifecycle events (notifications come with the MCP notification work).
    [](atom::event, const job_event&) {},
  };
}

} // namespace jobd

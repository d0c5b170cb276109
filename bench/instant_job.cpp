#include "instant_job.hpp"

#include "actors/core/output_buffer.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <vector>

namespace jobd::bench {

namespace {

struct instant_state {
  job_context ctx;
  job_info info;
  output_buffer buffer;
  std::vector<caf::typed_response_promise<wait_result>> waiters;
  static inline const char* name = "instant_job";
};

using self_ptr = job_actor::stateful_pointer<instant_state>;

void finish(self_ptr self, job_status status, int32_t exit_code) {
  auto& st = self->state;
  auto previous = st.info.status;
  st.info.status = status;
  st.info.exit_code = exit_code;
  st.info.finished_at = now_ms();
  self->send(st.ctx.scheduler, atom::event_v,
             job_event{transition::finished, previous, st.info});
  for (auto& rp : st.waiters)
    rp.deliver(wait_result{st.info, st.buffer.read({}), "exit"});
  st.waiters.clear();
}

job_actor::behavior_type instant_job(self_ptr self, job_context ctx) {
  self->state.info = initial_info(ctx);
  self->state.ctx = std::move(ctx);
  return {
    [self](atom::start) {
      auto& st = self->state;
      if (st.info.status != job_status::pending)
        return;
      st.info.status = job_status::running;
      st.info.started_at = now_ms();
      self->send(st.ctx.scheduler, atom::event_v,
                 job_event{transition::started, job_status::pending, st.info});
      finish(self, job_status::completed, 0);
    },
    [self](atom::status) {
      auto info = self->state.info;
      info.output = self->state.buffer.stats();
      return info;
    },
    [self](atom::output, const output_query& q) {
      return self->state.buffer.read(q);
    },
    [self](atom::cancel, int64_t) -> caf::result<cancel_result> {
      auto& st = self->state;
      if (is_terminal(st.info.status))
        return make_tool_error(codes::job_already_finished, "finished");
      finish(self, job_status::cancelled, -1);
      return cancel_result{st.info.id, st.info.status, "cancelled"};
    },
    [self](atom::wait, const wait_query&) -> caf::result<wait_result> {
      auto& st = self->state;
      if (is_terminal(st.info.status))
        return wait_result{st.info, st.buffer.read({}), "exit"};
      st.waiters.push_back(self->make_response_promise<wait_result>());
      return st.waiters.back();
    },
    [self](atom::shutdown) {
      if (!is_terminal(self->state.info.status))
        finish(self, job_status::cancelled, -1);
      return true;
    },
  };
}

} // namespace

std::optional<tool_error> instant_job_kind::validate(job_spec&) const {
  return std::nullopt;
}

job_actor instant_job_kind::spawn(caf::actor_system& sys,
                                  job_context ctx) const {
  return sys.spawn(instant_job, std::move(ctx));
}

void instant_launcher::launch(launch_spec, process_job_actor job) {
  auto pid = next_pid_.fetch_add(1, std::memory_order_relaxed);
  caf::anon_send(job, atom::spawned_v, pid);
  caf::anon_send(job, atom::eof_v, stream_kind::out);
  caf::anon_send(job, atom::eof_v, stream_kind::err);
  caf::anon_send(job, atom::exited_v, int32_t{0});
}

bool instant_launcher::signal_group(int64_t, int) {
  return false;
}

bool instant_launcher::group_alive(int64_t) {
  return false;
}

} // namespace jobd::bench

#include "scripted_job.hpp"

#include "actors/core/output_buffer.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <vector>

namespace jobd::test {

namespace {

struct scripted_state {
  job_context ctx;
  job_info info;
  output_buffer buffer;
  std::vector<caf::typed_response_promise<wait_result>> waiters;
  static inline const char* name = "scripted_job";
};

// The job interface plus its own "done" timer (re-using atom::exited).
using scripted_actor = job_actor::extend<caf::reacts_to<atom::exited>>;

void finish(scripted_actor::stateful_pointer<scripted_state> self,
            job_status status, int32_t exit_code) {
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

scripted_actor::behavior_type
scripted_job(scripted_actor::stateful_pointer<scripted_state> self,
             job_context ctx) {
  self->state.info = initial_info(ctx);
  self->state.ctx = std::move(ctx);
  return {
    [self](atom::start) {
      auto& st = self->state;
      st.info.status = job_status::running;
      st.info.started_at = now_ms();
      self->send(st.ctx.scheduler, atom::event_v,
                 job_event{transition::started, job_status::pending, st.info});
      auto ms = std::stoll(st.ctx.spec.args.at(0));
      self->delayed_send(self, std::chrono::milliseconds(ms), atom::exited_v);
    },
    [self](atom::exited) {
      auto& st = self->state;
      if (st.info.status != job_status::running)
        return;
      st.buffer.append(stream_kind::out, st.ctx.spec.command + "\n", now_ms());
      auto code = static_cast<int32_t>(std::stol(st.ctx.spec.args.at(1)));
      finish(self, code == 0 ? job_status::completed : job_status::failed,
             code);
    },
    [self](atom::status) { return self->state.info; },
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

std::optional<tool_error> scripted_job_kind::validate(job_spec& spec) const {
  if (spec.args.size() != 2)
    return tool_error{codes::invalid_arguments,
                      "scripted jobs take [duration_ms, exit_code]",
                      {}};
  return std::nullopt;
}

job_actor scripted_job_kind::spawn(caf::actor_system& sys,
                                   job_context ctx) const {
  return sys.spawn(scripted_job, std::move(ctx));
}

} // namespace jobd::test

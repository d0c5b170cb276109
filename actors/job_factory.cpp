#include "actors/job_factory.hpp"

#include <unistd.h>

#include <algorithm>

#include "actors/core/job_core.hpp"

namespace jobd {

void job_factory::add(std::string name, std::shared_ptr<const job_kind> kind) {
  kinds_[std::move(name)] = std::move(kind);
}

std::shared_ptr<const job_kind>
job_factory::find(const std::string& name) const {
  auto i = kinds_.find(name);
  return i == kinds_.end() ? nullptr : i->second;
}

std::map<std::string, std::string> job_factory::option_schemas() const {
  std::map<std::string, std::string> result;
  for (auto& [name, kind] : kinds_)
    result.emplace(name, kind->options_schema());
  return result;
}

job_actor job_factory::spawn(caf::actor_system& sys, job_context ctx) const {
  return sys.spawn(job_core, std::move(ctx));
}

job_info initial_info(const job_context& ctx) {
  const auto& spec = *ctx.spec;
  job_info info;
  info.id = ctx.id;
  info.kind = spec.kind;
  info.command = spec.command;
  info.args = spec.args;
  info.shell = spec.shell;
  info.status = job_status::pending;
  info.session_id = spec.session_id;
  info.working_directory = spec.working_directory;
  info.created_at = ctx.created_at;
  info.priority = spec.priority;
  info.timeout_ms = spec.timeout_ms;
  info.tags = spec.tags;
  info.serial = ctx.serial;
  info.owner_instance = ctx.instance;
  info.owner_pid = ctx.instance.empty() ? 0 : ::getpid();
  info.owner_live = !ctx.instance.empty();
  info.input = spec.input;
  info.stdin_open = spec.input != stdin_mode::null;
  if (spec.input == stdin_mode::tty) {
    info.cols = spec.cols;
    info.rows = spec.rows;
  }
  info.restart_of = spec.restart_of;
  info.idempotency_key = spec.idempotency_key;
  info.depends_on = spec.depends_on;
  info.condition = spec.condition;
  info.scheduled_for = spec.start_at;
  info.schedule_id = spec.schedule_id;
  info.template_name = spec.template_name;
  info.security = spec.security;
  info.max_attempts = std::max<int32_t>(spec.retry.max_attempts, 1);
  // A requeued job goes on from its row: its attempts so far, and the
  // rest of its backoff.
  info.attempt = ctx.attempt;
  info.attempts = ctx.attempts;
  info.next_attempt_at = ctx.next_attempt_at;
  // What it waits for until SCHEDULER says otherwise (job_hold).
  if (ctx.next_attempt_at > 0) {
    info.pending_reason = pending_reasons::backoff;
  } else if (!spec.depends_on.empty() && ctx.attempt == 0) {
    info.pending_reason = pending_reasons::dependencies;
    info.waiting_for = spec.depends_on;
  } else if (spec.start_at > now_ms() && ctx.attempt == 0) {
    info.pending_reason = pending_reasons::scheduled;
  } else {
    info.pending_reason = pending_reasons::queued;
  }
  return info;
}

} // namespace jobd

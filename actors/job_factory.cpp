#include "actors/job_factory.hpp"

#include <unistd.h>

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
  const auto& spec = ctx.spec;
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
  return info;
}

} // namespace jobd

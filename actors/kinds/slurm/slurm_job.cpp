#include "actors/kinds/slurm/slurm_job.hpp"

#include "actors/kinds/process/process_job.hpp"

#include <caf/send.hpp>

#include <csignal>
#include <set>
#include <unistd.h>

namespace jobd {

namespace {

// One Slurm job; its calls come from the job's actor and only queue work
// for the worker.
class slurm_backend : public job_backend {
public:
  slurm_backend(std::shared_ptr<slurm_worker> worker, const job_context& ctx,
                std::shared_ptr<const security_policy> policy)
    : worker_(std::move(worker)), ctx_(ctx), policy_(std::move(policy)) {
    // nop
  }

  void start(backend_events sink,
             std::shared_ptr<std::atomic<int64_t>> in_flight) override {
    auto& spec = *ctx_.spec;
    slurm::options opt;
    tool_error err;
    if (!slurm::parse_options(spec.kind_options, opt, err)) {
      caf::anon_send(sink, atom::spawn_failed_v, err.code, err.message);
      return;
    }
    auto timeout = spec.timeout_ms == use_default ? ctx_.defaults.timeout_ms
                                                  : spec.timeout_ms;
    entry_ = std::make_shared<slurm_entry>();
    entry_->jobd_id = ctx_.id;
    entry_->paths = slurm::spool_for(worker_->settings().spool, ctx_.id);
    entry_->sbatch_args
      = slurm::sbatch_args(spec, opt, entry_->paths, ctx_.id, timeout);
    entry_->script = slurm::batch_script(spec, ctx_.id);
    entry_->environment = slurm::submit_environment(
      *policy_, server_environment(), spec.environment);
    entry_->depends_on = spec.depends_on;
    entry_->condition = spec.condition;
    entry_->kind_dependencies = ctx_.kind_dependencies;
    entry_->sink = std::move(sink);
    entry_->in_flight = std::move(in_flight);
    // A job a stopped jobd left in Slurm: followed again by its id, its
    // files read on from what the STORE kept of them.
    slurm::job_view before;
    if (!ctx_.reattach.empty() && slurm::parse_view(ctx_.reattach, before)
        && !before.job_id.empty()) {
      entry_->view = before;
      entry_->offset[0] = static_cast<int64_t>(ctx_.output.stdout_bytes);
      entry_->offset[1] = static_cast<int64_t>(ctx_.output.stderr_bytes);
      worker_->attach(entry_);
      return;
    }
    worker_->submit(entry_);
  }

  bool detach() override {
    return entry_ && worker_->settings().detach && !ended();
  }

  bool signal(int sig, bool whole_tree) override {
    if (!entry_ || ended())
      return false;
    if (sig == SIGTERM || sig == SIGKILL || sig == SIGINT)
      entry_->stopped = true;
    worker_->signal(entry_, sig, whole_tree);
    return true;
  }

  void kill() override {
    if (!entry_)
      return;
    entry_->stopped = true;
    worker_->kill(entry_);
  }

  void describe(job_info& info) const override {
    if (!entry_)
      return;
    std::lock_guard<std::mutex> guard{entry_->mtx};
    info.kind_status = slurm::render_view(entry_->view);
    if (info.status == job_status::running && entry_->end_state.empty()
        && slurm::queued(entry_->view)) {
      // Slurm queues it (or jobd holds it for --max-slurm-jobs): pending,
      // with Slurm's reason in `slurm`.
      info.status = job_status::pending;
      info.pending_reason = pending_reasons::cluster;
      return;
    }
    auto& state = entry_->end_state;
    // Slurm's word on how it ended where the exit status cannot tell
    // (its time limit, a node failure, a cancel from outside jobd); a stop
    // of jobd's own keeps jobd's verdict.
    if (!is_terminal(info.status) || state.empty() || entry_->stopped
        || !info.error_code.empty())
      return;
    auto id = entry_->view.job_id;
    if (state == "LOST") {
      info.status = job_status::failed;
      info.error_code = slurm::slurm_codes::lost;
      info.error = "Slurm forgot job " + id + " before jobd read its end";
      return;
    }
    if (state == "CANCELLED"
        && entry_->end_reason.find("DependencyNeverSatisfied")
             != std::string::npos) {
      // Its dependencies in Slurm ended against its dependencyCondition.
      info.status = job_status::cancelled;
      info.error_code = codes::dependency_failed;
      info.error = "A dependency ended against dependencyCondition; Slurm "
                   "job "
                   + (id.empty() ? std::string{"(not submitted)"} : id)
                   + " never ran";
      return;
    }
    auto m = slurm::map_state(state);
    if (m.error_code.empty())
      return;
    info.status = m.status;
    info.error_code = m.error_code;
    info.error
      = "Slurm job " + id + " ended " + state
        + (entry_->end_reason.empty() ? std::string{}
                                      : " (" + entry_->end_reason + ")");
  }

private:
  bool ended() const {
    std::lock_guard<std::mutex> guard{entry_->mtx};
    return !entry_->end_state.empty();
  }

  std::shared_ptr<slurm_worker> worker_;
  const job_context& ctx_;
  std::shared_ptr<const security_policy> policy_;
  slurm_entry_ptr entry_;
};

} // namespace

slurm_job_kind::slurm_job_kind(slurm_settings settings,
                               std::shared_ptr<const security_policy> policy)
  : worker_(std::make_shared<slurm_worker>(std::move(settings))),
    policy_(std::move(policy)) {
  // nop
}

bool slurm_job_kind::runs_dependencies(const job_spec& spec) const {
  // afternotok:A:B waits for every one of them to fail, jobd's `failure`
  // for any one: the same only with one dependency.
  if (spec.condition != dependency_condition::failure)
    return true;
  std::set<std::string> distinct{spec.depends_on.begin(),
                                 spec.depends_on.end()};
  return distinct.size() == 1;
}

bool slurm_job_kind::takes_slot() const {
  return false; // --max-slurm-jobs bounds them; Slurm has its own queue
}

std::string slurm_job_kind::options_schema() const {
  return slurm::options_schema();
}

std::optional<tool_error> slurm_job_kind::validate(job_spec& spec) const {
  if (worker_->settings().spool.empty())
    return tool_error{codes::not_supported,
                      "Slurm jobs need --slurm-spool (a directory the "
                      "compute nodes share)",
                      {}};
  slurm::options opt;
  tool_error err;
  if (!slurm::parse_options(spec.kind_options, opt, err)
      || !slurm::check_spec(spec, err))
    return err;
  auto& dir = spec.working_directory;
  if (dir.empty() || dir.front() != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) != nullptr)
      dir = dir.empty() ? std::string{cwd} : std::string{cwd} + "/" + dir;
  }
  if (!check_working_directory(dir, err))
    return err;
  if (!policy_->allow_dirs.empty()) {
    std::string why;
    auto real = real_path(dir, why);
    if (!real) {
      tool_error refused{codes::invalid_working_directory,
                         "Working directory " + dir + ": " + why,
                         {}};
      refused.details["workingDirectory"] = json_quote(dir);
      return refused;
    }
    if (auto refused = check_directory(*policy_, *real))
      return refused;
    dir = *real;
  }
  if (spec.shell || !policy_->allow_commands.empty()
      || !policy_->deny_commands.empty())
    if (auto refused
        = check_command(*policy_, spec.shell, spec.command, spec.command))
      return refused;
  return std::nullopt;
}

std::unique_ptr<job_backend>
slurm_job_kind::make_backend(const job_context& ctx) const {
  return std::make_unique<slurm_backend>(worker_, ctx, policy_);
}

void slurm_job_kind::stop() {
  worker_->stop();
}

} // namespace jobd

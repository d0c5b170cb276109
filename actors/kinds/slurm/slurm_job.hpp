// The "slurm" job kind (issue 15; docs/distributed.md): a job submitted to
// Slurm with sbatch as a generated batch script that execs its argv. Its
// backend hands the work to the kind's one worker (slurm_poller.hpp),
// which submits, polls, follows the output files and reports to the core.
#pragma once

#include "actors/job_factory.hpp"
#include "actors/kinds/slurm/slurm_poller.hpp"
#include "protocol/security.hpp"

#include <memory>

namespace jobd {

class slurm_job_kind : public job_kind {
public:
  explicit slurm_job_kind(slurm_settings settings,
                          std::shared_ptr<const security_policy> policy
                          = std::make_shared<security_policy>());

  /// False: Slurm queues and runs them; --max-slurm-jobs bounds them.
  bool takes_slot() const override;

  /// True (Slurm's --dependency=afterok/afterany/afternotok with
  /// --kill-on-invalid-dep), but for `failure` on more than one job.
  bool runs_dependencies(const job_spec& spec) const override;

  /// protocol/slurm.hpp's kindOptions schema.
  std::string options_schema() const override;

  /// Checks kindOptions, what a batch script can carry, the working
  /// directory (made absolute; --allow-dir) and --no-shell and the command
  /// rules (against the command as given: Slurm resolves it on the node).
  std::optional<tool_error> validate(job_spec& spec) const override;

  std::unique_ptr<job_backend>
  make_backend(const job_context& ctx) const override;

  /// Runs the Slurm commands still queued (the cancels of a shutdown) and
  /// ends the worker; call before the actor system goes.
  void stop();

private:
  std::shared_ptr<slurm_worker> worker_;
  std::shared_ptr<const security_policy> policy_;
};

} // namespace jobd

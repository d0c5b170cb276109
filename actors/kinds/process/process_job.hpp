// The "process" job kind: a local command run as a process tree through
// the process launcher (the reactor). Its backend only starts, signals and
// kills the tree; the JOB core does everything else.
#pragma once

#include "actors/job_factory.hpp"
#include "actors/kinds/process/process_launcher.hpp"
#include "protocol/security.hpp"

#include <string>
#include <vector>

namespace jobd {

/// Resolves what to execve for a spec: the executable's absolute path and
/// the argv. Fails with COMMAND_NOT_FOUND or PERMISSION_DENIED.
struct resolved_command {
  std::string executable;
  std::vector<std::string> argv;
};
bool resolve_command(const job_spec& spec, resolved_command& out,
                     tool_error& err);

/// Checks that `dir` (empty: the server's) is a usable directory; fails
/// with INVALID_WORKING_DIRECTORY.
bool check_working_directory(const std::string& dir, tool_error& err);

/// The "process" job kind, under the server's security policy.
class process_job_kind : public job_kind {
public:
  explicit process_job_kind(launcher_ptr launcher,
                            std::shared_ptr<const security_policy> policy
                            = std::make_shared<security_policy>());

  /// Makes the working directory absolute and checks it and the command
  /// against the policy (--allow-dir, --allow-command, --deny-command,
  /// --no-shell); fills `spec.security` with the limits, the sandbox and
  /// the environment policy the job will run under.
  std::optional<tool_error> validate(job_spec& spec) const override;

  std::unique_ptr<job_backend>
  make_backend(const job_context& ctx) const override;

private:
  std::optional<tool_error> confine(job_spec& spec) const;

  launcher_ptr launcher_;
  std::shared_ptr<const security_policy> policy_;
  /// The server's environment as the policy passes it to every job, taken
  /// once (jobd never changes its own): a job adds its overrides.
  std::shared_ptr<const std::vector<std::string>> inherited_;
};

} // namespace jobd

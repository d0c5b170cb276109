// JOB, local-process kind: runs one child process (in its own process group)
// through the process launcher, buffers its output, enforces its timeout and
// answers status, output, cancel and wait requests.
#pragma once

#include "actors/actors.hpp"
#include "actors/job_factory.hpp"
#include "actors/core/output_buffer.hpp"
#include "actors/kinds/process/process_launcher.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace jobd {

/// Resolves what to execve for a spec: the executable's absolute path and
/// the argv. Fails with COMMAND_NOT_FOUND, PERMISSION_DENIED or
/// INVALID_WORKING_DIRECTORY.
struct resolved_command {
  std::string executable;
  std::vector<std::string> argv;
};
bool resolve_command(const job_spec& spec, resolved_command& out,
                     tool_error& err);

/// Checks that `dir` (empty: the server's) is a usable directory.
bool check_working_directory(const std::string& dir, tool_error& err);

struct process_job_state {
  /// Why the job is being stopped, if it is.
  enum class stop_reason { none, cancel, timeout, shutdown };

  struct waiter {
    wait_query query;
    caf::typed_response_promise<wait_result> promise;
    bool has_pattern = false;
    std::regex pattern;
    /// Output up to this sequence number was already checked.
    uint64_t scanned = 0;
  };

  job_context ctx;
  launcher_ptr launcher;
  job_info info;
  output_buffer buffer;
  std::shared_ptr<std::atomic<int64_t>> in_flight
    = std::make_shared<std::atomic<int64_t>>(0);
  bool exited = false;
  int32_t wait_status = 0;
  bool eof[2] = {false, false};
  bool flush_scheduled = false;
  /// The `started` event was sent.
  bool announced = false;
  /// An `output` event is scheduled.
  bool progress_scheduled = false;
  /// The last sequence number an `output` event told.
  uint64_t announced_sequence = 0;
  stop_reason stopping = stop_reason::none;
  int64_t grace_ms = 0;
  std::vector<caf::typed_response_promise<cancel_result>> cancellers;
  std::vector<caf::typed_response_promise<bool>> stoppers;
  /// Status requests that arrived between start and spawn.
  std::vector<caf::typed_response_promise<job_info>> pid_waiters;
  std::map<uint64_t, waiter> waiters;
  uint64_t next_waiter = 1;
  static inline const char* name = "process_job";
};

/// @param ctx the job's id, spec and defaults.
/// @param launcher starts and signals the child.
process_job_actor::behavior_type
process_job(process_job_actor::stateful_pointer<process_job_state> self,
            job_context ctx, launcher_ptr launcher);

/// The "process" job kind: validates commands and spawns process_job actors.
class process_job_kind : public job_kind {
public:
  explicit process_job_kind(launcher_ptr launcher);

  std::optional<tool_error> validate(job_spec& spec) const override;

  job_actor spawn(caf::actor_system& sys, job_context ctx) const override;

private:
  launcher_ptr launcher_;
};

} // namespace jobd

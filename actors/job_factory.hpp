// Job kinds and the factory that picks one for a job_spec. SCHEDULER creates
// every job through the factory, so a new kind (remote, container) plugs in
// by registering itself here; see docs/extending.md.
#pragma once

#include "actors/actors.hpp"
#include "actors/core/output_buffer.hpp"

#include <caf/actor_system.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace jobd {

/// Server-wide defaults a job falls back to.
struct job_defaults {
  int64_t timeout_ms = 300000;
  int64_t kill_grace_ms = 5000;
  output_limits output;
  /// Upper bound of a console_wait_job's timeout.
  int64_t max_wait_ms = 60000;
};

/// Everything a new job actor starts from.
struct job_context {
  std::string id;
  uint64_t serial = 0;
  job_spec spec;
  timestamp_ms created_at = 0;
  /// Where the job reports that it started and finished.
  scheduler_actor scheduler;
  job_defaults defaults;
};

/// One kind of job: how its specs are checked and its actors spawned.
class job_kind {
public:
  virtual ~job_kind() = default;

  /// Checks (and may normalise) a spec before any job exists; an error
  /// refuses the submission at once (e.g. COMMAND_NOT_FOUND).
  virtual std::optional<tool_error> validate(job_spec& spec) const = 0;

  /// Spawns the job's actor; it stays pending until it gets `atom::start`.
  virtual job_actor spawn(caf::actor_system& sys, job_context ctx) const = 0;
};

/// The registry of job kinds, by the name in `job_spec::kind`.
class job_factory {
public:
  void add(std::string name, std::shared_ptr<const job_kind> kind);

  /// The kind for `name`, or null.
  const job_kind* find(const std::string& name) const;

private:
  std::map<std::string, std::shared_ptr<const job_kind>> kinds_;
};

using factory_ptr = std::shared_ptr<const job_factory>;

} // namespace jobd

namespace jobd {

/// A new job's status as every kind starts it: pending, from its spec.
job_info initial_info(const job_context& ctx);

} // namespace jobd

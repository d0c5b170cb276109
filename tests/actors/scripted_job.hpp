// A second job kind, used only by the tests: it needs no process. Its run
// lasts `args[0]` milliseconds of actor time, prints the command and ends
// with exit code `args[1]`. It runs on the same JOB core as the process
// kind (waits, timeouts, cancel, output), which shows that SCHEDULER,
// SESSION and the core work with any backend.
//
// Commands with a meaning: "crash-on-start" and "crash-on-signal" throw
// from the backend (a bug in a kind), for the supervision tests.
#pragma once

#include "actors/job_factory.hpp"

namespace jobd::test {

class scripted_job_kind : public job_kind {
public:
  std::optional<tool_error> validate(job_spec& spec) const override;

  std::unique_ptr<job_backend>
  make_backend(const job_context& ctx) const override;
};

/// The same jobs, run "elsewhere": they take no local slot (as Slurm's).
class remote_scripted_job_kind : public scripted_job_kind {
public:
  bool takes_slot() const override {
    return false;
  }
};

} // namespace jobd::test

// Bench-only job kinds that need no process, so the microbenchmarks measure
// the actors and not fork/exec:
// - `instant_job_kind`: a job that finishes (exit 0) as soon as it starts;
// - `instant_launcher`: a process_launcher for the real `process` kind that
//   starts nothing and at once reports spawned, EOF on both pipes and exit 0,
//   so the real process_job actor runs its whole lifecycle.
#pragma once

#include "actors/job_factory.hpp"
#include "actors/kinds/process/process_launcher.hpp"

#include <atomic>

namespace jobd::bench {

class instant_job_kind : public job_kind {
public:
  std::optional<tool_error> validate(job_spec& spec) const override;
  job_actor spawn(caf::actor_system& sys, job_context ctx) const override;
};

class instant_launcher : public process_launcher {
public:
  void launch(launch_spec spec, process_job_actor job) override;
  bool signal_group(int64_t pgid, int sig) override;
  bool group_alive(int64_t pgid) override;

private:
  std::atomic<int64_t> next_pid_{100000};
};

} // namespace jobd::bench

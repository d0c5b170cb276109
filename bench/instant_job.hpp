// Bench-only job kinds that need no process, so the microbenchmarks measure
// the actors and not fork/exec:
// - `instant_job_kind`: a backend whose work ends (exit 0) as soon as it
//   starts, on the real JOB core;
// - `instant_launcher`: a process_launcher for the real `process` kind that
//   starts nothing and at once reports spawned, EOF on both pipes and exit 0,
//   so the process kind's backend and the core run their whole lifecycle.
#pragma once

#include "actors/job_factory.hpp"
#include "actors/kinds/process/process_launcher.hpp"

#include <atomic>

namespace jobd::bench {

class instant_job_kind : public job_kind {
public:
  std::optional<tool_error> validate(job_spec& spec) const override;
  std::unique_ptr<job_backend>
  make_backend(const job_context& ctx) const override;
};

class instant_launcher : public process_launcher {
public:
  void launch(launch_spec spec, backend_events job) override;
  bool signal(int64_t pid, int sig, bool whole_tree) override;
  void kill_tree(int64_t pid) override;

private:
  std::atomic<int64_t> next_pid_{100000};
};

} // namespace jobd::bench

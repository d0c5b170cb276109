// A second job kind, used only by the tests: it needs no process. Its "run"
// lasts `args[0]` milliseconds of actor time and ends with exit code
// `args[1]`, printing the command. It shows that SCHEDULER and SESSION work
// with any job kind the factory knows.
#pragma once

#include "actors/job_factory.hpp"

namespace jobd::test {

class scripted_job_kind : public job_kind {
public:
  std::optional<tool_error> validate(job_spec& spec) const override;
  job_actor spawn(caf::actor_system& sys, job_context ctx) const override;
};

} // namespace jobd::test

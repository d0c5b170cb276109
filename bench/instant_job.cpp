#include "instant_job.hpp"

#include <caf/send.hpp>

namespace jobd::bench {

namespace {

// Reports a whole successful run at once.
void run_instantly(const backend_events& sink, int64_t pid) {
  caf::anon_send(sink, atom::spawned_v, pid, std::string{});
  caf::anon_send(sink, atom::eof_v, stream_kind::out);
  caf::anon_send(sink, atom::eof_v, stream_kind::err);
  caf::anon_send(sink, atom::exited_v, int32_t{0});
}

class instant_backend : public job_backend {
public:
  void start(backend_events sink,
             std::shared_ptr<std::atomic<int64_t>>) override {
    run_instantly(sink, 0);
  }

  bool signal(int, bool) override {
    return false;
  }

  void kill() override {
    // it never runs long enough
  }
};

} // namespace

std::optional<tool_error> instant_job_kind::validate(job_spec&) const {
  return std::nullopt;
}

std::unique_ptr<job_backend>
instant_job_kind::make_backend(const job_context&) const {
  return std::make_unique<instant_backend>();
}

void instant_launcher::launch(launch_spec, backend_events job) {
  run_instantly(job, next_pid_.fetch_add(1, std::memory_order_relaxed));
}

bool instant_launcher::signal(int64_t, int, bool) {
  return false;
}

void instant_launcher::kill_tree(int64_t) {
  // nothing runs
}

} // namespace jobd::bench

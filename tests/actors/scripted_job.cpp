#include "scripted_job.hpp"

#include <caf/send.hpp>

#include <chrono>
#include <csignal>
#include <stdexcept>

namespace jobd::test {

namespace {

class scripted_backend : public job_backend {
public:
  explicit scripted_backend(const job_context& ctx)
    : command_(ctx.spec->command), run_ms_(std::stoll(ctx.spec->args.at(0))),
      exit_code_(std::stoi(ctx.spec->args.at(1))) {
    // nop
  }

  void start(backend_events sink,
             std::shared_ptr<std::atomic<int64_t>>) override {
    if (command_ == "crash-on-start")
      throw std::runtime_error{"scripted crash on start"};
    sink_ = sink;
    caf::anon_send(sink, atom::spawned_v, int64_t{0}, std::string{});
    auto delay = std::chrono::milliseconds{run_ms_};
    caf::delayed_anon_send(sink, delay, atom::data_v, stream_kind::out,
                           command_ + "\n");
    end(delay, exit_code_ << 8);
  }

  bool signal(int sig, bool) override {
    if (command_ == "crash-on-signal")
      throw std::runtime_error{"scripted crash on signal"};
    if (sig == SIGTERM)
      end(std::chrono::milliseconds{0}, SIGTERM);
    return true;
  }

  void kill() override {
    end(std::chrono::milliseconds{0}, SIGKILL);
  }

private:
  // Both streams end, then the run; the core ignores a second ending.
  void end(std::chrono::milliseconds delay, int32_t status) {
    if (delay.count() == 0) {
      caf::anon_send(sink_, atom::eof_v, stream_kind::out);
      caf::anon_send(sink_, atom::eof_v, stream_kind::err);
      caf::anon_send(sink_, atom::exited_v, status);
      return;
    }
    caf::delayed_anon_send(sink_, delay, atom::eof_v, stream_kind::out);
    caf::delayed_anon_send(sink_, delay, atom::eof_v, stream_kind::err);
    caf::delayed_anon_send(sink_, delay, atom::exited_v, status);
  }

  std::string command_;
  int64_t run_ms_;
  int32_t exit_code_;
  backend_events sink_;
};

} // namespace

std::optional<tool_error> scripted_job_kind::validate(job_spec& spec) const {
  if (spec.args.size() != 2)
    return tool_error{codes::invalid_arguments,
                      "scripted jobs take [duration_ms, exit_code]",
                      {}};
  return std::nullopt;
}

std::unique_ptr<job_backend>
scripted_job_kind::make_backend(const job_context& ctx) const {
  return std::make_unique<scripted_backend>(ctx);
}

} // namespace jobd::test

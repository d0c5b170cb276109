// Protocol microbenchmarks: what the ENDPOINT does per line, without actors.
// - handle_line of a console_get_job_status tools/call (parse, classify,
//   schema validation) and render_result of its job_info;
// - the same for console_execute_async (the largest schema);
// - initialize and tools/list for comparison.
#include "protocol/mcp_session.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <variant>
#include <vector>

namespace {

using namespace jobd;
using jobd::protocol::dispatch_call;
using jobd::protocol::mcp_session;

const std::string status_line
  = R"({"jsonrpc":"2.0","id":12345,"method":"tools/call","params":{"name":)"
    R"("console_get_job_status","arguments":{"jobId":"job-17-k3j9a"}}})";

const std::string execute_line
  = R"({"jsonrpc":"2.0","id":12346,"method":"tools/call","params":{"name":)"
    R"("console_execute_async","arguments":{"command":"sh","args":["-c",)"
    R"("for i in $(seq 1 200); do echo line $i; sleep 0.01; done"],)"
    R"("options":{"sessionId":"bench","priority":7,"timeout":60000,)"
    R"("tags":{"suite":"load","n":3}}}}})";

const std::string initialize_line
  = R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{)"
    R"("protocolVersion":"2025-06-18","capabilities":{},)"
    R"("clientInfo":{"name":"bench","version":"1"}}})";

mcp_session initialized_session() {
  mcp_session s;
  std::vector<std::string> replies;
  s.handle_line(initialize_line, replies);
  s.handle_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
                replies);
  return s;
}

/// A finished job as console_get_job_status shows it.
job_info sample_job() {
  job_info j;
  j.id = "job-17-k3j9a";
  j.kind = "process";
  j.command = "python";
  j.args = {"train.py", "--epochs", "10"};
  j.status = job_status::completed;
  j.session_id = "default";
  j.working_directory = "/srv";
  j.created_at = 1764325800000;
  j.started_at = 1764325800005;
  j.finished_at = 1764325801525;
  j.priority = 5;
  j.timeout_ms = 300000;
  j.tags = {{"model", "\"nlp\""}};
  j.exit_code = 0;
  j.pid = 41231;
  j.serial = 17;
  j.output = {120, 14, 3, 0, 0, 134, 3};
  return j;
}

void BM_handle_status_call(benchmark::State& state) {
  auto s = initialized_session();
  std::vector<std::string> replies;
  for (auto _ : state) {
    replies.clear();
    auto act = s.handle_line(status_line, replies);
    if (!std::holds_alternative<dispatch_call>(act))
      state.SkipWithError("not dispatched");
    benchmark::DoNotOptimize(act);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_handle_status_call);

void BM_render_status_result(benchmark::State& state) {
  auto s = initialized_session();
  protocol::tool_result result{sample_job()};
  for (auto _ : state) {
    auto line = s.render_result("12345", result);
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_render_status_result);

// What the ENDPOINT spends on one status call: parse + validate + render.
void BM_status_call_end_to_end(benchmark::State& state) {
  auto s = initialized_session();
  auto job = sample_job();
  std::vector<std::string> replies;
  size_t bytes = 0;
  for (auto _ : state) {
    replies.clear();
    auto act = s.handle_line(status_line, replies);
    auto call = std::get_if<dispatch_call>(&act);
    if (call == nullptr) {
      state.SkipWithError("not dispatched");
      break;
    }
    auto line = s.render_result(call->id, protocol::tool_result{job});
    bytes += line.size() + status_line.size();
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_status_call_end_to_end);

void BM_handle_execute_call(benchmark::State& state) {
  auto s = initialized_session();
  std::vector<std::string> replies;
  for (auto _ : state) {
    replies.clear();
    auto act = s.handle_line(execute_line, replies);
    if (!std::holds_alternative<dispatch_call>(act))
      state.SkipWithError("not dispatched");
    benchmark::DoNotOptimize(act);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_handle_execute_call);

void BM_initialize(benchmark::State& state) {
  std::vector<std::string> replies;
  for (auto _ : state) {
    mcp_session s;
    replies.clear();
    s.handle_line(initialize_line, replies);
    benchmark::DoNotOptimize(replies);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_initialize);

void BM_tools_list(benchmark::State& state) {
  auto s = initialized_session();
  std::vector<std::string> replies;
  const std::string line = R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})";
  for (auto _ : state) {
    replies.clear();
    s.handle_line(line, replies);
    benchmark::DoNotOptimize(replies);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_tools_list);

} // namespace

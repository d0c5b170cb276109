// libFuzzer target: tool calls through SCHEDULER, SESSIONs and JOB cores
// (see actor_harness.hpp).
#include "actor_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jobd::fuzz::run_actor_input(data, size);
  return 0;
}

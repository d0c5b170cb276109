// Drives tool calls through a real actor system (SCHEDULER, SESSIONs and JOB
// cores on the scripted kind) on CAF's deterministic scheduler. One input is
// a sequence of JSON-RPC lines; used by the libFuzzer target fuzz_actors and
// by the replay test that CI runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace jobd::fuzz {

/// Runs one input. Aborts (so the fuzzer reports it) if a reply is not one
/// line of valid JSON, or if any call is left unanswered once every timer
/// has fired. Returns the number of tool calls answered.
size_t run_actor_input(const uint8_t* data, size_t size);

} // namespace jobd::fuzz

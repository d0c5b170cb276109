// Replays the actor fuzzer's corpus, and deterministic mutations of it,
// through the harness: what the fuzzer found stays fixed, in every CI run.
#include "actor_harness.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> corpus() {
  std::vector<std::string> inputs;
  for (auto& entry : std::filesystem::directory_iterator{JOBD_ACTOR_CORPUS}) {
    std::ifstream in{entry.path(), std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    inputs.push_back(text.str());
  }
  return inputs;
}

size_t run(const std::string& input) {
  return jobd::fuzz::run_actor_input(
    reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

} // namespace

TEST(actor_fuzz_replay, corpus_inputs_are_all_answered) {
  auto inputs = corpus();
  ASSERT_FALSE(inputs.empty());
  size_t answered = 0;
  for (auto& input : inputs)
    answered += run(input);
  EXPECT_GT(answered, inputs.size()); // the seeds reach the actors
}

// 2000 mutations in four shards of their own seeds, so that ctest runs them
// side by side (one shard took 155 s under ASan, the suite's long pole).
// The sanitizer build runs the first JOBD_FUZZ_ROUNDS of each shard (the
// same inputs: the seeds are fixed), which keeps its pass within CI's time.
#ifndef JOBD_FUZZ_ROUNDS
#define JOBD_FUZZ_ROUNDS 500
#endif
class actor_fuzz_mutations : public ::testing::TestWithParam<int> {};

TEST_P(actor_fuzz_mutations, never_crash_or_hang) {
  auto inputs = corpus();
  std::mt19937 rng{
    static_cast<std::mt19937::result_type>(20261201 + GetParam())};
  for (int round = 0; round < JOBD_FUZZ_ROUNDS; ++round) {
    auto input = inputs[rng() % inputs.size()];
    // Splice lines of another seed, flip bytes, cut.
    auto& other = inputs[rng() % inputs.size()];
    input += "\n" + other.substr(0, rng() % (other.size() + 1));
    for (int flips = rng() % 4; flips > 0 && !input.empty(); --flips)
      input[rng() % input.size()] = static_cast<char>(rng() % 256);
    if (!input.empty() && rng() % 3 == 0)
      input.resize(rng() % input.size());
    run(input);
  }
}

INSTANTIATE_TEST_SUITE_P(shard, actor_fuzz_mutations,
                         ::testing::Values(0, 1, 2, 3));

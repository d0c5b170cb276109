// Waiting for a condition that another thread makes true.
#pragma once

#include <chrono>
#include <thread>

namespace jobd::test {

/// Polls `p` every millisecond until it holds (true) or `timeout` passed.
template <class Predicate>
bool eventually(Predicate p,
                std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return true;
}

} // namespace jobd::test

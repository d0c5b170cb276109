// options.retry's decisions (protocol/retry.hpp): which endings are retried,
// and the backoff with and without jitter at the values' extremes.
#include "protocol/retry.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

using namespace jobd;

namespace {

constexpr int64_t max_int = 9007199254740991; // the schemas' maximum

retry_policy no_jitter(int64_t backoff, double factor, int64_t cap) {
  retry_policy p;
  p.max_attempts = 10;
  p.backoff_ms = backoff;
  p.backoff_factor = factor;
  p.max_backoff_ms = cap;
  p.jitter = false;
  return p;
}

job_info ended(job_status status, int32_t exit_code, int32_t signal = 0,
               const char* code = "") {
  job_info info;
  info.status = status;
  info.exit_code = exit_code;
  info.signal = signal;
  info.error_code = code;
  return info;
}

double unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

} // namespace

TEST(retry_delay, doubles_from_the_base_until_the_cap) {
  auto p = no_jitter(1000, 2, 5000);
  EXPECT_EQ(retry_delay_ms(p, 1, 0.5), 1000);
  EXPECT_EQ(retry_delay_ms(p, 2, 0.5), 2000);
  EXPECT_EQ(retry_delay_ms(p, 3, 0.5), 4000);
  EXPECT_EQ(retry_delay_ms(p, 4, 0.5), 5000);
  EXPECT_EQ(retry_delay_ms(p, 5, 0.5), 5000);
}

TEST(retry_delay, a_factor_of_one_keeps_the_base) {
  auto p = no_jitter(250, 1, 300000);
  for (int32_t n = 1; n < 50; ++n)
    EXPECT_EQ(retry_delay_ms(p, n, 0), 250);
}

TEST(retry_delay, saturates_at_the_cap_without_overflow) {
  auto p = no_jitter(max_int, 1e300, max_int);
  EXPECT_EQ(retry_delay_ms(p, 1, 0), max_int);
  EXPECT_EQ(retry_delay_ms(p, 2, 0), max_int); // 2^53 * 1e300
  EXPECT_EQ(retry_delay_ms(p, std::numeric_limits<int32_t>::max(), 0),
            max_int); // inf
  auto small = no_jitter(1, 2, 60000);
  EXPECT_EQ(retry_delay_ms(small, 1000000, 0), 60000);
  auto nan = no_jitter(1000, std::nan(""), 7000);
  EXPECT_EQ(retry_delay_ms(nan, 3, 0), 7000);
}

TEST(retry_delay, zero_and_negative_values_give_no_delay) {
  EXPECT_EQ(retry_delay_ms(no_jitter(0, 2, 5000), 3, 0), 0);
  EXPECT_EQ(retry_delay_ms(no_jitter(1000, 2, 0), 3, 0), 0);
  EXPECT_EQ(retry_delay_ms(no_jitter(-5, 2, -5), 1, 0), 0);
  // Attempt numbers below 1 count as the first.
  EXPECT_EQ(retry_delay_ms(no_jitter(1000, 2, 5000), 0, 0), 1000);
  EXPECT_EQ(retry_delay_ms(no_jitter(1000, 2, 5000), -3, 0), 1000);
}

TEST(retry_delay, jitter_maps_the_draw_onto_zero_to_the_delay) {
  auto p = no_jitter(1000, 2, 5000);
  p.jitter = true;
  EXPECT_EQ(retry_delay_ms(p, 1, 0.0), 0);
  EXPECT_EQ(retry_delay_ms(p, 1, 0.5), 500);
  EXPECT_EQ(retry_delay_ms(p, 1, 0.9999999999), 1000);
  EXPECT_EQ(retry_delay_ms(p, 1, 1.0), 1000);
  // Draws out of range are clamped, never beyond the delay.
  EXPECT_EQ(retry_delay_ms(p, 3, 7.0), 4000);
  EXPECT_EQ(retry_delay_ms(p, 3, -1.0), 0);
  EXPECT_EQ(retry_delay_ms(p, 3, std::nan("")), 0);
  p.backoff_ms = max_int;
  p.max_backoff_ms = max_int;
  EXPECT_LE(retry_delay_ms(p, 9, 1.0), max_int);
  EXPECT_GE(retry_delay_ms(p, 9, 1.0), max_int - 1);
}

TEST(retry_delay, jitter_over_many_seeded_draws_stays_in_bounds) {
  auto p = no_jitter(1000, 2, 3000);
  p.jitter = true;
  std::mt19937_64 rng{12345};
  for (int32_t attempt : {1, 2, 3, 4}) {
    int64_t cap = attempt == 1 ? 1000 : attempt == 2 ? 2000 : 3000;
    int64_t lo = cap, hi = 0;
    double sum = 0;
    constexpr int draws = 20000;
    for (int i = 0; i < draws; ++i) {
      auto d = retry_delay_ms(p, attempt, unit(rng));
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      sum += static_cast<double>(d);
    }
    // Full jitter: the whole range is used, evenly.
    EXPECT_LE(lo, cap / 100);
    EXPECT_GE(hi, cap - cap / 100);
    EXPECT_NEAR(sum / draws, cap / 2.0, cap * 0.02);
  }
}

TEST(should_retry, failures_by_default_and_never_success_or_cancel) {
  retry_policy p;
  EXPECT_TRUE(should_retry(p, ended(job_status::failed, 1)));
  EXPECT_TRUE(should_retry(p, ended(job_status::failed, -1, 9)));
  EXPECT_TRUE(
    should_retry(p, ended(job_status::failed, 127, 0, codes::spawn_failed)));
  EXPECT_TRUE(
    should_retry(p, ended(job_status::failed, -1, 15, codes::timeout)));
  EXPECT_FALSE(should_retry(p, ended(job_status::completed, 0)));
  EXPECT_FALSE(
    should_retry(p, ended(job_status::cancelled, -1, 15, codes::cancelled)));
  EXPECT_FALSE(
    should_retry(p, ended(job_status::failed, -1, 0, codes::internal)));
  EXPECT_FALSE(
    should_retry(p, ended(job_status::failed, -1, 0, codes::interrupted)));
  EXPECT_FALSE(should_retry(p, ended(job_status::running, -1)));
}

TEST(should_retry, on_selects_failures_or_timeouts) {
  retry_policy timeouts;
  timeouts.on_failure = false;
  EXPECT_FALSE(should_retry(timeouts, ended(job_status::failed, 1)));
  EXPECT_FALSE(should_retry(timeouts, ended(job_status::failed, -1, 9)));
  EXPECT_TRUE(
    should_retry(timeouts, ended(job_status::failed, -1, 15, codes::timeout)));
  retry_policy failures;
  failures.on_timeout = false;
  EXPECT_TRUE(should_retry(failures, ended(job_status::failed, 1)));
  EXPECT_FALSE(
    should_retry(failures, ended(job_status::failed, -1, 15, codes::timeout)));
}

TEST(should_retry, exit_codes_retry_only_those_normal_exits) {
  retry_policy p;
  p.exit_codes = {2, 75};
  EXPECT_TRUE(should_retry(p, ended(job_status::failed, 2)));
  EXPECT_TRUE(should_retry(p, ended(job_status::failed, 75)));
  EXPECT_FALSE(should_retry(p, ended(job_status::failed, 1)));
  EXPECT_FALSE(should_retry(p, ended(job_status::failed, -1, 2)));
  EXPECT_FALSE(
    should_retry(p, ended(job_status::failed, -1, 15, codes::timeout)));
  EXPECT_FALSE(
    should_retry(p, ended(job_status::failed, 2, 0, codes::spawn_failed)));
  p.exit_codes = {0};
  EXPECT_FALSE(should_retry(p, ended(job_status::completed, 0)));
}

// CAF 0.17's deterministic test DSL (caf/test/dsl.hpp) inside GoogleTest.
// The DSL reports through CAF_* macros; they are redefined here to report
// through GoogleTest and to abort the current test with an exception.
#pragma once

#define GTEST_DONT_DEFINE_FAIL 1 // the DSL has its own FAIL
#include <gtest/gtest.h>

#include <caf/test/unit_test.hpp>

#include <sstream>
#include <stdexcept>

struct dsl_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#undef CAF_MESSAGE
#undef CAF_FAIL
#undef CAF_REQUIRE
#undef CAF_REQUIRE_EQUAL
#undef CAF_CHECK_EQUAL
#define CAF_MESSAGE(msg)                                                       \
  do {                                                                         \
  } while (false)
#define CAF_FAIL(msg)                                                          \
  do {                                                                         \
    std::ostringstream dsl_os_;                                                \
    dsl_os_ << msg;                                                            \
    ADD_FAILURE() << dsl_os_.str();                                            \
    throw dsl_failure{dsl_os_.str()};                                          \
  } while (false)
#define CAF_REQUIRE(...)                                                       \
  do {                                                                         \
    if (!(__VA_ARGS__))                                                        \
      CAF_FAIL("requirement failed: " #__VA_ARGS__);                           \
  } while (false)
#define CAF_REQUIRE_EQUAL(x, y)                                                \
  do {                                                                         \
    if (!((x) == (y)))                                                         \
      CAF_FAIL("requirement failed: " #x " == " #y);                           \
  } while (false)
#define CAF_CHECK_EQUAL(x, y) EXPECT_TRUE((x) == (y)) << #x " == " #y
// gtest's FAIL() may be defined already (a unity batch that begins with a
// file including gtest first).
#undef FAIL
#define FAIL CAF_FAIL

#include <caf/test/dsl.hpp>

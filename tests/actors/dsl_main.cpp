// The CAF test engine's globals, defined once for the whole test binary;
// GoogleTest provides main().
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 with -fsanitize=address warns falsely inside <regex> (which CAF's
// test engine includes): -Wmaybe-uninitialized in std::function members.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>

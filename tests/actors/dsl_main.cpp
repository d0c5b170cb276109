// The CAF test engine's globals, defined once for the whole test binary;
// GoogleTest provides main().
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>

// Internals shared by output_buffer.cpp (chunking) and output_buffer_read.cpp
// (reading, tail); not part of the buffer's API.
#pragma once

#include <cstddef>
#include <cstring>

namespace jobd::detail {

/// memrchr as `const char*`; a helper also because GCC warns about a
/// possibly null string_view::data() passed to memrchr directly.
inline const char* find_last(const char* p, char c, size_t n) {
  if (p == nullptr || n == 0)
    return nullptr;
  return static_cast<const char*>(memrchr(p, c, n));
}

} // namespace jobd::detail

#pragma once
// ember::Error and the checks every op uses to report bad input.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace ember {

// Thrown for every user-facing failure: bad shapes, dtypes, devices, indices, files.
// The message names the operation and the offending values.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace ember

// EMBER_CHECK(condition, "op: format {}", args...) throws ember::Error when the condition is false.
#define EMBER_CHECK(condition, ...)     \
  do {                                  \
    if (!(condition)) [[unlikely]] {    \
      ::ember::fail(__VA_ARGS__);       \
    }                                   \
  } while (false)

#pragma once
// What module options are made of: chainable setters (`LinearOptions(784, 10).bias(false)`) and
// per-dimension sizes given as one number or one per dimension (`kernel_size(5)`, `{5, 3}`).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "ember/tensor/error.h"
#include "ember/tensor/int_array_ref.h"

// Declares an option with a chainable setter `options.name(value)` and a getter `options.name()`;
// follow it with `= default_value;` to give one.
#define EMBER_ARG(T, name)                          \
 public:                                            \
  auto& name(const T& new_##name) {                 \
    this->name##_ = new_##name;                     \
    return ::ember::nn::detail::chained(*this);     \
  }                                                 \
  const T& name() const noexcept { return name##_; } \
                                                    \
 private:                                           \
  T name##_

namespace ember::nn {
namespace detail {

// What a setter returns, so that calls chain: the options themselves, or, for options that share
// a base (`using Chained = Derived;` in the base), the derived options, so that
// `ConvTranspose2dOptions(...).stride(2).output_padding(1)` still finds output_padding.
template <class Options>
auto& chained(Options& options) {
  if constexpr (requires { typename Options::Chained; }) {
    return static_cast<typename Options::Chained&>(options);
  } else {
    return options;
  }
}

}  // namespace detail

// D sizes (kernel, stride, padding, ...) given as one value for every dimension or one each.
template <size_t D>
class ExpandingArray {
 public:
  ExpandingArray(int64_t value) { values_.fill(value); }
  ExpandingArray(std::initializer_list<int64_t> values) { assign(values.begin(), values.size()); }
  ExpandingArray(const std::vector<int64_t>& values) { assign(values.data(), values.size()); }
  ExpandingArray(const std::array<int64_t, D>& values) : values_(values) {}

  int64_t operator[](size_t index) const { return values_[index]; }
  const std::array<int64_t, D>& values() const { return values_; }
  IntArrayRef ref() const { return IntArrayRef(values_.data(), D); }
  operator IntArrayRef() const { return ref(); }
  size_t size() const { return D; }
  bool operator==(const ExpandingArray& other) const { return values_ == other.values_; }
  // "5" when every dimension agrees, "(5, 3)" otherwise, as PyTorch's module repr.
  std::string str() const {
    bool uniform = true;
    for (size_t i = 1; i < D; ++i) uniform = uniform && values_[i] == values_[0];
    if (uniform) return std::to_string(values_[0]);
    std::string result = "(";
    for (size_t i = 0; i < D; ++i) result += (i ? ", " : "") + std::to_string(values_[i]);
    return result + ")";
  }
  // "(5, 5)": PyTorch's convolutions always show tuples.
  std::string tuple_str() const {
    std::string result = "(";
    for (size_t i = 0; i < D; ++i) result += (i ? ", " : "") + std::to_string(values_[i]);
    return result + (D == 1 ? ",)" : ")");
  }

 private:
  void assign(const int64_t* values, size_t count) {
    EMBER_CHECK(count == D, "expected {} values (one per spatial dimension) or a single value, got {}", D, count);
    for (size_t i = 0; i < D; ++i) values_[i] = values[i];
  }

  std::array<int64_t, D> values_{};
};

}  // namespace ember::nn

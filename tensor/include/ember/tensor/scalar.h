#pragma once
// A number passed to an op (`x + 2`, `fill_(0.5)`), remembering whether it was a bool,
// an integer or a floating value because that decides type promotion.
#include <cstdint>
#include <string>
#include <type_traits>

#include "ember/tensor/dtype.h"

namespace ember {

class Scalar {
 public:
  Scalar() : Scalar(int64_t{0}) {}
  Scalar(bool value) : kind_(DType::Bool), integer_(value), floating_(value) {}
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Scalar(T value) : kind_(DType::Int64), integer_(static_cast<int64_t>(value)), floating_(static_cast<double>(value)) {}
  template <class T>
    requires(std::is_floating_point_v<T> || is_reduced_float_v<T>)
  Scalar(T value) : kind_(DType::Float64), integer_(0), floating_(static_cast<double>(value)) {}

  // Bool, Int64 or Float64: the category the value came from.
  DType kind() const { return kind_; }
  bool is_floating_point() const { return kind_ == DType::Float64; }
  bool is_integral() const { return kind_ == DType::Int64; }
  bool is_bool() const { return kind_ == DType::Bool; }

  double to_double() const { return floating_; }
  // Truncates floating values; throws ember::Error when one is not finite or exceeds int64.
  int64_t to_int64() const;
  bool to_bool() const { return is_floating_point() ? floating_ != 0.0 : integer_ != 0; }

  // The value as T. Throws ember::Error naming `op` when it does not fit, as PyTorch does
  // ("value cannot be converted to type int32 without overflow"); floating values truncate.
  template <class T> T to(const char* op = "Scalar") const {
    check_fits(dtype_of_v<T>, op);
    if constexpr (std::is_same_v<T, bool>) return to_bool();
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(to_int64());
    else return T(static_cast<compute_t<T>>(floating_));
  }
  void check_fits(DType dtype, const char* op) const;

  std::string to_string() const;

 private:
  DType kind_;
  int64_t integer_;
  double floating_;
};

}  // namespace ember

// Small pieces of the public surface: dtype names and promotion, devices, scalars, shapes.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>

#include "ember/tensor/device.h"
#include "ember/tensor/dtype.h"
#include "ember/tensor/error.h"
#include "ember/tensor/int_array_ref.h"
#include "ember/tensor/scalar.h"

namespace ember {

std::string_view name(DType dtype) {
  static constexpr std::array<std::string_view, kNumDTypes> kNames = {
      "bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"};
  return kNames[static_cast<int>(dtype)];
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == kBool) return b;
  if (b == kBool) return a;
  const bool a_float = is_floating_point(a), b_float = is_floating_point(b);
  if (a_float != b_float) return a_float ? a : b;
  // float16 with bfloat16 has no common 16-bit type.
  if ((a == kFloat16 && b == kBFloat16) || (a == kBFloat16 && b == kFloat16)) return kFloat32;
  return a > b ? a : b;
}

int64_t Scalar::to_int64() const {
  if (!is_floating_point()) return integer_;
  // 2^63 is exactly representable; anything at or above it (or NaN) has no int64 value.
  EMBER_CHECK(std::isfinite(floating_) && floating_ >= -9223372036854775808.0 && floating_ < 9223372036854775808.0,
              "Scalar: value {} cannot be converted to int64 without overflow", floating_);
  return static_cast<int64_t>(floating_);
}

void Scalar::check_fits(DType dtype, const char* op) const {
  if (dtype == kBool) return;
  const double value = is_floating_point() ? floating_ : static_cast<double>(integer_);
  bool fits = true;
  if (ember::is_integral(dtype)) {
    fits = std::isfinite(value);
    if (fits && dtype == kInt64) fits = is_floating_point() ? (value >= -9223372036854775808.0 && value < 9223372036854775808.0) : true;
    if (fits && dtype == kInt32) fits = std::trunc(value) >= -2147483648.0 && std::trunc(value) <= 2147483647.0;
    // uint8 accepts negatives down to -255 and wraps them, as PyTorch does.
    if (fits && dtype == kUInt8) fits = std::trunc(value) >= -255.0 && std::trunc(value) <= 255.0;
  } else if (std::isfinite(value)) {
    const double largest = dtype == kFloat16 ? 65504.0 : dtype == kBFloat16 ? 3.3895313892515355e38
                         : dtype == kFloat32 ? 3.4028234663852886e38 : INFINITY;
    fits = std::abs(value) <= largest;
  }
  EMBER_CHECK(fits, "{}: value {} cannot be converted to {} without overflow", op, to_string(), name(dtype));
}

std::string Scalar::to_string() const {
  if (is_bool()) return integer_ ? "True" : "False";
  if (is_integral()) return std::to_string(integer_);
  return fmt::format("{}", floating_);
}

Device::Device(const std::string& spec) {
  if (spec == "cpu") return;
  if (spec.rfind("cuda", 0) == 0) {
    type = DeviceType::CUDA;
    if (spec.size() == 4) return;
    if (spec[4] == ':' && spec.size() > 5) {
      char* end = nullptr;
      const long parsed = std::strtol(spec.c_str() + 5, &end, 10);
      if (*end == '\0' && parsed >= 0) {
        index = static_cast<int>(parsed);
        return;
      }
    }
  }
  fail("Device: cannot parse '{}' (expected 'cpu', 'cuda' or 'cuda:N')", spec);
}

std::string Device::str() const { return is_cpu() ? "cpu" : fmt::format("cuda:{}", index); }

std::string to_string(IntArrayRef values) { return fmt::format("[{}]", fmt::join(values, ", ")); }

int64_t product(IntArrayRef values) {
  int64_t result = 1;
  for (int64_t value : values) result *= value;
  return result;
}

int64_t checked_numel(IntArrayRef sizes, const char* op, int64_t element_bytes) {
  int64_t numel = 1;
  bool overflow = false;
  for (int64_t size : sizes) {
    EMBER_CHECK(size >= 0, "{}: negative dimension {} in shape {}", op, size, to_string(sizes));
    overflow = overflow || __builtin_mul_overflow(numel, size, &numel);
  }
  int64_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, element_bytes, &bytes);
  // A zero-size dim makes the tensor empty whatever the others are.
  const bool empty = std::find(sizes.begin(), sizes.end(), 0) != sizes.end();
  EMBER_CHECK(empty || !overflow, "{}: shape {} has too many elements (the size overflows int64)", op, to_string(sizes));
  return empty ? 0 : numel;
}

}  // namespace ember

// Small pieces of the public surface: dtype names and promotion, devices, scalars, shapes.
#include <array>
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

}  // namespace ember

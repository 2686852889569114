#pragma once
// 16-bit floating types. Storage only: arithmetic converts to float, which is how CPU kernels
// accumulate float16/bfloat16 (in float32).
#include <cstdint>
#include <cstring>

#include "ember/tensor/macros.h"

namespace ember {
namespace detail {

EMBER_INLINE uint32_t float_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

EMBER_INLINE float bits_float(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

// IEEE binary16 with round-to-nearest-even.
EMBER_INLINE uint16_t float_to_half_bits(float value) {
  const uint32_t bits = float_bits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // inf or nan; nan stays quiet nan
    return static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  }
  if (magnitude >= 0x477ff000u) {  // 65520 and above round to infinity
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (magnitude < 0x38800000u) {  // below 2^-14: half subnormal or zero
    // Adding 0.5 aligns the value so float rounding yields the half subnormal mantissa.
    const float aligned = bits_float(magnitude) + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(aligned) - 0x3f000000u));
  }
  const uint32_t mantissa_odd = (magnitude >> 13) & 1u;
  magnitude += 0xc8000fffu + mantissa_odd;  // rebias exponent (-112) and round to nearest even
  return static_cast<uint16_t>(sign | (magnitude >> 13));
}

EMBER_INLINE float half_bits_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    const float subnormal = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // 2^-24
    return sign ? -subnormal : subnormal;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

EMBER_INLINE uint16_t float_to_bfloat16_bits(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

EMBER_INLINE float bfloat16_bits_to_float(uint16_t bits) { return bits_float(static_cast<uint32_t>(bits) << 16); }

}  // namespace detail

struct Half {
  uint16_t bits = 0;
  Half() = default;
  EMBER_INLINE Half(float value) : bits(detail::float_to_half_bits(value)) {}
  EMBER_INLINE operator float() const { return detail::half_bits_to_float(bits); }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  EMBER_INLINE BFloat16(float value) : bits(detail::float_to_bfloat16_bits(value)) {}
  EMBER_INLINE operator float() const { return detail::bfloat16_bits_to_float(bits); }
};

}  // namespace ember

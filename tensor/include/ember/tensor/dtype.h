#pragma once
// Element types and PyTorch's type promotion.
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "ember/tensor/half.h"

namespace ember {

// Ordered so that promotion within a category picks the larger value.
enum class DType : uint8_t { Bool, UInt8, Int32, Int64, Float16, BFloat16, Float32, Float64 };
inline constexpr int kNumDTypes = 8;

inline constexpr DType kBool = DType::Bool;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;

constexpr bool is_floating_point(DType dtype) { return dtype >= DType::Float16; }
constexpr bool is_integral(DType dtype, bool include_bool = false) {
  return (dtype >= DType::UInt8 && dtype <= DType::Int64) || (include_bool && dtype == DType::Bool);
}

constexpr int64_t element_size(DType dtype) {
  switch (dtype) {
    case DType::Bool:
    case DType::UInt8: return 1;
    case DType::Float16:
    case DType::BFloat16: return 2;
    case DType::Int32:
    case DType::Float32: return 4;
    case DType::Int64:
    case DType::Float64: return 8;
  }
  return 0;
}

// "float32", "int64", ... as PyTorch spells them after "torch.".
std::string_view name(DType dtype);

// The dtype both operands convert to, as torch.promote_types.
DType promote_types(DType a, DType b);

// C++ type of each dtype and back.
template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = kBool; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = kUInt8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = kInt32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = kInt64; };
template <> struct dtype_of<Half> { static constexpr DType value = kFloat16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = kBFloat16; };
template <> struct dtype_of<float> { static constexpr DType value = kFloat32; };
template <> struct dtype_of<double> { static constexpr DType value = kFloat64; };
template <class T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

template <class T> struct TypeTag { using type = T; };

// Calls visitor(TypeTag<T>{}) with the C++ type of dtype.
template <class Visitor>
decltype(auto) visit_dtype(DType dtype, Visitor&& visitor) {
  switch (dtype) {
    case DType::Bool: return visitor(TypeTag<bool>{});
    case DType::UInt8: return visitor(TypeTag<uint8_t>{});
    case DType::Int32: return visitor(TypeTag<int32_t>{});
    case DType::Int64: return visitor(TypeTag<int64_t>{});
    case DType::Float16: return visitor(TypeTag<Half>{});
    case DType::BFloat16: return visitor(TypeTag<BFloat16>{});
    case DType::Float32: return visitor(TypeTag<float>{});
    case DType::Float64: break;
  }
  return visitor(TypeTag<double>{});
}

template <class T> inline constexpr bool is_reduced_float_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <class T> inline constexpr bool is_floating_v = std::is_floating_point_v<T> || is_reduced_float_v<T>;

// The type arithmetic runs in: float for the 16-bit floats, the type itself otherwise.
template <class T> using compute_t = std::conditional_t<is_reduced_float_v<T>, float, T>;

}  // namespace ember

#pragma once
// Per-element pieces shared verbatim by the CPU loops and the CUDA kernels: storage conversion,
// and the value of element i of a random or range fill. Sharing them is what makes a seeded
// draw identical on both devices.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ember/tensor/dtype.h"
#include "ember/tensor/macros.h"
#include "kernels/philox.h"

namespace ember::kernels {

// Converts a computed value to the storage type Out.
template <class Out, class Value>
EMBER_INLINE Out convert(Value value) {
  if constexpr (is_reduced_float_v<Out>) return Out(static_cast<float>(value));
  else if constexpr (std::is_same_v<Out, bool>) return static_cast<bool>(value);
  else return static_cast<Out>(value);
}

template <class T>
EMBER_INLINE compute_t<T> load(const char* pointer) {
  return static_cast<compute_t<T>>(*reinterpret_cast<const T*>(pointer));
}

// The smallest and largest values of Acc: where max and min reductions start.
template <class Acc>
EMBER_INLINE constexpr Acc lowest_value() {
  if constexpr (std::is_floating_point_v<Acc>) return -std::numeric_limits<Acc>::infinity();
  else return std::numeric_limits<Acc>::lowest();
}
template <class Acc>
EMBER_INLINE constexpr Acc highest_value() {
  if constexpr (std::is_floating_point_v<Acc>) return std::numeric_limits<Acc>::infinity();
  else return std::numeric_limits<Acc>::max();
}

// fill's functor.
template <class C>
struct Constant {
  C value;
  EMBER_INLINE C operator()() const { return value; }
};

// copy's functor: the conversion happens in load and convert.
template <class C>
struct Pass {
  EMBER_INLINE C operator()(C value) const { return value; }
};

// Element i of fill_random. The multiply-adds are explicit fma so that every compiler and device
// rounds them the same way (GCC would contract them only where the target has FMA). Kind is
// kernels::Distribution (a parameter so that this file needs no backend.h).
template <class T, class Kind>
EMBER_INLINE T random_element(Kind distribution, double a, double b, uint64_t seed, uint64_t counter) {
  const PhiloxOutput bits = philox(seed, counter);
  double value;
  if (distribution == Kind::Uniform) value = std::fma(b - a, uniform_double(bits), a);
  else if (distribution == Kind::Normal) value = std::fma(b, normal_double(bits), a);
  else value = uniform_double(bits) < a ? 1.0 : 0.0;
  T result = convert<T>(value);
  // Rounding to a narrower type can reach the open upper bound; map it to the lower one.
  if (distribution == Kind::Uniform && static_cast<double>(static_cast<compute_t<T>>(result)) >= b && b > a) {
    result = convert<T>(a);
  }
  return result;
}

// Element i of fill_range (see Backend::fill_range).
template <class T>
EMBER_INLINE T range_element(int64_t i, int64_t numel, double start, double step, int64_t split, double end) {
  const double value = (split > 0 && i >= split) ? std::fma(-static_cast<double>(numel - 1 - i), step, end)
                                                 : std::fma(static_cast<double>(i), step, start);
  return convert<T>(value);
}

}  // namespace ember::kernels

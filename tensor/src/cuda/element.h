#pragma once
// What one CUDA thread does for one element, as plain functions of a linear index. The kernels
// in the .cu files are grid-stride loops around these, so a CPU test can run exactly this code
// over every index (tests/tensor/cuda_test.cpp). Includes are relative so that the test, which
// only sees public headers, can include this file by path.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../kernels/functors.h"
#include "../kernels/philox.h"
#include "../kernels/plan.h"

namespace ember::cuda {

using kernels::ElementwisePlan;

// Converts a computed value to the storage type Out (as cpu::convert).
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

// Writes `value` to `pointer` as `dtype`: reductions choose the accumulator by the input type
// and convert once per output here, which keeps one kernel per input type.
template <class Value>
EMBER_INLINE void store_as(DType dtype, char* pointer, Value value) {
  switch (dtype) {
    case DType::Bool: *reinterpret_cast<bool*>(pointer) = convert<bool>(value); break;
    case DType::UInt8: *reinterpret_cast<uint8_t*>(pointer) = convert<uint8_t>(value); break;
    case DType::Int32: *reinterpret_cast<int32_t*>(pointer) = convert<int32_t>(value); break;
    case DType::Int64: *reinterpret_cast<int64_t*>(pointer) = convert<int64_t>(value); break;
    case DType::Float16: *reinterpret_cast<Half*>(pointer) = convert<Half>(value); break;
    case DType::BFloat16: *reinterpret_cast<BFloat16*>(pointer) = convert<BFloat16>(value); break;
    case DType::Float32: *reinterpret_cast<float*>(pointer) = convert<float>(value); break;
    case DType::Float64: *reinterpret_cast<double*>(pointer) = convert<double>(value); break;
  }
}

// The values of operands flagged plan.on_host (0-dim CPU tensors), copied into the kernel's
// arguments because the device cannot read host memory.
struct HostOperands {
  alignas(8) char bytes[kernels::kMaxOperands][8] = {};
};

inline HostOperands host_operands(const ElementwisePlan& plan) {
  HostOperands host;
  for (int op = 0; op < plan.num_operands; ++op) {
    if (plan.on_host[op]) std::memcpy(host.bytes[op], plan.data[op], static_cast<size_t>(element_size(plan.dtypes[op])));
  }
  return host;
}

// Byte offsets of the first kOperands operands at `linear`, the row-major position in the
// output's shape (a plan keeps the dims' order, so its linear index is exactly that).
template <int kOperands>
EMBER_INLINE void operand_offsets(const ElementwisePlan& plan, int64_t linear, int64_t (&offsets)[kOperands]) {
  for (int op = 0; op < kOperands; ++op) offsets[op] = 0;
  for (int dim = 0; dim < plan.ndim; ++dim) {
    const int64_t size = plan.sizes[dim];
    const int64_t index = dim + 1 < plan.ndim ? linear % size : linear;
    linear /= size;
    for (int op = 0; op < kOperands; ++op) offsets[op] += index * plan.byte_strides[op][dim];
  }
}

EMBER_INLINE const char* operand_pointer(const ElementwisePlan& plan, const HostOperands& host, int op,
                                         int64_t offset) {
  return plan.on_host[op] ? host.bytes[op] : plan.data[op] + offset;
}

template <class Out, class... In, class F, size_t... I>
EMBER_INLINE void apply_element_impl(const ElementwisePlan& plan, const HostOperands& host, int64_t linear, const F& f,
                                std::index_sequence<I...>) {
  int64_t offsets[1 + sizeof...(In)];
  operand_offsets<1 + sizeof...(In)>(plan, linear, offsets);
  *reinterpret_cast<Out*>(plan.data[0] + offsets[0]) =
      convert<Out>(f(load<In>(operand_pointer(plan, host, static_cast<int>(I) + 1, offsets[I + 1]))...));
}

// output = f(inputs...) at one element; Out and In are the operands' storage types.
template <class Out, class... In, class F>
EMBER_INLINE void apply_element(const ElementwisePlan& plan, const HostOperands& host, int64_t linear, const F& f) {
  apply_element_impl<Out, In...>(plan, host, linear, f, std::index_sequence_for<In...>{});
}

// copy's functor: the conversion happens in load and convert.
template <class C>
struct Pass {
  EMBER_INLINE C operator()(C value) const { return value; }
};

// fill's functor.
template <class C>
struct Constant {
  C value;
  EMBER_INLINE C operator()() const { return value; }
};

// Element i of fill_random, as cpu/random.cpp computes it. The sums are written as fma because
// the CPU build contracts them to fused multiply-adds (GCC does by default where the machine
// has FMA), and an explicit fma rounds the same on both sides. Kind is kernels::Distribution
// (a parameter so that this file needs no backend.h).
template <class T, class Kind>
EMBER_INLINE T random_element(Kind distribution, double a, double b, uint64_t seed, uint64_t counter) {
  const kernels::PhiloxOutput bits = kernels::philox(seed, counter);
  double value;
  if (distribution == Kind::Uniform) value = std::fma(b - a, kernels::uniform_double(bits), a);
  else if (distribution == Kind::Normal) value = std::fma(b, kernels::normal_double(bits), a);
  else value = kernels::uniform_double(bits) < a ? 1.0 : 0.0;
  T result = convert<T>(value);
  // Rounding to a narrower type can reach the open upper bound; map it to the lower one.
  if (distribution == Kind::Uniform && static_cast<double>(static_cast<compute_t<T>>(result)) >= b && b > a) {
    result = convert<T>(a);
  }
  return result;
}

// Element i of fill_range (see Backend::fill_range), fused like the CPU's.
template <class T>
EMBER_INLINE T range_element(int64_t i, int64_t numel, double start, double step, int64_t split, double end) {
  const double value = (split > 0 && i >= split) ? std::fma(-static_cast<double>(numel - 1 - i), step, end)
                                                 : std::fma(static_cast<double>(i), step, start);
  return convert<T>(value);
}

}  // namespace ember::cuda

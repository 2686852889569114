#pragma once
// What one CUDA thread does for one element, as plain functions of a linear index. The kernels
// in the .cu files are grid-stride loops around these, so a CPU test can run exactly this code
// over every index (tests/tensor/cuda_test.cpp).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/functors.h"
#include "kernels/element.h"
#include "kernels/philox.h"
#include "kernels/plan.h"

namespace ember::cuda {

using kernels::Constant;
using kernels::convert;
using kernels::ElementwisePlan;
using kernels::load;
using kernels::Pass;
using kernels::random_element;
using kernels::range_element;

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

}  // namespace ember::cuda

#pragma once
// Gather and scatter on CUDA, laid out as cpu/index.cpp does: operands are restrided so that
// the indexed dim steps through the index only, and the index value read at each position moves
// the source (gather) or destination (scatter) pointer along that dim. The plans are built on
// the host here; the per-element work below runs in the kernels of index.cu.
//
// scatter_add/index_add give each thread one position off the indexed dim and run its indices
// in order, as the CPU does: no two threads write one element, so no atomics are needed and
// the sums are bitwise those of the CPU.
#include <type_traits>

#include "element.h"

namespace ember::cuda {

// `tensor`'s memory seen with iteration sizes `sizes`, its own strides except `dim_stride`
// along `dim` (0 pins the pointer so the kernel moves it by the index).
inline Tensor restride(const Tensor& tensor, IntArrayRef sizes, int64_t dim, int64_t dim_stride) {
  DimVector strides(tensor.strides().begin(), tensor.strides().end());
  strides[dim] = dim_stride;
  return make_tensor(tensor.storage(), sizes, strides, tensor.storage_offset(), tensor.dtype());
}

// A 1-D index seen with `sizes`: it steps along `dim` and stands still along every other dim.
inline Tensor spread_index(const Tensor& index, IntArrayRef sizes, int64_t dim) {
  DimVector strides(sizes.size(), 0);
  strides[dim] = index.dim() == 0 ? 0 : index.stride(0);
  return make_tensor(index.storage(), sizes, strides, index.storage_offset(), index.dtype());
}

// output[p with j along dim] = source[p with index[p, j] along dim], over output's shape.
struct GatherPlan {
  ElementwisePlan plan;  // {output, source pinned along dim, index}
  int64_t source_dim_stride = 0;  // bytes
};

inline GatherPlan make_gather_plan(const Tensor& source, const Tensor& index, const Tensor& output, int64_t dim) {
  const Tensor pinned_source = restride(source, output.sizes(), dim, 0);
  return {kernels::make_elementwise_plan({&output, &pinned_source, &index}), source.stride(dim) * source.element_size()};
}

// destination[p with index[p, j] along dim] += source[p with j along dim] for j in order,
// one position p (off the indexed dim) per linear index of the plan.
struct ScatterPlan {
  ElementwisePlan plan;  // {destination, source, index}, all pinned along dim
  int64_t count = 0;     // indices per position
  int64_t destination_step = 0, source_step = 0, index_step = 0;  // bytes along dim
};

// `index` and `source` already have the iteration shape.
inline ScatterPlan make_scatter_plan(const Tensor& destination, const Tensor& index, const Tensor& source,
                                     int64_t dim) {
  DimVector outer(index.sizes().begin(), index.sizes().end());
  outer[dim] = 1;
  const Tensor pinned_destination = restride(destination, outer, dim, 0);
  const Tensor outer_source = restride(source, outer, dim, 0);
  const Tensor outer_index = restride(index, outer, dim, 0);
  ScatterPlan result;
  result.plan = kernels::make_elementwise_plan({&pinned_destination, &outer_source, &outer_index});
  result.count = index.size(dim);
  result.destination_step = destination.stride(dim) * destination.element_size();
  result.source_step = source.stride(dim) * source.element_size();
  result.index_step = index.stride(dim) * index.element_size();
  return result;
}

// Gathers only move bytes: Word is an unsigned type of the element's size.
template <class Word>
EMBER_INLINE void gather_element(const GatherPlan& gather, int64_t linear) {
  int64_t offsets[3];
  operand_offsets<3>(gather.plan, linear, offsets);
  const int64_t index = *reinterpret_cast<const int64_t*>(gather.plan.data[2] + offsets[2]);
  *reinterpret_cast<Word*>(gather.plan.data[0] + offsets[0]) =
      *reinterpret_cast<const Word*>(gather.plan.data[1] + offsets[1] + index * gather.source_dim_stride);
}

template <class T>
EMBER_INLINE void scatter_add_position(const ScatterPlan& scatter, int64_t linear) {
  int64_t offsets[3];
  operand_offsets<3>(scatter.plan, linear, offsets);
  char* base = scatter.plan.data[0] + offsets[0];
  const char* values = scatter.plan.data[1] + offsets[1];
  const char* indices = scatter.plan.data[2] + offsets[2];
  for (int64_t j = 0; j < scatter.count; ++j) {
    const int64_t target = *reinterpret_cast<const int64_t*>(indices + j * scatter.index_step);
    T& slot = *reinterpret_cast<T*>(base + target * scatter.destination_step);
    const T value = *reinterpret_cast<const T*>(values + j * scatter.source_step);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      using Unsigned = std::make_unsigned_t<T>;  // wraps on overflow, as PyTorch's integers do
      slot = static_cast<T>(static_cast<Unsigned>(slot) + static_cast<Unsigned>(value));
    } else {
      slot = convert<T>(static_cast<compute_t<T>>(slot) + static_cast<compute_t<T>>(value));
    }
  }
}

}  // namespace ember::cuda

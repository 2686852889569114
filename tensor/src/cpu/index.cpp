// Gather and scatter kernels. Both walk an elementwise plan whose operands are restrided so
// that the indexed dim steps through the index only; the value read from the index then moves
// the source (gather) or destination (scatter) pointer along that dim.
#include <cstdlib>
#include <cstring>

#include "cpu/cpu_backend.h"
#include "cpu/loops.h"

namespace ember::cpu {

using kernels::ElementwisePlan;
using kernels::IndexArgs;

namespace {

// `tensor`'s memory viewed with iteration sizes `sizes`: its own strides, except along `dim`,
// where the stride becomes `dim_stride` (0 pins the pointer so the kernel moves it by index).
Tensor restride(const Tensor& tensor, IntArrayRef sizes, int64_t dim, int64_t dim_stride) {
  DimVector strides(tensor.strides().begin(), tensor.strides().end());
  strides[dim] = dim_stride;
  return make_tensor(tensor.storage(), sizes, strides, tensor.storage_offset(), tensor.dtype());
}

// A 1-D index seen with `sizes`: it steps along `dim` and stands still along every other dim.
Tensor spread_index(const Tensor& index, IntArrayRef sizes, int64_t dim) {
  DimVector strides(sizes.size(), 0);
  strides[dim] = index.dim() == 0 ? 0 : index.stride(0);
  return make_tensor(index.storage(), sizes, strides, index.storage_offset(), index.dtype());
}


// A gather only moves bytes, so it is instantiated per element size rather than per dtype.
template <class Word>
void gather_words(const ElementwisePlan& plan, int64_t source_dim_stride) {
  for_each_run<3>(plan, kElementwiseGrain, [&](char* const* pointers, const int64_t* strides, int64_t length) {
    if (strides[2] == 0) {
      // One index for the whole run (index_select off the innermost dim): a plain strided copy.
      const int64_t index = *reinterpret_cast<const int64_t*>(pointers[2]);
      const char* source = pointers[1] + index * source_dim_stride;
      if (strides[0] == sizeof(Word) && strides[1] == sizeof(Word)) {
        std::memcpy(pointers[0], source, static_cast<size_t>(length) * sizeof(Word));
        return;
      }
      for (int64_t i = 0; i < length; ++i) {
        *reinterpret_cast<Word*>(pointers[0] + i * strides[0]) =
            *reinterpret_cast<const Word*>(source + i * strides[1]);
      }
      return;
    }
    for (int64_t i = 0; i < length; ++i) {
      const int64_t index = *reinterpret_cast<const int64_t*>(pointers[2] + i * strides[2]);
      *reinterpret_cast<Word*>(pointers[0] + i * strides[0]) =
          *reinterpret_cast<const Word*>(pointers[1] + i * strides[1] + index * source_dim_stride);
    }
  });
}

// output[p with j along dim] = source[p with index[p, j] along dim], over output's shape.
void gather_along(const Tensor& source, const Tensor& index, const Tensor& output, int64_t dim) {
  const Tensor pinned_source = restride(source, output.sizes(), dim, 0);
  const ElementwisePlan plan = kernels::make_elementwise_plan({&output, &pinned_source, &index});
  const int64_t source_dim_stride = source.stride(dim) * source.element_size();
  switch (source.element_size()) {
    case 1: return gather_words<uint8_t>(plan, source_dim_stride);
    case 2: return gather_words<uint16_t>(plan, source_dim_stride);
    case 4: return gather_words<uint32_t>(plan, source_dim_stride);
    default: return gather_words<uint64_t>(plan, source_dim_stride);
  }
}

// destination[p with index[p, j] along dim] += source[p with j along dim], where `index` and
// `source` already have the iteration shape. Threads split the positions p off the indexed dim
// and each runs its j in order, so no two threads write one element and sums are reproducible.
void scatter_add_along(const Tensor& destination, const Tensor& index, const Tensor& source, int64_t dim) {
  const int64_t count = index.size(dim);
  DimVector outer(index.sizes().begin(), index.sizes().end());
  outer[dim] = 1;
  const Tensor pinned_destination = restride(destination, outer, dim, 0);
  const Tensor outer_source = restride(source, outer, dim, 0);
  const Tensor outer_index = restride(index, outer, dim, 0);
  const ElementwisePlan plan = kernels::make_elementwise_plan({&pinned_destination, &outer_source, &outer_index});
  const int64_t destination_step = destination.stride(dim) * destination.element_size();
  const int64_t source_step = source.stride(dim) * source.element_size();
  const int64_t index_step = index.stride(dim) * index.element_size();
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(count, 1));
  visit_dtype(destination.dtype(), [&]<class T>(TypeTag<T>) {
    auto add = [&](char* base, const char* values, const char* indices, int64_t j) {
      const int64_t target = *reinterpret_cast<const int64_t*>(indices + j * index_step);
      T& slot = *reinterpret_cast<T*>(base + target * destination_step);
      const T value = *reinterpret_cast<const T*>(values + j * source_step);
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        using Unsigned = std::make_unsigned_t<T>;  // wraps on overflow, as PyTorch's integers do
        slot = static_cast<T>(static_cast<Unsigned>(slot) + static_cast<Unsigned>(value));
      } else {
        slot = convert<T>(static_cast<compute_t<T>>(slot) + static_cast<compute_t<T>>(value));
      }
    };
    for_each_run<3>(plan, grain, [&](char* const* pointers, const int64_t* strides, int64_t length) {
      // Either order adds each destination's contributions in index order. Walking the run
      // innermost keeps memory access sequential when the run is denser than the indexed dim.
      if (std::abs(strides[0]) < std::abs(destination_step)) {
        for (int64_t j = 0; j < count; ++j) {
          for (int64_t i = 0; i < length; ++i) {
            add(pointers[0] + i * strides[0], pointers[1] + i * strides[1], pointers[2] + i * strides[2], j);
          }
        }
        return;
      }
      for (int64_t i = 0; i < length; ++i) {
        for (int64_t j = 0; j < count; ++j) {
          add(pointers[0] + i * strides[0], pointers[1] + i * strides[1], pointers[2] + i * strides[2], j);
        }
      }
    });
  });
}

}  // namespace

void CpuBackend::index_select(const IndexArgs& args) {
  gather_along(args.self, spread_index(args.index, args.other.sizes(), args.dim), args.other, args.dim);
}

void CpuBackend::gather(const IndexArgs& args) { gather_along(args.self, args.index, args.other, args.dim); }

void CpuBackend::scatter_add(const IndexArgs& args) {
  // Only the part of the source the index covers takes part.
  const Tensor covered_source = make_tensor(args.other.storage(), args.index.sizes(), args.other.strides(),
                                            args.other.storage_offset(), args.other.dtype());
  scatter_add_along(args.self, args.index, covered_source, args.dim);
}

void CpuBackend::index_add(const IndexArgs& args) {
  scatter_add_along(args.self, spread_index(args.index, args.other.sizes(), args.dim), args.other, args.dim);
}

}  // namespace ember::cpu

#pragma once
// What one CUDA thread does in a reduction: the block of output `output` (a linear index into
// plan.outer) has `threads` threads; thread t folds reduced elements t, t + threads, ... into a
// partial, and the block then combines the partials in a tree (reduce.cu). Accumulators: float
// for the 16-bit floats, int64 for integers in sum/prod, the type itself otherwise, bool for
// all/any; reduce.cu converts to the output's dtype once per output.
#include <cstdint>
#include <limits>
#include <type_traits>

#include "element.h"

namespace ember::cuda {

using kernels::ReducePlan;

// Integers (and bool) accumulate in int64 with wrapping arithmetic: the same result as the type
// itself modulo its width, and the right one when the output is wider (sum of bools, as in
// PyTorch, counts them).
template <class T>
using product_acc_t = std::conditional_t<std::is_integral_v<T>, int64_t, compute_t<T>>;

template <class Acc>
EMBER_INLINE Acc wrapping_add(Acc a, Acc b) {
  if constexpr (std::is_integral_v<Acc>) return static_cast<Acc>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return a + b;
}
template <class Acc>
EMBER_INLINE Acc wrapping_mul(Acc a, Acc b) {
  if constexpr (std::is_integral_v<Acc>) return static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else return a * b;
}

template <class T>
struct SumReducer {
  using Acc = product_acc_t<T>;
  EMBER_INLINE Acc identity() const { return Acc(0); }
  EMBER_INLINE Acc map(compute_t<T> value) const { return static_cast<Acc>(value); }
  EMBER_INLINE Acc combine(Acc a, Acc b) const { return wrapping_add(a, b); }
};

template <class T>
struct ProdReducer {
  using Acc = product_acc_t<T>;
  EMBER_INLINE Acc identity() const { return Acc(1); }
  EMBER_INLINE Acc map(compute_t<T> value) const { return static_cast<Acc>(value); }
  EMBER_INLINE Acc combine(Acc a, Acc b) const { return wrapping_mul(a, b); }
};

using kernels::highest_value;
using kernels::lowest_value;

// NaN wins, as in PyTorch (the functors propagate it).
template <class T>
struct MaxReducer {
  using Acc = compute_t<T>;
  EMBER_INLINE Acc identity() const { return lowest_value<Acc>(); }
  EMBER_INLINE Acc map(Acc value) const { return value; }
  EMBER_INLINE Acc combine(Acc a, Acc b) const { return kernels::Maximum<Acc>{}(a, b); }
};

template <class T>
struct MinReducer {
  using Acc = compute_t<T>;
  EMBER_INLINE Acc identity() const { return highest_value<Acc>(); }
  EMBER_INLINE Acc map(Acc value) const { return value; }
  EMBER_INLINE Acc combine(Acc a, Acc b) const { return kernels::Minimum<Acc>{}(a, b); }
};

template <class T>
struct AllReducer {
  using Acc = bool;
  EMBER_INLINE bool identity() const { return true; }
  EMBER_INLINE bool map(compute_t<T> value) const { return static_cast<bool>(value); }
  EMBER_INLINE bool combine(bool a, bool b) const { return a && b; }
};

template <class T>
struct AnyReducer {
  using Acc = bool;
  EMBER_INLINE bool identity() const { return false; }
  EMBER_INLINE bool map(compute_t<T> value) const { return static_cast<bool>(value); }
  EMBER_INLINE bool combine(bool a, bool b) const { return a || b; }
};

// Byte offset of reduced element `index` (innermost reduced dim fastest) from the block's start.
EMBER_INLINE int64_t reduced_offset(const ReducePlan& plan, int64_t index) {
  int64_t offset = 0;
  for (int dim = 0; dim < plan.reduced_ndim; ++dim) {
    const int64_t size = plan.reduced_sizes[dim];
    offset += (dim + 1 < plan.reduced_ndim ? index % size : index) * plan.reduced_byte_strides[dim];
    index /= size;
  }
  return offset;
}

// Where output `output` is written and where its block of input starts.
struct ReduceTarget {
  char* output;
  const char* input;
};

EMBER_INLINE ReduceTarget reduce_target(const ReducePlan& plan, int64_t output) {
  int64_t offsets[2];
  operand_offsets<2>(plan.outer, output, offsets);
  return {plan.outer.data[0] + offsets[0], plan.outer.data[1] + offsets[1]};
}

template <class T, class Reducer>
EMBER_INLINE typename Reducer::Acc thread_partial(const ReducePlan& plan, const Reducer& reducer, const char* input,
                                                  int64_t thread, int64_t threads) {
  typename Reducer::Acc acc = reducer.identity();
  for (int64_t index = thread; index < plan.reduced_numel; index += threads) {
    acc = reducer.combine(acc, reducer.map(load<T>(input + reduced_offset(plan, index))));
  }
  return acc;
}

// A candidate of argmax/argmin. Ties and NaN go to the lowest index, as in PyTorch; an empty
// candidate has index INT64_MAX so that any element beats it.
template <class Acc>
struct ArgCandidate {
  Acc value;
  int64_t index;
};

template <bool kMax, class Acc>
EMBER_INLINE ArgCandidate<Acc> better_of(const ArgCandidate<Acc>& a, const ArgCandidate<Acc>& b) {
  const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
  bool take_a;
  if (a_nan || b_nan) take_a = a_nan && (!b_nan || a.index < b.index);
  else if (a.value == b.value) take_a = a.index < b.index;
  else take_a = kMax ? a.value > b.value : a.value < b.value;
  return take_a ? a : b;
}

template <class T, bool kMax>
EMBER_INLINE ArgCandidate<compute_t<T>> thread_arg_partial(const ReducePlan& plan, const char* input, int64_t thread,
                                                           int64_t threads) {
  using Acc = compute_t<T>;
  ArgCandidate<Acc> best{kMax ? lowest_value<Acc>() : highest_value<Acc>(), std::numeric_limits<int64_t>::max()};
  for (int64_t index = thread; index < plan.reduced_numel; index += threads) {
    best = better_of<kMax>(best, ArgCandidate<Acc>{load<T>(input + reduced_offset(plan, index)), index});
  }
  return best;
}

}  // namespace ember::cuda

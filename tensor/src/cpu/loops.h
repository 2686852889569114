#pragma once
// The CPU elementwise loop: walks an ElementwisePlan in parallel chunks, with fast paths for
// dense operands and broadcast scalars that the compiler vectorizes.
#include <cstdint>
#include <type_traits>
#include <utility>

#include "cpu/parallel.h"
#include "ember/tensor/dtype.h"
#include "kernels/element.h"
#include "kernels/plan.h"

namespace ember::cpu {

using kernels::convert;
using kernels::load;

namespace detail {

template <class Out, class... In, class F, size_t... I>
EMBER_INLINE void dense_run(char* const* pointers, int64_t n, const F& f, std::index_sequence<I...>) {
  Out* out = reinterpret_cast<Out*>(pointers[0]);
  [[maybe_unused]] auto inputs = std::make_tuple(reinterpret_cast<const In*>(pointers[I + 1])...);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = convert<Out>(f(static_cast<compute_t<In>>(std::get<I>(inputs)[i])...));
  }
}

template <class Out, class... In, class F, size_t... I>
EMBER_INLINE void strided_run(char* const* pointers, const int64_t* strides, int64_t n, const F& f,
                              std::index_sequence<I...>) {
  char* out = pointers[0];
  for (int64_t i = 0; i < n; ++i) {
    *reinterpret_cast<Out*>(out + i * strides[0]) = convert<Out>(f(load<In>(pointers[I + 1] + i * strides[I + 1])...));
  }
}

// One run along the innermost dim.
template <class Out, class... In, class F>
EMBER_INLINE void run(char* const* pointers, const int64_t* strides, int64_t n, const F& f) {
  using Indices = std::index_sequence_for<In...>;
  constexpr int64_t sizes[] = {sizeof(Out), sizeof(In)...};
  bool dense = true;
  for (size_t op = 0; op <= sizeof...(In); ++op) dense &= strides[op] == sizes[op];
  if (dense) return dense_run<Out, In...>(pointers, n, f, Indices{});
  if constexpr (sizeof...(In) == 2) {
    // A broadcast scalar on one side: hoist it so the loop stays dense and vectorizes.
    using A = std::tuple_element_t<0, std::tuple<In...>>;
    using B = std::tuple_element_t<1, std::tuple<In...>>;
    if (strides[0] == sizes[0] && strides[1] == sizes[1] && strides[2] == 0) {
      const auto b = load<B>(pointers[2]);
      Out* out = reinterpret_cast<Out*>(pointers[0]);
      const A* a = reinterpret_cast<const A*>(pointers[1]);
      for (int64_t i = 0; i < n; ++i) out[i] = convert<Out>(f(static_cast<compute_t<A>>(a[i]), b));
      return;
    }
    if (strides[0] == sizes[0] && strides[1] == 0 && strides[2] == sizes[2]) {
      const auto a = load<A>(pointers[1]);
      Out* out = reinterpret_cast<Out*>(pointers[0]);
      const B* b = reinterpret_cast<const B*>(pointers[2]);
      for (int64_t i = 0; i < n; ++i) out[i] = convert<Out>(f(a, static_cast<compute_t<B>>(b[i])));
      return;
    }
  }
  strided_run<Out, In...>(pointers, strides, n, f, Indices{});
}

}  // namespace detail

// Walks the plan in parallel chunks, calling body(pointers, inner_byte_strides, length) for
// each run along the innermost dim, with pointers to the run's first element of each operand.
template <int kOperands, class Body>
void for_each_run(const kernels::ElementwisePlan& plan, int64_t grain, const Body& body) {
  if (plan.numel == 0) return;
  const int ndim = plan.ndim;
  parallel_for(plan.numel, grain, [&](int64_t begin, int64_t end) {
    int64_t index[kernels::kMaxDims];
    int64_t remainder = begin;
    for (int dim = 0; dim < ndim; ++dim) {
      index[dim] = remainder % plan.sizes[dim];
      remainder /= plan.sizes[dim];
    }
    char* pointers[kOperands];
    int64_t inner_strides[kOperands];
    for (int op = 0; op < kOperands; ++op) inner_strides[op] = plan.byte_strides[op][0];
    int64_t remaining = end - begin;
    while (remaining > 0) {
      for (int op = 0; op < kOperands; ++op) {
        int64_t offset = 0;
        for (int dim = 0; dim < ndim; ++dim) offset += index[dim] * plan.byte_strides[op][dim];
        pointers[op] = plan.data[op] + offset;
      }
      const int64_t length = std::min(plan.sizes[0] - index[0], remaining);
      body(pointers, inner_strides, length);
      remaining -= length;
      index[0] += length;
      for (int dim = 0; dim + 1 < ndim && index[dim] == plan.sizes[dim]; ++dim) {
        index[dim] = 0;
        ++index[dim + 1];
      }
    }
  });
}

// out = f(in...) over the plan; Out and In are the storage types of the operands.
template <class Out, class... In, class F>
void elementwise_loop(const kernels::ElementwisePlan& plan, const F& f) {
  for_each_run<1 + sizeof...(In)>(plan, kElementwiseGrain, [&](char* const* pointers, const int64_t* strides,
                                                                 int64_t length) {
    detail::run<Out, In...>(pointers, strides, length, f);
  });
}

}  // namespace ember::cpu

#pragma once
// Combining rules and inner loops of the CPU reductions. Every loop combines its elements in an
// order fixed by the data's shape alone, so results never depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ember/tensor/dtype.h"
#include "kernels/element.h"

namespace ember::cpu::reduce_ops {

using kernels::highest_value;
using kernels::lowest_value;

template <class Acc>
constexpr bool is_nan(Acc value) {
  if constexpr (std::is_floating_point_v<Acc>) return value != value;
  else return false;
}

// On bool, sum and max are logical or, prod and min logical and (as PyTorch's bool arithmetic).
template <class Acc> struct Sum {
  using value_type = Acc;
  static constexpr Acc identity() { return Acc(0); }
  Acc operator()(Acc a, Acc b) const {
    if constexpr (std::is_same_v<Acc, bool>) return a || b;
    else return a + b;
  }
};
template <class Acc> struct Prod {
  using value_type = Acc;
  static constexpr Acc identity() { return Acc(1); }
  Acc operator()(Acc a, Acc b) const {
    if constexpr (std::is_same_v<Acc, bool>) return a && b;
    else return a * b;
  }
};
// A NaN on either side wins, so NaN propagates whatever the combining order.
template <class Acc> struct Max {
  using value_type = Acc;
  static constexpr Acc identity() { return lowest_value<Acc>(); }
  Acc operator()(Acc a, Acc b) const { return (b > a || is_nan(b)) ? b : a; }
};
template <class Acc> struct Min {
  using value_type = Acc;
  static constexpr Acc identity() { return highest_value<Acc>(); }
  Acc operator()(Acc a, Acc b) const { return (b < a || is_nan(b)) ? b : a; }
};
struct All {
  using value_type = bool;
  static constexpr bool identity() { return true; }
  bool operator()(bool a, bool b) const { return a && b; }
};
struct Any {
  using value_type = bool;
  static constexpr bool identity() { return false; }
  bool operator()(bool a, bool b) const { return a || b; }
};

// Folds n dense elements through kLanes independent accumulators (so the compiler keeps several
// vector registers in flight), then folds the lanes pairwise in a fixed order.
template <int kLanes, class T, class Op>
typename Op::value_type reduce_lanes(const T* __restrict data, int64_t n, const Op& op) {
  using Acc = typename Op::value_type;
  Acc lanes[kLanes];
  for (int lane = 0; lane < kLanes; ++lane) lanes[lane] = Op::identity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) lanes[lane] = op(lanes[lane], static_cast<Acc>(data[i + lane]));
  }
  Acc tail = Op::identity();
  for (; i < n; ++i) tail = op(tail, static_cast<Acc>(data[i]));
  for (int width = kLanes / 2; width > 0; width /= 2) {
    for (int lane = 0; lane < width; ++lane) lanes[lane] = op(lanes[lane], lanes[lane + width]);
  }
  return op(lanes[0], tail);
}

// The lane count depends only on n, never on the thread count: long runs get 128 bytes of
// accumulators, short ones fewer so the final fold stays cheap.
template <class T, class Op>
typename Op::value_type reduce_dense(const T* __restrict data, int64_t n, const Op& op) {
  using Acc = typename Op::value_type;
  constexpr int kWide = std::max<int>(8, std::min<int>(64, 128 / sizeof(Acc)));
  if (n >= 4 * kWide) return reduce_lanes<kWide>(data, n, op);
  if (n >= 16) return reduce_lanes<8>(data, n, op);
  Acc result = Op::identity();
  for (int64_t i = 0; i < n; ++i) result = op(result, static_cast<Acc>(data[i]));
  return result;
}

template <class T, class Op>
typename Op::value_type reduce_strided(const char* data, int64_t n, int64_t byte_stride, const Op& op) {
  using Acc = typename Op::value_type;
  Acc result = Op::identity();
  for (int64_t i = 0; i < n; ++i) result = op(result, static_cast<Acc>(*reinterpret_cast<const T*>(data + i * byte_stride)));
  return result;
}

// accumulators[t] = op(accumulators[t], row[t]): one row of a reduction over an outer dim.
template <class T, class Op>
void accumulate_row(typename Op::value_type* __restrict accumulators, const T* __restrict row, int64_t width,
                    const Op& op) {
  using Acc = typename Op::value_type;
  for (int64_t t = 0; t < width; ++t) accumulators[t] = op(accumulators[t], static_cast<Acc>(row[t]));
}

// argmax/argmin: a candidate replaces the best so far only when strictly better, or when it is
// the first NaN, so ties and NaNs resolve to the first index.
template <class Acc, bool kMax> struct ArgBetter {
  static constexpr Acc identity() { return kMax ? lowest_value<Acc>() : highest_value<Acc>(); }
  bool operator()(Acc candidate, Acc best) const {
    const bool better = kMax ? candidate > best : candidate < best;
    return better || (is_nan(candidate) && !is_nan(best));
  }
};

}  // namespace ember::cpu::reduce_ops

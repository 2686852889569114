// Fused softmax and log_softmax over the rows of a contiguous [rows, n] tensor. Each row is
// handled by one thread with a fixed sequence of operations (max, exp and sum in blocks, then a
// scale or shift pass), so its result does not depend on how parallel_for split the rows.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"
#include "cpu/vector_math.h"

namespace ember::cpu {
namespace {

// Elements exponentiated and summed at a time: small enough that the block is still in L1 when
// it is summed, however long the row.
constexpr int64_t kBlock = 2048;
// Independent partial sums: they let the compiler vectorize the sum without reassociating it,
// and their fixed combination order keeps the result deterministic.
constexpr int kLanes = 16;

// A nan in the row may be skipped here: it still reaches the sum of exponentials and so makes
// the whole row nan. Per-lane maxima keep the loop vectorizable.
template <class C>
C row_max(const C* in, int64_t n) {
  C partial[kLanes];
  for (int lane = 0; lane < kLanes; ++lane) partial[lane] = in[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) {
      partial[lane] = in[i + lane] > partial[lane] ? in[i + lane] : partial[lane];
    }
  }
  for (int lane = 0; i < n; ++i, ++lane) partial[lane] = in[i] > partial[lane] ? in[i] : partial[lane];
  C maximum = partial[0];
  for (int lane = 1; lane < kLanes; ++lane) maximum = partial[lane] > maximum ? partial[lane] : maximum;
  return maximum;
}

template <class C>
C lane_sum(const C* values, int64_t n) {
  C partial[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) partial[lane] += values[i + lane];
  }
  for (int lane = 0; i < n; ++i, ++lane) partial[lane] += values[i];
  C total = 0;
  for (int lane = 0; lane < kLanes; ++lane) total += partial[lane];
  return total;
}

// One row in the compute type C (float or double); in and out must not overlap.
template <class C>
void softmax_row(const C* in, C* out, int64_t n, bool log) {
  const C maximum = row_max(in, n);
  // exp(x - max) into out, block by block, summing each block while it is in cache.
  C total = 0;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t length = std::min(kBlock, n - start);
    C* block = out + start;
    for (int64_t i = 0; i < length; ++i) block[i] = in[start + i] - maximum;
    vector_math::exp<C>(block, block, length);
    total += lane_sum(block, length);
  }
  if (log) {
    const C log_total = std::log(total);
    for (int64_t i = 0; i < n; ++i) out[i] = (in[i] - maximum) - log_total;
  } else {
    const C scale = C(1) / total;
    for (int64_t i = 0; i < n; ++i) out[i] *= scale;
  }
}

template <class T>
void softmax_rows(T* output, const T* input, int64_t rows, int64_t n, bool log) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / n);
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    if constexpr (std::is_same_v<T, compute_t<T>>) {
      for (int64_t row = begin; row < end; ++row) softmax_row<T>(input + row * n, output + row * n, n, log);
    } else {
      // The 16-bit types go through float32 scratch rows, one pair per thread.
      std::vector<float> in(static_cast<size_t>(n)), out(static_cast<size_t>(n));
      for (int64_t row = begin; row < end; ++row) {
        const T* source = input + row * n;
        T* destination = output + row * n;
        for (int64_t i = 0; i < n; ++i) in[i] = static_cast<float>(source[i]);
        softmax_row<float>(in.data(), out.data(), n, log);
        for (int64_t i = 0; i < n; ++i) destination[i] = T(out[i]);
      }
    }
  });
}

}  // namespace

void CpuBackend::softmax(const Tensor& output, const Tensor& input, bool log) {
  const int64_t rows = input.size(0);
  const int64_t n = input.size(1);
  visit_dtype(input.dtype(), [&]<class T>(TypeTag<T>) {
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      softmax_rows<T>(static_cast<T*>(output.data_ptr()), static_cast<const T*>(input.data_ptr()), rows, n, log);
    } else {
      EMBER_CHECK(false, "softmax: expected a floating dtype, got {}", name(input.dtype()));
    }
  });
}

}  // namespace ember::cpu

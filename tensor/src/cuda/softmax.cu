// Fused softmax and log_softmax over the rows of a contiguous [rows, n] tensor: one block per
// row (grid-stride over rows), a shared-memory tree for the row's maximum and for its sum of
// exponentials, then a pass writing the results. Compute type: float for the 16-bit floats.
#include <cmath>
#include <limits>
#include <type_traits>

#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"

namespace ember::cuda {
namespace {

// nan wins, so that a row holding one comes out all nan as on the CPU and in PyTorch.
template <class C>
__device__ C nan_max(C a, C b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// Folds partials[0, blockDim.x) into partials[0] and returns it to every thread; blockDim.x is a
// power of two.
template <class C, class Combine>
__device__ C block_combine(C* partials, const Combine& combine) {
  tree_combine(partials, combine);
  const C result = partials[0];
  __syncthreads();  // partials are refilled by the next combine
  return result;
}

template <class T>
__global__ void softmax_kernel(T* output, const T* input, int64_t rows, int64_t n, bool log) {
  using C = compute_t<T>;
  __shared__ C partials[kThreads];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* in = input + row * n;
    T* out = output + row * n;

    C maximum = static_cast<C>(in[0]);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) maximum = nan_max(maximum, static_cast<C>(in[i]));
    partials[threadIdx.x] = maximum;
    maximum = block_combine(partials, [](C a, C b) { return nan_max(a, b); });

    C total = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) total += std::exp(static_cast<C>(in[i]) - maximum);
    partials[threadIdx.x] = total;
    total = block_combine(partials, [](C a, C b) { return a + b; });

    if (log) {
      const C log_total = std::log(total);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        out[i] = kernels::convert<T>((static_cast<C>(in[i]) - maximum) - log_total);
      }
    } else {
      const C scale = C(1) / total;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        out[i] = kernels::convert<T>(std::exp(static_cast<C>(in[i]) - maximum) * scale);
      }
    }
  }
}

}  // namespace

void CudaBackend::softmax(const Tensor& output, const Tensor& input, bool log) {
  const int64_t rows = input.size(0);
  const int64_t n = input.size(1);
  DeviceGuard guard(device_);
  visit_dtype(input.dtype(), [&]<class T>(TypeTag<T>) {
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, int64_t{1} << 16));
      softmax_kernel<T><<<blocks, block_threads_for(n), 0, current_stream_handle(device_)>>>(
          static_cast<T*>(output.data_ptr()), static_cast<const T*>(input.data_ptr()), rows, n, log);
    } else {
      EMBER_CHECK(false, "softmax: expected a floating dtype, got {}", name(input.dtype()));
    }
  });
  check_launch("softmax");
}

}  // namespace ember::cuda

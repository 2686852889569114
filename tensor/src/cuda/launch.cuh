#pragma once
// Kernel launches shared by the .cu files: a grid-stride elementwise kernel around
// apply_element (element.h), sized by the element count, on the current stream.
#include <algorithm>
#include <cstdint>

#include "cuda/element.h"
#include "cuda/runtime.h"

namespace ember::cuda {

inline constexpr int kThreads = 256;

// Blocks for `work` items at kThreads per block; the grid-stride loops cover any remainder.
inline unsigned grid_for(int64_t work) {
  return static_cast<unsigned>(std::min<int64_t>((work + kThreads - 1) / kThreads, int64_t{1} << 16));
}

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_size() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// F comes first: nvcc requires a kernel's parameter pack to be its last template parameter.
template <class F, class Out, class... In>
__global__ void elementwise_kernel(ElementwisePlan plan, HostOperands host, F f) {
  for (int64_t i = thread_index(); i < plan.numel; i += grid_size()) apply_element<Out, In...>(plan, host, i, f);
}

// Runs launch(TypeTag<T>, stream) for a floating dtype on the device's current stream; other
// dtypes are an error naming the op.
template <class Launch>
void launch_floating(int device, DType dtype, const char* op, const Launch& launch) {
  DeviceGuard guard(device);
  visit_dtype(dtype, [&]<class T>(TypeTag<T> tag) {
    if constexpr (is_floating_v<T>) launch(tag, current_stream_handle(device));
    else fail("{}: expected a floating dtype, got {}", op, name(dtype));
  });
  check_launch(op);
}

// out = f(in...) over the plan; Out and In are the operands' storage types.
template <class Out, class... In, class F>
void launch_elementwise(const ElementwisePlan& plan, const F& f, const char* op) {
  if (plan.numel == 0) return;
  const int device = plan.device.index;
  DeviceGuard guard(device);
  elementwise_kernel<F, Out, In...>
      <<<grid_for(plan.numel), kThreads, 0, current_stream_handle(device)>>>(plan, host_operands(plan), f);
  check_launch(op);
}

// Threads for one block folding `work` items: a power of two from a warp to kThreads.
inline unsigned block_threads_for(int64_t work) {
  unsigned threads = 32;
  while (threads < kThreads && threads < work) threads *= 2;
  return threads;
}

// Folds partials[0, blockDim.x) into partials[0]; blockDim.x is a power of two.
template <class Value, class Combine>
__device__ void tree_combine(Value* partials, const Combine& combine) {
  __syncthreads();
  for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partials[threadIdx.x] = combine(partials[threadIdx.x], partials[threadIdx.x + width]);
    __syncthreads();
  }
}

}  // namespace ember::cuda

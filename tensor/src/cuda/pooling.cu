// 2-D pooling on CUDA: one thread per output for the forwards, one per input element for the
// gradients, which gather over the outputs whose windows hold it (no atomics; the sums the CPU
// computes). The windows are kernels/pooling_element.h, shared with the CPU.
#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"
#include "kernels/pooling_element.h"

namespace ember::cuda {

using kernels::PoolArgs;
using kernels::PoolKind;
using kernels::PoolWindow;

namespace {

template <class T>
__global__ void pool_kernel(PoolKind kind, PoolWindow window, int64_t planes, const T* input, T* output,
                            int64_t* indices) {
  const int64_t per_plane = window.output_plane();
  const int64_t total = planes * per_plane;
  for (int64_t i = thread_index(); i < total; i += grid_size()) {
    const int64_t plane = i / per_plane, position = i - plane * per_plane;
    const T* in = input + plane * window.input_plane();
    if (kind == PoolKind::Max) kernels::max_pool_element(window, in, position, output + i, indices + i);
    else if (kind == PoolKind::Average) output[i] = kernels::avg_pool_element(window, in, position);
    else output[i] = kernels::adaptive_avg_pool_element(window, in, position);
  }
}

template <class T>
__global__ void pool_backward_kernel(PoolKind kind, PoolWindow window, int64_t planes, T* grad_input,
                                     const T* grad_output, const int64_t* indices) {
  const int64_t per_plane = window.input_plane();
  const int64_t total = planes * per_plane;
  for (int64_t i = thread_index(); i < total; i += grid_size()) {
    const int64_t plane = i / per_plane, position = i - plane * per_plane;
    const int64_t outputs = plane * window.output_plane();
    const T* grad = grad_output + outputs;
    compute_t<T> sum;
    if (kind == PoolKind::Max) sum = kernels::max_pool_backward_element(window, grad, indices + outputs, position);
    else if (kind == PoolKind::Average) sum = kernels::avg_pool_backward_element(window, grad, position);
    else sum = kernels::adaptive_avg_pool_backward_element(window, grad, position);
    grad_input[i] = kernels::convert<T>(sum);
  }
}

}  // namespace

void CudaBackend::pool2d(const PoolArgs& args) {
  const int64_t total = args.planes * args.window.output_plane();
  if (total == 0) return;
  int64_t* indices = args.kind == PoolKind::Max ? static_cast<int64_t*>(args.indices.data_ptr()) : nullptr;
  launch_floating(device_, args.input.dtype(), "pool2d", [&]<class T>(TypeTag<T>, cudaStream_t stream) {
    pool_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(args.kind, args.window, args.planes,
                                                              static_cast<const T*>(args.input.data_ptr()),
                                                              static_cast<T*>(args.output.data_ptr()), indices);
  });
}

void CudaBackend::pool2d_backward(const PoolArgs& args) {
  const int64_t total = args.planes * args.window.input_plane();
  if (total == 0) return;
  const int64_t* indices =
      args.kind == PoolKind::Max ? static_cast<const int64_t*>(args.indices.data_ptr()) : nullptr;
  launch_floating(device_, args.input.dtype(), "pool2d_backward", [&]<class T>(TypeTag<T>, cudaStream_t stream) {
    pool_backward_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(
        args.kind, args.window, args.planes, static_cast<T*>(args.input.data_ptr()),
        static_cast<const T*>(args.output.data_ptr()), indices);
  });
}

}  // namespace ember::cuda

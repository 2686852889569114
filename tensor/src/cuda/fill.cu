// Conversion copies, constant fills, random draws and ranges.
#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"

namespace ember::cuda {

void CudaBackend::copy(const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class Out>(TypeTag<Out>) {
    visit_dtype(plan.dtypes[1], [&]<class In>(TypeTag<In>) {
      launch_elementwise<Out, In>(plan, Pass<compute_t<In>>{}, "copy");
    });
  });
}

void CudaBackend::fill(const ElementwisePlan& plan, const Scalar& value) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    const T converted = value.to<T>("fill_");
    launch_elementwise<T>(plan, Constant<compute_t<T>>{static_cast<compute_t<T>>(converted)}, "fill");
  });
}

namespace {

template <class T>
__global__ void random_kernel(T* output, int64_t numel, kernels::Distribution distribution, double a, double b,
                              uint64_t seed, uint64_t offset) {
  for (int64_t i = thread_index(); i < numel; i += grid_size()) {
    output[i] = random_element<T>(distribution, a, b, seed, offset + static_cast<uint64_t>(i));
  }
}

template <class T>
__global__ void range_kernel(T* output, int64_t numel, double start, double step, int64_t split, double end) {
  for (int64_t i = thread_index(); i < numel; i += grid_size()) {
    output[i] = range_element<T>(i, numel, start, step, split, end);
  }
}

}  // namespace

void CudaBackend::fill_random(const Tensor& output, kernels::Distribution distribution, double a, double b,
                              uint64_t seed, uint64_t offset) {
  const int64_t numel = output.numel();
  if (numel == 0) return;
  DeviceGuard guard(device_);
  visit_dtype(output.dtype(), [&]<class T>(TypeTag<T>) {
    random_kernel<<<grid_for(numel), kThreads, 0, current_stream_handle(device_)>>>(
        static_cast<T*>(output.data_ptr()), numel, distribution, a, b, seed, offset);
  });
  check_launch("fill_random");
}

void CudaBackend::fill_range(const Tensor& output, double start, double step, int64_t split, double end) {
  const int64_t numel = output.numel();
  if (numel == 0) return;
  DeviceGuard guard(device_);
  visit_dtype(output.dtype(), [&]<class T>(TypeTag<T>) {
    range_kernel<<<grid_for(numel), kThreads, 0, current_stream_handle(device_)>>>(static_cast<T*>(output.data_ptr()),
                                                                                  numel, start, step, split, end);
  });
  check_launch("fill_range");
}

}  // namespace ember::cuda

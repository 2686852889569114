// Reductions: one block per output (grid-stride over outputs), each thread folding a strided
// share of the reduced elements (reduce_element.h), then a shared-memory tree.
#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"
#include "cuda/reduce_element.h"

namespace ember::cuda {
namespace {

template <class T, class Reducer>
__global__ void reduce_kernel(ReducePlan plan, Reducer reducer) {
  using Acc = typename Reducer::Acc;
  __shared__ Acc partials[kThreads];
  for (int64_t output = blockIdx.x; output < plan.outer.numel; output += gridDim.x) {
    const ReduceTarget target = reduce_target(plan, output);
    partials[threadIdx.x] = thread_partial<T>(plan, reducer, target.input, threadIdx.x, blockDim.x);
    tree_combine(partials, [&](Acc a, Acc b) { return reducer.combine(a, b); });
    if (threadIdx.x == 0) store_as(plan.outer.dtypes[0], target.output, partials[0]);
    __syncthreads();  // partials are refilled for the next output
  }
}

template <class T, bool kMax>
__global__ void arg_reduce_kernel(ReducePlan plan, ElementwisePlan indices) {
  using Candidate = ArgCandidate<compute_t<T>>;
  __shared__ Candidate partials[kThreads];
  for (int64_t output = blockIdx.x; output < plan.outer.numel; output += gridDim.x) {
    const ReduceTarget target = reduce_target(plan, output);
    partials[threadIdx.x] = thread_arg_partial<T, kMax>(plan, target.input, threadIdx.x, blockDim.x);
    tree_combine(partials, [](const Candidate& a, const Candidate& b) { return better_of<kMax>(a, b); });
    if (threadIdx.x == 0) {
      *reinterpret_cast<T*>(target.output) = convert<T>(partials[0].value);
      int64_t index_offset[1];
      operand_offsets<1>(indices, output, index_offset);  // same row-major position as the output
      *reinterpret_cast<int64_t*>(indices.data[0] + index_offset[0]) = partials[0].index;
    }
    __syncthreads();
  }
}

template <class T, class Reducer>
void launch_reduce(const ReducePlan& plan, int device, const Reducer& reducer) {
  reduce_kernel<T><<<grid_for(plan.outer.numel * kThreads), block_threads_for(plan.reduced_numel), 0,
                     current_stream_handle(device)>>>(plan, reducer);
}

}  // namespace

void CudaBackend::reduce(kernels::ReduceOp op, const ReducePlan& plan) {
  if (plan.outer.numel == 0) return;
  DeviceGuard guard(device_);
  visit_dtype(plan.outer.dtypes[1], [&]<class T>(TypeTag<T>) {
    switch (op) {
      case kernels::ReduceOp::Sum: return launch_reduce<T>(plan, device_, SumReducer<T>{});
      case kernels::ReduceOp::Prod: return launch_reduce<T>(plan, device_, ProdReducer<T>{});
      case kernels::ReduceOp::Max: return launch_reduce<T>(plan, device_, MaxReducer<T>{});
      case kernels::ReduceOp::Min: return launch_reduce<T>(plan, device_, MinReducer<T>{});
      case kernels::ReduceOp::All: return launch_reduce<T>(plan, device_, AllReducer<T>{});
      case kernels::ReduceOp::Any: return launch_reduce<T>(plan, device_, AnyReducer<T>{});
    }
  });
  check_launch("reduce");
}

void CudaBackend::arg_reduce(kernels::ArgReduceOp op, const ReducePlan& plan, const Tensor& indices) {
  if (plan.outer.numel == 0) return;
  EMBER_CHECK(indices.dtype() == kInt64 && indices.numel() == plan.outer.numel,
              "arg_reduce: indices must be int64 with {} elements, got {} with {}", plan.outer.numel,
              name(indices.dtype()), indices.numel());
  EMBER_CHECK(plan.outer.dtypes[0] == plan.outer.dtypes[1], "arg_reduce: values ({}) and input ({}) dtypes differ",
              name(plan.outer.dtypes[0]), name(plan.outer.dtypes[1]));
  const ElementwisePlan index_plan = kernels::make_elementwise_plan({&indices});
  DeviceGuard guard(device_);
  const unsigned blocks = grid_for(plan.outer.numel * kThreads), threads = block_threads_for(plan.reduced_numel);
  const cudaStream_t stream = current_stream_handle(device_);
  visit_dtype(plan.outer.dtypes[1], [&]<class T>(TypeTag<T>) {
    if (op == kernels::ArgReduceOp::ArgMax) arg_reduce_kernel<T, true><<<blocks, threads, 0, stream>>>(plan, index_plan);
    else arg_reduce_kernel<T, false><<<blocks, threads, 0, stream>>>(plan, index_plan);
  });
  check_launch("arg_reduce");
}

}  // namespace ember::cuda

// index_select, gather, scatter_add and index_add (see index_element.h for the layout).
#include "cuda/cuda_backend.h"
#include "cuda/index_element.h"
#include "cuda/launch.cuh"

namespace ember::cuda {

using kernels::IndexArgs;

namespace {

template <class Word>
__global__ void gather_kernel(GatherPlan gather) {
  for (int64_t i = thread_index(); i < gather.plan.numel; i += grid_size()) gather_element<Word>(gather, i);
}

template <class T>
__global__ void scatter_add_kernel(ScatterPlan scatter) {
  for (int64_t i = thread_index(); i < scatter.plan.numel; i += grid_size()) scatter_add_position<T>(scatter, i);
}

void gather_along(int device, const Tensor& source, const Tensor& index, const Tensor& output, int64_t dim) {
  if (output.numel() == 0) return;
  const GatherPlan gather = make_gather_plan(source, index, output, dim);
  DeviceGuard guard(device);
  const unsigned blocks = grid_for(gather.plan.numel);
  const cudaStream_t stream = current_stream_handle(device);
  switch (source.element_size()) {
    case 1: gather_kernel<uint8_t><<<blocks, kThreads, 0, stream>>>(gather); break;
    case 2: gather_kernel<uint16_t><<<blocks, kThreads, 0, stream>>>(gather); break;
    case 4: gather_kernel<uint32_t><<<blocks, kThreads, 0, stream>>>(gather); break;
    default: gather_kernel<uint64_t><<<blocks, kThreads, 0, stream>>>(gather); break;
  }
  check_launch("gather");
}

void scatter_add_along(int device, const Tensor& destination, const Tensor& index, const Tensor& source,
                       int64_t dim) {
  if (index.numel() == 0) return;
  const ScatterPlan scatter = make_scatter_plan(destination, index, source, dim);
  DeviceGuard guard(device);
  const unsigned blocks = grid_for(scatter.plan.numel);
  const cudaStream_t stream = current_stream_handle(device);
  visit_dtype(destination.dtype(), [&]<class T>(TypeTag<T>) {
    scatter_add_kernel<T><<<blocks, kThreads, 0, stream>>>(scatter);
  });
  check_launch("scatter_add");
}

}  // namespace

void CudaBackend::index_select(const IndexArgs& args) {
  gather_along(device_, args.self, spread_index(args.index, args.other.sizes(), args.dim), args.other, args.dim);
}

void CudaBackend::gather(const IndexArgs& args) { gather_along(device_, args.self, args.index, args.other, args.dim); }

void CudaBackend::scatter_add(const IndexArgs& args) {
  // Only the part of the source the index covers takes part.
  const Tensor covered_source = make_tensor(args.other.storage(), args.index.sizes(), args.other.strides(),
                                            args.other.storage_offset(), args.other.dtype());
  scatter_add_along(device_, args.self, args.index, covered_source, args.dim);
}

void CudaBackend::index_add(const IndexArgs& args) {
  scatter_add_along(device_, args.self, spread_index(args.index, args.other.sizes(), args.dim), args.other, args.dim);
}

}  // namespace ember::cuda

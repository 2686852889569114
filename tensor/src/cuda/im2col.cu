// im2col and col2im on CUDA: one thread per column element (im2col), or per image element
// (col2im, which gathers the column entries that read it: no atomics, and the sums the CPU
// computes). The index arithmetic is kernels/im2col_element.h, shared with the CPU.
#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"
#include "kernels/im2col_element.h"

namespace ember::cuda {

using kernels::UnfoldArgs;
using kernels::UnfoldGeometry;

namespace {

// Thread i writes columns[row, image, position], i counted over [column_rows, images, column_cols].
template <class T>
__global__ void im2col_kernel(UnfoldGeometry geometry, int64_t images, const T* image, T* columns) {
  const int64_t positions = geometry.column_cols();
  const int64_t total = images * geometry.columns_numel();
  for (int64_t i = thread_index(); i < total; i += grid_size()) {
    const int64_t position = i % positions, index = (i / positions) % images, row = i / (positions * images);
    columns[i] = kernels::im2col_element(geometry, image + index * geometry.image_numel(), row * positions + position);
  }
}

template <class T>
__global__ void col2im_kernel(UnfoldGeometry geometry, int64_t images, const T* columns, T* image) {
  const int64_t per_image = geometry.image_numel();
  const int64_t total = images * per_image;
  const int64_t row_stride = images * geometry.column_cols();
  for (int64_t i = thread_index(); i < total; i += grid_size()) {
    const int64_t index = i / per_image;
    image[i] = kernels::convert<T>(kernels::col2im_element(geometry, columns + index * geometry.column_cols(),
                                                           row_stride, i - index * per_image));
  }
}

}  // namespace

void CudaBackend::im2col(const UnfoldArgs& args) {
  const int64_t total = args.images * args.geometry.columns_numel();
  if (total == 0) return;
  launch_floating(device_, args.dtype, "im2col", [&]<class T>(TypeTag<T>, cudaStream_t stream) {
    im2col_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(args.geometry, args.images,
                                                                static_cast<const T*>(args.image),
                                                                static_cast<T*>(args.columns));
  });
}

void CudaBackend::col2im(const UnfoldArgs& args) {
  const int64_t total = args.images * args.geometry.image_numel();
  if (total == 0) return;
  launch_floating(device_, args.dtype, "col2im", [&]<class T>(TypeTag<T>, cudaStream_t stream) {
    col2im_kernel<T><<<grid_for(total), kThreads, 0, stream>>>(args.geometry, args.images,
                                                                static_cast<const T*>(args.columns),
                                                                static_cast<T*>(args.image));
  });
}

}  // namespace ember::cuda

// Matrix products through cuBLAS (gemm_mapping.h turns Ember's row-major arguments into
// cuBLAS's column-major ones). float16/bfloat16 multiply on tensor cores and accumulate in
// float32; float32 stays IEEE float32 (no TF32), as PyTorch's default.
#include <climits>

#include "cuda/cuda_backend.h"
#include "cuda/gemm_mapping.h"
#include "cuda/launch.cuh"

namespace ember::cuda {

using kernels::GemmArgs;

namespace {

// With nothing to sum over, C = beta * C (and exactly zero when beta is 0, whatever C held):
// BLAS leaves that case to the caller's reading of the standard, so it is done here.
template <class T>
__global__ void scale_kernel(T* c, int64_t batch, int64_t m, int64_t n, int64_t ldc, int64_t stride, double beta) {
  using C = compute_t<T>;
  const int64_t total = batch * m * n;
  for (int64_t i = thread_index(); i < total; i += grid_size()) {
    const int64_t col = i % n, row = (i / n) % m, index = i / (m * n);
    T& value = c[index * stride + row * ldc + col];
    value = beta == 0.0 ? convert<T>(C(0)) : convert<T>(static_cast<C>(value) * static_cast<C>(beta));
  }
}

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case kFloat16: return CUDA_R_16F;
    case kBFloat16: return CUDA_R_16BF;
    case kFloat32: return CUDA_R_32F;
    default: return CUDA_R_64F;
  }
}

}  // namespace

void CudaBackend::gemm(const GemmArgs& args) {
  if (args.batch == 0 || args.m == 0 || args.n == 0) return;
  EMBER_CHECK(is_floating_point(args.dtype), "gemm: {} matrix products are not supported on CUDA", name(args.dtype));
  const bool fits = args.m <= INT_MAX && args.n <= INT_MAX && args.k <= INT_MAX && args.lda <= INT_MAX &&
                    args.ldb <= INT_MAX && args.ldc <= INT_MAX && args.batch <= INT_MAX;
  EMBER_CHECK(fits, "gemm: sizes m={} n={} k={} batch={} (leading dims {}, {}, {}) exceed cuBLAS's 32-bit range",
              args.m, args.n, args.k, args.batch, args.lda, args.ldb, args.ldc);
  DeviceGuard guard(device_);
  const cudaStream_t stream = current_stream_handle(device_);
  if (args.k == 0) {
    visit_dtype(args.dtype, [&]<class T>(TypeTag<T>) {
      if constexpr (is_floating_v<T>) scale_kernel<<<grid_for(args.batch * args.m * args.n), kThreads, 0, stream>>>(
          static_cast<T*>(args.c), args.batch, args.m, args.n, args.ldc, args.batch_stride_c, args.beta);
    });
    check_launch("gemm");
    return;
  }
  const ColumnMajorGemm gemm = to_column_major(args);
  const cudaDataType_t type = cuda_type(args.dtype);
  const bool double_precision = args.dtype == kFloat64;
  const float alpha32 = static_cast<float>(args.alpha), beta32 = static_cast<float>(args.beta);
  const void* alpha = double_precision ? static_cast<const void*>(&args.alpha) : &alpha32;
  const void* beta = double_precision ? static_cast<const void*>(&args.beta) : &beta32;
  check(cublasGemmStridedBatchedEx(
            blas_handle(device_, stream), gemm.transpose_first ? CUBLAS_OP_T : CUBLAS_OP_N,
            gemm.transpose_second ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(gemm.rows), static_cast<int>(gemm.cols),
            static_cast<int>(gemm.inner), alpha, gemm.first, type, static_cast<int>(gemm.ld_first), gemm.stride_first,
            gemm.second, type, static_cast<int>(gemm.ld_second), gemm.stride_second, beta, gemm.output, type,
            static_cast<int>(gemm.ld_output), gemm.stride_output, static_cast<int>(gemm.batch),
            double_precision ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "gemm: cublasGemmStridedBatchedEx");
}

}  // namespace ember::cuda

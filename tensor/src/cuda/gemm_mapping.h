#pragma once
// Ember's GEMM is row-major; cuBLAS is column-major. A row-major matrix with leading dimension
// ld is, read column-major with the same ld, its transpose. So row-major C = op(A) op(B) is
// column-major C^T = op(B)^T op(A)^T: cuBLAS multiplies B by A with the same transpose flags,
// m and n swapped, every leading dimension and batch stride unchanged.
#include <cstdint>

namespace ember::cuda {

struct ColumnMajorGemm {
  bool transpose_first = false, transpose_second = false;
  int64_t rows = 0, cols = 0, inner = 0;  // the column-major product is rows x cols
  const void* first = nullptr;
  int64_t ld_first = 0, stride_first = 0;
  const void* second = nullptr;
  int64_t ld_second = 0, stride_second = 0;
  void* output = nullptr;
  int64_t ld_output = 0, stride_output = 0;
  int64_t batch = 1;
};

// Args is kernels::GemmArgs (a parameter so that a CPU test can check this without backend.h).
template <class Args>
ColumnMajorGemm to_column_major(const Args& args) {
  ColumnMajorGemm gemm;
  gemm.transpose_first = args.transpose_b;
  gemm.transpose_second = args.transpose_a;
  gemm.rows = args.n;
  gemm.cols = args.m;
  gemm.inner = args.k;
  gemm.first = args.b;
  gemm.ld_first = args.ldb;
  gemm.stride_first = args.batch_stride_b;
  gemm.second = args.a;
  gemm.ld_second = args.lda;
  gemm.stride_second = args.batch_stride_a;
  gemm.output = args.c;
  gemm.ld_output = args.ldc;
  gemm.stride_output = args.batch_stride_c;
  gemm.batch = args.batch;
  return gemm;
}

}  // namespace ember::cuda

// CPU matrix products. float32/float64 go to OpenBLAS; float16/bfloat16 are widened to float32
// around an sgemm; integers use a plain loop because BLAS has no integer GEMM.
#include <cblas.h>

#include <omp.h>

#include <algorithm>
#include <climits>
#include <type_traits>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"

namespace ember::cpu {
namespace {

using kernels::GemmArgs;

// Products of at most 64^3 multiply-adds are not worth splitting: batches of them are spread
// over our threads, several per thread.
constexpr int64_t kSmallProduct = int64_t{64} * 64 * 64;

// The rows and columns of a matrix as stored, before op() transposes it.
struct Stored {
  int64_t rows, cols;
};
Stored stored_a(const GemmArgs& args) { return args.transpose_a ? Stored{args.k, args.m} : Stored{args.m, args.k}; }
Stored stored_b(const GemmArgs& args) { return args.transpose_b ? Stored{args.n, args.k} : Stored{args.k, args.n}; }

// Calls body(begin, end) over ranges of batch indices: all on this thread when each product is
// big enough for OpenBLAS to parallelise, else split across threads.
template <class Body>
void for_batches(const GemmArgs& args, const Body& body) {
  const int64_t work = args.m * args.n * args.k;
  if (args.batch == 1 || work > kSmallProduct) return body(int64_t{0}, args.batch);
  parallel_for(args.batch, std::max<int64_t>(1, kSmallProduct / std::max<int64_t>(work, 1)), body);
}

template <class T> const T* batch_of(const void* base, int64_t index, int64_t stride) {
  return static_cast<const T*>(base) + index * stride;
}
template <class T> T* batch_of(void* base, int64_t index, int64_t stride) {
  return static_cast<T*>(base) + index * stride;
}

void blas_gemm(const GemmArgs& args, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
               int64_t ldc) {
  cblas_sgemm(CblasRowMajor, args.transpose_a ? CblasTrans : CblasNoTrans, args.transpose_b ? CblasTrans : CblasNoTrans,
              args.m, args.n, args.k, static_cast<float>(args.alpha), a, lda, b, ldb, static_cast<float>(args.beta), c,
              ldc);
}

void blas_gemm(const GemmArgs& args, const double* a, int64_t lda, const double* b, int64_t ldb, double* c,
               int64_t ldc) {
  cblas_dgemm(CblasRowMajor, args.transpose_a ? CblasTrans : CblasNoTrans, args.transpose_b ? CblasTrans : CblasNoTrans,
              args.m, args.n, args.k, args.alpha, a, lda, b, ldb, args.beta, c, ldc);
}

// One thread pool for everything: OpenBLAS runs single-threaded (see threads.cpp) and each of our
// OpenMP threads computes a block of C. With OpenBLAS's own pool beside OpenMP's, the OpenMP
// threads spin-waiting after an elementwise op took the cores OpenBLAS's threads needed, and a
// 2-thread training step ran slower than a 1-thread one.
template <class T>
void native_gemm(const GemmArgs& args) {
  const int64_t threads = omp_in_parallel() ? 1 : num_threads();
  const int64_t work = args.m * args.n * args.k;
  // Split each product into blocks of rows (or columns, when C is wider than tall) until every
  // thread has a block; blocks stay multiples of 16 so the BLAS kernels keep their full width.
  const bool along_rows = args.m >= args.n;
  const int64_t extent = along_rows ? args.m : args.n;
  constexpr int64_t kAlignment = 16;
  int64_t parts = 1;
  if (args.batch < threads && work >= kSmallProduct) {
    parts = std::min((threads + args.batch - 1) / args.batch, (extent + kAlignment - 1) / kAlignment);
  }
  const int64_t tasks = args.batch * parts;
  const int64_t grain = parts > 1 || work > kSmallProduct ? 1 : std::max<int64_t>(1, kSmallProduct / std::max<int64_t>(work, 1));
  parallel_for(tasks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t index = task / parts, part = task % parts;
      const int64_t first = std::min(extent, (extent * part / parts + kAlignment - 1) / kAlignment * kAlignment);
      const int64_t last = part + 1 == parts ? extent
                                             : std::min(extent, (extent * (part + 1) / parts + kAlignment - 1) /
                                                                    kAlignment * kAlignment);
      if (first >= last) continue;
      const T* a = batch_of<T>(args.a, index, args.batch_stride_a);
      const T* b = batch_of<T>(args.b, index, args.batch_stride_b);
      T* c = batch_of<T>(args.c, index, args.batch_stride_c);
      GemmArgs block = args;
      if (along_rows) {
        block.m = last - first;
        a += args.transpose_a ? first : first * args.lda;
        c += first * args.ldc;
      } else {
        block.n = last - first;
        b += args.transpose_b ? first * args.ldb : first;
        c += first;
      }
      blas_gemm(block, a, args.lda, b, args.ldb, c, args.ldc);
    }
  });
}

// Copies a rows x cols matrix with leading dimension `leading` into a dense float buffer.
template <class From, class To>
void convert_matrix(const From* source, int64_t leading, Stored shape, To* target, int64_t target_leading) {
  for (int64_t row = 0; row < shape.rows; ++row) {
    for (int64_t col = 0; col < shape.cols; ++col) {
      target[row * target_leading + col] = To(static_cast<float>(source[row * leading + col]));
    }
  }
}

template <class T>
void widened_gemm(const GemmArgs& args) {
  const Stored a_shape = stored_a(args), b_shape = stored_b(args), c_shape{args.m, args.n};
  for_batches(args, [&](int64_t begin, int64_t end) {
    std::vector<float> a(a_shape.rows * a_shape.cols), b(b_shape.rows * b_shape.cols), c(args.m * args.n, 0.0f);
    for (int64_t index = begin; index < end; ++index) {
      // A broadcast operand (batch stride 0) is the same matrix every time: widen it once.
      if (index == begin || args.batch_stride_a != 0) {
        convert_matrix(batch_of<T>(args.a, index, args.batch_stride_a), args.lda, a_shape, a.data(), a_shape.cols);
      }
      if (index == begin || args.batch_stride_b != 0) {
        convert_matrix(batch_of<T>(args.b, index, args.batch_stride_b), args.ldb, b_shape, b.data(), b_shape.cols);
      }
      T* output = batch_of<T>(args.c, index, args.batch_stride_c);
      if (args.beta != 0.0) convert_matrix(output, args.ldc, c_shape, c.data(), args.n);
      blas_gemm(args, a.data(), a_shape.cols, b.data(), b_shape.cols, c.data(), args.n);
      convert_matrix(c.data(), args.n, c_shape, output, args.ldc);
    }
  });
}

// One row of C for integers, which wrap on overflow like PyTorch's CPU kernels; unsigned
// arithmetic makes that defined behaviour.
template <class T>
void integer_row(const GemmArgs& args, int64_t index, int64_t row, std::vector<std::make_unsigned_t<T>>& sums) {
  using Wrapping = std::make_unsigned_t<T>;
  const T* a = batch_of<T>(args.a, index, args.batch_stride_a);
  const T* b = batch_of<T>(args.b, index, args.batch_stride_b);
  T* c = batch_of<T>(args.c, index, args.batch_stride_c) + row * args.ldc;
  std::fill(sums.begin(), sums.end(), Wrapping{0});
  for (int64_t inner = 0; inner < args.k; ++inner) {
    const auto left = static_cast<Wrapping>(args.transpose_a ? a[inner * args.lda + row] : a[row * args.lda + inner]);
    for (int64_t col = 0; col < args.n; ++col) {
      const T right_value = args.transpose_b ? b[col * args.ldb + inner] : b[inner * args.ldb + col];
      const auto right = static_cast<Wrapping>(right_value);
      sums[col] = static_cast<Wrapping>(sums[col] + static_cast<Wrapping>(left * right));
    }
  }
  const auto alpha = static_cast<Wrapping>(static_cast<T>(args.alpha));
  const auto beta = static_cast<Wrapping>(static_cast<T>(args.beta));
  for (int64_t col = 0; col < args.n; ++col) {
    auto value = static_cast<Wrapping>(alpha * sums[col]);
    if (beta != 0) value = static_cast<Wrapping>(value + static_cast<Wrapping>(beta * static_cast<Wrapping>(c[col])));
    c[col] = static_cast<T>(value);
  }
}

template <class T>
void integer_gemm(const GemmArgs& args) {
  const int64_t grain = std::max<int64_t>(1, kSmallProduct / std::max<int64_t>(args.n * args.k, 1));
  parallel_for(args.batch * args.m, grain, [&](int64_t begin, int64_t end) {
    std::vector<std::make_unsigned_t<T>> sums(args.n);
    for (int64_t flat = begin; flat < end; ++flat) integer_row<T>(args, flat / args.m, flat % args.m, sums);
  });
}

// With nothing to sum over, C = beta * C (and exactly zero when beta is 0, whatever C held).
template <class T>
void scale_output(const GemmArgs& args) {
  using C = compute_t<T>;
  for (int64_t index = 0; index < args.batch; ++index) {
    T* c = batch_of<T>(args.c, index, args.batch_stride_c);
    for (int64_t row = 0; row < args.m; ++row) {
      for (int64_t col = 0; col < args.n; ++col) {
        T& value = c[row * args.ldc + col];
        value = args.beta == 0.0 ? T(C{0}) : T(static_cast<C>(static_cast<C>(value) * static_cast<C>(args.beta)));
      }
    }
  }
}

}  // namespace

void CpuBackend::gemm(const GemmArgs& args) {
  if (args.batch == 0 || args.m == 0 || args.n == 0) return;
  num_threads();  // reads the configured thread count into OpenBLAS before its first use
  const bool fits = args.m <= INT_MAX && args.n <= INT_MAX && args.k <= INT_MAX && args.lda <= INT_MAX &&
                    args.ldb <= INT_MAX && args.ldc <= INT_MAX;
  EMBER_CHECK(fits, "gemm: sizes m={} n={} k={} (leading dims {}, {}, {}) exceed BLAS's 32-bit range", args.m, args.n,
              args.k, args.lda, args.ldb, args.ldc);
  visit_dtype(args.dtype, [&]<class T>(TypeTag<T>) {
    if constexpr (std::is_same_v<T, bool>) {
      fail("gemm: bool matrices are not supported");
    } else if (args.k == 0) {
      scale_output<T>(args);
    } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      native_gemm<T>(args);
    } else if constexpr (is_reduced_float_v<T>) {
      widened_gemm<T>(args);
    } else {
      integer_gemm<T>(args);
    }
  });
}

}  // namespace ember::cpu

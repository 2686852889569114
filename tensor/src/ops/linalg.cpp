// Matrix products with torch.matmul's semantics, written once for every device on top of
// Backend::gemm. Operands reach the GEMM as views whenever their strides allow it: a matrix
// stored row-major or column-major (a transposed view) with any leading dimension, under batch
// dims with any strides, broadcast ones included. Only other matrix layouts are copied.
// Integer dtypes are supported on CPU only (a plain loop there: BLAS has no integer GEMM), as in
// PyTorch 1.13; bool is rejected.
#include "ember/tensor/linalg.h"

#include <algorithm>
#include <vector>

#include "ember/tensor/factories.h"
#include "kernels/backend.h"

namespace ember {
namespace {

// How BLAS can read a rows x cols matrix with these element strides. The stride of a dim of
// size 1 never matters, so it is taken to be whatever suits.
struct MatrixLayout {
  bool usable = false;
  bool transposed = false;
  int64_t leading = 0;
};

MatrixLayout blas_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  const bool row_major = (cols <= 1 || col_stride == 1) && (rows <= 1 || row_stride >= std::max<int64_t>(cols, 1));
  if (row_major) return {true, false, rows <= 1 ? std::max<int64_t>(cols, 1) : row_stride};
  const bool column_major = (rows <= 1 || row_stride == 1) && (cols <= 1 || col_stride >= std::max<int64_t>(rows, 1));
  if (column_major) return {true, true, cols <= 1 ? std::max<int64_t>(rows, 1) : col_stride};
  return {};
}

MatrixLayout matrix_layout(const Tensor& tensor) {
  const int64_t last = tensor.dim() - 1;
  return blas_layout(tensor.size(last - 1), tensor.size(last), tensor.stride(last - 1), tensor.stride(last));
}

// `tensor` itself when BLAS can read its matrices, else a dense copy. Broadcast batch dims
// (stride 0) stay broadcast: only the distinct matrices are copied.
Tensor blas_ready(const Tensor& tensor) {
  if (matrix_layout(tensor).usable) return tensor;
  DimVector distinct = tensor.shape();
  for (int64_t dim = 0; dim + 2 < tensor.dim(); ++dim) {
    if (tensor.stride(dim) == 0) distinct[dim] = 1;
  }
  return tensor.as_strided(distinct, tensor.strides()).contiguous().expand(tensor.sizes());
}

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.defined() && b.defined(), "{}: an operand is an undefined tensor", op);
  EMBER_CHECK(a.dtype() == b.dtype(), "{}: expected both operands to have the same dtype, got {} and {}", op,
              name(a.dtype()), name(b.dtype()));
  EMBER_CHECK(a.device() == b.device(), "{}: expected both operands on the same device, got {} and {}", op,
              a.device().str(), b.device().str());
  EMBER_CHECK(a.dtype() != kBool, "{}: bool matrices are not supported (shapes {} and {})", op, to_string(a.sizes()),
              to_string(b.sizes()));
  EMBER_CHECK(is_floating_point(a.dtype()) || a.device().is_cpu(),
              "{}: integer matrix products ({}) are only supported on CPU, not {}", op, name(a.dtype()),
              a.device().str());
}

[[noreturn]] void fail_shapes(const Tensor& a, const Tensor& b, const char* op) {
  fail("{}: shapes {} and {} cannot be multiplied", op, to_string(a.sizes()), to_string(b.sizes()));
}

// One batch dim as seen by the three operands, in elements.
struct BatchDim {
  int64_t size, stride_a, stride_b, stride_c;
};

bool collapses(const BatchDim& outer, const BatchDim& inner) {
  return outer.stride_a == inner.stride_a * inner.size && outer.stride_b == inner.stride_b * inner.size &&
         outer.stride_c == inner.stride_c * inner.size;
}

const char* advance(const void* base, int64_t elements, int64_t element_size) {
  return static_cast<const char*>(base) + elements * element_size;
}

// output = alpha * (a @ b) + beta * output over the batch dims. a is [..., m, k], b [..., k, n]
// and output a dense [..., m, n], the batch dims already broadcast to the same sizes (possibly
// with stride 0) and every matrix readable by BLAS.
void batched_gemm(const Tensor& a, const Tensor& b, const Tensor& output, double alpha, double beta) {
  if (output.numel() == 0) return;
  const int64_t rows_dim = output.dim() - 2;
  const int64_t m = output.size(rows_dim), n = output.size(rows_dim + 1), k = a.size(rows_dim + 1);
  if (k == 0) {  // an empty sum: only the beta term is left
    if (beta == 0.0) Tensor(output).zero_();
    else if (beta != 1.0) Tensor(output).mul_(is_floating_point(output.dtype()) ? Scalar(beta) : Scalar(int64_t(beta)));
    return;
  }
  const MatrixLayout layout_a = matrix_layout(a), layout_b = matrix_layout(b);
  kernels::GemmArgs args;
  args.dtype = output.dtype();
  args.transpose_a = layout_a.transposed;
  args.transpose_b = layout_b.transposed;
  args.m = m, args.n = n, args.k = k;
  args.alpha = alpha, args.beta = beta;
  args.lda = layout_a.leading, args.ldb = layout_b.leading, args.ldc = n;

  std::vector<BatchDim> dims;
  for (int64_t dim = 0; dim < rows_dim; ++dim) {
    if (output.size(dim) != 1) dims.push_back({output.size(dim), a.stride(dim), b.stride(dim), output.stride(dim)});
  }
  const int64_t element_size = output.element_size();
  auto launch = [&](int64_t offset_a, int64_t offset_b, int64_t offset_c) {
    args.a = advance(a.data_ptr(), offset_a, element_size);
    args.b = advance(b.data_ptr(), offset_b, element_size);
    args.c = const_cast<char*>(advance(output.data_ptr(), offset_c, element_size));
    kernels::backend(output.device()).gemm(args);
  };

  // The same right-hand matrix for every batch, and left-hand rows evenly spaced across the
  // batch dims: one tall product (how a linear layer's [batch, tokens, features] input runs).
  const bool b_shared = std::all_of(dims.begin(), dims.end(), [](const BatchDim& dim) { return dim.stride_b == 0; });
  if (b_shared && !dims.empty() && !layout_a.transposed) {
    int64_t expected = args.lda * m, rows = m;
    bool folds = true;
    for (auto dim = dims.rbegin(); dim != dims.rend(); ++dim) {
      folds = folds && dim->stride_a == expected;
      expected *= dim->size;
      rows *= dim->size;
    }
    if (folds) {
      args.m = rows;
      return launch(0, 0, 0);
    }
  }

  // The innermost batch dims that share one stride in all three operands form one batched call;
  // any outer ones are looped over here.
  size_t split = dims.size();
  while (split > 0 && (split == dims.size() || collapses(dims[split - 1], dims[split]))) --split;
  if (split < dims.size()) {
    args.batch = 1;
    for (size_t dim = split; dim < dims.size(); ++dim) args.batch *= dims[dim].size;
    args.batch_stride_a = dims.back().stride_a;
    args.batch_stride_b = dims.back().stride_b;
    args.batch_stride_c = dims.back().stride_c;
  }
  std::vector<int64_t> counter(split, 0);
  int64_t offset_a = 0, offset_b = 0, offset_c = 0;
  while (true) {
    launch(offset_a, offset_b, offset_c);
    size_t dim = split;
    while (dim > 0) {
      --dim;
      const BatchDim& batch = dims[dim];
      if (++counter[dim] < batch.size) {
        offset_a += batch.stride_a, offset_b += batch.stride_b, offset_c += batch.stride_c;
        break;
      }
      offset_a -= (batch.size - 1) * batch.stride_a;
      offset_b -= (batch.size - 1) * batch.stride_b;
      offset_c -= (batch.size - 1) * batch.stride_c;
      counter[dim] = 0;
      if (dim == 0) return;
    }
    if (split == 0) return;
  }
}

// a [..., m, k] @ b [..., k, n] with broadcast batch dims; both at least 2-D, shapes checked.
Tensor product(const Tensor& a, const Tensor& b, const Tensor& original_a, const Tensor& original_b, const char* op) {
  const int64_t batch_a = a.dim() - 2, batch_b = b.dim() - 2;
  const int64_t batch_dims = std::max(batch_a, batch_b);
  DimVector shape(batch_dims + 2);
  for (int64_t dim = 0; dim < batch_dims; ++dim) {
    const int64_t size_a = dim < batch_dims - batch_a ? 1 : a.size(dim - (batch_dims - batch_a));
    const int64_t size_b = dim < batch_dims - batch_b ? 1 : b.size(dim - (batch_dims - batch_b));
    EMBER_CHECK(size_a == size_b || size_a == 1 || size_b == 1,
                "{}: the batch dims of shapes {} and {} cannot be broadcast", op, to_string(original_a.sizes()),
                to_string(original_b.sizes()));
    shape[dim] = size_a == 1 ? size_b : size_a;
  }
  shape[batch_dims] = a.size(batch_a);
  shape[batch_dims + 1] = b.size(batch_b + 1);
  Tensor output = empty(shape, a.options());
  if (output.numel() == 0) return output;

  DimVector shape_a(shape.begin(), shape.end()), shape_b(shape.begin(), shape.end());
  shape_a[batch_dims + 1] = a.size(batch_a + 1);
  shape_b[batch_dims] = b.size(batch_b);
  batched_gemm(blas_ready(a).expand(shape_a), blas_ready(b).expand(shape_b), output, 1.0, 0.0);
  return output;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  EMBER_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got shapes {} and {}",
              to_string(a.sizes()), to_string(b.sizes()));
  // A 1-D left operand is a row vector and a 1-D right operand a column vector; the dim added
  // for it is removed from the result.
  const Tensor left = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor right = b.dim() == 1 ? b.unsqueeze(1) : b;
  if (left.size(-1) != right.size(right.dim() - 2)) fail_shapes(a, b, "matmul");
  Tensor result = product(left, right, a, b, "matmul");
  DimVector shape = result.shape();
  if (b.dim() == 1) shape.erase(shape.end() - 1);
  if (a.dim() == 1) shape.erase(shape.end() - (b.dim() == 1 ? 1 : 2));
  return result.view(shape);
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "mm");
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D matrices, got shapes {} and {}", to_string(a.sizes()),
              to_string(b.sizes()));
  if (a.size(1) != b.size(0)) fail_shapes(a, b, "mm");
  return product(a, b, a, b, "mm");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "bmm");
  EMBER_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D batches of matrices, got shapes {} and {}",
              to_string(a.sizes()), to_string(b.sizes()));
  EMBER_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ in shapes {} and {}", to_string(a.sizes()),
              to_string(b.sizes()));
  if (a.size(2) != b.size(1)) fail_shapes(a, b, "bmm");
  return product(a, b, a, b, "bmm");
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "dot");
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got shapes {} and {}", to_string(a.sizes()),
              to_string(b.sizes()));
  EMBER_CHECK(a.size(0) == b.size(0), "dot: shapes {} and {} differ in length", to_string(a.sizes()),
              to_string(b.sizes()));
  return product(a.unsqueeze(0), b.unsqueeze(1), a, b, "dot").view({});
}

Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b, const Scalar& beta, const Scalar& alpha) {
  check_operands(a, b, "addmm");
  EMBER_CHECK(bias.defined(), "addmm: the bias is an undefined tensor");
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2, "addmm: expected 2-D matrices, got shapes {} and {}",
              to_string(a.sizes()), to_string(b.sizes()));
  if (a.size(1) != b.size(0)) fail_shapes(a, b, "addmm");
  EMBER_CHECK(bias.dtype() == a.dtype(), "addmm: the bias has dtype {} but the matrices have {}", name(bias.dtype()),
              name(a.dtype()));
  EMBER_CHECK(bias.device() == a.device(), "addmm: the bias is on {} but the matrices are on {}", bias.device().str(),
              a.device().str());
  for (const Scalar* factor : {&beta, &alpha}) {
    EMBER_CHECK(is_floating_point(a.dtype()) || !factor->is_floating_point(),
                "addmm: beta and alpha must be integers for {} matrices, got {}", name(a.dtype()),
                factor->to_string());
  }
  const int64_t m = a.size(0), n = b.size(1);
  const int64_t bias_rows = bias.dim() == 2 ? bias.size(0) : 1;
  const int64_t bias_cols = bias.dim() >= 1 ? bias.size(-1) : 1;
  EMBER_CHECK(bias.dim() <= 2 && (bias_rows == m || bias_rows == 1) && (bias_cols == n || bias_cols == 1),
              "addmm: a bias of shape {} cannot be broadcast to the product's shape [{}, {}] (shapes {} and {})",
              to_string(bias.sizes()), m, n, to_string(a.sizes()), to_string(b.sizes()));
  Tensor output = empty({m, n}, a.options());
  if (output.numel() == 0) return output;
  // beta = 0 ignores the bias entirely, so NaN or infinity in it does not leak into the result.
  const double beta_value = beta.to_double();
  if (beta_value != 0.0) output.copy_(bias.expand({m, n}));
  batched_gemm(blas_ready(a), blas_ready(b), output, alpha.to_double(), beta_value);
  return output;
}

}  // namespace ember

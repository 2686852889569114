// Matrix products with torch.matmul's semantics, written once for every device on top of
// Backend::gemm. Operands reach the GEMM as views whenever their strides allow it: a matrix
// stored row-major or column-major (a transposed view) with any leading dimension, under batch
// dims with any strides, broadcast ones included. Only other matrix layouts are copied.
// Integer dtypes are supported on CPU only (a plain loop there: BLAS has no integer GEMM), as in
// PyTorch 1.13; bool is rejected.
//
// Gradients: grad @ b^T for a and a^T @ grad for b, through the same GEMM path reading
// transposed views, each computed only when its input requires grad.
#include "ember/tensor/linalg.h"

#include <algorithm>
#include <vector>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
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

// alpha * (a [..., m, k] @ b [..., k, n]) with broadcast batch dims; both at least 2-D, shapes
// checked.
Tensor product(const Tensor& a, const Tensor& b, const Tensor& original_a, const Tensor& original_b, const char* op,
               double alpha = 1.0) {
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

  // Views of the operands made here are internal: the calling op records its own node.
  autograd::NoGradGuard internal_views;
  DimVector shape_a(shape.begin(), shape.end()), shape_b(shape.begin(), shape.end());
  shape_a[batch_dims + 1] = a.size(batch_a + 1);
  shape_b[batch_dims] = b.size(batch_b);
  batched_gemm(blas_ready(a).expand(shape_a), blas_ready(b).expand(shape_b), output, alpha, 0.0);
  return output;
}

Tensor product(const Tensor& a, const Tensor& b, double alpha = 1.0) { return product(a, b, a, b, "matmul", alpha); }

using autograd::SavedTensor;
using autograd::TensorList;

// A matrix stored column by column: a transposed view of a row-major one, such as the
// weight.t() a linear layer multiplies by.
bool is_column_major(const Tensor& matrix) {
  return !matrix.is_contiguous() && matrix.stride(0) == 1 && matrix.stride(1) == matrix.size(0);
}

// alpha * (a @ b) for 2-D operands, written column-major when asked: computed as
// (b^T @ a^T)^T, which costs nothing extra.
Tensor matrix_product(const Tensor& a, const Tensor& b, double alpha, bool column_major) {
  if (column_major) return product(b.t(), a.t(), alpha).t();
  return product(a, b, alpha);
}

// The gradients of alpha * (a @ b) for 2-D a and b: alpha * grad @ b^T and alpha * a^T @ grad.
// Each factor is saved only when the other input needs its gradient. A gradient takes the
// layout of its input (as PyTorch does), so a column-major weight.t() gets a column-major
// gradient and the transpose's backward hands the weight a row-major one without a copy.
class MatrixProductBackward {
 public:
  MatrixProductBackward(const Tensor& a, const Tensor& b, double alpha)
      : a_(b.requires_grad() ? SavedTensor(a) : SavedTensor()),
        b_(a.requires_grad() ? SavedTensor(b) : SavedTensor()),
        a_column_major_(is_column_major(a)),
        b_column_major_(is_column_major(b)),
        alpha_(alpha) {}

  std::pair<Tensor, Tensor> operator()(const Tensor& grad, const char* op) const {
    Tensor grad_a, grad_b;
    if (b_.defined()) grad_a = matrix_product(grad, b_.unpack(op).t(), alpha_, a_column_major_);
    if (a_.defined()) grad_b = matrix_product(a_.unpack(op).t(), grad, alpha_, b_column_major_);
    return {grad_a, grad_b};
  }

 private:
  SavedTensor a_, b_;
  bool a_column_major_, b_column_major_;
  double alpha_;
};

void record_matrix_product(const char* node_name, const Tensor& result, const Tensor& a, const Tensor& b) {
  autograd::record_backward(node_name, result, {&a, &b},
                            [backward = MatrixProductBackward(a, b, 1.0), node_name](const Tensor& grad) {
                              auto [grad_a, grad_b] = backward(grad, node_name);
                              return TensorList{grad_a, grad_b};
                            });
}

// matmul's gradients for any operand ranks. A 1-D operand was promoted to a matrix (a row on
// the left, a column on the right) whose extra dim the result dropped; the gradient is
// computed for the promoted matrices and the dim dropped again. Broadcast batch dims are
// summed away by the engine.
TensorList matmul_backward(const Tensor& grad, const SavedTensor& a_saved, const SavedTensor& b_saved,
                           IntArrayRef full_shape, int64_t a_dim, int64_t b_dim, const char* op) {
  const Tensor grad_full = grad.reshape(full_shape);
  Tensor grad_a, grad_b;
  if (b_saved.defined()) {
    const Tensor b = b_saved.unpack(op);
    const Tensor right = b_dim == 1 ? b.unsqueeze(1) : b;
    grad_a = product(grad_full, right.transpose(-1, -2));
    if (a_dim == 1) grad_a = grad_a.squeeze(-2);
  }
  if (a_saved.defined()) {
    const Tensor a = a_saved.unpack(op);
    const Tensor left = a_dim == 1 ? a.unsqueeze(0) : a;
    if (b_dim <= 2 && left.dim() > 2) {
      // Every batch multiplied the same b: fold the batches' rows into one GEMM instead of a
      // product per batch summed afterwards.
      const int64_t k = left.size(-1), n = grad_full.size(-1);
      grad_b = product(left.reshape({-1, k}).t(), grad_full.reshape({-1, n}));
    } else {
      grad_b = product(left.transpose(-1, -2), grad_full);
    }
    if (b_dim == 1) grad_b = grad_b.squeeze(-1);
  }
  return {grad_a, grad_b};
}

const char* matmul_node_name(int64_t a_dim, int64_t b_dim) {
  if (a_dim == 1 && b_dim == 1) return "DotBackward0";
  if (a_dim == 2 && b_dim == 1) return "MvBackward0";
  if (a_dim <= 2 && b_dim == 2) return "MmBackward0";
  return "BmmBackward0";
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  EMBER_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got shapes {} and {}",
              to_string(a.sizes()), to_string(b.sizes()));
  Tensor full, result;
  {
    autograd::NoGradGuard internal_views;
    // A 1-D left operand is a row vector and a 1-D right operand a column vector; the dim added
    // for it is removed from the result.
    const Tensor left = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Tensor right = b.dim() == 1 ? b.unsqueeze(1) : b;
    if (left.size(-1) != right.size(right.dim() - 2)) fail_shapes(a, b, "matmul");
    full = product(left, right, a, b, "matmul");
    DimVector shape = full.shape();
    if (b.dim() == 1) shape.erase(shape.end() - 1);
    if (a.dim() == 1) shape.erase(shape.end() - (b.dim() == 1 ? 1 : 2));
    result = full.view(shape);
  }
  if (autograd::requires_grad_any({&a, &b})) {
    const char* node_name = matmul_node_name(a.dim(), b.dim());
    if (a.dim() == 2 && b.dim() == 2) {
      record_matrix_product(node_name, result, a, b);
    } else {
      autograd::record_backward(node_name, result, {&a, &b},
                                [a_saved = b.requires_grad() ? SavedTensor(a) : SavedTensor(),
                                 b_saved = a.requires_grad() ? SavedTensor(b) : SavedTensor(),
                                 full_shape = full.shape(), a_dim = a.dim(), b_dim = b.dim(),
                                 node_name](const Tensor& grad) {
                                  return matmul_backward(grad, a_saved, b_saved, full_shape, a_dim, b_dim, node_name);
                                });
    }
  }
  return result;
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "mm");
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D matrices, got shapes {} and {}", to_string(a.sizes()),
              to_string(b.sizes()));
  if (a.size(1) != b.size(0)) fail_shapes(a, b, "mm");
  Tensor result = product(a, b, a, b, "mm");
  if (autograd::requires_grad_any({&a, &b})) record_matrix_product("MmBackward0", result, a, b);
  return result;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "bmm");
  EMBER_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D batches of matrices, got shapes {} and {}",
              to_string(a.sizes()), to_string(b.sizes()));
  EMBER_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ in shapes {} and {}", to_string(a.sizes()),
              to_string(b.sizes()));
  if (a.size(2) != b.size(1)) fail_shapes(a, b, "bmm");
  Tensor result = product(a, b, a, b, "bmm");
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("BmmBackward0", result, {&a, &b},
                              [a_saved = b.requires_grad() ? SavedTensor(a) : SavedTensor(),
                               b_saved = a.requires_grad() ? SavedTensor(b) : SavedTensor()](const Tensor& grad) {
                                return TensorList{
                                    b_saved.defined() ? product(grad, b_saved.unpack("BmmBackward0").transpose(1, 2))
                                                      : Tensor(),
                                    a_saved.defined() ? product(a_saved.unpack("BmmBackward0").transpose(1, 2), grad)
                                                      : Tensor()};
                              });
  }
  return result;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "dot");
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got shapes {} and {}", to_string(a.sizes()),
              to_string(b.sizes()));
  EMBER_CHECK(a.size(0) == b.size(0), "dot: shapes {} and {} differ in length", to_string(a.sizes()),
              to_string(b.sizes()));
  Tensor result;
  {
    autograd::NoGradGuard internal_views;
    result = product(a.unsqueeze(0), b.unsqueeze(1), a, b, "dot").view({});
  }
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("DotBackward0", result, {&a, &b},
                              [a_saved = b.requires_grad() ? SavedTensor(a) : SavedTensor(),
                               b_saved = a.requires_grad() ? SavedTensor(b) : SavedTensor()](const Tensor& grad) {
                                return TensorList{
                                    b_saved.defined() ? mul(b_saved.unpack("DotBackward0"), grad) : Tensor(),
                                    a_saved.defined() ? mul(a_saved.unpack("DotBackward0"), grad) : Tensor()};
                              });
  }
  return result;
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
  // beta = 0 ignores the bias entirely, so NaN or infinity in it does not leak into the result.
  const double beta_value = beta.to_double(), alpha_value = alpha.to_double();
  if (output.numel() > 0) {
    autograd::NoGradGuard internal_views;
    if (beta_value != 0.0) output.copy_(bias.expand({m, n}));
    batched_gemm(blas_ready(a), blas_ready(b), output, alpha_value, beta_value);
  }
  if (autograd::requires_grad_any({&bias, &a, &b})) {
    // The bias gradient is beta * grad, which the engine sums down to the bias's shape.
    autograd::record_backward(
        "AddmmBackward0", output, {&bias, &a, &b},
        [products = MatrixProductBackward(a, b, alpha_value), beta_value, bias_needs = bias.requires_grad()](
            const Tensor& grad) {
          auto [grad_a, grad_b] = products(grad, "AddmmBackward0");
          Tensor grad_bias;
          if (bias_needs) grad_bias = beta_value == 1.0 ? grad : mul(grad, beta_value);
          return TensorList{grad_bias, grad_a, grad_b};
        });
  }
  return output;
}

}  // namespace ember

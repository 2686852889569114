// Reductions: dim lists, dtype rules and empty-input rules as in PyTorch 1.13, written once for
// every device over the backend's reduce and arg_reduce. The composite ops (mean, var, std,
// norm, logsumexp, softmax, log_softmax) are built from those and the elementwise ops, with
// recording off inside: each op records one node whose gradient formula sits beside it.
#include "ember/tensor/reduction.h"

#include <cmath>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/indexing.h"
#include "kernels/backend.h"

namespace ember {

using autograd::SavedTensor;
using autograd::TensorList;
using kernels::ArgReduceOp;
using kernels::ReduceOp;

namespace {

void check_defined(const Tensor& input, const char* op) {
  EMBER_CHECK(input.defined(), "{}: the input is an undefined tensor", op);
}

// Which dims of the input a reduction folds, and the shapes it produces.
struct Reduction {
  DimVector kept_shape;    // the input's shape with reduced dims of size 1 (keepdim=true)
  DimVector result_shape;  // the reduced dims removed (keepdim=false)
  DimVector reduced;       // per input dim, 1 when reduced
  int64_t count = 1;       // input elements folded into each output
  bool all_dims = false;
};

Reduction describe(const Tensor& input, IntArrayRef dims, const char* op) {
  const int64_t ndim = input.dim();
  Reduction reduction;
  reduction.all_dims = dims.empty();
  reduction.reduced.assign(static_cast<size_t>(ndim), dims.empty() ? 1 : 0);
  DimVector seen(static_cast<size_t>(std::max<int64_t>(ndim, 1)), 0);
  for (const int64_t dim : dims) {
    const int64_t wrapped = wrap_dim(dim, ndim, op);
    EMBER_CHECK(!seen[wrapped], "{}: dim {} appears multiple times in the list of dims {}", op, wrapped,
                to_string(dims));
    seen[wrapped] = 1;
    if (ndim > 0) reduction.reduced[wrapped] = 1;
  }
  for (int64_t dim = 0; dim < ndim; ++dim) {
    const int64_t size = input.size(dim);
    if (reduction.reduced[dim]) {
      reduction.kept_shape.push_back(1);
      reduction.count *= size;
    } else {
      reduction.kept_shape.push_back(size);
      reduction.result_shape.push_back(size);
    }
  }
  return reduction;
}

// max, min and their relatives have no identity: every reduced dim must be non-empty.
void check_nonempty(const Tensor& input, const Reduction& reduction, const char* op) {
  EMBER_CHECK(!(reduction.all_dims && input.numel() == 0),
              "{}: cannot reduce an empty tensor of shape {} over all dims (the operation has no identity); "
              "specify the reduction dim",
              op, to_string(input.sizes()));
  for (int64_t dim = 0; dim < input.dim(); ++dim) {
    EMBER_CHECK(!reduction.reduced[dim] || input.size(dim) != 0,
                "{}: expected reduction dim {} to have non-zero size (input shape {})", op, dim,
                to_string(input.sizes()));
  }
}

Tensor shaped(const Tensor& kept, const Reduction& reduction, bool keepdim) {
  return keepdim ? kept : kept.view(reduction.result_shape);
}

// A reduction's gradient, viewed with the reduced dims back at size 1 so it broadcasts.
Tensor restore_reduced_dims(const Tensor& grad, const Reduction& reduction, bool keepdim) {
  return keepdim ? grad : grad.reshape(reduction.kept_shape);
}

// Runs the backend reduction over `input`, already in the result's dtype.
Tensor reduce(ReduceOp op, const Tensor& input, const Reduction& reduction, bool keepdim) {
  Tensor output = empty(reduction.kept_shape, input.options());
  if (output.numel() > 0) {
    if (reduction.count == 0) {
      const bool identity_is_one = op == ReduceOp::Prod || op == ReduceOp::All;
      output.fill_(identity_is_one ? 1 : 0);
    } else {
      kernels::backend(input.device()).reduce(op, kernels::make_reduce_plan(output, input));
    }
  }
  return shaped(output, reduction, keepdim);
}

std::pair<Tensor, Tensor> arg_reduce(ArgReduceOp op, const Tensor& input, int64_t dim, bool keepdim, const char* name) {
  check_defined(input, name);
  const Reduction reduction = describe(input, IntArrayRef(dim), name);
  check_nonempty(input, reduction, name);
  Tensor values = empty(reduction.kept_shape, input.options());
  Tensor indices = empty(reduction.kept_shape, input.options().dtype(kInt64));
  if (values.numel() > 0) {
    kernels::backend(input.device()).arg_reduce(op, kernels::make_reduce_plan(values, input), indices);
  }
  return {shaped(values, reduction, keepdim), shaped(indices, reduction, keepdim)};
}

Tensor arg_index(ArgReduceOp op, const Tensor& input, std::optional<int64_t> dim, bool keepdim, const char* name) {
  check_defined(input, name);
  if (dim) return arg_reduce(op, input, *dim, keepdim, name).second;
  EMBER_CHECK(input.numel() > 0, "{}: cannot reduce an empty tensor of shape {} without a dim; specify the dim", name,
              to_string(input.sizes()));
  autograd::NoGradGuard internal_views;  // the indices have no gradient
  Tensor index = arg_reduce(op, input.reshape({-1}), 0, false, name).second;
  // As PyTorch 1.13: keepdim without a dim keeps every dim, each of size 1.
  return keepdim ? index.view(DimVector(static_cast<size_t>(input.dim()), 1)) : index;
}

Tensor extreme(ReduceOp op, const Tensor& input, IntArrayRef dims, bool keepdim, const char* name) {
  check_defined(input, name);
  const Reduction reduction = describe(input, dims, name);
  check_nonempty(input, reduction, name);
  return reduce(op, input, reduction, keepdim);
}

// Integer and bool inputs sum and multiply in int64.
Tensor sum_like(ReduceOp op, const Tensor& input, IntArrayRef dims, bool keepdim, const char* name) {
  check_defined(input, name);
  const Reduction reduction = describe(input, dims, name);
  const DType dtype = is_integral(input.dtype(), /*include_bool=*/true) ? kInt64 : input.dtype();
  return reduce(op, input.to(dtype), reduction, keepdim);
}

void check_floating(const Tensor& input, const char* op) {
  EMBER_CHECK(input.is_floating_point(), "{}: input dtype must be floating point, got {}", op, name(input.dtype()));
}

// float16 and bfloat16 compute in float32.
DType compute_dtype(DType dtype) { return dtype == kFloat16 || dtype == kBFloat16 ? kFloat32 : dtype; }

// Two passes (mean, then squared deviations) in the compute dtype; divides by n - correction,
// which gives nan or inf when that is not positive, as PyTorch does.
Tensor variance(const Tensor& input, IntArrayRef dims, bool unbiased, bool keepdim, const char* op) {
  check_defined(input, op);
  check_floating(input, op);
  const Reduction reduction = describe(input, dims, op);
  const Tensor x = input.to(compute_dtype(input.dtype()));
  Tensor mean_value = reduce(ReduceOp::Sum, x, reduction, true);
  mean_value.div_(reduction.count);
  Tensor deviations = sub(x, mean_value);
  deviations.mul_(deviations);
  Tensor total = reduce(ReduceOp::Sum, deviations, reduction, keepdim);
  total.div_(std::max<int64_t>(reduction.count - (unbiased ? 1 : 0), 0));
  return total;
}

// The reduced dims as a list, for calling the public reductions in a backward formula.
DimVector reduced_dims(const Reduction& reduction) {
  DimVector dims;
  for (size_t dim = 0; dim < reduction.reduced.size(); ++dim) {
    if (reduction.reduced[dim]) dims.push_back(static_cast<int64_t>(dim));
  }
  return dims;
}

// The gradient of a max or min over the reduced dims, shared evenly among the elements that
// tie for the extreme value (PyTorch's amax and max() rule).
Tensor share_among_ties(const Tensor& grad, const Tensor& input, const Tensor& result, const Reduction& reduction,
                        bool keepdim) {
  const Tensor ties = eq(input, restore_reduced_dims(result, reduction, keepdim));
  const Tensor count = sum(ties, reduced_dims(reduction), /*keepdim=*/true);
  return where(ties, div(restore_reduced_dims(grad, reduction, keepdim), count), 0);
}

// Forward halves of composite reductions call public ops; recording is off inside so that the
// op records only its own node.
template <class Forward>
Tensor untracked(Forward&& forward) {
  autograd::NoGradGuard no_grad;
  return forward();
}

}  // namespace

Tensor sum(const Tensor& input, IntArrayRef dims, bool keepdim) {
  Tensor result = sum_like(ReduceOp::Sum, input, dims, keepdim, "sum");
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward(dims.empty() ? "SumBackward0" : "SumBackward1", result, {&input},
                              [sizes = input.shape(), reduced = describe(input, dims, "sum"), keepdim](const Tensor& grad) {
                                return TensorList{restore_reduced_dims(grad, reduced, keepdim).expand(sizes)};
                              });
  }
  return result;
}

// Each element's gradient is the product of the others in its slice: result / x in a slice
// without zeros. A slice with one zero gives that zero the product of the rest and every other
// element 0 (its product includes the zero); a slice with more zeros gives 0 throughout.
Tensor prod(const Tensor& input, IntArrayRef dims, bool keepdim) {
  Tensor result = sum_like(ReduceOp::Prod, input, dims, keepdim, "prod");
  if (autograd::requires_grad_any({&input})) {
    const char* node_name = dims.empty() ? "ProdBackward0" : "ProdBackward1";
    autograd::record_backward(
        node_name, result, {&input},
        [input_saved = SavedTensor(input), result_saved = SavedTensor(result),
         reduction = describe(input, dims, "prod"), keepdim, node_name](const Tensor& grad) {
          const Tensor x = input_saved.unpack(node_name);
          const Tensor kept_grad = restore_reduced_dims(grad, reduction, keepdim);
          const Tensor zero = eq(x, 0);
          if (!any(zero).item<bool>()) {
            const Tensor kept_result = restore_reduced_dims(result_saved.unpack(node_name), reduction, keepdim);
            return TensorList{div(mul(kept_grad, kept_result), x)};
          }
          const DimVector dims = reduced_dims(reduction);
          const Tensor scaled_others = mul(kept_grad, prod(masked_fill(x, zero, 1), dims, /*keepdim=*/true));
          const Tensor zero_count = sum(zero, dims, /*keepdim=*/true);
          // Slices without zeros still divide; the quotients where x = 0 are discarded.
          const Tensor divided = where(eq(zero_count, 0), div(scaled_others, x), 0);
          return TensorList{where(logical_and(zero, eq(zero_count, 1)), scaled_others, divided)};
        });
  }
  return result;
}

// As PyTorch on CPU: the sum in the input's dtype, divided by the count.
Tensor mean(const Tensor& input, IntArrayRef dims, bool keepdim) {
  check_defined(input, "mean");
  check_floating(input, "mean");
  const Reduction reduction = describe(input, dims, "mean");
  Tensor result = reduce(ReduceOp::Sum, input, reduction, keepdim);
  result.div_(reduction.count);
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward(dims.empty() ? "MeanBackward0" : "MeanBackward1", result, {&input},
                              [sizes = input.shape(), reduction, keepdim](const Tensor& grad) {
                                const Tensor kept_grad = restore_reduced_dims(grad, reduction, keepdim);
                                return TensorList{div(kept_grad, reduction.count).expand(sizes)};
                              });
  }
  return result;
}

namespace {

Tensor extreme_with_grad(ReduceOp op, const Tensor& input, IntArrayRef dims, bool keepdim, const char* name,
                         const char* node_name) {
  Tensor result = extreme(op, input, dims, keepdim, name);
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward(node_name, result, {&input},
                              [input_saved = SavedTensor(input), result_saved = SavedTensor(result),
                               reduction = describe(input, dims, name), keepdim, node_name](const Tensor& grad) {
                                return TensorList{share_among_ties(grad, input_saved.unpack(node_name),
                                                                   result_saved.unpack(node_name), reduction, keepdim)};
                              });
  }
  return result;
}

// The values' gradient goes to the position each index names; the indices have none.
std::pair<Tensor, Tensor> extreme_along(ArgReduceOp op, const Tensor& input, int64_t dim, bool keepdim,
                                        const char* name) {
  auto result = arg_reduce(op, input, dim, keepdim, name);
  if (autograd::requires_grad_any({&input})) {
    const char* node_name = op == ArgReduceOp::ArgMax ? "MaxBackward0" : "MinBackward0";
    autograd::record_backward(
        node_name, result.first, {&input},
        [indices_saved = SavedTensor(result.second), sizes = input.shape(),
         reduction = describe(input, IntArrayRef(dim), name), dim = wrap_dim(dim, input.dim(), name), keepdim,
         node_name](const Tensor& grad) {
          const Tensor indices = restore_reduced_dims(indices_saved.unpack(node_name), reduction, keepdim);
          Tensor grad_input = zeros(sizes, grad.options());
          grad_input.scatter_add_(dim, indices, restore_reduced_dims(grad, reduction, keepdim));
          return TensorList{grad_input};
        });
  }
  return result;
}

}  // namespace

Tensor amax(const Tensor& input, IntArrayRef dims, bool keepdim) {
  return extreme_with_grad(ReduceOp::Max, input, dims, keepdim, "amax", "AmaxBackward0");
}

Tensor amin(const Tensor& input, IntArrayRef dims, bool keepdim) {
  return extreme_with_grad(ReduceOp::Min, input, dims, keepdim, "amin", "AminBackward0");
}

Tensor max(const Tensor& input) { return extreme_with_grad(ReduceOp::Max, input, {}, false, "max", "MaxBackward1"); }
Tensor min(const Tensor& input) { return extreme_with_grad(ReduceOp::Min, input, {}, false, "min", "MinBackward1"); }

std::pair<Tensor, Tensor> max(const Tensor& input, int64_t dim, bool keepdim) {
  return extreme_along(ArgReduceOp::ArgMax, input, dim, keepdim, "max");
}

std::pair<Tensor, Tensor> min(const Tensor& input, int64_t dim, bool keepdim) {
  return extreme_along(ArgReduceOp::ArgMin, input, dim, keepdim, "min");
}

Tensor argmax(const Tensor& input, std::optional<int64_t> dim, bool keepdim) {
  return arg_index(ArgReduceOp::ArgMax, input, dim, keepdim, "argmax");
}

Tensor argmin(const Tensor& input, std::optional<int64_t> dim, bool keepdim) {
  return arg_index(ArgReduceOp::ArgMin, input, dim, keepdim, "argmin");
}

namespace {

// d var / dx = 2 (x - mean) / (n - correction), times the incoming gradient (already scaled
// by 1 / (2 std) for std). n - correction = 0 gives inf or nan, as in PyTorch.
Tensor variance_backward(const Tensor& kept_grad, const Tensor& x, const Reduction& reduction, bool unbiased) {
  const Tensor centered = sub(x, mean(x, reduced_dims(reduction), /*keepdim=*/true));
  const double denominator = static_cast<double>(reduction.count - (unbiased ? 1 : 0));
  return mul(centered, mul(kept_grad, 2.0 / denominator));
}

}  // namespace

Tensor var(const Tensor& input, IntArrayRef dims, bool unbiased, bool keepdim) {
  Tensor result = untracked([&] { return variance(input, dims, unbiased, keepdim, "var").to(input.dtype()); });
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward("VarBackward0", result, {&input},
                              [input_saved = SavedTensor(input), reduction = describe(input, dims, "var"), unbiased,
                               keepdim](const Tensor& grad) {
                                return TensorList{variance_backward(restore_reduced_dims(grad, reduction, keepdim),
                                                                    input_saved.unpack("VarBackward0"), reduction,
                                                                    unbiased)};
                              });
  }
  return result;
}

// d std = d var / (2 std); a zero std (a constant slice) gets gradient 0, as in PyTorch.
Tensor std(const Tensor& input, IntArrayRef dims, bool unbiased, bool keepdim) {
  Tensor result = untracked([&] {
    Tensor deviation = variance(input, dims, unbiased, keepdim, "std");
    deviation.sqrt_();
    return deviation.to(input.dtype());
  });
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward(
        "StdBackward0", result, {&input},
        [input_saved = SavedTensor(input), result_saved = SavedTensor(result), reduction = describe(input, dims, "std"),
         unbiased, keepdim](const Tensor& grad) {
          const Tensor deviation = restore_reduced_dims(result_saved.unpack("StdBackward0"), reduction, keepdim);
          Tensor grad_variance = div(restore_reduced_dims(grad, reduction, keepdim), mul(deviation, 2));
          grad_variance.masked_fill_(eq(deviation, 0), 0);
          return TensorList{variance_backward(grad_variance, input_saved.unpack("StdBackward0"), reduction, unbiased)};
        });
  }
  return result;
}

namespace {

Tensor norm_forward(const Tensor& input, double p, IntArrayRef dims, bool keepdim) {
  check_defined(input, "norm");
  check_floating(input, "norm");
  const Reduction reduction = describe(input, dims, "norm");
  const Tensor x = input.to(compute_dtype(input.dtype()));
  Tensor result;
  if (std::isinf(p)) {
    // torch.norm gives 0 for an empty reduction here, although max |x| has no identity.
    if (reduction.count == 0) {
      result = zeros(keepdim ? reduction.kept_shape : reduction.result_shape, x.options());
    } else {
      result = reduce(p > 0 ? ReduceOp::Max : ReduceOp::Min, abs(x), reduction, keepdim);
    }
  } else if (p == 0) {
    result = sum(ne(x, 0), dims, keepdim).to(x.dtype());
  } else if (p == 1) {
    result = reduce(ReduceOp::Sum, abs(x), reduction, keepdim);
  } else if (p == 2) {
    result = reduce(ReduceOp::Sum, square(x), reduction, keepdim);
    result.sqrt_();
  } else {
    result = pow(reduce(ReduceOp::Sum, pow(abs(x), p), reduction, keepdim), 1.0 / p);
  }
  return result.to(input.dtype());
}

// Subgradients as PyTorch: 0 where the norm is 0, sign(x) for p = 1, the infinity norms share
// the gradient among the elements whose |x| ties for the extreme, and p = 0 has none.
Tensor norm_backward(const Tensor& grad, const Tensor& x, const Tensor& result, double p, const Reduction& reduction,
                     bool keepdim) {
  const Tensor kept_grad = restore_reduced_dims(grad, reduction, keepdim);
  const Tensor norm_value = restore_reduced_dims(result, reduction, keepdim);
  if (p == 0) return Tensor();
  if (p == 1) return mul(sign(x), kept_grad);
  if (std::isinf(p)) return mul(sign(x), share_among_ties(grad, abs(x), result, reduction, keepdim));
  Tensor scale = p == 2 ? div(kept_grad, norm_value) : div(kept_grad, pow(norm_value, p - 1));
  scale.masked_fill_(eq(norm_value, 0), 0);
  if (p == 2) return mul(x, scale);
  // d|x|^p / dx / p = sign(x) |x|^(p-1); below p = 2 that is evaluated with the zeros masked,
  // since |x|^(p-1) is infinite at 0 for p < 1 and x |x|^(p-2) is 0 * inf for p < 2.
  Tensor scaled = p < 2 ? mul(sign(x), pow(abs(x), p - 1)) : mul(x, pow(abs(x), p - 2));
  if (p < 2) scaled.masked_fill_(eq(x, 0), 0);
  return mul(scaled, scale);
}

}  // namespace

Tensor norm(const Tensor& input, double p, IntArrayRef dims, bool keepdim) {
  Tensor result = untracked([&] { return norm_forward(input, p, dims, keepdim); });
  if (autograd::requires_grad_any({&input})) {
    const char* node_name = dims.empty() ? "NormBackward0" : "NormBackward1";
    autograd::record_backward(node_name, result, {&input},
                              [input_saved = SavedTensor(input), result_saved = SavedTensor(result), p,
                               reduction = describe(input, dims, "norm"), keepdim, node_name](const Tensor& grad) {
                                return TensorList{norm_backward(grad, input_saved.unpack(node_name),
                                                                result_saved.unpack(node_name), p, reduction, keepdim)};
                              });
  }
  return result;
}

namespace {

// As PyTorch: subtract the max (with infinite maxima replaced by 0, so rows of -inf give -inf
// and a +inf gives inf instead of nan), sum the exponentials, add the max back.
Tensor logsumexp_forward(const Tensor& input, const Reduction& reduction, bool keepdim) {
  const DType dtype = input.is_floating_point() ? input.dtype() : kFloat32;
  const Tensor x = input.to(compute_dtype(dtype));
  if (x.numel() == 0) return log(reduce(ReduceOp::Sum, x, reduction, keepdim)).to(dtype);
  Tensor maxima = reduce(ReduceOp::Max, x, reduction, true);
  maxima.masked_fill_(eq(abs(maxima), INFINITY), 0);
  Tensor shifted = sub(x, maxima);
  shifted.exp_();
  Tensor result = log(reduce(ReduceOp::Sum, shifted, reduction, true));
  result.add_(maxima);
  return shaped(result, reduction, keepdim).to(dtype);
}

}  // namespace

// d logsumexp / dx = exp(x - logsumexp): the softmax over the reduced dims.
Tensor logsumexp(const Tensor& input, IntArrayRef dims, bool keepdim) {
  check_defined(input, "logsumexp");
  const Reduction reduction = describe(input, dims, "logsumexp");
  Tensor result = untracked([&] { return logsumexp_forward(input, reduction, keepdim); });
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward("LogsumexpBackward0", result, {&input},
                              [input_saved = SavedTensor(input), result_saved = SavedTensor(result), reduction,
                               keepdim](const Tensor& grad) {
                                Tensor weights = sub(input_saved.unpack("LogsumexpBackward0"),
                                                     restore_reduced_dims(result_saved.unpack("LogsumexpBackward0"),
                                                                          reduction, keepdim));
                                weights.exp_();
                                weights.mul_(restore_reduced_dims(grad, reduction, keepdim));
                                return TensorList{weights};
                              });
  }
  return result;
}

namespace {

// Subtracting the max keeps exp from overflowing; integer inputs give float32, 16-bit floats
// compute in float32.
Tensor softmax_forward(const Tensor& input, int64_t dim, bool logarithmic, const char* op) {
  const DType dtype = input.is_floating_point() ? input.dtype() : kFloat32;
  if (input.numel() == 0) return empty(input.sizes(), input.options().dtype(dtype));
  if (input.dim() == 0 || dim == input.dim() - 1) {
    // The fused primitive reads each row a few times while it is in cache; the composite below
    // makes five passes over memory. With the dim last, rows are contiguous once the input is.
    const Tensor source = input.to(dtype).contiguous();
    const int64_t n = input.dim() == 0 ? 1 : input.size(dim);
    const int64_t rows = input.numel() / n;
    Tensor output = empty(input.sizes(), input.options().dtype(dtype));
    kernels::backend(input.device()).softmax(output.view({rows, n}), source.view({rows, n}), logarithmic);
    return output;
  }
  const Tensor x = input.to(compute_dtype(dtype));
  const Reduction reduction = describe(x, IntArrayRef(dim), op);
  const Tensor maxima = reduce(ReduceOp::Max, x, reduction, true);
  Tensor shifted = sub(x, maxima);
  if (logarithmic) {
    shifted.sub_(log(reduce(ReduceOp::Sum, exp(shifted), reduction, true)));
  } else {
    shifted.exp_();
    shifted.div_(reduce(ReduceOp::Sum, shifted, reduction, true));
  }
  return shifted.to(dtype);
}

// Both gradients use only the output y:
//   softmax:     g_x = y * (g - sum(g * y))
//   log_softmax: g_x = g - exp(y) * sum(g)
// with the sums over `dim`, kept for broadcasting.
Tensor softmax_impl(const Tensor& input, int64_t dim, bool logarithmic, const char* op) {
  check_defined(input, op);
  dim = wrap_dim(dim, input.dim(), op);
  Tensor result = untracked([&] { return softmax_forward(input, dim, logarithmic, op); });
  if (autograd::requires_grad_any({&input})) {
    const char* node_name = logarithmic ? "LogSoftmaxBackward0" : "SoftmaxBackward0";
    const DimVector dims = input.dim() == 0 ? DimVector{} : DimVector{dim};
    autograd::record_backward(node_name, result, {&input},
                              [result_saved = SavedTensor(result), dims, logarithmic, node_name](const Tensor& grad) {
                                const Tensor y = result_saved.unpack(node_name);
                                if (logarithmic) {
                                  Tensor grad_input = exp(y);
                                  grad_input.mul_(sum(grad, dims, /*keepdim=*/true));
                                  return TensorList{sub(grad, grad_input)};
                                }
                                Tensor grad_input = mul(grad, y);
                                const Tensor total = sum(grad_input, dims, /*keepdim=*/true);
                                grad_input.sub_(mul(y, total));
                                return TensorList{grad_input};
                              });
  }
  return result;
}

}  // namespace

Tensor softmax(const Tensor& input, int64_t dim) { return softmax_impl(input, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& input, int64_t dim) { return softmax_impl(input, dim, true, "log_softmax"); }

namespace {

Tensor logical_reduce(ReduceOp op, const Tensor& input, IntArrayRef dims, bool keepdim, const char* name) {
  check_defined(input, name);
  const Reduction reduction = describe(input, dims, name);
  return reduce(op, input.to(kBool), reduction, keepdim);
}

}  // namespace

Tensor all(const Tensor& input) { return logical_reduce(ReduceOp::All, input, {}, false, "all"); }
Tensor all(const Tensor& input, int64_t dim, bool keepdim) {
  return logical_reduce(ReduceOp::All, input, IntArrayRef(dim), keepdim, "all");
}
Tensor any(const Tensor& input) { return logical_reduce(ReduceOp::Any, input, {}, false, "any"); }
Tensor any(const Tensor& input, int64_t dim, bool keepdim) {
  return logical_reduce(ReduceOp::Any, input, IntArrayRef(dim), keepdim, "any");
}

}  // namespace ember

// Reductions: dim lists, dtype rules and empty-input rules as in PyTorch 1.13, written once for
// every device over the backend's reduce and arg_reduce. The composite ops (mean, var, std,
// norm, logsumexp, softmax, log_softmax) are built from those and the elementwise ops.
#include "ember/tensor/reduction.h"

#include <cmath>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "kernels/backend.h"

namespace ember {

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

}  // namespace

Tensor sum(const Tensor& input, IntArrayRef dims, bool keepdim) {
  Tensor result = sum_like(ReduceOp::Sum, input, dims, keepdim, "sum");
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward("SumBackward0", result, {&input},
                              [sizes = input.shape(), reduced = describe(input, dims, "sum"), keepdim](const Tensor& grad) {
                                return autograd::TensorList{restore_reduced_dims(grad, reduced, keepdim).expand(sizes)};
                              });
  }
  return result;
}

Tensor prod(const Tensor& input, IntArrayRef dims, bool keepdim) {
  return sum_like(ReduceOp::Prod, input, dims, keepdim, "prod");
}

// As PyTorch on CPU: the sum in the input's dtype, divided by the count.
Tensor mean(const Tensor& input, IntArrayRef dims, bool keepdim) {
  check_defined(input, "mean");
  check_floating(input, "mean");
  const Reduction reduction = describe(input, dims, "mean");
  Tensor total = reduce(ReduceOp::Sum, input, reduction, keepdim);
  total.div_(reduction.count);
  return total;
}

Tensor amax(const Tensor& input, IntArrayRef dims, bool keepdim) {
  return extreme(ReduceOp::Max, input, dims, keepdim, "amax");
}

Tensor amin(const Tensor& input, IntArrayRef dims, bool keepdim) {
  return extreme(ReduceOp::Min, input, dims, keepdim, "amin");
}

Tensor max(const Tensor& input) { return extreme(ReduceOp::Max, input, {}, false, "max"); }
Tensor min(const Tensor& input) { return extreme(ReduceOp::Min, input, {}, false, "min"); }

std::pair<Tensor, Tensor> max(const Tensor& input, int64_t dim, bool keepdim) {
  return arg_reduce(ArgReduceOp::ArgMax, input, dim, keepdim, "max");
}

std::pair<Tensor, Tensor> min(const Tensor& input, int64_t dim, bool keepdim) {
  return arg_reduce(ArgReduceOp::ArgMin, input, dim, keepdim, "min");
}

Tensor argmax(const Tensor& input, std::optional<int64_t> dim, bool keepdim) {
  return arg_index(ArgReduceOp::ArgMax, input, dim, keepdim, "argmax");
}

Tensor argmin(const Tensor& input, std::optional<int64_t> dim, bool keepdim) {
  return arg_index(ArgReduceOp::ArgMin, input, dim, keepdim, "argmin");
}

Tensor var(const Tensor& input, IntArrayRef dims, bool unbiased, bool keepdim) {
  return variance(input, dims, unbiased, keepdim, "var").to(input.dtype());
}

Tensor std(const Tensor& input, IntArrayRef dims, bool unbiased, bool keepdim) {
  Tensor result = variance(input, dims, unbiased, keepdim, "std");
  result.sqrt_();
  return result.to(input.dtype());
}

Tensor norm(const Tensor& input, double p, IntArrayRef dims, bool keepdim) {
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

// As PyTorch: subtract the max (with infinite maxima replaced by 0, so rows of -inf give -inf
// and a +inf gives inf instead of nan), sum the exponentials, add the max back.
Tensor logsumexp(const Tensor& input, IntArrayRef dims, bool keepdim) {
  check_defined(input, "logsumexp");
  const Reduction reduction = describe(input, dims, "logsumexp");
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

namespace {

// Subtracting the max keeps exp from overflowing; integer inputs give float32, 16-bit floats
// compute in float32.
Tensor softmax_impl(const Tensor& input, int64_t dim, bool logarithmic, const char* op) {
  check_defined(input, op);
  dim = wrap_dim(dim, input.dim(), op);
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

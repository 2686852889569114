// Elementwise ops: type promotion, broadcasting and output checks, written once for every device;
// each op's gradient next to its forward, and the in-place forms next to theirs.
#include "ember/tensor/elementwise.h"

#include <array>
#include <cmath>
#include <cstring>
#include <string_view>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/indexing.h"
#include "ember/tensor/reduction.h"
#include "ops/elementwise_support.h"

namespace ember {

using kernels::BinaryOp;
using kernels::OpParams;
using kernels::UnaryOp;

// ---- promotion and broadcasting ----

namespace {

// PyTorch's three tiers: tensors with dims decide, unless a 0-dim tensor or a wrapped number
// is of a higher category (bool < integer < floating).
struct PromotionState {
  std::optional<DType> dimensioned, zero_dim, wrapped;

  static void merge(std::optional<DType>& slot, DType dtype) { slot = slot ? promote_types(*slot, dtype) : dtype; }
  void add(const Tensor& tensor) {
    if (tensor.impl().is_wrapped_number) add_wrapped(tensor.dtype());
    else merge(tensor.dim() == 0 ? zero_dim : dimensioned, tensor.dtype());
  }
  void add_wrapped(DType dtype) { merge(wrapped, is_floating_point(dtype) ? kFloat32 : dtype); }

  static std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
    if (!higher) return lower;
    if (!lower || is_floating_point(*higher)) return higher;
    if (*higher == kBool || is_floating_point(*lower)) return promote_types(*higher, *lower);
    return higher;
  }
  DType result() const { return combine(dimensioned, combine(zero_dim, wrapped)).value_or(kFloat32); }
};

DType scalar_category(const Scalar& value) { return value.kind(); }

bool can_cast(DType from, DType to) {
  if (is_floating_point(from) && !is_floating_point(to)) return false;
  if (from != kBool && to == kBool) return false;
  return true;
}

bool partially_overlaps(const Tensor& output, const Tensor& input) {
  if (!output.shares_storage_with(input)) return false;
  return !(output.data_ptr() == input.data_ptr() && output.strides() == input.strides() &&
           output.sizes() == input.sizes() && output.dtype() == input.dtype());
}

void check_defined(const Tensor& tensor, const char* op) {
  EMBER_CHECK(tensor.defined(), "{}: an operand is an undefined tensor", op);
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  PromotionState state;
  state.add(a);
  state.add(b);
  return state.result();
}

DType result_type(const Tensor& a, const Scalar& b) {
  PromotionState state;
  state.add(a);
  state.add_wrapped(scalar_category(b));
  return state.result();
}

DimVector broadcast_shapes(IntArrayRef a, IntArrayRef b, const char* op) {
  const size_t ndim = std::max(a.size(), b.size());
  DimVector shape(ndim);
  for (size_t i = 0; i < ndim; ++i) {
    const int64_t size_a = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
    const int64_t size_b = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
    EMBER_CHECK(size_a == size_b || size_a == 1 || size_b == 1, "{}: shapes {} and {} cannot be broadcast", op,
                to_string(a), to_string(b));
    shape[i] = size_a == 1 ? size_b : size_a;
  }
  return shape;
}

namespace ops {

Tensor wrap_scalar(const Scalar& value, DType dtype, const char* op) {
  Tensor result = empty({}, dtype);
  visit_dtype(dtype, [&]<class T>(TypeTag<T>) {
    // Floating operands follow IEEE arithmetic (1e5 in float16 is inf, as in PyTorch's ops);
    // integer ones must fit, or the op would silently compute with a wrapped value.
    if constexpr (is_floating_v<T>) *static_cast<T*>(result.data_ptr()) = T(static_cast<compute_t<T>>(value.to_double()));
    else *static_cast<T*>(result.data_ptr()) = value.to<T>(op);
  });
  result.impl().is_wrapped_number = true;
  return result;
}

Device common_device(std::initializer_list<const Tensor*> operands, const char* op) {
  std::optional<Device> device;
  for (const Tensor* operand : operands) {
    const bool host_scalar = operand->dim() == 0 && operand->device().is_cpu();
    if (host_scalar) continue;
    if (!device) device = operand->device();
    EMBER_CHECK(*device == operand->device(), "{}: expected all tensors on the same device, found {} and {}", op,
                device->str(), operand->device().str());
  }
  return device.value_or((*operands.begin())->device());
}

Tensor prepare_output(const Tensor* out, IntArrayRef shape, DType dtype, Device device, const char* op) {
  if (out == nullptr) return empty(shape, TensorOptions(dtype).device(device));
  EMBER_CHECK(out->sizes() == shape, "{}: output of shape {} does not match the broadcast shape {}", op,
              to_string(out->sizes()), to_string(shape));
  EMBER_CHECK(can_cast(dtype, out->dtype()), "{}: result type {} cannot be cast to the output's dtype {}", op,
              name(dtype), name(out->dtype()));
  EMBER_CHECK(out->device() == device, "{}: output is on {} but the inputs are on {}", op, out->device().str(),
              device.str());
  for (int64_t dim = 0; dim < out->dim(); ++dim) {
    EMBER_CHECK(out->size(dim) <= 1 || out->stride(dim) != 0,
                "{}: the output (shape {}, strides {}) has elements that share memory; clone it first", op,
                to_string(out->sizes()), to_string(out->strides()));
  }
  out->bump_version();
  return *out;
}

Tensor as_operand(const Tensor& tensor, DType dtype, IntArrayRef) {
  if (tensor.dtype() == dtype) return tensor;
  Tensor converted = convert(tensor, dtype);
  converted.impl().is_wrapped_number = tensor.impl().is_wrapped_number;
  return converted;
}

// Runs a kernel into `output`, going through a temporary when the output's dtype differs from
// what the kernel produces or when it partially overlaps an input.
template <class Launch>
void write_output(const Tensor& output, DType produced, std::initializer_list<const Tensor*> inputs,
                  const Launch& launch) {
  bool needs_temporary = output.dtype() != produced;
  for (const Tensor* input : inputs) needs_temporary = needs_temporary || partially_overlaps(output, *input);
  if (!needs_temporary) return launch(output);
  Tensor temporary = empty(output.sizes(), output.options().dtype(produced));
  launch(temporary);
  copy_values(output, temporary);
}

void launch_binary(BinaryOp op, const OpParams& params, const Tensor& output, const Tensor& a, const Tensor& b) {
  const DType produced = kernels::is_comparison(op) ? kBool : a.dtype();
  write_output(output, produced, {&a, &b}, [&](const Tensor& target) {
    if (target.numel() == 0) return;
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&target, &a, &b});
    kernels::backend(target.device()).binary(op, params, plan);
  });
}

bool check_inplace(const Tensor& self, std::initializer_list<const Tensor*> operands, const char* op) {
  if (!autograd::GradMode::is_enabled()) return false;
  const bool self_requires_grad = self.requires_grad();
  EMBER_CHECK(!(self_requires_grad && self.is_leaf()),
              "a leaf tensor that requires grad is being used in an in-place operation: {} (shape {}); update it "
              "under NoGradGuard, or use the out-of-place form",
              op, to_string(self.sizes()));
  bool records = self_requires_grad;
  for (const Tensor* operand : operands) records = records || (operand->defined() && operand->requires_grad());
  EMBER_CHECK(!(records && self.impl().is_view),
              "{}: in-place operation on a view (shape {}) that takes part in autograd is not supported (the view "
              "or an operand requires grad); use the out-of-place form, e.g. y = {}(...) instead of y.{}(...)",
              op, to_string(self.sizes()), std::string_view(op).substr(0, std::string_view(op).size() - 1), op);
  if (records) self.storage()->recorded_rewrites.fetch_add(1, std::memory_order_relaxed);
  return records;
}

}  // namespace ops

// ---- binary ops ----

namespace {

struct BinarySpec {
  BinaryOp op;
  const char* name;
  OpParams params = {};
  bool fractional_alpha = false;  // add/sub alpha that is not an integer
};

// The dtype the kernel computes in, from the promoted dtype.
DType compute_dtype(const BinarySpec& spec, DType promoted) {
  switch (spec.op) {
    case BinaryOp::Div: return is_floating_point(promoted) ? promoted : kFloat32;
    case BinaryOp::Sub:
      EMBER_CHECK(promoted != kBool, "sub: subtracting bool tensors is not supported; use logical_xor or ^");
      return promoted;
    case BinaryOp::LogicalAnd:
    case BinaryOp::LogicalOr: return kBool;
    default:
      EMBER_CHECK(!kernels::is_backward(spec.op) || is_floating_point(promoted),
                  "{}: expects floating-point tensors, got {}", spec.name, name(promoted));
      return promoted;
  }
}

Tensor binary(const BinarySpec& spec, const Tensor& a, const Tensor& b, const Tensor* out = nullptr) {
  check_defined(a, spec.name);
  check_defined(b, spec.name);
  const DType compute = compute_dtype(spec, result_type(a, b));
  EMBER_CHECK(!spec.fractional_alpha || is_floating_point(compute),
              "{}: alpha {} must be an integer for integral inputs of dtype {}", spec.name, spec.params.a, name(compute));
  const Device device = ops::common_device({&a, &b}, spec.name);
  const DimVector shape = broadcast_shapes(a.sizes(), b.sizes(), spec.name);
  const DType output_dtype = kernels::is_comparison(spec.op) ? kBool : compute;
  Tensor output = ops::prepare_output(out, shape, output_dtype, device, spec.name);
  ops::launch_binary(spec.op, spec.params, output, ops::as_operand(a, compute, shape),
                     ops::as_operand(b, compute, shape));
  return output;
}

Tensor binary(const BinarySpec& spec, const Tensor& a, const Scalar& b, const Tensor* out = nullptr) {
  check_defined(a, spec.name);
  const DType compute = compute_dtype(spec, result_type(a, b));
  return binary(spec, a, ops::wrap_scalar(b, compute, spec.name), out);
}

Tensor binary(const BinarySpec& spec, const Scalar& a, const Tensor& b) {
  check_defined(b, spec.name);
  const DType compute = compute_dtype(spec, result_type(b, a));
  return binary(spec, ops::wrap_scalar(a, compute, spec.name), b);
}

BinarySpec with_alpha(BinaryOp op, const char* name, const Scalar& alpha) {
  return {op, name, {alpha.to_double(), 0.0, true, false}, alpha.is_floating_point()};
}

// One fused *Backward kernel over (gradient, saved value).
Tensor fused_backward(BinaryOp op, const char* name, const Tensor& grad, const Tensor& value,
                      const OpParams& params = {}) {
  return binary({op, name, params}, grad, value);
}

}  // namespace

using autograd::SavedTensor;
using autograd::TensorList;

namespace {

// Records the node of a one-input op whose gradient is formula(grad, saved): `saved` is the
// input or the result, whichever the formula reads (undefined when it reads neither). In-place
// ops pass self as `result` and `input`: the node's input is then self's previous history.
template <class Formula>
void record_unary(const char* node_name, const Tensor& result, const Tensor& input, const Tensor& saved,
                  Formula formula) {
  autograd::record_backward(node_name, result, {&input},
                            [node_name, saved = SavedTensor(saved), formula](const Tensor& grad) {
                              return TensorList{formula(grad, saved.unpack(node_name))};
                            });
}

}  // namespace

// a + alpha * b, and a - alpha * b: the gradient passes through, scaled by alpha for b.
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor result = binary(with_alpha(BinaryOp::Add, "add", alpha), a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("AddBackward0", result, {&a, &b}, [alpha = alpha.to_double()](const Tensor& grad) {
      return TensorList{grad, alpha == 1.0 ? grad : grad * alpha};
    });
  }
  return result;
}
Tensor add(const Tensor& a, const Scalar& b) {
  Tensor result = binary({BinaryOp::Add, "add", {1.0, 0.0, true, false}}, a, b);
  if (autograd::requires_grad_any({&a})) {
    autograd::record_backward("AddBackward1", result, {&a}, [](const Tensor& grad) { return TensorList{grad}; });
  }
  return result;
}
Tensor& Tensor::add_(const Tensor& other, const Scalar& alpha) {
  const bool record = ops::check_inplace(*this, {&other}, "add_");
  binary(with_alpha(BinaryOp::Add, "add_", alpha), *this, other, this);
  if (record) {
    autograd::record_backward("AddBackward0", *this, {this, &other}, [alpha = alpha.to_double()](const Tensor& grad) {
      return TensorList{grad, alpha == 1.0 ? grad : grad * alpha};
    });
  }
  return *this;
}
Tensor& Tensor::add_(const Scalar& other) {
  const bool record = ops::check_inplace(*this, {}, "add_");
  binary({BinaryOp::Add, "add_", {1.0, 0.0, true, false}}, *this, other, this);
  if (record) {
    autograd::record_backward("AddBackward1", *this, {this}, [](const Tensor& grad) { return TensorList{grad}; });
  }
  return *this;
}

Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor result = binary(with_alpha(BinaryOp::Sub, "sub", alpha), a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("SubBackward0", result, {&a, &b}, [alpha = alpha.to_double()](const Tensor& grad) {
      return TensorList{grad, grad * -alpha};
    });
  }
  return result;
}
Tensor sub(const Tensor& a, const Scalar& b) {
  Tensor result = binary({BinaryOp::Sub, "sub", {1.0, 0.0, true, false}}, a, b);
  if (autograd::requires_grad_any({&a})) {
    autograd::record_backward("SubBackward1", result, {&a}, [](const Tensor& grad) { return TensorList{grad}; });
  }
  return result;
}
// number - tensor.
Tensor operator-(const Scalar& a, const Tensor& b) {
  Tensor result = binary({BinaryOp::Sub, "sub", {1.0, 0.0, true, false}}, a, b);
  if (autograd::requires_grad_any({&b})) {
    autograd::record_backward("RsubBackward1", result, {&b}, [](const Tensor& grad) { return TensorList{-grad}; });
  }
  return result;
}
Tensor& Tensor::sub_(const Tensor& other, const Scalar& alpha) {
  const bool record = ops::check_inplace(*this, {&other}, "sub_");
  binary(with_alpha(BinaryOp::Sub, "sub_", alpha), *this, other, this);
  if (record) {
    autograd::record_backward("SubBackward0", *this, {this, &other}, [alpha = alpha.to_double()](const Tensor& grad) {
      return TensorList{grad, grad * -alpha};
    });
  }
  return *this;
}
Tensor& Tensor::sub_(const Scalar& other) {
  const bool record = ops::check_inplace(*this, {}, "sub_");
  binary({BinaryOp::Sub, "sub_", {1.0, 0.0, true, false}}, *this, other, this);
  if (record) {
    autograd::record_backward("SubBackward1", *this, {this}, [](const Tensor& grad) { return TensorList{grad}; });
  }
  return *this;
}

// Each factor is saved only when the other one needs its gradient.
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor result = binary({BinaryOp::Mul, "mul"}, a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("MulBackward0", result, {&a, &b},
                              [a_saved = b.requires_grad() ? SavedTensor(a) : SavedTensor(),
                               b_saved = a.requires_grad() ? SavedTensor(b) : SavedTensor()](const Tensor& grad) {
                                return TensorList{
                                    b_saved.defined() ? grad * b_saved.unpack("MulBackward0") : Tensor(),
                                    a_saved.defined() ? grad * a_saved.unpack("MulBackward0") : Tensor()};
                              });
  }
  return result;
}
Tensor mul(const Tensor& a, const Scalar& b) {
  Tensor result = binary({BinaryOp::Mul, "mul"}, a, b);
  if (autograd::requires_grad_any({&a})) {
    autograd::record_backward("MulBackward1", result, {&a}, [b](const Tensor& grad) { return TensorList{grad * b}; });
  }
  return result;
}
// other's gradient needs self's value from before the write: a copy is kept only then.
Tensor& Tensor::mul_(const Tensor& other) {
  const bool record = ops::check_inplace(*this, {&other}, "mul_");
  const Tensor original = record && other.requires_grad() ? ops::clone_values(*this) : Tensor();
  const SavedTensor other_saved = record && requires_grad() ? SavedTensor(other) : SavedTensor();
  binary({BinaryOp::Mul, "mul_"}, *this, other, this);
  if (record) {
    autograd::record_backward("MulBackward0", *this, {this, &other},
                              [self_saved = SavedTensor(original), other_saved](const Tensor& grad) {
                                return TensorList{
                                    other_saved.defined() ? grad * other_saved.unpack("MulBackward0") : Tensor(),
                                    self_saved.defined() ? grad * self_saved.unpack("MulBackward0") : Tensor()};
                              });
  }
  return *this;
}
Tensor& Tensor::mul_(const Scalar& other) {
  const bool record = ops::check_inplace(*this, {}, "mul_");
  binary({BinaryOp::Mul, "mul_"}, *this, other, this);
  if (record) {
    autograd::record_backward("MulBackward1", *this, {this},
                              [other](const Tensor& grad) { return TensorList{grad * other}; });
  }
  return *this;
}

// d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b. From a rather than the result, as PyTorch: writing
// into the result afterwards must not break this gradient.
namespace {
TensorList div_backward(const Tensor& grad, const SavedTensor& dividend_saved, const SavedTensor& divisor_saved,
                        bool dividend_needs) {
  const Tensor divisor = divisor_saved.unpack("DivBackward0");
  Tensor grad_divisor;
  if (dividend_saved.defined()) grad_divisor = -grad * ((dividend_saved.unpack("DivBackward0") / divisor) / divisor);
  return TensorList{dividend_needs ? grad / divisor : Tensor(), grad_divisor};
}
}  // namespace

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor result = binary({BinaryOp::Div, "div"}, a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("DivBackward0", result, {&a, &b},
                              [a_saved = b.requires_grad() ? SavedTensor(a) : SavedTensor(), b_saved = SavedTensor(b),
                               a_needs = a.requires_grad()](const Tensor& grad) {
                                return div_backward(grad, a_saved, b_saved, a_needs);
                              });
  }
  return result;
}
Tensor div(const Tensor& a, const Scalar& b) {
  Tensor result = binary({BinaryOp::Div, "div"}, a, b);
  if (autograd::requires_grad_any({&a})) {
    autograd::record_backward("DivBackward1", result, {&a}, [b](const Tensor& grad) { return TensorList{grad / b}; });
  }
  return result;
}
// number / tensor: div of a wrapped number by b, so b's gradient is DivBackward0's.
Tensor operator/(const Scalar& a, const Tensor& b) {
  Tensor result = binary({BinaryOp::Div, "div"}, a, b);
  if (autograd::requires_grad_any({&b})) {
    autograd::record_backward("DivBackward0", result, {&b},
                              [b_saved = SavedTensor(b),
                               a_saved = SavedTensor(ops::wrap_scalar(a, result.dtype(), "div"))](const Tensor& grad) {
                                return TensorList{div_backward(grad, a_saved, b_saved, false)[1]};
                              });
  }
  return result;
}
// Like mul_, other's gradient needs self's value from before the write.
Tensor& Tensor::div_(const Tensor& other) {
  const bool record = ops::check_inplace(*this, {&other}, "div_");
  const bool self_needs = record && requires_grad();
  const Tensor original = record && other.requires_grad() ? ops::clone_values(*this) : Tensor();
  // Saved before the write, so that x.div_(x) fails at backward instead of using the new x.
  const SavedTensor other_saved = record ? SavedTensor(other) : SavedTensor();
  binary({BinaryOp::Div, "div_"}, *this, other, this);
  if (record) {
    autograd::record_backward("DivBackward0", *this, {this, &other},
                              [self_saved = SavedTensor(original), other_saved, self_needs](const Tensor& grad) {
                                return div_backward(grad, self_saved, other_saved, self_needs);
                              });
  }
  return *this;
}
Tensor& Tensor::div_(const Scalar& other) {
  const bool record = ops::check_inplace(*this, {}, "div_");
  binary({BinaryOp::Div, "div_"}, *this, other, this);
  if (record) {
    autograd::record_backward("DivBackward1", *this, {this},
                              [other](const Tensor& grad) { return TensorList{grad / other}; });
  }
  return *this;
}

// Ties split the gradient in half between the two inputs; NaN sends it to both, as in PyTorch.
namespace {
Tensor extremum(BinaryOp op, const char* op_name, const char* node_name, const Tensor& a, const Tensor& b) {
  Tensor result = binary({op, op_name}, a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward(
        node_name, result, {&a, &b},
        [a_saved = SavedTensor(a), b_saved = SavedTensor(b), a_needs = a.requires_grad(), b_needs = b.requires_grad(),
         is_maximum = op == BinaryOp::Maximum, node_name](const Tensor& grad) {
          const Tensor x = a_saved.unpack(node_name), y = b_saved.unpack(node_name);
          const Tensor shared = where(eq(x, y), grad * 0.5, grad);
          // The input that lost gets nothing.
          return TensorList{a_needs ? masked_fill(shared, is_maximum ? lt(x, y) : gt(x, y), 0) : Tensor(),
                            b_needs ? masked_fill(shared, is_maximum ? gt(x, y) : lt(x, y), 0) : Tensor()};
        });
  }
  return result;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum(BinaryOp::Maximum, "maximum", "MaximumBackward0", a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum(BinaryOp::Minimum, "minimum", "MinimumBackward0", a, b);
}

// ---- pow ----
//
// PyTorch's conventions where the calculus breaks down: an exponent of 0 passes no gradient to
// the base (so 0^0 gives 0, not nan), and a base of 0 passes none to an exponent >= 0 (instead
// of 0 * log(0) = nan). Negative bases give nan for the exponent, as log does.

namespace {

// d/dx x^e = e * x^(e - 1).
Tensor pow_backward(const Tensor& grad, const Tensor& base, double exponent) {
  if (exponent == 0.0) return zeros_like(base);
  if (exponent == 1.0) return grad;
  if (exponent == 2.0) return grad * (base * 2.0);
  return grad * (pow(base, exponent - 1.0) * exponent);
}

}  // namespace

Tensor pow(const Tensor& base, const Tensor& exponent) {
  Tensor result = binary({BinaryOp::Pow, "pow"}, base, exponent);
  if (autograd::requires_grad_any({&base, &exponent})) {
    autograd::record_backward(
        "PowBackward1", result, {&base, &exponent},
        [base_saved = SavedTensor(base), exponent_saved = SavedTensor(exponent),
         result_saved = exponent.requires_grad() ? SavedTensor(result) : SavedTensor(),
         base_needs = base.requires_grad()](const Tensor& grad) {
          const Tensor x = base_saved.unpack("PowBackward1"), e = exponent_saved.unpack("PowBackward1");
          Tensor grad_base, grad_exponent;
          if (base_needs) grad_base = masked_fill(grad * (e * pow(x, e - 1)), eq(e, 0), 0);
          if (result_saved.defined()) {
            const Tensor y = result_saved.unpack("PowBackward1");
            const Tensor log_base = log(x.to(y.dtype()));
            grad_exponent = grad * masked_fill(y * log_base, logical_and(ge(e, 0), eq(x, 0)), 0);
          }
          return TensorList{grad_base, grad_exponent};
        });
  }
  return result;
}
Tensor pow(const Tensor& base, const Scalar& exponent) {
  EMBER_CHECK(is_floating_point(result_type(base, exponent)) || exponent.to_int64() >= 0,
              "pow: integers to negative integer powers are not allowed (exponent {})", exponent.to_string());
  Tensor result = binary({BinaryOp::Pow, "pow"}, base, exponent);
  if (autograd::requires_grad_any({&base})) {
    record_unary("PowBackward0", result, base, base,
                 [exponent = exponent.to_double()](const Tensor& grad, const Tensor& x) {
                   return pow_backward(grad, x, exponent);
                 });
  }
  return result;
}
Tensor pow(const Scalar& base, const Tensor& exponent) {
  Tensor result = binary({BinaryOp::Pow, "pow"}, base, exponent);
  if (autograd::requires_grad_any({&exponent})) {
    // d/de b^e = b^e * log(b).
    autograd::record_backward(
        "PowBackward2", result, {&exponent},
        [exponent_saved = base.to_double() == 0.0 ? SavedTensor(exponent) : SavedTensor(),
         result_saved = SavedTensor(result), log_base = std::log(base.to_double())](const Tensor& grad) {
          const Tensor scaled = result_saved.unpack("PowBackward2") * log_base;
          if (!exponent_saved.defined()) return TensorList{grad * scaled};
          return TensorList{grad * masked_fill(scaled, ge(exponent_saved.unpack("PowBackward2"), 0), 0)};
        });
  }
  return result;
}
Tensor& Tensor::pow_(const Scalar& exponent) {
  EMBER_CHECK(ember::is_floating_point(result_type(*this, exponent)) || exponent.to_int64() >= 0,
              "pow_: integers to negative integer powers are not allowed (exponent {})", exponent.to_string());
  const bool record = ops::check_inplace(*this, {}, "pow_");
  const Tensor original = record ? ops::clone_values(*this) : Tensor();
  binary({BinaryOp::Pow, "pow_"}, *this, exponent, this);
  if (record) {
    record_unary("PowBackward0", *this, *this, original,
                 [exponent = exponent.to_double()](const Tensor& grad, const Tensor& x) {
                   return pow_backward(grad, x, exponent);
                 });
  }
  return *this;
}

// ---- comparisons and logical ops: bool results, no gradient ----

#define EMBER_COMPARISON(function, op_name)                                                                  \
  Tensor function(const Tensor& a, const Tensor& b) { return binary({BinaryOp::op_name, #function}, a, b); } \
  Tensor function(const Tensor& a, const Scalar& b) { return binary({BinaryOp::op_name, #function}, a, b); }
EMBER_COMPARISON(eq, Eq)
EMBER_COMPARISON(ne, Ne)
EMBER_COMPARISON(lt, Lt)
EMBER_COMPARISON(le, Le)
EMBER_COMPARISON(gt, Gt)
EMBER_COMPARISON(ge, Ge)
#undef EMBER_COMPARISON

Tensor logical_and(const Tensor& a, const Tensor& b) { return binary({BinaryOp::LogicalAnd, "logical_and"}, a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return binary({BinaryOp::LogicalOr, "logical_or"}, a, b); }

// The _out forms write into a tensor the caller owns and record nothing, so (as PyTorch) they
// refuse operands that take part in autograd rather than drop their gradient.
namespace {
void check_out_without_grad(std::initializer_list<const Tensor*> operands, const char* op) {
  EMBER_CHECK(!autograd::requires_grad_any(operands),
              "{}: the out= form does not support autograd (an operand requires grad); use the out-of-place form", op);
}
}  // namespace

Tensor& add_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_out_without_grad({&out, &a, &b}, "add_out");
  binary(with_alpha(BinaryOp::Add, "add_out", alpha), a, b, &out);
  return out;
}
Tensor& mul_out(Tensor& out, const Tensor& a, const Tensor& b) {
  check_out_without_grad({&out, &a, &b}, "mul_out");
  binary({BinaryOp::Mul, "mul_out"}, a, b, &out);
  return out;
}

// ---- unary ops ----
//
// Each op records a node whose formula reads the input or the result; the in-place forms record
// the same formula on self (reading a copy of the old value when the formula needs the input).

namespace {

Tensor unary(UnaryOp op, const Tensor& input, const char* op_name, const OpParams& params = {},
             const Tensor* out = nullptr, std::optional<DType> dtype_override = std::nullopt) {
  check_defined(input, op_name);
  DType dtype = dtype_override.value_or(input.dtype());
  if (kernels::needs_floating(op) && !is_floating_point(dtype)) dtype = kFloat32;
  if (op == UnaryOp::LogicalNot) dtype = kBool;
  EMBER_CHECK(!(dtype == kBool && (op == UnaryOp::Neg || op == UnaryOp::Relu || op == UnaryOp::Clamp)),
              "{}: not supported on bool tensors", op_name);
  Tensor output = ops::prepare_output(out, input.sizes(), dtype, input.device(), op_name);
  const Tensor converted = ops::convert(input, dtype);
  ops::write_output(output, dtype, {&converted}, [&](const Tensor& target) {
    if (target.numel() == 0) return;
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&target, &converted});
    kernels::backend(target.device()).unary(op, params, plan);
  });
  return output;
}

// A unary op, out of place, with its node: formula(grad, saved) where saved is what `saves` says.
enum class Saves { Nothing, Input, Result };

template <class Formula>
Tensor unary_with_grad(UnaryOp op, const Tensor& input, const char* op_name, const char* node_name, Saves saves,
                       Formula formula, const OpParams& params = {}) {
  Tensor result = unary(op, input, op_name, params);
  if (autograd::requires_grad_any({&input}) && result.is_floating_point()) {
    const Tensor saved = saves == Saves::Input ? input : saves == Saves::Result ? result : Tensor();
    record_unary(node_name, result, input, saved, formula);
  }
  return result;
}

// The in-place form of the same op: the node's input is self's previous history.
template <class Formula>
Tensor& unary_inplace_with_grad(UnaryOp op, Tensor& self, const char* op_name, const char* node_name, Saves saves,
                                Formula formula, const OpParams& params = {}) {
  const bool record = ops::check_inplace(self, {}, op_name);
  const Tensor original = record && saves == Saves::Input ? ops::clone_values(self) : Tensor();
  unary(op, self, op_name, params, &self);
  if (record) record_unary(node_name, self, self, saves == Saves::Result ? self : original, formula);
  return self;
}

// The formulas, as PyTorch's derivatives (grad is the output's gradient).
Tensor neg_backward(const Tensor& grad, const Tensor&) { return -grad; }
Tensor abs_backward(const Tensor& grad, const Tensor& input) { return grad * sign(input); }
Tensor zero_backward(const Tensor& grad, const Tensor&) { return zeros_like(grad); }
Tensor square_backward(const Tensor& grad, const Tensor& input) { return grad * (input * 2.0); }
Tensor exp_backward(const Tensor& grad, const Tensor& result) { return grad * result; }
Tensor log_backward(const Tensor& grad, const Tensor& input) { return grad / input; }
Tensor log1p_backward(const Tensor& grad, const Tensor& input) { return grad / (input + 1.0); }
Tensor sqrt_backward(const Tensor& grad, const Tensor& result) { return grad / (result * 2.0); }
// d/dx x^(-1/2) = -x^(-3/2) / 2 = -result^3 / 2.
Tensor rsqrt_backward(const Tensor& grad, const Tensor& result) { return grad * (result * result * result) * -0.5; }
Tensor reciprocal_backward(const Tensor& grad, const Tensor& result) { return -grad * (result * result); }
Tensor sin_backward(const Tensor& grad, const Tensor& input) { return grad * cos(input); }
Tensor cos_backward(const Tensor& grad, const Tensor& input) { return grad * -sin(input); }
Tensor relu_backward(const Tensor& grad, const Tensor& result) {
  return fused_backward(BinaryOp::ThresholdBackward, "threshold_backward", grad, result);
}
Tensor tanh_backward(const Tensor& grad, const Tensor& result) {
  return fused_backward(BinaryOp::TanhBackward, "tanh_backward", grad, result);
}
Tensor sigmoid_backward(const Tensor& grad, const Tensor& result) {
  return fused_backward(BinaryOp::SigmoidBackward, "sigmoid_backward", grad, result);
}
Tensor silu_backward(const Tensor& grad, const Tensor& input) {
  return fused_backward(BinaryOp::SiluBackward, "silu_backward", grad, input);
}

}  // namespace

Tensor neg(const Tensor& input) {
  return unary_with_grad(UnaryOp::Neg, input, "neg", "NegBackward0", Saves::Nothing, neg_backward);
}
Tensor& Tensor::neg_() {
  return unary_inplace_with_grad(UnaryOp::Neg, *this, "neg_", "NegBackward0", Saves::Nothing, neg_backward);
}
// abs'(0) = sign(0) = 0, as in PyTorch.
Tensor abs(const Tensor& input) {
  return unary_with_grad(UnaryOp::Abs, input, "abs", "AbsBackward0", Saves::Input, abs_backward);
}
Tensor& Tensor::abs_() {
  return unary_inplace_with_grad(UnaryOp::Abs, *this, "abs_", "AbsBackward0", Saves::Input, abs_backward);
}
Tensor sign(const Tensor& input) {
  return unary_with_grad(UnaryOp::Sign, input, "sign", "SignBackward0", Saves::Nothing, zero_backward);
}
// PyTorch computes square as pow(x, 2), hence the node's name.
Tensor square(const Tensor& input) {
  Tensor result = unary(UnaryOp::Square, input, "square", {}, nullptr,
                        input.dtype() == kBool ? std::optional(kInt64) : std::nullopt);
  if (autograd::requires_grad_any({&input})) record_unary("PowBackward0", result, input, input, square_backward);
  return result;
}
Tensor relu(const Tensor& input) {
  return unary_with_grad(UnaryOp::Relu, input, "relu", "ReluBackward0", Saves::Result, relu_backward);
}
Tensor& Tensor::relu_() {
  return unary_inplace_with_grad(UnaryOp::Relu, *this, "relu_", "ReluBackward0", Saves::Result, relu_backward);
}
Tensor exp(const Tensor& input) {
  return unary_with_grad(UnaryOp::Exp, input, "exp", "ExpBackward0", Saves::Result, exp_backward);
}
Tensor& Tensor::exp_() {
  return unary_inplace_with_grad(UnaryOp::Exp, *this, "exp_", "ExpBackward0", Saves::Result, exp_backward);
}
Tensor log(const Tensor& input) {
  return unary_with_grad(UnaryOp::Log, input, "log", "LogBackward0", Saves::Input, log_backward);
}
Tensor log1p(const Tensor& input) {
  return unary_with_grad(UnaryOp::Log1p, input, "log1p", "Log1PBackward0", Saves::Input, log1p_backward);
}
Tensor sqrt(const Tensor& input) {
  return unary_with_grad(UnaryOp::Sqrt, input, "sqrt", "SqrtBackward0", Saves::Result, sqrt_backward);
}
Tensor& Tensor::sqrt_() {
  return unary_inplace_with_grad(UnaryOp::Sqrt, *this, "sqrt_", "SqrtBackward0", Saves::Result, sqrt_backward);
}
Tensor rsqrt(const Tensor& input) {
  return unary_with_grad(UnaryOp::Rsqrt, input, "rsqrt", "RsqrtBackward0", Saves::Result, rsqrt_backward);
}
Tensor reciprocal(const Tensor& input) {
  return unary_with_grad(UnaryOp::Reciprocal, input, "reciprocal", "ReciprocalBackward0", Saves::Result,
                         reciprocal_backward);
}
Tensor sin(const Tensor& input) {
  return unary_with_grad(UnaryOp::Sin, input, "sin", "SinBackward0", Saves::Input, sin_backward);
}
Tensor cos(const Tensor& input) {
  return unary_with_grad(UnaryOp::Cos, input, "cos", "CosBackward0", Saves::Input, cos_backward);
}
Tensor tanh(const Tensor& input) {
  return unary_with_grad(UnaryOp::Tanh, input, "tanh", "TanhBackward0", Saves::Result, tanh_backward);
}
Tensor& Tensor::tanh_() {
  return unary_inplace_with_grad(UnaryOp::Tanh, *this, "tanh_", "TanhBackward0", Saves::Result, tanh_backward);
}
Tensor sigmoid(const Tensor& input) {
  return unary_with_grad(UnaryOp::Sigmoid, input, "sigmoid", "SigmoidBackward0", Saves::Result, sigmoid_backward);
}
Tensor& Tensor::sigmoid_() {
  return unary_inplace_with_grad(UnaryOp::Sigmoid, *this, "sigmoid_", "SigmoidBackward0", Saves::Result,
                                 sigmoid_backward);
}
Tensor silu(const Tensor& input) {
  return unary_with_grad(UnaryOp::Silu, input, "silu", "SiluBackward0", Saves::Input, silu_backward);
}
Tensor logical_not(const Tensor& input) { return unary(UnaryOp::LogicalNot, input, "logical_not"); }

Tensor gelu(const Tensor& input, const char* approximate) {
  const std::string_view mode = approximate;
  EMBER_CHECK(mode == "none" || mode == "tanh", "gelu: approximate must be 'none' or 'tanh', got '{}'", mode);
  const bool exact = mode == "none";
  return unary_with_grad(exact ? UnaryOp::Gelu : UnaryOp::GeluTanh, input, "gelu", "GeluBackward0", Saves::Input,
                         [exact](const Tensor& grad, const Tensor& x) {
                           return fused_backward(exact ? BinaryOp::GeluBackward : BinaryOp::GeluTanhBackward,
                                                 "gelu_backward", grad, x);
                         });
}

Tensor leaky_relu(const Tensor& input, double negative_slope) {
  const OpParams params{negative_slope, 0.0, true, false};
  return unary_with_grad(
      UnaryOp::LeakyRelu, input, "leaky_relu", "LeakyReluBackward0", Saves::Input,
      [params](const Tensor& grad, const Tensor& x) {
        return fused_backward(BinaryOp::LeakyReluBackward, "leaky_relu_backward", grad, x, params);
      },
      params);
}

// ---- clamp ----

namespace {

Tensor clamp_impl(const Tensor& input, std::optional<Scalar> min, std::optional<Scalar> max, const Tensor* out) {
  check_defined(input, "clamp");
  EMBER_CHECK(min || max, "clamp: at least one of min and max must be given");
  DType dtype = input.dtype();
  if (min) dtype = promote_types(dtype, result_type(input, *min));
  if (max) dtype = promote_types(dtype, result_type(input, *max));
  const OpParams params{min ? min->to_double() : 0.0, max ? max->to_double() : 0.0, min.has_value(), max.has_value()};
  return unary(UnaryOp::Clamp, input, "clamp", params, out, dtype);
}

// The gradient passes where min <= x <= max (so not at NaN), from the input before clamping.
auto clamp_formula(std::optional<Scalar> min, std::optional<Scalar> max) {
  const OpParams params{min ? min->to_double() : 0.0, max ? max->to_double() : 0.0, min.has_value(), max.has_value()};
  return [params](const Tensor& grad, const Tensor& x) {
    return fused_backward(BinaryOp::ClampBackward, "clamp_backward", grad, x, params);
  };
}

}  // namespace

Tensor clamp(const Tensor& input, std::optional<Scalar> min, std::optional<Scalar> max) {
  Tensor result = clamp_impl(input, min, max, nullptr);
  if (autograd::requires_grad_any({&input})) {
    record_unary("ClampBackward1", result, input, input, clamp_formula(min, max));
  }
  return result;
}

Tensor& Tensor::clamp_(std::optional<Scalar> min, std::optional<Scalar> max) {
  const bool record = ops::check_inplace(*this, {}, "clamp_");
  const Tensor original = record ? ops::clone_values(*this) : Tensor();
  clamp_impl(*this, min, max, this);
  if (record) record_unary("ClampBackward1", *this, *this, original, clamp_formula(min, max));
  return *this;
}

// Either bound may be undefined (no bound). Where min > max the result is max: then max gets
// the gradient and min none, as in PyTorch.
Tensor clamp(const Tensor& input, const Tensor& min, const Tensor& max) {
  check_defined(input, "clamp");
  EMBER_CHECK(min.defined() || max.defined(), "clamp: at least one of min and max must be given");
  Tensor result;
  {
    autograd::NoGradGuard no_grad;
    result = min.defined() ? maximum(input, min) : input;
    if (max.defined()) result = minimum(result, max);
  }
  if (autograd::requires_grad_any({&input, &min, &max})) {
    autograd::record_backward(
        "ClampBackward0", result, {&input, &min, &max},
        [input_saved = SavedTensor(input), min_saved = SavedTensor(min), max_saved = SavedTensor(max),
         needs = std::array<bool, 3>{input.requires_grad(), min.defined() && min.requires_grad(),
                                     max.defined() && max.requires_grad()}](const Tensor& grad) {
          const Tensor x = input_saved.unpack("ClampBackward0");
          const Tensor low = min_saved.unpack("ClampBackward0"), high = max_saved.unpack("ClampBackward0");
          Tensor passes, to_min, to_max;
          if (low.defined() && high.defined()) {
            passes = logical_and(ge(x, low), le(x, high));
            if (needs[1]) to_min = logical_and(lt(x, low), lt(low, high));
            if (needs[2]) to_max = logical_or(gt(x, high), lt(high, low));
          } else if (low.defined()) {
            passes = ge(x, low);
            if (needs[1]) to_min = lt(x, low);
          } else {
            passes = le(x, high);
            if (needs[2]) to_max = gt(x, high);
          }
          return TensorList{needs[0] ? where(passes, grad, 0) : Tensor(),
                            to_min.defined() ? where(to_min, grad, 0) : Tensor(),
                            to_max.defined() ? where(to_max, grad, 0) : Tensor()};
        });
  }
  return result;
}

// ---- where and masked_fill ----

namespace {

Tensor where_impl(const Tensor& condition, const Tensor& a, const Tensor& b, DType dtype, const Tensor* out,
                  const char* op) {
  check_defined(condition, op);
  check_defined(a, op);
  check_defined(b, op);
  EMBER_CHECK(condition.dtype() == kBool, "{}: the condition must be a bool tensor, got {}", op,
              name(condition.dtype()));
  const Device device = ops::common_device({&condition, &a, &b}, op);
  const DimVector shape = broadcast_shapes(broadcast_shapes(condition.sizes(), a.sizes(), op), b.sizes(), op);
  Tensor output = ops::prepare_output(out, shape, dtype, device, op);
  const Tensor a_operand = ops::as_operand(a, dtype, shape);
  const Tensor b_operand = ops::as_operand(b, dtype, shape);
  ops::write_output(output, dtype, {&condition, &a_operand, &b_operand}, [&](const Tensor& target) {
    if (target.numel() == 0) return;
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&target, &condition, &a_operand, &b_operand});
    kernels::backend(target.device()).where(plan);
  });
  return output;
}

// The gradient with the masked elements zeroed: masked_fill's backward, and where's for b.
Tensor masked_backward(const Tensor& grad, const Tensor& mask) { return masked_fill(grad, mask, 0); }

}  // namespace

// The condition gets no gradient; each branch gets the gradient where it was chosen.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  Tensor result = where_impl(condition, a, b, result_type(a, b), nullptr, "where");
  if (autograd::requires_grad_any({&a, &b})) {
    autograd::record_backward("WhereBackward0", result, {&a, &b},
                              [condition_saved = SavedTensor(condition), a_needs = a.requires_grad(),
                               b_needs = b.requires_grad()](const Tensor& grad) {
                                const Tensor chosen = condition_saved.unpack("WhereBackward0");
                                return TensorList{a_needs ? where(chosen, grad, 0) : Tensor(),
                                                  b_needs ? masked_backward(grad, chosen) : Tensor()};
                              });
  }
  return result;
}

Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b) {
  const DType dtype = result_type(a, b);
  Tensor result = where_impl(condition, a, ops::wrap_scalar(b, dtype, "where"), dtype, nullptr, "where");
  if (autograd::requires_grad_any({&a})) {
    autograd::record_backward("WhereBackward0", result, {&a},
                              [condition_saved = SavedTensor(condition)](const Tensor& grad) {
                                return TensorList{where(condition_saved.unpack("WhereBackward0"), grad, 0)};
                              });
  }
  return result;
}

Tensor masked_fill(const Tensor& input, const Tensor& mask, const Scalar& value) {
  check_defined(input, "masked_fill");
  check_defined(mask, "masked_fill");
  const DimVector shape = broadcast_shapes(input.sizes(), mask.sizes(), "masked_fill");
  EMBER_CHECK(IntArrayRef(shape) == input.sizes(), "masked_fill: mask of shape {} cannot broadcast to input shape {}",
              to_string(mask.sizes()), to_string(input.sizes()));
  Tensor result = where_impl(mask, ops::wrap_scalar(value, input.dtype(), "masked_fill"), input, input.dtype(), nullptr,
                             "masked_fill");
  if (autograd::requires_grad_any({&input})) record_unary("MaskedFillBackward0", result, input, mask, masked_backward);
  return result;
}

Tensor& Tensor::masked_fill_(const Tensor& mask, const Scalar& value) {
  check_defined(mask, "masked_fill_");
  const bool record = ops::check_inplace(*this, {}, "masked_fill_");
  where_impl(mask, ops::wrap_scalar(value, dtype(), "masked_fill_"), *this, dtype(), this, "masked_fill_");
  if (record) record_unary("MaskedFillBackward0", *this, *this, mask, masked_backward);
  return *this;
}

// ---- fill ----

// The old values are overwritten: they get a zero gradient (PyTorch's FillBackward2 and ZeroBackward0).
namespace {
Tensor& fill_impl(Tensor& self, const Scalar& value, const char* op, const char* node_name) {
  value.check_fits(self.dtype(), op);
  const bool record = ops::check_inplace(self, {}, op);
  self.bump_version();
  if (self.numel() > 0) {
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&self});
    kernels::backend(self.device()).fill(plan, value);
  }
  if (record) record_unary(node_name, self, self, Tensor(), zero_backward);
  return self;
}
}  // namespace

Tensor& Tensor::fill_(const Scalar& value) { return fill_impl(*this, value, "fill_", "FillBackward2"); }
Tensor& Tensor::zero_() { return fill_impl(*this, 0, "zero_", "ZeroBackward0"); }

// ---- comparisons of whole tensors ----

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  autograd::NoGradGuard no_grad;
  return a.numel() == 0 || all(eq(a, b)).item<bool>();
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  EMBER_CHECK(a.sizes() == b.sizes(), "allclose: shapes {} and {} differ", to_string(a.sizes()), to_string(b.sizes()));
  if (a.numel() == 0) return true;
  autograd::NoGradGuard no_grad;
  const Tensor a64 = a.to(kFloat64), b64 = b.to(kFloat64);
  const Tensor close = le(abs(sub(a64, b64)), add(mul(abs(b64), rtol), atol));
  const Tensor both_infinite_equal = logical_and(eq(a64, b64), eq(abs(a64), INFINITY));
  return all(logical_or(close, both_infinite_equal)).item<bool>();
}

// ---- operators: the functions above, so they record the same nodes ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(b, a); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, const Scalar& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Scalar& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Scalar& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Scalar& b) { return a.div_(b); }

}  // namespace ember

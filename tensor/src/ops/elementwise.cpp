// Elementwise ops: type promotion, broadcasting and output checks, written once for every device.
#include "ember/tensor/elementwise.h"

#include <cstring>

#include "ember/tensor/autograd_graph.h"
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
  Tensor converted = tensor.to(dtype);
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
  Tensor(output).copy_(temporary);
}

void launch_binary(BinaryOp op, const OpParams& params, const Tensor& output, const Tensor& a, const Tensor& b) {
  const DType produced = kernels::is_comparison(op) ? kBool : a.dtype();
  write_output(output, produced, {&a, &b}, [&](const Tensor& target) {
    if (target.numel() == 0) return;
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&target, &a, &b});
    kernels::backend(target.device()).binary(op, params, plan);
  });
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
    default: return promoted;
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

}  // namespace

using autograd::SavedTensor;
using autograd::TensorList;

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
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor result = binary({BinaryOp::Mul, "mul"}, a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    // Each factor is saved only when the other one needs its gradient.
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
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor result = binary({BinaryOp::Div, "div"}, a, b);
  if (autograd::requires_grad_any({&a, &b})) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -result/b.
    autograd::record_backward(
        "DivBackward0", result, {&a, &b},
        [b_saved = SavedTensor(b), result_saved = b.requires_grad() ? SavedTensor(result) : SavedTensor(),
         a_needs = a.requires_grad()](const Tensor& grad) {
          const Tensor divisor = b_saved.unpack("DivBackward0");
          const Tensor grad_a = a_needs ? grad / divisor : Tensor();
          const Tensor grad_b =
              result_saved.defined() ? -(grad * result_saved.unpack("DivBackward0")) / divisor : Tensor();
          return TensorList{grad_a, grad_b};
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
Tensor maximum(const Tensor& a, const Tensor& b) { return binary({BinaryOp::Maximum, "maximum"}, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary({BinaryOp::Minimum, "minimum"}, a, b); }

Tensor pow(const Tensor& base, const Tensor& exponent) { return binary({BinaryOp::Pow, "pow"}, base, exponent); }
Tensor pow(const Tensor& base, const Scalar& exponent) {
  EMBER_CHECK(is_floating_point(result_type(base, exponent)) || exponent.to_int64() >= 0,
              "pow: integers to negative integer powers are not allowed (exponent {})", exponent.to_string());
  return binary({BinaryOp::Pow, "pow"}, base, exponent);
}
Tensor pow(const Scalar& base, const Tensor& exponent) { return binary({BinaryOp::Pow, "pow"}, base, exponent); }

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

Tensor& add_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha) {
  binary(with_alpha(BinaryOp::Add, "add_out", alpha), a, b, &out);
  return out;
}
Tensor& mul_out(Tensor& out, const Tensor& a, const Tensor& b) {
  binary({BinaryOp::Mul, "mul_out"}, a, b, &out);
  return out;
}

// ---- unary ops ----

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
  const Tensor converted = input.to(dtype);
  ops::write_output(output, dtype, {&converted}, [&](const Tensor& target) {
    if (target.numel() == 0) return;
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&target, &converted});
    kernels::backend(target.device()).unary(op, params, plan);
  });
  return output;
}

}  // namespace

Tensor neg(const Tensor& input) { return unary(UnaryOp::Neg, input, "neg"); }
Tensor abs(const Tensor& input) { return unary(UnaryOp::Abs, input, "abs"); }
Tensor sign(const Tensor& input) { return unary(UnaryOp::Sign, input, "sign"); }
Tensor square(const Tensor& input) {
  return unary(UnaryOp::Square, input, "square", {}, nullptr, input.dtype() == kBool ? std::optional(kInt64) : std::nullopt);
}
Tensor relu(const Tensor& input) {
  Tensor result = unary(UnaryOp::Relu, input, "relu");
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward("ReluBackward0", result, {&input}, [result_saved = SavedTensor(result)](const Tensor& grad) {
      return TensorList{where(gt(result_saved.unpack("ReluBackward0"), 0), grad, 0)};
    });
  }
  return result;
}
Tensor exp(const Tensor& input) { return unary(UnaryOp::Exp, input, "exp"); }
Tensor log(const Tensor& input) { return unary(UnaryOp::Log, input, "log"); }
Tensor log1p(const Tensor& input) { return unary(UnaryOp::Log1p, input, "log1p"); }
Tensor sqrt(const Tensor& input) { return unary(UnaryOp::Sqrt, input, "sqrt"); }
Tensor rsqrt(const Tensor& input) { return unary(UnaryOp::Rsqrt, input, "rsqrt"); }
Tensor reciprocal(const Tensor& input) { return unary(UnaryOp::Reciprocal, input, "reciprocal"); }
Tensor sin(const Tensor& input) { return unary(UnaryOp::Sin, input, "sin"); }
Tensor cos(const Tensor& input) { return unary(UnaryOp::Cos, input, "cos"); }
Tensor tanh(const Tensor& input) { return unary(UnaryOp::Tanh, input, "tanh"); }
Tensor sigmoid(const Tensor& input) { return unary(UnaryOp::Sigmoid, input, "sigmoid"); }
Tensor silu(const Tensor& input) { return unary(UnaryOp::Silu, input, "silu"); }
Tensor logical_not(const Tensor& input) { return unary(UnaryOp::LogicalNot, input, "logical_not"); }

Tensor gelu(const Tensor& input, const char* approximate) {
  const std::string_view mode = approximate;
  EMBER_CHECK(mode == "none" || mode == "tanh", "gelu: approximate must be 'none' or 'tanh', got '{}'", mode);
  return unary(mode == "none" ? UnaryOp::Gelu : UnaryOp::GeluTanh, input, "gelu");
}

Tensor leaky_relu(const Tensor& input, double negative_slope) {
  return unary(UnaryOp::LeakyRelu, input, "leaky_relu", {negative_slope, 0.0, true, false});
}

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

}  // namespace

Tensor clamp(const Tensor& input, std::optional<Scalar> min, std::optional<Scalar> max) {
  return clamp_impl(input, min, max, nullptr);
}

Tensor clamp(const Tensor& input, const Tensor& min, const Tensor& max) { return minimum(maximum(input, min), max); }

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

}  // namespace

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  return where_impl(condition, a, b, result_type(a, b), nullptr, "where");
}

Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b) {
  const DType dtype = result_type(a, b);
  return where_impl(condition, a, ops::wrap_scalar(b, dtype, "where"), dtype, nullptr, "where");
}

Tensor masked_fill(const Tensor& input, const Tensor& mask, const Scalar& value) {
  check_defined(input, "masked_fill");
  check_defined(mask, "masked_fill");
  const DimVector shape = broadcast_shapes(input.sizes(), mask.sizes(), "masked_fill");
  EMBER_CHECK(IntArrayRef(shape) == input.sizes(), "masked_fill: mask of shape {} cannot broadcast to input shape {}",
              to_string(mask.sizes()), to_string(input.sizes()));
  return where_impl(mask, ops::wrap_scalar(value, input.dtype(), "masked_fill"), input, input.dtype(), nullptr, "masked_fill");
}

Tensor& Tensor::masked_fill_(const Tensor& mask, const Scalar& value) {
  check_defined(mask, "masked_fill_");
  where_impl(mask, ops::wrap_scalar(value, dtype(), "masked_fill_"), *this, dtype(), this, "masked_fill_");
  return *this;
}

// ---- comparisons of whole tensors ----

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  return a.numel() == 0 || all(eq(a, b)).item<bool>();
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  EMBER_CHECK(a.sizes() == b.sizes(), "allclose: shapes {} and {} differ", to_string(a.sizes()), to_string(b.sizes()));
  if (a.numel() == 0) return true;
  const Tensor a64 = a.to(kFloat64), b64 = b.to(kFloat64);
  const Tensor close = le(abs(sub(a64, b64)), add(mul(abs(b64), rtol), atol));
  const Tensor both_infinite_equal = logical_and(eq(a64, b64), eq(abs(a64), INFINITY));
  return all(logical_or(close, both_infinite_equal)).item<bool>();
}

// ---- in-place methods ----

Tensor& Tensor::add_(const Tensor& other, const Scalar& alpha) {
  binary(with_alpha(BinaryOp::Add, "add_", alpha), *this, other, this);
  return *this;
}
Tensor& Tensor::add_(const Scalar& other) {
  binary({BinaryOp::Add, "add_", {1.0, 0.0, true, false}}, *this, other, this);
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other, const Scalar& alpha) {
  binary(with_alpha(BinaryOp::Sub, "sub_", alpha), *this, other, this);
  return *this;
}
Tensor& Tensor::sub_(const Scalar& other) {
  binary({BinaryOp::Sub, "sub_", {1.0, 0.0, true, false}}, *this, other, this);
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  binary({BinaryOp::Mul, "mul_"}, *this, other, this);
  return *this;
}
Tensor& Tensor::mul_(const Scalar& other) {
  binary({BinaryOp::Mul, "mul_"}, *this, other, this);
  return *this;
}
Tensor& Tensor::div_(const Tensor& other) {
  binary({BinaryOp::Div, "div_"}, *this, other, this);
  return *this;
}
Tensor& Tensor::div_(const Scalar& other) {
  binary({BinaryOp::Div, "div_"}, *this, other, this);
  return *this;
}
Tensor& Tensor::pow_(const Scalar& exponent) {
  EMBER_CHECK(ember::is_floating_point(result_type(*this, exponent)) || exponent.to_int64() >= 0,
              "pow_: integers to negative integer powers are not allowed (exponent {})", exponent.to_string());
  binary({BinaryOp::Pow, "pow_"}, *this, exponent, this);
  return *this;
}
Tensor& Tensor::neg_() {
  unary(UnaryOp::Neg, *this, "neg_", {}, this);
  return *this;
}
Tensor& Tensor::abs_() {
  unary(UnaryOp::Abs, *this, "abs_", {}, this);
  return *this;
}
Tensor& Tensor::exp_() {
  unary(UnaryOp::Exp, *this, "exp_", {}, this);
  return *this;
}
Tensor& Tensor::sqrt_() {
  unary(UnaryOp::Sqrt, *this, "sqrt_", {}, this);
  return *this;
}
Tensor& Tensor::relu_() {
  unary(UnaryOp::Relu, *this, "relu_", {}, this);
  return *this;
}
Tensor& Tensor::sigmoid_() {
  unary(UnaryOp::Sigmoid, *this, "sigmoid_", {}, this);
  return *this;
}
Tensor& Tensor::tanh_() {
  unary(UnaryOp::Tanh, *this, "tanh_", {}, this);
  return *this;
}
Tensor& Tensor::clamp_(std::optional<Scalar> min, std::optional<Scalar> max) {
  clamp_impl(*this, min, max, this);
  return *this;
}

Tensor& Tensor::fill_(const Scalar& value) {
  value.check_fits(dtype(), "fill_");
  bump_version();
  if (numel() == 0) return *this;
  const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({this});
  kernels::backend(device()).fill(plan, value);
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Scalar& a, const Tensor& b) { return binary({BinaryOp::Sub, "sub", {1.0, 0.0, true, false}}, a, b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Scalar& a, const Tensor& b) { return binary({BinaryOp::Div, "div"}, a, b); }
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

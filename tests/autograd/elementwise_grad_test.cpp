// Gradients of the elementwise ops (checked against finite differences in float64, and against
// PyTorch 1.13's values where the calculus breaks down), and autograd through in-place ops.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"
#include "tensor/test_util.h"

namespace ember {
namespace {

using autograd::gradcheck;
using Inputs = std::vector<Tensor>;
using testing::expect_error;

// A float64 leaf that requires grad, uniform in [low, high).
Tensor leaf(IntArrayRef sizes, double low = -2.0, double high = 2.0) {
  return (rand(sizes, kFloat64) * (high - low) + low).requires_grad_();
}

// Values away from 0 by at least `margin`, either sign: for ops with a kink at 0.
Tensor leaf_off_zero(IntArrayRef sizes, double margin = 0.1) {
  const Tensor magnitude = rand(sizes, kFloat64) + margin;
  const Tensor sign = gt(rand(sizes, kFloat64), 0.5).to(kFloat64) * 2.0 - 1.0;
  return (magnitude * sign).requires_grad_();
}

Tensor values_of(std::vector<double> values) { return tensor(values).requires_grad_(); }

void expect_values(const Tensor& actual, const std::vector<double>& expected) {
  const std::vector<double> got = actual.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) EXPECT_TRUE(std::isnan(got[i])) << "element " << i << " is " << got[i];
    else if (std::isinf(expected[i])) EXPECT_EQ(got[i], expected[i]) << "element " << i;
    else EXPECT_NEAR(got[i], expected[i], 1e-12 * (1 + std::abs(expected[i]))) << "element " << i;
  }
}

std::vector<Tensor> gradients(const Tensor& output, const std::vector<Tensor>& inputs) {
  return autograd::grad({output.sum()}, inputs, {}, false, true);
}

// ---- binary arithmetic ----

TEST(ElementwiseGrad, ArithmeticWithBroadcasting) {
  const Tensor a = leaf({3, 4}), b = leaf({4}), c = leaf({2, 1, 4}), s = leaf({});
  const Tensor divisor = leaf({3, 1}, 0.5, 2.0);
  gradcheck([](const Inputs& in) { return in[0] + in[1]; }, {a, b});
  gradcheck([](const Inputs& in) { return add(in[0], in[1], 2.5); }, {a, c});
  gradcheck([](const Inputs& in) { return in[0] - in[1]; }, {c, a});
  gradcheck([](const Inputs& in) { return sub(in[0], in[1], -1.5); }, {a, b});
  gradcheck([](const Inputs& in) { return in[0] * in[1]; }, {a, c});
  gradcheck([](const Inputs& in) { return in[0] / in[1]; }, {a, divisor});
  // A 0-dim tensor mixed with dimensioned ones, on either side.
  gradcheck([](const Inputs& in) { return in[0] * in[1] - in[1] / (in[0] * in[0] + 1.0); }, {s, a});
}

TEST(ElementwiseGrad, ArithmeticWithNumbers) {
  const Tensor a = leaf({2, 3}), positive = leaf({2, 3}, 0.5, 2.0);
  gradcheck([](const Inputs& in) { return in[0] + 2.5; }, {a});
  gradcheck([](const Inputs& in) { return 2.5 + in[0]; }, {a});
  gradcheck([](const Inputs& in) { return in[0] - 1.5; }, {a});
  gradcheck([](const Inputs& in) { return 1.5 - in[0]; }, {a});
  gradcheck([](const Inputs& in) { return in[0] * 3.0; }, {a});
  gradcheck([](const Inputs& in) { return -3.0 * in[0]; }, {a});
  gradcheck([](const Inputs& in) { return in[0] / 4.0; }, {a});
  gradcheck([](const Inputs& in) { return 3.0 / in[0]; }, {positive});
  gradcheck([](const Inputs& in) { return -in[0]; }, {a});
  EXPECT_STREQ((1.5 - a).grad_fn()->name(), "RsubBackward1");
  EXPECT_STREQ((3.0 / positive).grad_fn()->name(), "DivBackward0");
}

TEST(ElementwiseGrad, NonContiguousOperands) {
  const Tensor a = leaf({4, 3}), b = leaf({3, 4}), positive = leaf({3, 8}, 0.5, 2.0);
  gradcheck([](const Inputs& in) { return in[0].t() * in[1]; }, {a, b});
  gradcheck([](const Inputs& in) { return in[0].t() / in[1].slice(1, 0, 8, 2); }, {a, positive});
  gradcheck([](const Inputs& in) { return in[0].t().sigmoid() + in[1].tanh(); }, {a, b});
  gradcheck([](const Inputs& in) { return gelu(in[0].t()) * silu(in[1]); }, {a, b});
}

// ---- pow ----

TEST(ElementwiseGrad, PowAllOverloads) {
  const Tensor base = leaf({2, 3}, 0.5, 2.0), exponent = leaf({3}, -1.5, 2.5);
  gradcheck([](const Inputs& in) { return pow(in[0], in[1]); }, {base, exponent});
  for (double e : {2.0, 3.0, 0.5, -1.5, 1.0, 0.0}) {
    gradcheck([e](const Inputs& in) { return pow(in[0], e); }, {base});
  }
  gradcheck([](const Inputs& in) { return pow(in[0], 3); }, {leaf({4})});  // integer exponent, any sign of base
  gradcheck([](const Inputs& in) { return pow(2.5, in[0]); }, {exponent});
  gradcheck([](const Inputs& in) { return in[0].pow(in[1]); }, {base, leaf({}, 0.5, 1.5)});
  EXPECT_STREQ(pow(base, 2).grad_fn()->name(), "PowBackward0");
  EXPECT_STREQ(pow(base, exponent).grad_fn()->name(), "PowBackward1");
  EXPECT_STREQ(pow(2.0, exponent).grad_fn()->name(), "PowBackward2");
}

TEST(ElementwiseGrad, PowSpecialCasesMatchPyTorch) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  const Tensor base = values_of({0, 0, -2, 2, 0, -1.5});
  const Tensor exponent = values_of({0, 2, 2, 0.5, -1, 0.5});
  auto grads = gradients(pow(base, exponent), {base, exponent});
  expect_values(grads[0], {0, 0, -4, 0.3535533905932738, -inf, nan});
  expect_values(grads[1], {0, 0, nan, 0.9802581434685472, -inf, nan});
  expect_values(gradients(pow(base, 0.5), {base})[0], {inf, inf, nan, 0.35355339059327373, inf, nan});
  expect_values(gradients(pow(base, 0), {base})[0], {0, 0, 0, 0, 0, 0});
  expect_values(gradients(pow(0.0, exponent), {exponent})[0], {0, 0, 0, 0, -inf, 0});
  expect_values(gradients(pow(2.0, exponent), {exponent})[0],
                {0.6931471805599453, 2.772588722239781, 2.772588722239781, 0.9802581434685472, 0.34657359027997264,
                 0.9802581434685472});
}

// ---- maximum, minimum, where, clamp ----

TEST(ElementwiseGrad, MaximumMinimum) {
  const Tensor a = leaf({3, 4}), b = leaf({4});
  gradcheck([](const Inputs& in) { return maximum(in[0], in[1]); }, {a, b});
  gradcheck([](const Inputs& in) { return minimum(in[0], in[1]); }, {a, b});
}

TEST(ElementwiseGrad, MaximumMinimumSplitTiesAndPassNaN) {
  const double nan = std::nan("");
  const Tensor a = values_of({1, 2, 3, nan}), b = values_of({1, 3, 2, 1});
  auto grads = gradients(maximum(a, b), {a, b});
  expect_values(grads[0], {0.5, 0, 1, 1});
  expect_values(grads[1], {0.5, 1, 0, 1});
  grads = gradients(minimum(a, b), {a, b});
  expect_values(grads[0], {0.5, 1, 0, 1});
  expect_values(grads[1], {0.5, 0, 1, 1});
}

TEST(ElementwiseGrad, WhereBothOverloads) {
  const Tensor condition = gt(rand({3, 1}), 0.5);
  const Tensor a = leaf({3, 4}), b = leaf({4}), s = leaf({});
  gradcheck([condition](const Inputs& in) { return where(condition, in[0], in[1]); }, {a, b});
  gradcheck([condition](const Inputs& in) { return where(condition, in[0], in[1]); }, {s, a});
  gradcheck([condition](const Inputs& in) { return where(condition, in[0], 2.5); }, {b});
  const Tensor mask = tensor(std::vector<bool>{true, false, true});
  const Tensor x = values_of({1, 2, 3}), y = values_of({4, 5, 6});
  auto grads = gradients(where(mask, x, y), {x, y});
  expect_values(grads[0], {1, 0, 1});
  expect_values(grads[1], {0, 1, 0});
  EXPECT_STREQ(where(mask, x, 0.0).grad_fn()->name(), "WhereBackward0");
}

TEST(ElementwiseGrad, ClampWithNumberBounds) {
  // Values stay 0.05 away from the bounds, where the gradient jumps.
  const Tensor x = (leaf_off_zero({20}, 0.05).detach() * 2).requires_grad_();
  gradcheck([](const Inputs& in) { return clamp(in[0], -1.0, 1.0); }, {x});
  gradcheck([](const Inputs& in) { return clamp(in[0], std::nullopt, 0.0); }, {x});
  gradcheck([](const Inputs& in) { return in[0].clamp(0.0, std::nullopt); }, {x});
  // At a bound the gradient passes (PyTorch's min <= x <= max); NaN gets none.
  const Tensor edge = values_of({0.5, 1, 2, 3, std::nan("")});
  expect_values(gradients(clamp(edge, 1.0, 2.0), {edge})[0], {0, 1, 1, 0, 0});
  EXPECT_STREQ(clamp(edge, 1.0, 2.0).grad_fn()->name(), "ClampBackward1");
}

TEST(ElementwiseGrad, ClampWithTensorBounds) {
  const Tensor x = leaf({3, 4}), low = leaf({4}, -2.0, -0.5), high = leaf({3, 1}, 0.5, 2.0);
  gradcheck([](const Inputs& in) { return clamp(in[0], in[1], in[2]); }, {x, low, high});
  gradcheck([](const Inputs& in) { return clamp(in[0], in[1], Tensor()); }, {x, low});
  gradcheck([](const Inputs& in) { return clamp(in[0], Tensor(), in[1]); }, {x, high});
  // PyTorch's values, including min > max (max wins and takes the gradient) and NaN.
  const Tensor v = values_of({1, 2, 3, std::nan("")});
  const Tensor lo = values_of({1, 3, 1, 0}), hi = values_of({0, 4, 2.5, 1});
  auto grads = gradients(clamp(v, lo, hi), {v, lo, hi});
  expect_values(grads[0], {0, 0, 0, 0});
  expect_values(grads[1], {0, 1, 0, 0});
  expect_values(grads[2], {1, 0, 1, 0});
  EXPECT_STREQ(clamp(v, lo, hi).grad_fn()->name(), "ClampBackward0");
}

// ---- unary ops ----

TEST(ElementwiseGrad, UnaryOps) {
  const Tensor any = leaf({2, 5}), off_zero = leaf_off_zero({2, 5}), positive = leaf({2, 5}, 0.2, 3.0);
  gradcheck([](const Inputs& in) { return neg(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return abs(in[0]); }, {off_zero});
  gradcheck([](const Inputs& in) { return sign(in[0]); }, {off_zero});
  gradcheck([](const Inputs& in) { return square(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return exp(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return log(in[0]); }, {positive});
  gradcheck([](const Inputs& in) { return log1p(in[0]); }, {leaf({2, 5}, -0.8, 3.0)});
  gradcheck([](const Inputs& in) { return sqrt(in[0]); }, {positive});
  gradcheck([](const Inputs& in) { return rsqrt(in[0]); }, {positive});
  gradcheck([](const Inputs& in) { return reciprocal(in[0]); }, {off_zero});
  gradcheck([](const Inputs& in) { return sin(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return cos(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return tanh(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return sigmoid(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return relu(in[0]); }, {off_zero});
  gradcheck([](const Inputs& in) { return gelu(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return gelu(in[0], "tanh"); }, {any});
  gradcheck([](const Inputs& in) { return silu(in[0]); }, {any});
  gradcheck([](const Inputs& in) { return leaky_relu(in[0]); }, {off_zero});
  gradcheck([](const Inputs& in) { return leaky_relu(in[0], 0.3); }, {off_zero});
  const Tensor mask = gt(rand({5}), 0.5);
  gradcheck([mask](const Inputs& in) { return masked_fill(in[0], mask, 3.0); }, {any});
  // The method forms are the same functions.
  gradcheck([](const Inputs& in) { return in[0].exp().sin().abs() + in[0].cos().square(); }, {off_zero});
}

TEST(ElementwiseGrad, KinksFollowPyTorch) {
  const Tensor x = values_of({0, -1, 2});
  expect_values(gradients(abs(x), {x})[0], {0, -1, 1});
  expect_values(gradients(relu(x), {x})[0], {0, 0, 1});
  expect_values(gradients(leaky_relu(x, 0.1), {x})[0], {0.1, 0.1, 1});
  expect_values(gradients(sign(x), {x})[0], {0, 0, 0});
  const Tensor mask = tensor(std::vector<bool>{true, false, true});
  expect_values(gradients(masked_fill(x, mask, 7.0), {x})[0], {0, 1, 0});
}

TEST(ElementwiseGrad, ActivationValuesMatchPyTorch) {
  const Tensor x = values_of({-3, -0.5, 0, 0.7, 2});
  expect_values(gradients(gelu(x), {x})[0],
                {-0.01194564720418392, 0.13250487534383712, 0.5, 0.9766141011336599, 1.085231801078197});
  expect_values(gradients(gelu(x, "tanh"), {x})[0],
                {-0.011584166630969648, 0.13263009646535764, 0.5, 0.976357218656104, 1.0860992566236183});
  expect_values(gradients(silu(x), {x})[0],
                {-0.08810410601516962, 0.2600388126973482, 0.5, 0.8233867834733425, 1.0907842487848955});
}

// The fused backward kernels take a vectorized path on dense float runs and the generic loop
// otherwise; both must agree with the formula written out with ops.
TEST(ElementwiseGrad, FusedBackwardKernelsMatchTheirFormulas) {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tolerance = dtype == kFloat32 ? 1e-5 : 1e-12;
    const Tensor base = randn({37, 29}, dtype) * 3;  // odd sizes: vector tails
    for (bool dense : {true, false}) {
      const Tensor x = (dense ? base : base.t()).detach().requires_grad_();
      const Tensor upstream = randn(x.sizes(), dtype);
      auto grad_of = [&](const Tensor& y) { return autograd::grad({y}, {x}, {upstream})[0]; };
      const Tensor v = x.detach(), s = sigmoid(v), t = tanh(v);
      SCOPED_TRACE(std::string(name(dtype)) + (dense ? " dense" : " strided"));
      EXPECT_TRUE(allclose(grad_of(sigmoid(x)), upstream * s * (1.0 - s), tolerance, tolerance));
      EXPECT_TRUE(allclose(grad_of(tanh(x)), upstream * (1.0 - t * t), tolerance, tolerance));
      EXPECT_TRUE(allclose(grad_of(silu(x)), upstream * s * (1.0 + v * (1.0 - s)), tolerance, tolerance));
      EXPECT_TRUE(allclose(grad_of(relu(x)), where(gt(v, 0), upstream, 0), 0, 0));
      EXPECT_TRUE(allclose(grad_of(leaky_relu(x, 0.2)), where(gt(v, 0), upstream, upstream * 0.2), tolerance, 0));
      // gelu: Phi(x) + x phi(x), with Phi from the forward op itself (gelu(x) = x Phi(x)).
      const Tensor pdf = exp(v * v * -0.5) * 0.3989422804014327;
      const Tensor cdf_from_gelu = masked_fill(gelu(v) / v, eq(v, 0), 0.5);
      EXPECT_TRUE(allclose(grad_of(gelu(x)), upstream * (cdf_from_gelu + v * pdf), 1e-4, 1e-4));
      const Tensor inner = (v + v * v * v * 0.044715) * 0.7978845608028654;
      const Tensor th = tanh(inner);
      const Tensor inner_grad = (v * v * 0.134145 + 1.0) * 0.7978845608028654;
      const Tensor tanh_grad = (th + 1.0) * 0.5 + v * 0.5 * (1.0 - th * th) * inner_grad;
      EXPECT_TRUE(allclose(grad_of(gelu(x, "tanh")), upstream * tanh_grad, tolerance * 10, tolerance * 10));
    }
  }
}

TEST(ElementwiseGrad, NodeNamesFollowPyTorch) {
  const Tensor x = leaf({3}, 0.5, 1.0);
  EXPECT_STREQ(square(x).grad_fn()->name(), "PowBackward0");
  EXPECT_STREQ(log1p(x).grad_fn()->name(), "Log1PBackward0");
  EXPECT_STREQ(maximum(x, x).grad_fn()->name(), "MaximumBackward0");
  EXPECT_STREQ(gelu(x, "tanh").grad_fn()->name(), "GeluBackward0");
  EXPECT_STREQ(leaky_relu(x).grad_fn()->name(), "LeakyReluBackward0");
  EXPECT_STREQ(masked_fill(x, gt(x, 0.7), 0.0).grad_fn()->name(), "MaskedFillBackward0");
  EXPECT_STREQ(relu(x).grad_fn()->name(), "ReluBackward0");
  // Comparisons give bool tensors outside autograd.
  EXPECT_FALSE(gt(x, 0.7).requires_grad());
}

TEST(ElementwiseGrad, OutFormsRefuseOperandsThatRequireGrad) {
  const Tensor x = leaf({3});
  Tensor out = empty({3}, kFloat64);
  expect_error([&] { add_out(out, x, x); }, {"add_out", "autograd"});
  autograd::NoGradGuard no_grad;
  add_out(out, x, x);  // optimizers write like this
  EXPECT_TRUE(allclose(out, x.detach() * 2));
}

// ---- in-place ops ----

// y = f(x) computed through an in-place op on a non-leaf copy of x.
TEST(InplaceGrad, EachOpOnANonLeafGivesPyTorchsGradient) {
  const Tensor x = leaf_off_zero({3, 4}), other = leaf({4}, 0.5, 2.0), positive = leaf({3, 4}, 0.5, 2.0);
  const Tensor mask = gt(rand({3, 4}), 0.5);
  using Op = std::function<void(Tensor&, const Inputs&)>;
  const std::vector<std::pair<const char*, Op>> ops = {
      {"add_", [](Tensor& y, const Inputs& in) { y.add_(in[1], 1.5); }},
      {"add_ number", [](Tensor& y, const Inputs&) { y.add_(2.0); }},
      {"sub_", [](Tensor& y, const Inputs& in) { y.sub_(in[1]); }},
      {"sub_ number", [](Tensor& y, const Inputs&) { y.sub_(2.0); }},
      {"mul_", [](Tensor& y, const Inputs& in) { y.mul_(in[1]); }},
      {"mul_ number", [](Tensor& y, const Inputs&) { y.mul_(-3.0); }},
      {"div_", [](Tensor& y, const Inputs& in) { y.div_(in[1]); }},
      {"div_ number", [](Tensor& y, const Inputs&) { y.div_(4.0); }},
      {"pow_", [](Tensor& y, const Inputs&) { y.pow_(3); }},
      {"neg_", [](Tensor& y, const Inputs&) { y.neg_(); }},
      {"abs_", [](Tensor& y, const Inputs&) { y.abs_(); }},
      {"exp_", [](Tensor& y, const Inputs&) { y.exp_(); }},
      {"relu_", [](Tensor& y, const Inputs&) { y.relu_(); }},
      {"sigmoid_", [](Tensor& y, const Inputs&) { y.sigmoid_(); }},
      {"tanh_", [](Tensor& y, const Inputs&) { y.tanh_(); }},
      {"clamp_", [](Tensor& y, const Inputs&) { y.clamp_(-0.5, 0.5); }},
      {"masked_fill_", [mask](Tensor& y, const Inputs&) { y.masked_fill_(mask, 2.0); }},
      {"fill_", [](Tensor& y, const Inputs&) { y.fill_(1.0); }},
      {"zero_", [](Tensor& y, const Inputs&) { y.zero_(); }},
      {"copy_", [](Tensor& y, const Inputs& in) { y.copy_(in[1]); }},
      {"operators", [](Tensor& y, const Inputs& in) {
         y += in[1];
         y *= in[1];
         y -= 0.5;
         y /= in[1];
         y *= 2.0;
       }},
  };
  for (const auto& [label, op] : ops) {
    SCOPED_TRACE(label);
    // Multiplying by `other` afterwards makes the gradient of every input depend on the op.
    gradcheck(
        [op = op](const Inputs& in) {
          Tensor y = in[0] * 1.0;
          op(y, in);
          return y * in[1];
        },
        {x, other});
  }
  gradcheck([](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    y.sqrt_();
    return y;
  }, {positive});
}

TEST(InplaceGrad, TargetWithoutHistoryGainsTheOperandsGradient) {
  const Tensor w = leaf({3});
  Tensor buffer = zeros({3}, kFloat64);
  buffer.add_(w, 2.0);
  ASSERT_TRUE(buffer.requires_grad());
  EXPECT_FALSE(buffer.is_leaf());
  EXPECT_STREQ(buffer.grad_fn()->name(), "AddBackward0");
  buffer.sum().backward();
  expect_values(w.grad(), {2, 2, 2});
}

TEST(InplaceGrad, NodeNamesFollowPyTorch) {
  const Tensor x = leaf({3});
  Tensor y = x * 1.0;
  EXPECT_STREQ(y.mul_(2.0).grad_fn()->name(), "MulBackward1");
  EXPECT_STREQ(y.sigmoid_().grad_fn()->name(), "SigmoidBackward0");
  EXPECT_STREQ(y.clamp_(0.0, 1.0).grad_fn()->name(), "ClampBackward1");
  EXPECT_STREQ(y.fill_(1.0).grad_fn()->name(), "FillBackward2");
  EXPECT_STREQ(y.zero_().grad_fn()->name(), "ZeroBackward0");
  EXPECT_STREQ(y.copy_(x).grad_fn()->name(), "CopyBackwards");
}

TEST(InplaceGrad, LeafThatRequiresGradIsRefused) {
  Tensor x = leaf({3});
  const Tensor other = leaf({3});
  const std::string message = "a leaf tensor that requires grad is being used in an in-place operation: ";
  expect_error([&] { x.add_(1.0); }, {message + "add_"});
  expect_error([&] { x.mul_(other); }, {message + "mul_"});
  expect_error([&] { x.relu_(); }, {message + "relu_"});
  expect_error([&] { x.fill_(0.0); }, {message + "fill_"});
  expect_error([&] { x.zero_(); }, {message + "zero_"});
  expect_error([&] { x.copy_(other); }, {message + "copy_"});
  expect_error([&] { x += other; }, {message + "add_"});
  expect_error([&] { x.masked_fill_(gt(other, 0.0), 1.0); }, {message + "masked_fill_"});
  EXPECT_EQ(x.version(), 0u);  // refused before writing
}

TEST(InplaceGrad, NoGradGuardAllowsUpdatesOfLeavesAndRecordsNothing) {
  Tensor x = leaf({3});
  const Tensor before = x.detach().clone();
  {
    autograd::NoGradGuard no_grad;
    x.sub_(ones({3}, kFloat64), 0.5);
    x.mul_(2.0);
    x.clamp_(-1.0, 1.0);
  }
  EXPECT_TRUE(x.is_leaf());
  EXPECT_TRUE(x.requires_grad());
  EXPECT_EQ(x.grad_fn(), nullptr);
  EXPECT_TRUE(allclose(x.detach(), clamp((before - 0.5) * 2.0, -1.0, 1.0)));
  x.sum().backward();
  expect_values(x.grad(), {1, 1, 1});
}

TEST(InplaceGrad, ViewsTakingPartInAutogradAreRefused) {
  const Tensor x = leaf({2, 3});
  Tensor y = x * 1.0;
  Tensor row = y[0];
  expect_error([&] { row.mul_(2.0); }, {"mul_", "in-place operation on a view", "out-of-place"});
  // A view of a tensor without history, written with an operand that requires grad.
  Tensor plain = zeros({2, 3}, kFloat64);
  Tensor column = plain.select(1, 0);
  expect_error([&] { column.copy_(x.select(1, 0)); }, {"copy_", "view"});
  // Nothing takes part in autograd: views are written freely.
  Tensor free_view = plain.narrow(1, 1, 2);
  free_view.fill_(3.0);
  EXPECT_EQ(plain.sum().item<double>(), 12.0);
}

TEST(InplaceGrad, SavedTensorModifiedInPlaceFailsNamingTheOp) {
  const Tensor x = leaf({3});
  Tensor y = x.exp();
  y.add_(1.0);  // ExpBackward0 saved y
  expect_error([&] { y.sum().backward(); }, {"ExpBackward0", "modified by an in-place operation"});

  Tensor z = x * 1.0;
  Tensor product = z * z;  // MulBackward0 saved z
  z.mul_(2.0);
  expect_error([&] { product.sum().backward(); }, {"MulBackward0", "in-place"});

  Tensor w = x * 1.0;
  w.mul_(w);  // w's old value is gone: PyTorch refuses too
  expect_error([&] { w.sum().backward(); }, {"MulBackward0", "in-place"});

  Tensor v = x * 1.0;
  v.sigmoid_();  // SigmoidBackward0 saved its output, v itself
  v.mul_(2.0);
  expect_error([&] { v.sum().backward(); }, {"SigmoidBackward0", "in-place"});

  // Ops that save their inputs (or a copy) are not affected by writes to their output.
  Tensor u = x / (x * x + 1.0);
  u.mul_(2.0);
  u.sum().backward();
  EXPECT_TRUE(x.grad().defined());
}

TEST(InplaceGrad, ChainOfInPlaceOpsMatchesOutOfPlace) {
  const Tensor x = leaf({5}), b = leaf({5});
  Tensor y = x * 2.0;
  y.add_(b).mul_(b).sigmoid_();
  y.sum().backward();
  const Tensor grad_x = x.grad().clone(), grad_b = b.grad().clone();
  x.mutable_grad() = Tensor();
  b.mutable_grad() = Tensor();
  sigmoid((x * 2.0 + b) * b).sum().backward();
  EXPECT_TRUE(allclose(grad_x, x.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(grad_b, b.grad(), 1e-12, 1e-12));
}

}  // namespace
}  // namespace ember

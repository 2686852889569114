// Gradients of the reductions, checked against finite differences over every dims form, and
// against PyTorch 1.13's values where the function is not differentiable (ties, zeros).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"

namespace ember {
namespace {

using ReductionOp = std::function<Tensor(const Tensor&, IntArrayRef, bool)>;

struct DimsCase {
  std::vector<int64_t> dims;  // empty: every dim
  bool keepdim;
};

// Over a [2, 3, 4] input: all dims, one dim, a negative dim, and a list of two.
const std::vector<DimsCase> kDimsCases = {{{}, false}, {{}, true},         {{1}, false},
                                          {{-1}, true}, {{0, 2}, false}, {{-3, -1}, true}};

Tensor leaf(IntArrayRef sizes) { return randn(sizes, kFloat64).requires_grad_(); }

Tensor leaf(const std::vector<double>& values, IntArrayRef sizes) { return tensor(values, sizes).requires_grad_(); }

std::string describe(const DimsCase& dims_case) {
  return "dims " + to_string(IntArrayRef(dims_case.dims)) + (dims_case.keepdim ? " keepdim" : "");
}

void gradcheck_each_dims_case(const ReductionOp& op, const Tensor& input) {
  for (const DimsCase& dims_case : kDimsCases) {
    SCOPED_TRACE(describe(dims_case));
    autograd::gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], dims_case.dims, dims_case.keepdim); },
                        {input});
  }
}

// d(sum(op(x) * weights))/dx for the leaf x.
Tensor gradient_of(const std::function<Tensor(const Tensor&)>& op, const Tensor& x, const Tensor& weights) {
  return autograd::grad({op(x)}, {x}, {weights})[0];
}

// The gradient through a transposed (non-contiguous) leaf equals the one through a dense copy.
void expect_noncontiguous_input_works(const std::function<Tensor(const Tensor&)>& op) {
  const Tensor base = randn({4, 3}, kFloat64);
  Tensor strided = base.t();
  strided.requires_grad_();
  Tensor dense = base.t().contiguous();
  dense.requires_grad_();
  ASSERT_FALSE(strided.is_contiguous());
  const Tensor weights = randn_like(op(dense.detach()));
  EXPECT_TRUE(allclose(gradient_of(op, strided, weights), gradient_of(op, dense, weights), 1e-12, 1e-12));
}

void expect_values(const Tensor& actual, const std::vector<double>& expected) {
  ASSERT_TRUE(actual.defined());
  const std::vector<double> values = actual.to(kFloat64).contiguous().to_vector<double>();
  ASSERT_EQ(values.size(), expected.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_NEAR(values[i], expected[i], 1e-4) << "element " << i;
}

// The op recorded one node whose only edge leads straight to the leaf: no nested nodes.
void expect_single_node(const Tensor& result, const char* name) {
  ASSERT_NE(result.grad_fn(), nullptr);
  EXPECT_STREQ(result.grad_fn()->name(), name);
  ASSERT_EQ(result.grad_fn()->next_edges().size(), 1u);
  ASSERT_TRUE(result.grad_fn()->next_edges()[0].valid());
  EXPECT_TRUE(result.grad_fn()->next_edges()[0].node->is_accumulator()) << name << " recorded nested nodes";
}

TEST(ReductionGrad, SumOverEveryDimsForm) {
  gradcheck_each_dims_case([](const Tensor& x, IntArrayRef dims, bool keepdim) { return sum(x, dims, keepdim); },
                           leaf({2, 3, 4}));
  Tensor x = leaf({2, 3});
  EXPECT_STREQ(sum(x).grad_fn()->name(), "SumBackward0");
  EXPECT_STREQ(sum(x, {1}).grad_fn()->name(), "SumBackward1");
}

TEST(ReductionGrad, MeanOverEveryDimsForm) {
  gradcheck_each_dims_case([](const Tensor& x, IntArrayRef dims, bool keepdim) { return mean(x, dims, keepdim); },
                           leaf({2, 3, 4}));
  Tensor x = leaf({2, 3});
  expect_single_node(mean(x), "MeanBackward0");
  expect_single_node(mean(x, {-1}), "MeanBackward1");
  expect_noncontiguous_input_works([](const Tensor& t) { return mean(t, {1}); });
  autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0].mean(); }, {leaf({})});
}

TEST(ReductionGrad, ProdWithoutZeros) {
  gradcheck_each_dims_case([](const Tensor& x, IntArrayRef dims, bool keepdim) { return prod(x, dims, keepdim); },
                           leaf({2, 3, 4}));
  Tensor x = leaf({2, 3});
  EXPECT_STREQ(prod(x).grad_fn()->name(), "ProdBackward0");
  EXPECT_STREQ(prod(x, {0}).grad_fn()->name(), "ProdBackward1");
  expect_noncontiguous_input_works([](const Tensor& t) { return prod(t, {0}); });
}

TEST(ReductionGrad, ProdWithZeros) {
  // Row 0 has one zero, row 1 two, row 2 none; column 0 has one zero.
  const Tensor x = leaf({1.5, 0.0, -2.0, 0.5, 0.0, 3.0, 0.0, 1.0, 2.0, -1.0, 0.5, 4.0}, {3, 4});
  for (const DimsCase& dims_case : std::vector<DimsCase>{{{1}, false}, {{-1}, true}, {{0}, false}, {{}, false}}) {
    SCOPED_TRACE(describe(dims_case));
    autograd::gradcheck(
        [&](const std::vector<Tensor>& in) { return prod(in[0], dims_case.dims, dims_case.keepdim); }, {x});
  }
  // Over all dims with a single zero, that zero gets the product of the rest: as PyTorch.
  Tensor single = leaf({2.0, 0.0, 3.0, -1.0}, {2, 2});
  prod(single).backward();
  expect_values(single.grad(), {0.0, -6.0, 0.0, 0.0});
}

TEST(ReductionGrad, AmaxAminShareTheGradientAmongTies) {
  gradcheck_each_dims_case([](const Tensor& x, IntArrayRef dims, bool keepdim) { return amax(x, dims, keepdim); },
                           leaf({2, 3, 4}));
  gradcheck_each_dims_case([](const Tensor& x, IntArrayRef dims, bool keepdim) { return amin(x, dims, keepdim); },
                           leaf({2, 3, 4}));
  // A tie of two matches finite differences (each one-sided slope is 1 or 0, so 1/2).
  const Tensor ties = leaf({1.0, 3.0, 3.0, 2.0, 0.0, 0.0}, {2, 3});
  for (const int64_t dim : {0, 1}) {
    autograd::gradcheck([dim](const std::vector<Tensor>& in) { return amax(in[0], {dim}); }, {ties});
    autograd::gradcheck([dim](const std::vector<Tensor>& in) { return amin(in[0], {dim}); }, {ties});
  }
  // Three-way ties, values from PyTorch 1.13.
  Tensor three = leaf({5.0, 5.0, 1.0, 5.0}, {4});
  amax(three).backward();
  expect_values(three.grad(), {1.0 / 3, 1.0 / 3, 0.0, 1.0 / 3});
  Tensor rows = leaf({1.0, 3.0, 3.0, 2.0, 0.0, 0.0}, {2, 3});
  amax(rows, {1}).sum().backward();
  expect_values(rows.grad(), {0.0, 0.5, 0.5, 1.0, 0.0, 0.0});
  EXPECT_STREQ(amax(rows, {1}).grad_fn()->name(), "AmaxBackward0");
  EXPECT_STREQ(amin(rows, {1}).grad_fn()->name(), "AminBackward0");
}

TEST(ReductionGrad, MaxMinAlongADimGoToTheIndex) {
  for (const bool keepdim : {false, true}) {
    for (const int64_t dim : {0, 1, -1}) {
      SCOPED_TRACE(::testing::Message() << "dim " << dim << " keepdim " << keepdim);
      autograd::gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], dim, keepdim).first; },
                          {leaf({3, 4})});
      autograd::gradcheck([=](const std::vector<Tensor>& in) { return min(in[0], dim, keepdim).first; },
                          {leaf({3, 4})});
    }
  }
  autograd::gradcheck([](const std::vector<Tensor>& in) { return max(in[0], 0).first; }, {leaf({})});
  // Ties: the whole gradient goes to the index returned (the first), as in PyTorch.
  Tensor x = leaf({1.0, 3.0, 3.0, 2.0, 0.0, 0.0}, {2, 3});
  auto [values, indices] = max(x, 1);
  EXPECT_FALSE(indices.requires_grad());
  EXPECT_STREQ(values.grad_fn()->name(), "MaxBackward0");
  values.sum().backward();
  expect_values(x.grad(), {0.0, 1.0, 0.0, 1.0, 0.0, 0.0});
  Tensor y = leaf({1.0, 3.0, 3.0, 2.0, 0.0, 0.0}, {2, 3});
  min(y, 1).first.sum().backward();
  expect_values(y.grad(), {1.0, 0.0, 0.0, 0.0, 1.0, 0.0});
  expect_noncontiguous_input_works([](const Tensor& t) { return max(t, 0, true).first; });
}

TEST(ReductionGrad, MaxMinOfTheWholeTensorShareAmongTies) {
  autograd::gradcheck([](const std::vector<Tensor>& in) { return max(in[0]); }, {leaf({3, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return min(in[0]); }, {leaf({3, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return max(in[0]); },
                      {leaf({1.0, 3.0, 3.0, 2.0}, {2, 2})});
  Tensor x = leaf({1.0, 3.0, 3.0, 3.0, 0.0, 0.0}, {2, 3});
  Tensor top = max(x);
  EXPECT_STREQ(top.grad_fn()->name(), "MaxBackward1");
  top.backward();
  expect_values(x.grad(), {0.0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0.0, 0.0});
  Tensor y = leaf({1.0, 3.0, 3.0, 3.0, 0.0, 0.0}, {2, 3});
  min(y).backward();
  expect_values(y.grad(), {0.0, 0.0, 0.0, 0.0, 0.5, 0.5});
}

TEST(ReductionGrad, VarAndStdBiasedAndUnbiased) {
  for (const bool unbiased : {true, false}) {
    SCOPED_TRACE(unbiased ? "unbiased" : "biased");
    gradcheck_each_dims_case(
        [=](const Tensor& x, IntArrayRef dims, bool keepdim) { return var(x, dims, unbiased, keepdim); },
        leaf({2, 3, 4}));
    gradcheck_each_dims_case(
        [=](const Tensor& x, IntArrayRef dims, bool keepdim) { return ember::std(x, dims, unbiased, keepdim); },
        leaf({2, 3, 4}));
  }
  Tensor x = leaf({3, 4});
  expect_single_node(var(x), "VarBackward0");
  expect_single_node(ember::std(x, {1}), "StdBackward0");
  expect_noncontiguous_input_works([](const Tensor& t) { return var(t, {1}, false); });
  expect_noncontiguous_input_works([](const Tensor& t) { return ember::std(t, {0}); });
  // A constant slice has std 0: PyTorch gives it gradient 0 rather than nan.
  Tensor constant = full({2, 3}, 1.5, kFloat64).requires_grad_();
  ember::std(constant, {1}).sum().backward();
  expect_values(constant.grad(), {0, 0, 0, 0, 0, 0});
}

TEST(ReductionGrad, NormForEveryP) {
  const double infinity = std::numeric_limits<double>::infinity();
  for (const double p : {2.0, 1.0, infinity, -infinity, 3.0, 1.5, 0.5}) {
    SCOPED_TRACE(::testing::Message() << "p " << p);
    gradcheck_each_dims_case(
        [=](const Tensor& x, IntArrayRef dims, bool keepdim) { return norm(x, p, dims, keepdim); }, leaf({2, 3, 4}));
  }
  Tensor x = leaf({3, 4});
  expect_single_node(norm(x), "NormBackward0");
  expect_single_node(norm(x, 3.0, {1}), "NormBackward1");
  expect_noncontiguous_input_works([](const Tensor& t) { return norm(t, 2.0, {1}); });
  expect_noncontiguous_input_works([](const Tensor& t) { return norm(t, 3.0, {0}); });
}

TEST(ReductionGrad, NormSubgradientsMatchPyTorch) {
  const double infinity = std::numeric_limits<double>::infinity();
  // At a zero norm every gradient is 0 (p = 2 would otherwise divide 0 by 0).
  for (const double p : {2.0, 3.0, 1.5}) {
    Tensor zero = zeros({3}, kFloat64).requires_grad_();
    norm(zero, p).backward();
    expect_values(zero.grad(), {0, 0, 0});
  }
  Tensor x = leaf({0.0, 1.0, -2.0}, {3});
  norm(x, 0.5).backward();
  expect_values(x.grad(), {0.0, 2.4142, -1.7071});
  Tensor y = leaf({0.0, 1.0, -2.0}, {3});
  norm(y, 1.0).backward();
  expect_values(y.grad(), {0.0, 1.0, -1.0});
  Tensor z = leaf({0.0, 1.0, -2.0}, {3});
  norm(z, 1.5).backward();
  expect_values(z.grad(), {0.0, 0.6392, -0.9040});
  // Infinity norms share among the elements whose |x| ties.
  Tensor ties = leaf({1.0, -3.0, 3.0, 2.0, 0.0, 0.0}, {2, 3});
  norm(ties, infinity, {1}).sum().backward();
  expect_values(ties.grad(), {0.0, -0.5, 0.5, 1.0, 0.0, 0.0});
  Tensor low = leaf({1.0, -3.0, 3.0, 2.0, 0.0, 0.0}, {2, 3});
  norm(low, -infinity, {1}).sum().backward();
  expect_values(low.grad(), {1.0, 0.0, 0.0, 0.0, 0.0, 0.0});
  // p = 0 counts nonzeros: no gradient reaches the input.
  Tensor count = leaf({0.0, 1.0, -2.0}, {3});
  norm(count, 0.0).backward();
  EXPECT_FALSE(count.grad().defined());
}

TEST(ReductionGrad, Logsumexp) {
  gradcheck_each_dims_case(
      [](const Tensor& x, IntArrayRef dims, bool keepdim) { return logsumexp(x, dims, keepdim); }, leaf({2, 3, 4}));
  // Large values: the gradient is the softmax, with no overflow.
  autograd::gradcheck([](const std::vector<Tensor>& in) { return logsumexp(in[0], {1}); },
                      {leaf({1000.0, 1001.0, 999.0, -5.0, -6.0, -4.0}, {2, 3})});
  Tensor x = leaf({3, 4});
  expect_single_node(logsumexp(x, {1}), "LogsumexpBackward0");
  expect_noncontiguous_input_works([](const Tensor& t) { return logsumexp(t, {0}); });
}

TEST(ReductionGrad, SoftmaxAndLogSoftmaxAlongEveryDim) {
  for (const int64_t dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE(::testing::Message() << "dim " << dim);
    autograd::gradcheck([=](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {leaf({2, 3, 4})});
    autograd::gradcheck([=](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {leaf({2, 3, 4})});
  }
  autograd::gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], 0); }, {leaf({})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], -1); }, {leaf({})});
  Tensor x = leaf({3, 4});
  expect_single_node(softmax(x, 0), "SoftmaxBackward0");
  expect_single_node(softmax(x, 1), "SoftmaxBackward0");
  expect_single_node(log_softmax(x, 0), "LogSoftmaxBackward0");
  expect_single_node(log_softmax(x, -1), "LogSoftmaxBackward0");
  for (const int64_t dim : {0, 1}) {
    expect_noncontiguous_input_works([=](const Tensor& t) { return softmax(t, dim); });
    expect_noncontiguous_input_works([=](const Tensor& t) { return log_softmax(t, dim); });
  }
}

TEST(ReductionGrad, ThroughNonContiguousViews) {
  autograd::gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0].transpose(0, 1), 1); },
                      {leaf({4, 3})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0].permute({2, 0, 1}), -1); },
                      {leaf({2, 3, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return var(in[0].t(), {0}, false, true); },
                      {leaf({3, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return max(in[0].t(), 1).first; }, {leaf({3, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return norm(in[0].t(), 3.0, {1}); }, {leaf({3, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return logsumexp(in[0].expand({2, 3, 4}), {0, 2}); },
                      {leaf({3, 1})});
}

TEST(ReductionGrad, NoNodeWithoutGradMode) {
  Tensor x = leaf({3, 4});
  autograd::NoGradGuard no_grad;
  EXPECT_FALSE(mean(x).requires_grad());
  EXPECT_FALSE(softmax(x, 0).requires_grad());
  EXPECT_FALSE(max(x, 1).first.requires_grad());
  EXPECT_FALSE(norm(x, 3.0).requires_grad());
}

TEST(ReductionGrad, Float32GradientsKeepTheInputDtype) {
  Tensor x = randn({3, 4}).requires_grad_();
  (softmax(x, 0) * randn({3, 4})).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  Tensor y = randn({3, 4}).requires_grad_();
  var(y, {1}).sum().backward();
  EXPECT_EQ(y.grad().dtype(), kFloat32);
  EXPECT_EQ(y.grad().sizes(), y.sizes());
}

}  // namespace
}  // namespace ember

// nn::functional: gradients (finite differences in float64), running statistics, errors.
#include <gtest/gtest.h>

#include <ember/autograd/gradcheck.h>
#include <ember/ember.h>

#include <cmath>
#include <vector>

#include "tensor/test_util.h"

namespace ember::nn {
namespace {

namespace F = ember::nn::functional;
using autograd::gradcheck;
using ember::testing::expect_error;
using ember::testing::expect_values_near;

// Distinct, well-spread float64 values that require grad.
Tensor input(IntArrayRef shape, double phase) {
  return (sin(arange(product(shape), kFloat64) * 0.71 + phase) * 2.0).reshape(shape).requires_grad_();
}

TEST(Functional, BatchNormTrainingGradient) {
  const Tensor x = input({4, 3, 2}, 0.1), weight = input({3}, 1.0), bias = input({3}, 2.0);
  gradcheck([](const std::vector<Tensor>& in) { return F::batch_norm(in[0], {}, {}, in[1], in[2], true); },
            {x, weight, bias});
  // Without affine parameters, on 2-D input, and with a non-contiguous input.
  gradcheck([](const std::vector<Tensor>& in) { return F::batch_norm(in[0], {}, {}, {}, {}, true); },
            {input({5, 2}, 0.3)});
  gradcheck([](const std::vector<Tensor>& in) { return F::batch_norm(in[0].transpose(0, 1), {}, {}, in[1], {}, true); },
            {input({3, 4}, 0.5), input({3}, 0.2)});
}

TEST(Functional, BatchNormEvalGradient) {
  const Tensor mean = tensor(std::vector<double>{0.1, -0.2, 0.3});
  const Tensor var = tensor(std::vector<double>{0.5, 1.5, 2.0});
  gradcheck([&](const std::vector<Tensor>& in) { return F::batch_norm(in[0], mean, var, in[1], in[2], false); },
            {input({2, 3, 2, 2}, 0.4), input({3}, 1.0), input({3}, 2.0)});
}

TEST(Functional, BatchNormUpdatesRunningStatisticsWithTheUnbiasedVariance) {
  Tensor running_mean = zeros({2}, kFloat64), running_var = ones({2}, kFloat64);
  const Tensor x = tensor(std::vector<double>{1, 10, 3, 20, 5, 60}, {3, 2});
  const Tensor output = F::batch_norm(x, running_mean, running_var, {}, {}, true, 0.5);
  expect_values_near(running_mean, {1.5, 15.0}, 1e-12);
  // batch variances (unbiased) 4 and 700.
  expect_values_near(running_var, {0.5 + 2.0, 0.5 + 350.0}, 1e-12);
  // Normalised by the biased variance: column 0 is (x - 3) / sqrt(8/3 + eps).
  expect_values_near(output.select(1, 0), {-2 / std::sqrt(8.0 / 3 + 1e-5), 0, 2 / std::sqrt(8.0 / 3 + 1e-5)}, 1e-12);
  expect_error([] { F::batch_norm(ones({2, 3}), {}, {}, {}, {}, false); }, {"running_mean and running_var"});
  expect_error([] { F::batch_norm(ones({2, 3}), {}, {}, ones({4}), {}, true); }, {"weight", "[3]", "[4]"});
}

TEST(Functional, BatchNormRecordsOneNode) {
  const Tensor x = input({4, 3}, 0.1);
  const Tensor output = F::batch_norm(x, {}, {}, {}, {}, true);
  ASSERT_NE(output.grad_fn(), nullptr);
  EXPECT_STREQ(output.grad_fn()->name(), "NativeBatchNormBackward0");
}

TEST(Functional, LayerNormGradient) {
  gradcheck([](const std::vector<Tensor>& in) { return F::layer_norm(in[0], {3, 2}, in[1], in[2]); },
            {input({2, 3, 2}, 0.1), input({3, 2}, 1.0), input({3, 2}, 2.0)});
  // No leading dims: the weight gradient sums over nothing.
  gradcheck([](const std::vector<Tensor>& in) { return F::layer_norm(in[0], {4}, in[1], in[2]); },
            {input({4}, 0.3), input({4}, 1.0), input({4}, 2.0)});
  gradcheck([](const std::vector<Tensor>& in) { return F::layer_norm(in[0], {5}); }, {input({3, 5}, 0.7)});
  const Tensor output = F::layer_norm(input({2, 4}, 0.1), {4});
  EXPECT_STREQ(output.grad_fn()->name(), "NativeLayerNormBackward0");
}

TEST(Functional, GroupNormGradient) {
  gradcheck([](const std::vector<Tensor>& in) { return F::group_norm(in[0], 2, in[1], in[2]); },
            {input({2, 4, 3}, 0.1), input({4}, 1.0), input({4}, 2.0)});
  gradcheck([](const std::vector<Tensor>& in) { return F::group_norm(in[0], 3); }, {input({2, 6, 2, 2}, 0.4)});
  expect_error([] { F::group_norm(ones({2, 6, 4}), 4); }, {"divisible by num_groups", "[2, 6, 4]", "num_groups=4"});
}

TEST(Functional, GroupNormNormalisesEachGroup) {
  const Tensor output = F::group_norm(input({2, 4, 3}, 0.1).detach(), 2);
  const Tensor grouped = output.reshape({2, 2, 6});
  expect_values_near(grouped.mean({2}), {0, 0, 0, 0}, 1e-12);
  expect_values_near(var(grouped, {2}, /*unbiased=*/false), {1, 1, 1, 1}, 1e-4);
}

TEST(Functional, DropoutWithAFixedMaskGradient) {
  // A freshly seeded generator draws the same mask on every call.
  gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator generator(42);
        return F::dropout(in[0], 0.3, true, &generator);
      },
      {input({4, 5}, 0.2)});
}

TEST(Functional, DropoutScalesKeptValuesAndIsIdentityWhenOff) {
  const Tensor x = ones({1000}, kFloat64);
  for (double value : F::dropout(x, 0.2).to_vector<double>()) {
    EXPECT_TRUE(value == 0.0 || std::abs(value - 1.25) < 1e-12) << value;
  }
  EXPECT_TRUE(F::dropout(x, 0.2, /*training=*/false).is_same(x));
  EXPECT_EQ(F::dropout(x, 1.0).to_vector<double>(), std::vector<double>(1000, 0.0));
  expect_error([&] { F::dropout(x, 1.5); }, {"between 0 and 1", "1.5"});
}

TEST(Functional, EmbeddingGradientAccumulatesRepeatsAndSkipsPadding) {
  const Tensor indices = tensor(std::vector<int64_t>{1, 3, 1, 0, 3, 3}, {2, 3});
  gradcheck([&](const std::vector<Tensor>& in) { return F::embedding(indices, in[0]); }, {input({4, 2}, 0.5)});

  const Tensor weight = ones({4, 2}, kFloat64).requires_grad_();
  const Tensor output = F::embedding(indices, weight, /*padding_idx=*/-1);
  EXPECT_STREQ(output.grad_fn()->name(), "EmbeddingBackward0");
  output.sum().backward();
  // Row counts: 0 once, 1 twice, 2 never, 3 (padding) no gradient.
  expect_values_near(weight.grad(), {1, 1, 2, 2, 0, 0, 0, 0}, 0);
  expect_error([&] { F::embedding(tensor(std::vector<float>{0.0f}), weight); }, {"int64 or int32", "float32"});
  expect_error([&] { F::embedding(tensor(std::vector<int64_t>{7}), weight); }, {"7"});
}

TEST(Functional, LinearGradientAndShapes) {
  gradcheck([](const std::vector<Tensor>& in) { return F::linear(in[0], in[1], in[2]); },
            {input({3, 4}, 0.1), input({2, 4}, 1.0), input({2}, 2.0)});
  gradcheck([](const std::vector<Tensor>& in) { return F::linear(in[0], in[1]); },
            {input({2, 3, 4}, 0.1), input({2, 4}, 1.0)});
  const Tensor vector_output = F::linear(ones({4}), ones({2, 4}), ones({2}));
  EXPECT_EQ(vector_output.sizes(), IntArrayRef({2}));
  expect_values_near(vector_output, {5, 5}, 0);
  expect_error([] { F::linear(ones({3, 4}), ones({2, 4}), ones({3})); }, {"bias", "[3]", "expected [2]"});
}

TEST(Functional, FlattenMergesTheGivenDims) {
  EXPECT_EQ(F::flatten(zeros({2, 3, 4})).sizes(), IntArrayRef({24}));
  EXPECT_EQ(F::flatten(zeros({2, 3, 4}), 1).sizes(), IntArrayRef({2, 12}));
}

}  // namespace
}  // namespace ember::nn

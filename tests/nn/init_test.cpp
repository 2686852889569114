// nn::init and the layers' default initialisation: bounds, and moments of large draws.
#include <gtest/gtest.h>

#include <ember/ember.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/test_util.h"

namespace ember::nn {
namespace {

using ember::testing::expect_error;

struct Moments {
  double mean = 0, std = 0, min = 0, max = 0;
};

Moments moments(const Tensor& tensor) {
  const std::vector<double> values = tensor.to_vector<double>();
  Moments result;
  for (double value : values) result.mean += value;
  result.mean /= static_cast<double>(values.size());
  for (double value : values) result.std += (value - result.mean) * (value - result.mean);
  result.std = std::sqrt(result.std / static_cast<double>(values.size() - 1));
  result.min = *std::min_element(values.begin(), values.end());
  result.max = *std::max_element(values.begin(), values.end());
  return result;
}

// A uniform draw on [-bound, bound]: stays inside, reaches near both ends, std bound / sqrt(3).
void expect_uniform(const Tensor& tensor, double bound) {
  const Moments m = moments(tensor);
  EXPECT_GE(m.min, -bound);
  EXPECT_LE(m.max, bound);
  EXPECT_LT(m.min, -0.95 * bound);
  EXPECT_GT(m.max, 0.95 * bound);
  EXPECT_NEAR(m.mean, 0.0, 0.02 * bound);
  EXPECT_NEAR(m.std, bound / std::sqrt(3.0), 0.02 * bound);
}

void expect_normal(const Tensor& tensor, double mean, double std) {
  const Moments m = moments(tensor);
  EXPECT_NEAR(m.mean, mean, 0.02 * std);
  EXPECT_NEAR(m.std, std, 0.02 * std);
}

TEST(Init, CalculateGainMatchesPyTorch) {
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kLinear), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kConv2d), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kSigmoid), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kTanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kReLU), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kSELU), 0.75);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::kLeakyReLU), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  // torch.nn.init.calculate_gain('leaky_relu', math.sqrt(5))
  EXPECT_NEAR(init::calculate_gain(init::kLeakyReLU, std::sqrt(5.0)), 0.5773502691896257, 1e-15);
}

TEST(Init, FanInAndFanOutCountTheReceptiveField) {
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(empty({10, 784})), std::make_pair(int64_t{784}, int64_t{10}));
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(empty({32, 3, 5, 5})), std::make_pair(int64_t{75}, int64_t{800}));
  expect_error([] { init::calculate_fan_in_and_fan_out(empty({5})); }, {"fewer than 2 dimensions", "[5]"});
  expect_error([] { init::xavier_uniform_(empty({5})); }, {"fewer than 2 dimensions"});
}

TEST(Init, ConstantsFillInPlaceWithoutRecording) {
  Tensor weight = empty({3, 4}).requires_grad_();
  const Tensor returned = init::constant_(weight, 0.5);
  EXPECT_TRUE(returned.is_same(weight));
  EXPECT_EQ(weight.to_vector<float>(), std::vector<float>(12, 0.5f));
  EXPECT_TRUE(weight.is_leaf());
  init::ones_(weight);
  EXPECT_EQ(weight.to_vector<float>(), std::vector<float>(12, 1.0f));
  init::zeros_(weight);
  EXPECT_EQ(weight.to_vector<float>(), std::vector<float>(12, 0.0f));
}

TEST(Init, UniformAndNormalHaveTheirMoments) {
  expect_uniform(init::uniform_(empty({200000}), -2.0, 2.0), 2.0);
  expect_normal(init::normal_(empty({200000}), 1.5, 0.5), 1.5, 0.5);
  const Tensor shifted = init::uniform_(empty({10000}), 3.0, 4.0);
  EXPECT_GE(moments(shifted).min, 3.0);
  EXPECT_LE(moments(shifted).max, 4.0);
}

TEST(Init, XavierScalesByFanInPlusFanOut) {
  const Tensor weight = empty({400, 600});
  init::xavier_uniform_(weight, 2.0);
  expect_uniform(weight, 2.0 * std::sqrt(6.0 / 1000.0));
  init::xavier_normal_(weight);
  expect_normal(weight, 0.0, std::sqrt(2.0 / 1000.0));
}

TEST(Init, KaimingScalesByTheChosenFan) {
  const Tensor weight = empty({300, 200, 3});  // fan_in 600, fan_out 900
  init::kaiming_uniform_(weight, 0.0, init::kFanIn, init::kReLU);
  expect_uniform(weight, std::sqrt(2.0) * std::sqrt(3.0 / 600.0));
  init::kaiming_normal_(weight, 0.0, init::kFanOut, init::kReLU);
  expect_normal(weight, 0.0, std::sqrt(2.0) / std::sqrt(900.0));
  init::kaiming_normal_(weight, 0.2, init::kFanIn, init::kLeakyReLU);
  expect_normal(weight, 0.0, std::sqrt(2.0 / (1 + 0.04)) / std::sqrt(600.0));
  // Zero-element tensors are left alone, as PyTorch does.
  EXPECT_NO_THROW(init::kaiming_uniform_(empty({0, 3})));
}

TEST(Init, AGeneratorMakesDrawsRepeatable) {
  Generator first(1234), second(1234);
  const Tensor a = init::kaiming_uniform_(empty({50, 20}), std::sqrt(5.0), init::kFanIn, init::kLeakyReLU, &first);
  const Tensor b = init::kaiming_uniform_(empty({50, 20}), std::sqrt(5.0), init::kFanIn, init::kLeakyReLU, &second);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), init::kaiming_uniform_(empty({50, 20}), std::sqrt(5.0)).to_vector<float>());
}

TEST(Init, LinearAndConvDefaultsMatchPyTorchsDistribution) {
  // kaiming_uniform(a = sqrt(5)) gives the weight bound 1 / sqrt(fan_in), the bias's too.
  Linear linear(400, 500);
  expect_uniform(linear->weight, 1.0 / std::sqrt(400.0));
  const Moments bias = moments(linear->bias);
  EXPECT_GE(bias.min, -1.0 / std::sqrt(400.0));
  EXPECT_LE(bias.max, 1.0 / std::sqrt(400.0));
  EXPECT_NEAR(bias.std, 1.0 / std::sqrt(400.0) / std::sqrt(3.0), 0.15 / std::sqrt(400.0));

  Conv2d conv(Conv2dOptions(16, 64, 5).groups(2));
  const double conv_bound = 1.0 / std::sqrt(8.0 * 25.0);  // fan_in = in_channels / groups * kernel area
  expect_uniform(conv->weight, conv_bound);
  EXPECT_LE(moments(conv->bias).max, conv_bound);

  ConvTranspose2d transposed(64, 16, 4);  // weight [64, 16, 4, 4]: fan_in from dim 1, as PyTorch
  expect_uniform(transposed->weight, 1.0 / std::sqrt(16.0 * 16.0));
}

TEST(Init, EmbeddingAndNormDefaults) {
  Embedding embedding(1000, 100);
  expect_normal(embedding->weight, 0.0, 1.0);
  BatchNorm2d bn(5);
  EXPECT_EQ(bn->weight.to_vector<float>(), std::vector<float>(5, 1.0f));
  EXPECT_EQ(bn->bias.to_vector<float>(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(bn->running_mean.to_vector<float>(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(bn->running_var.to_vector<float>(), std::vector<float>(5, 1.0f));
  LayerNorm layer_norm(LayerNormOptions({2, 3}));
  EXPECT_EQ(layer_norm->weight.sizes(), IntArrayRef({2, 3}));
  EXPECT_EQ(layer_norm->weight.to_vector<float>(), std::vector<float>(6, 1.0f));
  GroupNorm group_norm(2, 4);
  EXPECT_EQ(group_norm->bias.to_vector<float>(), std::vector<float>(4, 0.0f));
}

}  // namespace
}  // namespace ember::nn

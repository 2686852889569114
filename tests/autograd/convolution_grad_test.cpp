// Gradients of convolution and pooling: finite-difference checks (float64) over strides,
// padding, dilation, groups, bias, unbatched and non-contiguous inputs, conv_transpose2d with
// output_padding, pooling with ceil_mode and padding, adaptive pooling with non-dividing sizes;
// node names; only the requested gradients; the in-place check on saved tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"

namespace ember {
namespace {

using autograd::gradcheck;

Tensor leaf(IntArrayRef shape, double scale = 0.37, double shift = 0.0) {
  return (arange(product(shape), kFloat64) * scale + shift).sin().reshape(shape).requires_grad_();
}

struct Geometry {
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
};

TEST(ConvolutionGrad, Conv2dOverStridePaddingDilationGroupsAndBias) {
  const std::vector<Geometry> geometries = {
      {{1}, {0}, {1}, 1},
      {{2, 1}, {1, 2}, {1, 1}, 1},
      {{1}, {1}, {2, 1}, 2},
      {{2}, {1}, {1}, 4},  // depthwise
  };
  for (const Geometry& geometry : geometries) {
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "groups " << geometry.groups << " bias " << with_bias);
      const Tensor input = leaf({2, 4, 5, 4});
      const Tensor weight = leaf({4, 4 / geometry.groups, 2, 3}, 0.61, 0.2);
      std::vector<Tensor> inputs = {input, weight};
      if (with_bias) inputs.push_back(leaf({4}, 0.9, 0.4));
      gradcheck(
          [&](const std::vector<Tensor>& in) {
            return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), geometry.stride, geometry.padding,
                          geometry.dilation, geometry.groups);
          },
          inputs);
    }
  }
}

TEST(ConvolutionGrad, Conv2dOneByOneKernel) {
  gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], 1, 0, 1, 2); },
            {leaf({2, 4, 3, 3}), leaf({2, 2, 1, 1}, 0.7), leaf({2}, 1.3)});
}

TEST(ConvolutionGrad, Conv2dUnbatchedAndNonContiguous) {
  gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], 2, 1); },
            {leaf({3, 5, 6}), leaf({2, 3, 3, 3}, 0.5), leaf({2}, 0.8)});
  // The input seen through a permutation, the weight through a transpose.
  gradcheck(
      [](const std::vector<Tensor>& in) {
        return conv2d(in[0].permute({0, 3, 1, 2}), in[1].transpose(2, 3), {}, 1, {1, 0});
      },
      {leaf({2, 4, 5, 3}), leaf({2, 3, 2, 3}, 0.5)});
}

TEST(ConvolutionGrad, Conv1d) {
  gradcheck([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2, 1); },
            {leaf({2, 3, 9}), leaf({4, 3, 3}, 0.53, 0.2), leaf({4}, 1.1)});
  gradcheck([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], {}, 1, 2, 1, 3); },
            {leaf({3, 7}), leaf({3, 1, 4}, 0.53, 0.2)});
}

TEST(ConvolutionGrad, ConvTranspose2dWithOutputPaddingGroupsAndDilation) {
  gradcheck(
      [](const std::vector<Tensor>& in) {
        return conv_transpose2d(in[0], in[1], in[2], {2, 3}, {1, 0}, {1, 2}, 2, {1, 2});
      },
      {leaf({2, 4, 3, 3}), leaf({4, 3, 3, 2}, 0.53, 0.2), leaf({6}, 1.1)});
  gradcheck([](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], {}, 2, 1, 1); },
            {leaf({3, 4, 3}), leaf({3, 2, 3, 3}, 0.53, 0.2)});
}

TEST(ConvolutionGrad, ChunksOfImagesAccumulateTheWeightGradient) {
  // Columns of 2.6 MB per image (float64): every image is its own chunk, so the weight and bias
  // gradients add up over five chunks.
  for (bool transposed : {false, true}) {
    SCOPED_TRACE(transposed ? "conv_transpose2d" : "conv2d");
    const Tensor input = leaf({5, 16, 48, 48}).detach();
    const Tensor weight = leaf({4, 16, 3, 3}, 0.61).detach();
    const Tensor bias = leaf({transposed ? 16 : 4}, 0.3).detach();
    // The unfolded side has 16 channels either way: conv2d's input, conv_transpose2d's output.
    auto run = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
      return transposed ? conv_transpose2d(x.narrow(-3, 0, 4), w, b, 1, 1) : conv2d(x, w, b, 1, 1);
    };
    Tensor batch_weight = weight.clone().requires_grad_(), batch_bias = bias.clone().requires_grad_();
    Tensor batch_input = input.clone().requires_grad_();
    const Tensor output = run(batch_input, batch_weight, batch_bias);
    const Tensor grad_output = (arange(output.numel(), kFloat64) * 0.13).cos().reshape(output.sizes());
    output.backward(grad_output);
    Tensor weight_sum = zeros_like(weight), bias_sum = zeros_like(bias);
    for (int64_t n = 0; n < 5; ++n) {
      Tensor image_weight = weight.clone().requires_grad_(), image_bias = bias.clone().requires_grad_();
      Tensor image = input[n].clone().requires_grad_();
      run(image, image_weight, image_bias).backward(grad_output[n]);
      weight_sum = weight_sum + image_weight.grad();
      bias_sum = bias_sum + image_bias.grad();
      const std::vector<double> got = batch_input.grad()[n].contiguous().to_vector<double>();
      const std::vector<double> want = image.grad().contiguous().to_vector<double>();
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-9) << "image " << n << " at " << i;
    }
    const std::vector<double> got = batch_weight.grad().to_vector<double>(), want = weight_sum.to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-8 * std::max(1.0, std::abs(want[i]))) << i;
    const std::vector<double> got_bias = batch_bias.grad().to_vector<double>(), want_bias = bias_sum.to_vector<double>();
    for (size_t i = 0; i < got_bias.size(); ++i) ASSERT_NEAR(got_bias[i], want_bias[i], 1e-8) << i;
  }
}

TEST(ConvolutionGrad, NodeNameAndOnlyTheRequestedGradients) {
  const Tensor input = leaf({1, 2, 4, 4}).detach();
  const Tensor weight = leaf({3, 2, 3, 3}, 0.5);
  const Tensor bias = leaf({3}).detach();
  const Tensor output = conv2d(input, weight, bias, 1, 1);
  ASSERT_NE(output.grad_fn(), nullptr);
  EXPECT_STREQ(output.grad_fn()->name(), "ConvolutionBackward0");
  output.sum().backward();
  EXPECT_TRUE(weight.grad().defined());
  EXPECT_FALSE(input.grad().defined());
  EXPECT_FALSE(bias.grad().defined());
  // Each weight tap's gradient is the sum of the inputs it met.
  const Tensor expected = conv2d(input.transpose(0, 1), ones({1, 1, 4, 4}, kFloat64), {}, 1, 1).transpose(0, 1);
  const std::vector<double> got = weight.grad().to_vector<double>();
  const std::vector<double> want = expected.expand({3, 2, 3, 3}).contiguous().to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
  // No input requires grad: no node.
  EXPECT_EQ(conv2d(input, weight.detach()).grad_fn(), nullptr);
}

TEST(ConvolutionGrad, ModifyingASavedInputInPlaceIsAnError) {
  Tensor input = leaf({1, 1, 4, 4}).detach().clone();
  const Tensor weight = leaf({1, 1, 2, 2});
  const Tensor output = conv2d(input, weight);
  input.mul_(2.0);
  try {
    output.sum().backward();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("ConvolutionBackward0"), std::string::npos) << error.what();
  }
}

TEST(PoolingGrad, MaxPool2dWithCeilModePaddingAndDilation) {
  gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1, 1, true); }, {leaf({2, 2, 6, 5})});
  gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {2, 3}, 1, {1, 0}, {2, 1}); },
            {leaf({2, 5, 6})});
  const Tensor input = leaf({1, 1, 4, 4});
  const auto [values, indices] = max_pool2d_with_indices(input, 2);
  EXPECT_STREQ(values.grad_fn()->name(), "MaxPool2DWithIndicesBackward0");
  EXPECT_STREQ(max_pool2d(input, 2).grad_fn()->name(), "MaxPool2DWithIndicesBackward0");
  EXPECT_FALSE(indices.requires_grad());
}

TEST(PoolingGrad, AvgPool2dInEveryCountingMode) {
  for (bool count_include_pad : {true, false}) {
    gradcheck(
        [&](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 3, 2, 1, true, count_include_pad); },
        {leaf({2, 2, 6, 5})});
  }
  gradcheck([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {2, 3}, {1, 2}, {1, 1}, false, true, 4); },
            {leaf({2, 5, 6})});
  EXPECT_STREQ(avg_pool2d(leaf({1, 4, 4}), 2).grad_fn()->name(), "AvgPool2DBackward0");
}

TEST(PoolingGrad, AdaptiveAvgPool2dWithNonDividingSizes) {
  gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 4}); }, {leaf({2, 2, 5, 7})});
  gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {4, 5}); }, {leaf({2, 2, 3})});
  EXPECT_STREQ(adaptive_avg_pool2d(leaf({1, 4, 4}), 2).grad_fn()->name(), "AdaptiveAvgPool2DBackward0");
}

TEST(PoolingGrad, SmallNetworkEndToEnd) {
  // conv -> activation -> max pool -> conv -> adaptive average, as a CNN uses them (tanh: smooth,
  // so finite differences never straddle a kink).
  gradcheck(
      [](const std::vector<Tensor>& in) {
        const Tensor hidden = max_pool2d(tanh(conv2d(in[0], in[1], in[2], 1, 1)), 2);
        return adaptive_avg_pool2d(conv2d(hidden, in[3], {}, 1, 1), 1);
      },
      {leaf({2, 1, 6, 6}), leaf({3, 1, 3, 3}, 0.5, 0.3), leaf({3}, 0.9), leaf({2, 3, 3, 3}, 0.7, 0.1)});
}

}  // namespace
}  // namespace ember

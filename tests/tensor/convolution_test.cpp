// Convolution and pooling forwards: hand-checked cases, PyTorch 1.13 values, a direct-definition
// reference over many geometries, errors, and the per-element index code the CUDA kernels run
// (kernels/im2col_element.h, kernels/pooling_element.h) checked on the CPU against the CPU backend.
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/test_util.h"

// Private to ember_tensor; reached by path because the test target only sees public headers.
#include "kernels/backend.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::expect_values_near;
using testing::values;

// sin(scale * i + shift) over a shape: distinct, signed, the same as the PyTorch script's.
Tensor wave(IntArrayRef shape, double scale = 0.37, double shift = 0.0, DType dtype = kFloat64) {
  return (arange(product(shape), kFloat64) * scale + shift).sin().reshape(shape).to(dtype);
}

struct Conv2dCase {
  int64_t stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};
  int64_t groups = 1;
};

// The definition, element by element: out[n, o, y, x] = bias[o] + sum over the input channels c
// of o's group and the taps (i, j) of input[n, c, y*s - p + i*d, x*s - p + j*d] * weight[o, c', i, j].
std::vector<double> reference_conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                     const Conv2dCase& conv, IntArrayRef output_shape) {
  const std::vector<double> in = values(input), w = values(weight);
  const std::vector<double> b = bias.defined() ? values(bias) : std::vector<double>(weight.size(0), 0.0);
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t outs = weight.size(0), group_in = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  const int64_t out_height = output_shape[2], out_width = output_shape[3];
  std::vector<double> result;
  for (int64_t n = 0; n < input.size(0); ++n) {
    for (int64_t o = 0; o < outs; ++o) {
      const int64_t group = o / (outs / conv.groups);
      for (int64_t y = 0; y < out_height; ++y) {
        for (int64_t x = 0; x < out_width; ++x) {
          double sum = b[o];
          for (int64_t c = 0; c < group_in; ++c) {
            for (int64_t i = 0; i < kh; ++i) {
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t row = y * conv.stride[0] - conv.padding[0] + i * conv.dilation[0];
                const int64_t col = x * conv.stride[1] - conv.padding[1] + j * conv.dilation[1];
                if (row < 0 || row >= height || col < 0 || col >= width) continue;
                const int64_t channel = group * group_in + c;
                sum += in[((n * channels + channel) * height + row) * width + col] *
                       w[((o * group_in + c) * kh + i) * kw + j];
              }
            }
          }
          result.push_back(sum);
        }
      }
    }
  }
  return result;
}

// ---- convolution values ----

TEST(Conv2d, HandCheckedSumOfWindows) {
  const Tensor input = arange(9, kFloat32).view({1, 1, 3, 3});
  const Tensor weight = ones({1, 1, 2, 2});
  const Tensor output = conv2d(input, weight, full({1}, 1.0));
  EXPECT_EQ(output.shape(), (DimVector{1, 1, 2, 2}));
  // 0+1+3+4, 1+2+4+5, 3+4+6+7, 4+5+7+8, plus the bias.
  expect_values_near(output, {9, 13, 21, 25}, 0.0);
  // Padding 1 reads zeros around the image: the corner window holds only input[0, 0].
  expect_values_near(conv2d(input, weight, {}, 1, 1).narrow(2, 0, 1), {0, 1, 3, 2}, 0.0);
}

TEST(Conv2d, MatchesPyTorchWithStridePaddingDilationGroupsAndBias) {
  const Tensor input = wave({2, 4, 7, 6});
  const Tensor weight = wave({6, 2, 3, 2}, 0.53, 0.2);
  const Tensor bias = wave({6}, 1.1);
  const Tensor output = conv2d(input, weight, bias, {2, 1}, {1, 2}, {2, 1}, 2);
  ASSERT_EQ(output.shape(), (DimVector{2, 6, 3, 9}));
  const std::vector<double> got = values(output);
  EXPECT_NEAR(output.sum().item<double>(), 200.198568378, 1e-8);
  EXPECT_NEAR(got[1], 1.79239120313, 1e-10);
  EXPECT_NEAR(got[108], -0.95160207389, 1e-10);
  EXPECT_NEAR(got[323], -0.70554032557, 1e-10);
}

TEST(Conv2d, MatchesTheDefinitionOverGeometries) {
  const std::vector<Conv2dCase> cases = {
      {},                                        // plain 3x3
      {{2, 3}, {1, 0}, {1, 1}, 1},               // uneven strides
      {{1, 1}, {2, 1}, {2, 3}, 1},               // dilation with padding
      {{2, 2}, {1, 1}, {1, 1}, 3},               // groups
      {{3, 1}, {0, 2}, {1, 2}, 6},               // depthwise
  };
  for (const Conv2dCase& conv : cases) {
    SCOPED_TRACE(::testing::Message() << "stride " << conv.stride[0] << "," << conv.stride[1] << " padding "
                                      << conv.padding[0] << "," << conv.padding[1] << " groups " << conv.groups);
    const Tensor input = wave({3, 6, 9, 8});
    const Tensor weight = wave({6, 6 / conv.groups, 3, 2}, 0.71, 0.3);
    const Tensor bias = wave({6}, 0.9, 0.5);
    const Tensor output = conv2d(input, weight, bias, {conv.stride[0], conv.stride[1]},
                                 {conv.padding[0], conv.padding[1]}, {conv.dilation[0], conv.dilation[1]}, conv.groups);
    expect_values_near(output, reference_conv2d(input, weight, bias, conv, output.sizes()), 1e-12);
    // float32 goes through sgemm.
    const Tensor single = conv2d(input.to(kFloat32), weight.to(kFloat32), bias.to(kFloat32),
                                 {conv.stride[0], conv.stride[1]}, {conv.padding[0], conv.padding[1]},
                                 {conv.dilation[0], conv.dilation[1]}, conv.groups);
    expect_values_near(single, values(output), 1e-5);
  }
}

TEST(Conv2d, OneByOneKernel) {
  const Tensor input = wave({2, 4, 5, 3});
  const Tensor weight = wave({6, 2, 1, 1}, 0.8);
  const Conv2dCase conv{{1, 1}, {0, 0}, {1, 1}, 2};
  const Tensor output = conv2d(input, weight, {}, 1, 0, 1, 2);
  expect_values_near(output, reference_conv2d(input, weight, Tensor(), conv, output.sizes()), 1e-12);
}

TEST(Conv2d, ChunksOfImagesGiveTheSameAsOneImageAtATime) {
  // 16 channels * 3 * 3 taps * 48 * 48 positions of float32 is 1.3 MB of columns per image, so
  // the 4 MiB scratch takes 3 images at a time: a full chunk and a partial one.
  const Tensor input = wave({5, 16, 48, 48}, 0.37, 0.0, kFloat32);
  const Tensor weight = wave({4, 16, 3, 3}, 0.61, 0.0, kFloat32);
  const Tensor bias = wave({4}, 0.3, 0.0, kFloat32);
  const Tensor batched = conv2d(input, weight, bias, 1, 1);
  for (int64_t n = 0; n < 5; ++n) {
    expect_values_near(batched[n], values(conv2d(input[n], weight, bias, 1, 1)), 1e-5);
  }
  const Tensor transposed = conv_transpose2d(batched, weight, {}, 1, 1);
  for (int64_t n = 0; n < 5; ++n) {
    expect_values_near(transposed[n], values(conv_transpose2d(batched[n], weight, {}, 1, 1)), 1e-5);
  }
}

TEST(Conv2d, UnbatchedAndNonContiguousInputs) {
  const Tensor input = wave({3, 6, 5});
  const Tensor weight = wave({2, 3, 2, 2}, 0.5);
  const Tensor unbatched = conv2d(input, weight, {}, 1, 1);
  EXPECT_EQ(unbatched.shape(), (DimVector{2, 7, 6}));
  expect_values_near(unbatched, values(conv2d(input.unsqueeze(0), weight, {}, 1, 1)), 0.0);
  // The same input stored [H, W, C] and permuted: strides do not matter.
  const Tensor permuted = input.permute({1, 2, 0}).contiguous().permute({2, 0, 1});
  ASSERT_FALSE(permuted.is_contiguous());
  expect_values_near(conv2d(permuted, weight.transpose(2, 3).contiguous().transpose(2, 3), {}, 1, 1),
                     values(unbatched), 0.0);
}

TEST(Conv2d, SixteenBitFloatsFollowFloat32) {
  const Tensor input = wave({2, 3, 6, 6}, 0.37, 0.0, kFloat32);
  const Tensor weight = wave({4, 3, 3, 3}, 0.5, 0.0, kFloat32);
  const Tensor expected = conv2d(input, weight, {}, 2, 1);
  for (DType dtype : {kFloat16, kBFloat16}) {
    const Tensor output = conv2d(input.to(dtype), weight.to(dtype), {}, 2, 1);
    EXPECT_EQ(output.dtype(), dtype);
    expect_values_near(output.to(kFloat32), values(expected), dtype == kFloat16 ? 1e-2 : 5e-2);
  }
}

TEST(Conv2d, EmptyBatch) {
  const Tensor output = conv2d(empty({0, 3, 5, 5}), ones({2, 3, 3, 3}));
  EXPECT_EQ(output.shape(), (DimVector{0, 2, 3, 3}));
}

TEST(Conv1d, MatchesPyTorch) {
  const Tensor input = wave({2, 3, 10});
  const Tensor weight = wave({4, 3, 3}, 0.53, 0.2);
  const Tensor output = conv1d(input, weight, wave({4}, 1.1), 2, 1, 2);
  ASSERT_EQ(output.shape(), (DimVector{2, 4, 4}));
  const std::vector<double> got = values(output);
  EXPECT_NEAR(output.sum().item<double>(), 12.4495486747, 1e-9);
  EXPECT_NEAR(got[0], -1.23419921712, 1e-10);
  EXPECT_NEAR(got[10], 0.550742553083, 1e-10);
  EXPECT_NEAR(got[31], 1.24437067718, 1e-10);
  // Unbatched [C, L].
  expect_values_near(conv1d(input[1], weight, wave({4}, 1.1), 2, 1, 2), values(output[1]), 0.0);
}

TEST(ConvTranspose2d, MatchesPyTorchWithOutputPaddingGroupsAndDilation) {
  const Tensor input = wave({2, 4, 3, 4});
  const Tensor weight = wave({4, 3, 3, 2}, 0.53, 0.2);
  const Tensor output = conv_transpose2d(input, weight, wave({6}, 1.1), {2, 3}, {1, 0}, {1, 2}, 2, {1, 2});
  // (3 - 1) * 2 - 2 + 1 * 2 + 1 + 1 = 6 rows, (4 - 1) * 3 - 0 + 2 * 1 + 2 + 1 = 14 columns.
  ASSERT_EQ(output.shape(), (DimVector{2, 6, 6, 14}));
  const std::vector<double> got = values(output);
  EXPECT_NEAR(output.sum().item<double>(), -29.3322371563, 1e-8);
  EXPECT_NEAR(got[0], 0.944770024097, 1e-10);
  EXPECT_NEAR(got[336], -0.786920960518, 1e-10);
  EXPECT_NEAR(got[504], -0.640569491713, 1e-10);
}

TEST(ConvTranspose2d, IsTheAdjointOfConv2d) {
  // <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for every x and y.
  const Tensor x = wave({2, 4, 9, 8});
  const Tensor weight = wave({6, 2, 3, 3}, 0.7, 0.1);
  const Tensor y = conv2d(x, weight, {}, 2, 1, 1, 2).cos();
  const double forward = (conv2d(x, weight, {}, 2, 1, 1, 2) * y).sum().item<double>();
  // output_padding restores the last column, which the strided windows read but do not pin down.
  const Tensor back = conv_transpose2d(y, weight, {}, 2, 1, {0, 1}, 2);
  ASSERT_EQ(back.shape(), x.shape());
  const double adjoint = (x * back).sum().item<double>();
  EXPECT_NEAR(forward, adjoint, 1e-10);
}

TEST(Convolution, ErrorsNameTheOpAndShapes) {
  const Tensor input = ones({1, 1, 4, 4});
  expect_error([&] { conv2d(ones({4, 4}), ones({1, 1, 3, 3})); }, {"conv2d", "[4, 4]", "3-D"});
  expect_error([&] { conv2d(input, ones({1, 2, 3, 3})); }, {"conv2d", "[1, 2, 3, 3]", "2 channels", "got 1"});
  expect_error([&] { conv2d(input, ones({2, 1, 3, 3}), {}, 1, 0, 1, 2); }, {"conv2d", "groups=2"});
  expect_error([&] { conv2d(input, ones({3, 1, 3, 3}), {}, 1, 0, 1, 2); }, {"divisible by 2", "[3, 1, 3, 3]"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}), ones({2})); }, {"bias", "1 elements", "[2]"});
  expect_error([&] { conv2d(input, ones({1, 1, 5, 5})); }, {"conv2d", "larger than the padded input", "[1, 1, 5, 5]"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}), {}, 0); }, {"conv2d", "non-positive stride"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}), {}, 1, -1); }, {"negative padding"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}), {}, 1, 0, 0); }, {"dilation"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}), {}, 1, 0, 1, 0); }, {"non-positive groups"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}), {}, {1, 1, 1}); }, {"stride", "2 values", "[1, 1, 1]"});
  expect_error([&] { conv2d(input, ones({1, 1, 3, 3}, kFloat64)); }, {"conv2d", "same dtype"});
  expect_error([&] { conv2d(ones({1, 1, 4, 4}, kInt64), ones({1, 1, 3, 3}, kInt64)); }, {"floating"});
  expect_error([&] { conv1d(ones({1, 1, 4}), ones({1, 1, 3, 3})); }, {"conv1d", "3-D weight"});
  expect_error([&] { conv_transpose2d(input, ones({1, 1, 3, 3}), {}, 1, 0, 1); },
               {"conv_transpose2d", "output padding must be smaller than either stride or dilation"});
  expect_error([&] { conv_transpose2d(input, ones({2, 1, 3, 3})); }, {"conv_transpose2d", "2 channels"});
  expect_error([&] { conv_transpose2d(input, ones({1, 1, 3, 3}), {}, 1, 3); }, {"empty output"});
}

// ---- pooling values ----

TEST(MaxPool2d, HandCheckedWindowsAndIndices) {
  const Tensor input = arange(16, kFloat32).view({1, 1, 4, 4});
  const auto [output, indices] = max_pool2d_with_indices(input, 2);
  expect_values_near(output, {5, 7, 13, 15}, 0.0);
  EXPECT_EQ(indices.dtype(), kInt64);
  expect_values_near(indices, {5, 7, 13, 15}, 0.0);
  expect_values_near(max_pool2d(input, 2), {5, 7, 13, 15}, 0.0);
}

TEST(MaxPool2d, MatchesPyTorchWithCeilModePaddingAndDilation) {
  const Tensor input = wave({1, 2, 5, 5});
  const auto [ceil_values, ceil_indices] = max_pool2d_with_indices(input, 3, 2, 1, 1, true);
  ASSERT_EQ(ceil_values.shape(), (DimVector{1, 2, 3, 3}));
  EXPECT_NEAR(ceil_values.sum().item<double>(), 11.9511878534, 1e-9);
  EXPECT_NEAR(values(ceil_values)[6], 0.996475614741, 1e-11);
  expect_values_near(ceil_indices, {5, 3, 4, 5, 6, 19, 21, 21, 23, 0, 1, 9, 15, 13, 13, 15, 16, 18}, 0.0);

  const auto [dilated_values, dilated_indices] = max_pool2d_with_indices(input, 2, 1, 1, 2);
  ASSERT_EQ(dilated_values.shape(), (DimVector{1, 2, 5, 5}));
  EXPECT_NEAR(dilated_values.sum().item<double>(), 26.8509398823, 1e-9);
  expect_values_near(dilated_indices.narrow(1, 0, 1),
                     {6, 5, 6, 7, 8, 1, 2, 3, 4, 3, 6, 5, 6, 19, 18, 21, 22, 21, 22, 23, 16, 17, 18, 19, 18}, 0.0);
}

TEST(MaxPool2d, NanWinsAndUnbatchedWorks) {
  Tensor input = arange(16, kFloat32).view({1, 4, 4}).clone();
  input.view({16}).narrow(0, 4, 1).fill_(std::numeric_limits<float>::quiet_NaN());
  const auto [output, indices] = max_pool2d_with_indices(input, 2);
  EXPECT_EQ(output.shape(), (DimVector{1, 2, 2}));
  const double nan_value = std::numeric_limits<double>::quiet_NaN();
  expect_values_near(output, {nan_value, 7, 13, 15}, 0.0);
  expect_values_near(indices, {4, 7, 13, 15}, 0.0);
}

TEST(Pooling, SixteenBitFloatsFollowFloat32) {
  const Tensor input = wave({2, 3, 7, 6}, 0.37, 0.0, kFloat32);
  for (DType dtype : {kFloat16, kBFloat16}) {
    const Tensor low = input.to(dtype);
    const double tolerance = dtype == kFloat16 ? 1e-3 : 1e-2;
    expect_values_near(max_pool2d(low, 3, 2, 1).to(kFloat32), values(max_pool2d(low.to(kFloat32), 3, 2, 1)), 0.0);
    expect_values_near(avg_pool2d(low, 2).to(kFloat32), values(avg_pool2d(input, 2)), tolerance);
    expect_values_near(adaptive_avg_pool2d(low, {3, 4}).to(kFloat32), values(adaptive_avg_pool2d(input, {3, 4})),
                       tolerance);
  }
}

TEST(AvgPool2d, MatchesPyTorchInEveryCountingMode) {
  const Tensor input = wave({1, 2, 5, 5});
  const Tensor without_pad = avg_pool2d(input, 3, 2, 1, true, false);
  ASSERT_EQ(without_pad.shape(), (DimVector{1, 2, 3, 3}));
  EXPECT_NEAR(without_pad.sum().item<double>(), 0.157179750878, 1e-10);
  EXPECT_NEAR(values(without_pad)[0], 0.529864026794, 1e-11);
  EXPECT_NEAR(values(without_pad)[9], -0.476050670705, 1e-11);
  const Tensor with_pad = avg_pool2d(input, 3, 2, 1, true, true);
  EXPECT_NEAR(with_pad.sum().item<double>(), 0.076220194547, 1e-10);
  EXPECT_NEAR(values(with_pad)[17], -0.254164766535, 1e-11);
  const Tensor divided = avg_pool2d(input, {2, 3}, {2, 2}, {1, 1}, false, true, 5);
  EXPECT_NEAR(divided.sum().item<double>(), 0.0951516545145, 1e-10);
  EXPECT_NEAR(values(divided)[1], 0.386320405855, 1e-11);
  // Default stride is the kernel size.
  expect_values_near(avg_pool2d(arange(16, kFloat32).view({1, 4, 4}), 2), {2.5, 4.5, 10.5, 12.5}, 0.0);
}

TEST(AdaptiveAvgPool2d, MatchesPyTorchForNonDividingSizes) {
  const Tensor input = wave({2, 3, 5, 7});
  const Tensor output = adaptive_avg_pool2d(input, {3, 4});
  ASSERT_EQ(output.shape(), (DimVector{2, 3, 3, 4}));
  EXPECT_NEAR(output.sum().item<double>(), -7.41913700358, 1e-9);
  EXPECT_NEAR(values(output)[0], 0.266564010387, 1e-11);
  EXPECT_NEAR(values(output)[24], 0.208724314384, 1e-11);
  EXPECT_NEAR(values(output)[71], 0.116853675373, 1e-11);
  // One cell is the mean of the plane; a larger output repeats input cells.
  expect_values_near(adaptive_avg_pool2d(input, 1), values(input.mean({2, 3}, true)), 1e-12);
  expect_values_near(adaptive_avg_pool2d(arange(2, kFloat32).view({1, 1, 2}), {1, 4}), {0, 0, 1, 1}, 0.0);
}

TEST(Pooling, ErrorsNameTheOpAndShapes) {
  const Tensor input = ones({1, 1, 4, 4});
  expect_error([&] { max_pool2d(ones({4, 4}), 2); }, {"max_pool2d", "[4, 4]"});
  expect_error([&] { max_pool2d(input, 3, {}, 2); }, {"max_pool2d", "pad should be at most half of kernel size"});
  expect_error([&] { max_pool2d(input, 5); }, {"max_pool2d", "too small", "[1, 1, 4, 4]"});
  expect_error([&] { max_pool2d(input, 0); }, {"kernel size should be greater than zero"});
  expect_error([&] { max_pool2d(input, 2, 0); }, {"stride should be greater than zero"});
  expect_error([&] { max_pool2d(input, 2, {}, 0, 0); }, {"dilation should be greater than zero"});
  expect_error([&] { max_pool2d(input, {2, 2, 2}); }, {"kernel_size", "[2, 2, 2]"});
  expect_error([&] { max_pool2d(ones({1, 1, 4, 4}, kInt64), 2); }, {"max_pool2d", "floating"});
  expect_error([&] { avg_pool2d(input, 2, {}, 0, false, true, 0); }, {"avg_pool2d", "divisor must be not zero"});
  expect_error([&] { adaptive_avg_pool2d(input, -1); }, {"adaptive_avg_pool2d", "greater than or equal to 0"});
  expect_error([&] { adaptive_avg_pool2d(ones({1, 0, 4}), 2); }, {"adaptive_avg_pool2d", "non-zero size"});
}

// ---- the per-element code of the CUDA kernels, run on the CPU ----

std::vector<kernels::UnfoldGeometry> unfold_geometries() {
  std::vector<kernels::UnfoldGeometry> geometries;
  // channels, input h/w, output h/w (computed below), kernel, pad, stride, dilation
  const int64_t table[][10] = {
      {2, 5, 6, 3, 3, 0, 0, 1, 1, 1}, {3, 7, 5, 2, 3, 1, 2, 2, 1, 1}, {1, 6, 6, 3, 3, 2, 2, 3, 2, 2},
      {2, 4, 9, 1, 4, 0, 1, 1, 3, 1}, {2, 3, 3, 5, 5, 2, 2, 1, 1, 1}, {1, 8, 7, 2, 2, 0, 3, 3, 2, 3},
  };
  for (const auto& row : table) {
    kernels::UnfoldGeometry geometry;
    geometry.channels = row[0];
    geometry.input_height = row[1], geometry.input_width = row[2];
    geometry.kernel_height = row[3], geometry.kernel_width = row[4];
    geometry.pad_height = row[5], geometry.pad_width = row[6];
    geometry.stride_height = row[7], geometry.stride_width = row[8];
    geometry.dilation_height = row[9], geometry.dilation_width = row[9];
    geometry.output_height = (row[1] + 2 * row[5] - row[9] * (row[3] - 1) - 1) / row[7] + 1;
    geometry.output_width = (row[2] + 2 * row[6] - row[9] * (row[4] - 1) - 1) / row[8] + 1;
    geometries.push_back(geometry);
  }
  return geometries;
}

TEST(ConvolutionHostLogic, Im2colElementsMatchTheCpuBackend) {
  for (const kernels::UnfoldGeometry& geometry : unfold_geometries()) {
    const int64_t images = 3;
    const Tensor image = wave({images, geometry.image_numel()}, 0.37, 0.0, kFloat32);
    // [rows, images, positions]; every element must be written.
    Tensor columns = full({geometry.column_rows(), images, geometry.column_cols()}, 99.0);
    kernels::UnfoldArgs args;
    args.geometry = geometry;
    args.images = images;
    args.image = image.data_ptr();
    args.columns = columns.data_ptr();
    kernels::backend(kCPU).im2col(args);
    std::vector<double> expected;
    for (int64_t row = 0; row < geometry.column_rows(); ++row) {
      for (int64_t n = 0; n < images; ++n) {
        const float* plane = image.data_ptr<float>() + n * geometry.image_numel();
        for (int64_t position = 0; position < geometry.column_cols(); ++position) {
          expected.push_back(kernels::im2col_element(geometry, plane, row * geometry.column_cols() + position));
        }
      }
    }
    expect_values_near(columns, expected, 0.0);
  }
}

TEST(ConvolutionHostLogic, Col2imElementsMatchTheCpuBackendBitForBit) {
  for (const kernels::UnfoldGeometry& geometry : unfold_geometries()) {
    const int64_t images = 2;
    const Tensor columns = wave({images, geometry.columns_numel()}, 0.91, 0.0, kFloat32);
    Tensor image = full({images, geometry.image_numel()}, 99.0);
    kernels::UnfoldArgs args;
    args.geometry = geometry;
    args.images = images;
    args.image = image.data_ptr();
    args.columns = columns.data_ptr();
    kernels::backend(kCPU).col2im(args);
    std::vector<double> expected;
    const int64_t row_stride = images * geometry.column_cols();
    for (int64_t n = 0; n < images; ++n) {
      const float* rows = columns.data_ptr<float>() + n * geometry.column_cols();
      for (int64_t i = 0; i < geometry.image_numel(); ++i) {
        expected.push_back(kernels::col2im_element(geometry, rows, row_stride, i));
      }
    }
    expect_values_near(image, expected, 0.0);
  }
}

TEST(ConvolutionHostLogic, ValidOutputRangesAreExact) {
  for (int64_t input = 1; input <= 6; ++input) {
    for (int64_t pad = 0; pad <= 3; ++pad) {
      for (int64_t stride = 1; stride <= 3; ++stride) {
        for (int64_t dilation = 1; dilation <= 2; ++dilation) {
          for (int64_t tap = 0; tap < 4; ++tap) {
            const int64_t outputs = 5;
            const kernels::IndexRange range = kernels::valid_outputs(input, outputs, pad, stride, dilation, tap);
            for (int64_t output = 0; output < outputs; ++output) {
              const int64_t position = output * stride - pad + tap * dilation;
              const bool inside = position >= 0 && position < input;
              EXPECT_EQ(inside, output >= range.begin && output < range.end)
                  << input << " " << pad << " " << stride << " " << dilation << " " << tap << " " << output;
            }
          }
        }
      }
    }
  }
}

TEST(PoolingHostLogic, CoveringRangesAreExact) {
  for (int64_t inputs = 1; inputs <= 9; ++inputs) {
    for (int64_t outputs = 1; outputs <= 9; ++outputs) {
      for (int64_t input = 0; input < inputs; ++input) {
        const kernels::WindowRange covering = kernels::adaptive_covering_outputs(input, outputs, inputs);
        for (int64_t output = 0; output < outputs; ++output) {
          const kernels::WindowRange bin = kernels::adaptive_bin(output, outputs, inputs);
          EXPECT_EQ(input >= bin.begin && input < bin.end, output >= covering.begin && output < covering.end);
        }
      }
    }
  }
  for (int64_t input = 0; input < 8; ++input) {
    for (int64_t stride = 1; stride <= 3; ++stride) {
      for (int64_t span = 1; span <= 5; ++span) {
        const int64_t pad = 1, outputs = 4;
        const kernels::WindowRange covering = kernels::covering_outputs(input, outputs, pad, stride, span);
        for (int64_t output = 0; output < outputs; ++output) {
          const int64_t start = output * stride - pad;
          EXPECT_EQ(input >= start && input < start + span, output >= covering.begin && output < covering.end);
        }
      }
    }
  }
}

TEST(PoolingHostLogic, MaxPoolElementsMatchTheCpuBackend) {
  // The CPU walks rows tap by tap; max_pool_element scans one window. Ties, nan, -inf and
  // padding must come out the same, indices included.
  Tensor input = wave({2, 7, 9}, 0.37, 0.0, kFloat32).clone();
  std::vector<float> data = input.to_vector<float>();
  data[3] = data[4] = 0.5f;  // a tie inside a window
  data[10] = std::numeric_limits<float>::quiet_NaN();
  data[20] = data[21] = data[29] = data[30] = -std::numeric_limits<float>::infinity();  // an all -inf window
  input = tensor(data, {2, 7, 9});
  struct Case {
    int64_t kernel[2], stride[2], padding[2], dilation[2];
    bool ceil_mode;
  };
  const std::vector<Case> cases = {{{2, 2}, {2, 2}, {0, 0}, {1, 1}, false}, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, false},
                                   {{3, 2}, {2, 3}, {1, 1}, {1, 2}, true}, {{2, 3}, {3, 2}, {1, 0}, {2, 1}, true}};
  for (const Case& c : cases) {
    const auto [output, indices] =
        max_pool2d_with_indices(input, {c.kernel[0], c.kernel[1]}, {c.stride[0], c.stride[1]},
                                {c.padding[0], c.padding[1]}, {c.dilation[0], c.dilation[1]}, c.ceil_mode);
    kernels::PoolWindow window;
    window.input_height = 7, window.input_width = 9;
    window.output_height = output.size(1), window.output_width = output.size(2);
    window.kernel_height = c.kernel[0], window.kernel_width = c.kernel[1];
    window.stride_height = c.stride[0], window.stride_width = c.stride[1];
    window.pad_height = c.padding[0], window.pad_width = c.padding[1];
    window.dilation_height = c.dilation[0], window.dilation_width = c.dilation[1];
    std::vector<double> expected_values, expected_indices;
    for (int64_t plane = 0; plane < 2; ++plane) {
      for (int64_t i = 0; i < window.output_plane(); ++i) {
        float value;
        int64_t index;
        kernels::max_pool_element(window, input.data_ptr<float>() + plane * window.input_plane(), i, &value, &index);
        expected_values.push_back(value);
        expected_indices.push_back(static_cast<double>(index));
      }
    }
    expect_values_near(output, expected_values, 0.0);
    expect_values_near(indices, expected_indices, 0.0);
  }
}

TEST(PoolingHostLogic, MaxGradientGatherMatchesTheCpuScatterBitForBit) {
  // Overlapping dilated windows with ceil_mode: inputs win several windows.
  const Tensor input = wave({3, 7, 6}, 0.37, 0.0, kFloat32).requires_grad_();
  const auto [output, indices] = max_pool2d_with_indices(input, 3, 1, 1, {1, 2}, true);
  const Tensor grad_output = wave(output.sizes(), 0.77, 0.0, kFloat32);
  output.backward(grad_output);
  kernels::PoolWindow window;
  window.input_height = 7, window.input_width = 6;
  window.output_height = output.size(1), window.output_width = output.size(2);
  window.kernel_height = window.kernel_width = 3;
  window.pad_height = window.pad_width = 1;
  window.dilation_width = 2;
  std::vector<double> expected;
  for (int64_t plane = 0; plane < 3; ++plane) {
    const float* grad = grad_output.data_ptr<float>() + plane * window.output_plane();
    const int64_t* index = indices.data_ptr<int64_t>() + plane * window.output_plane();
    for (int64_t i = 0; i < window.input_plane(); ++i) {
      expected.push_back(kernels::max_pool_backward_element(window, grad, index, i));
    }
  }
  expect_values_near(input.grad(), expected, 0.0);
}

}  // namespace
}  // namespace ember

// oneDNN's convolutions (cpu/dnnl_convolution.cpp) against the im2col path on the same float32
// inputs: the forward and the input, weight and bias gradients of conv2d, conv1d and
// conv_transpose2d over a grid of batch sizes, channels, groups, strides, padding, dilation and
// kernels; which dtypes take oneDNN; only the requested gradients; and cached primitives under
// a changing thread count and concurrent callers.
#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "tensor/test_util.h"

// Private to ember_tensor; reached by path because the test target only sees public headers.
#include "cpu/dnnl_convolution.h"

namespace ember {
namespace {

// Runs the scope with oneDNN on or off, and restores the previous setting.
class DnnlSetting {
 public:
  explicit DnnlSetting(bool enabled) : previous_(cpu::set_dnnl_enabled(enabled)) {}
  ~DnnlSetting() { cpu::set_dnnl_enabled(previous_); }
  DnnlSetting(const DnnlSetting&) = delete;
  DnnlSetting& operator=(const DnnlSetting&) = delete;

 private:
  bool previous_;
};

#define EMBER_SKIP_WITHOUT_DNNL() \
  if (!cpu::dnnl_built()) GTEST_SKIP() << "Ember was built without oneDNN (EMBER_WITH_DNNL=OFF or not found)"

// sin(scale * i + shift) over a shape: distinct, signed values of order one.
Tensor wave(IntArrayRef shape, double scale, double shift, DType dtype = kFloat32) {
  return (arange(product(shape), kFloat64) * scale + shift).sin().reshape(shape).to(dtype);
}

enum class Kind { kConv1d, kConv2d, kConvTranspose2d };

struct Case {
  Kind kind = Kind::kConv2d;
  int64_t batch = 1;  // 0: an unbatched input
  int64_t in_channels = 1, out_channels = 1, groups = 1;
  int64_t height = 9, width = 11;  // height unused by conv1d
  int64_t kernel = 3, stride = 1, padding = 0, dilation = 1, output_padding = 0;
  bool bias = true;

  std::string str() const {
    const char* names[] = {"conv1d", "conv2d", "conv_transpose2d"};
    return fmt::format(
        "{} batch {} channels {}->{} groups {} kernel {} stride {} padding {} dilation {} "
        "output_padding {} bias {}",
        names[static_cast<int>(kind)], batch, in_channels, out_channels, groups, kernel, stride, padding, dilation,
        output_padding, bias);
  }
};

// The output and the three gradients of one convolution, for an output gradient of its own.
struct Results {
  Tensor output, input_grad, weight_grad, bias_grad;
};

Results run(const Case& c, DType dtype = kFloat32) {
  DimVector input_shape = {c.in_channels, c.height, c.width};
  if (c.kind == Kind::kConv1d) input_shape.erase(input_shape.begin() + 1);
  if (c.batch > 0) input_shape.insert(input_shape.begin(), c.batch);
  DimVector weight_shape = c.kind == Kind::kConvTranspose2d
                               ? DimVector{c.in_channels, c.out_channels / c.groups, c.kernel, c.kernel}
                               : DimVector{c.out_channels, c.in_channels / c.groups, c.kernel, c.kernel};
  if (c.kind == Kind::kConv1d) weight_shape.pop_back();
  const Tensor input = wave(input_shape, 0.37, 0.1, dtype).requires_grad_();
  const Tensor weight = wave(weight_shape, 0.61, 0.2, dtype).requires_grad_();
  const Tensor bias = c.bias ? wave({c.out_channels}, 0.9, 0.4, dtype).requires_grad_() : Tensor();
  Tensor output;
  switch (c.kind) {
    case Kind::kConv1d:
      output = conv1d(input, weight, bias, c.stride, c.padding, c.dilation, c.groups);
      break;
    case Kind::kConv2d:
      output = conv2d(input, weight, bias, c.stride, c.padding, c.dilation, c.groups);
      break;
    case Kind::kConvTranspose2d:
      output = conv_transpose2d(input, weight, bias, c.stride, c.padding, c.output_padding, c.groups, c.dilation);
      break;
  }
  output.backward(wave(output.shape(), 0.23, 0.7, dtype));
  return {output.detach(), input.grad(), weight.grad(), c.bias ? bias.grad() : Tensor()};
}

// Float32 sums in a different order: 1e-5 of the largest magnitude of the reference.
void expect_close(const Tensor& actual, const Tensor& expected, const char* what) {
  ASSERT_EQ(actual.defined(), expected.defined()) << what;
  if (!expected.defined()) return;
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const std::vector<double> got = testing::values(actual), want = testing::values(expected);
  double scale = 1.0;
  for (double value : want) scale = std::max(scale, std::abs(value));
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  EXPECT_LE(worst, 1e-5 * scale) << what << ": largest difference " << worst << " at scale " << scale;
}

// Compares the two paths on one case; returns how many oneDNN primitives the case ran.
int64_t compare(const Case& c) {
  SCOPED_TRACE(c.str());
  Results unfolded;
  {
    const DnnlSetting off(false);
    unfolded = run(c);
  }
  const DnnlSetting on(true);
  const int64_t before = cpu::dnnl_convolution_runs();
  const Results dnnl = run(c);
  expect_close(dnnl.output, unfolded.output, "output");
  expect_close(dnnl.input_grad, unfolded.input_grad, "input gradient");
  expect_close(dnnl.weight_grad, unfolded.weight_grad, "weight gradient");
  expect_close(dnnl.bias_grad, unfolded.bias_grad, "bias gradient");
  return cpu::dnnl_convolution_runs() - before;
}

// Input and output channels with the groups that divide them: a single input channel (the
// first layer of an image network), plain, grouped, and depthwise.
struct Channels {
  int64_t in, out, groups;
};
const std::vector<Channels> kChannels = {{1, 4, 1}, {4, 6, 1}, {4, 6, 2}, {4, 4, 4}};

TEST(DnnlConvolution, Conv2dMatchesIm2colOverGeometries) {
  EMBER_SKIP_WITHOUT_DNNL();
  int64_t cases = 0;
  for (const Channels& channels : kChannels) {
    for (int64_t kernel : {1, 3, 5}) {
      for (int64_t stride : {1, 2}) {
        for (int64_t padding : {0, 1, 2}) {
          for (int64_t dilation : {1, 2}) {
            Case c;
            c.in_channels = channels.in, c.out_channels = channels.out, c.groups = channels.groups;
            c.kernel = kernel, c.stride = stride, c.padding = padding, c.dilation = dilation;
            // Alternate batch sizes and bias rather than multiply the grid by four.
            c.batch = (kernel + stride + padding + dilation) % 2 == 0 ? 3 : 1;
            c.bias = (padding + dilation) % 2 == 0;
            // Every direction goes through oneDNN: forward, input and weight gradients.
            EXPECT_EQ(compare(c), 3) << c.str();
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 144);
}

TEST(DnnlConvolution, Conv2dRectangularAndUnbatched) {
  EMBER_SKIP_WITHOUT_DNNL();
  Case c;
  c.in_channels = 3, c.out_channels = 8, c.height = 6, c.width = 13, c.kernel = 3, c.padding = 1;
  EXPECT_EQ(compare(c), 3);
  c.batch = 0;
  EXPECT_EQ(compare(c), 3);
  c.batch = 2, c.in_channels = 32, c.out_channels = 64, c.height = c.width = 14, c.kernel = 5, c.padding = 2;
  EXPECT_EQ(compare(c), 3);  // the benchmark CNN's second layer, at a smaller batch
}

TEST(DnnlConvolution, Conv1dMatchesIm2col) {
  EMBER_SKIP_WITHOUT_DNNL();
  for (const Channels& channels : kChannels) {
    for (int64_t kernel : {1, 3, 5}) {
      for (int64_t stride : {1, 2}) {
        for (int64_t padding : {0, 2}) {
          for (int64_t dilation : {1, 2}) {
            Case c;
            c.kind = Kind::kConv1d;
            c.in_channels = channels.in, c.out_channels = channels.out, c.groups = channels.groups;
            c.width = 17, c.kernel = kernel, c.stride = stride, c.padding = padding, c.dilation = dilation;
            c.batch = (kernel + padding) % 2 == 0 ? 0 : 3;
            c.bias = stride == 1;
            EXPECT_EQ(compare(c), 3) << c.str();
          }
        }
      }
    }
  }
}

TEST(DnnlConvolution, ConvTranspose2dMatchesIm2col) {
  EMBER_SKIP_WITHOUT_DNNL();
  for (const Channels& channels : kChannels) {
    for (int64_t kernel : {1, 3}) {
      for (int64_t stride : {1, 2}) {
        for (int64_t padding : {0, 1}) {
          for (int64_t dilation : {1, 2}) {
            for (int64_t output_padding : {0, 1}) {
              if (output_padding >= std::max(stride, dilation)) continue;
              Case c;
              c.kind = Kind::kConvTranspose2d;
              c.in_channels = channels.in, c.out_channels = channels.out, c.groups = channels.groups;
              c.height = 5, c.width = 7;
              c.kernel = kernel, c.stride = stride, c.padding = padding, c.dilation = dilation;
              c.output_padding = output_padding;
              c.batch = (kernel + stride) % 2 == 0 ? 3 : 1;
              c.bias = padding == 0;
              // The output padding is oneDNN's high-side padding made smaller, which it needs
              // to stay above -stride: at stride 1 (an output padding allowed by the dilation)
              // without padding, oneDNN declines and im2col runs every direction.
              const bool declined = c.padding - c.output_padding + c.stride <= 0;
              EXPECT_EQ(compare(c), declined ? 0 : 3) << c.str();
            }
          }
        }
      }
    }
  }
}

TEST(DnnlConvolution, OnlyCpuFloat32TakesDnnl) {
  EMBER_SKIP_WITHOUT_DNNL();
  const DnnlSetting on(true);
  Case c;
  c.in_channels = 2, c.out_channels = 3;
  int64_t before = cpu::dnnl_convolution_runs();
  run(c, kFloat64);
  EXPECT_EQ(cpu::dnnl_convolution_runs(), before);
  run(c, kFloat32);
  EXPECT_EQ(cpu::dnnl_convolution_runs(), before + 3);
  // An empty batch stays with the unfold path.
  before = cpu::dnnl_convolution_runs();
  const Tensor empty_output = conv2d(zeros({0, 2, 5, 5}), ones({3, 2, 3, 3}));
  EXPECT_EQ(empty_output.shape(), (DimVector{0, 3, 3, 3}));
  EXPECT_EQ(cpu::dnnl_convolution_runs(), before);
}

TEST(DnnlConvolution, CachedPrimitivesFollowTheThreadCount) {
  EMBER_SKIP_WITHOUT_DNNL();
  const int threads = num_threads();
  Case c;
  c.batch = 4, c.in_channels = 16, c.out_channels = 32, c.height = c.width = 12, c.kernel = 3, c.padding = 1;
  std::vector<Results> results;
  for (int setting : {1, 2, 1}) {
    set_num_threads(setting);
    const DnnlSetting on(true);
    results.push_back(run(c));
  }
  set_num_threads(threads);
  for (size_t i = 1; i < results.size(); ++i) {
    expect_close(results[i].output, results[0].output, "output");
    expect_close(results[i].input_grad, results[0].input_grad, "input gradient");
    expect_close(results[i].weight_grad, results[0].weight_grad, "weight gradient");
    expect_close(results[i].bias_grad, results[0].bias_grad, "bias gradient");
  }
}

// Each subset of (input, weight, bias) that requires grad: oneDNN's weight pass then runs with
// or without the bias, and a bias alone is summed by the caller.
TEST(DnnlConvolution, OnlyTheRequestedGradients) {
  EMBER_SKIP_WITHOUT_DNNL();
  for (int mask = 1; mask < 8; ++mask) {
    SCOPED_TRACE(::testing::Message() << "requires grad mask " << mask);
    const auto gradients = [&](bool dnnl) {
      const DnnlSetting setting(dnnl);
      const Tensor input = wave({2, 4, 6, 7}, 0.37, 0.1).requires_grad_((mask & 1) != 0);
      const Tensor weight = wave({6, 2, 3, 3}, 0.61, 0.2).requires_grad_((mask & 2) != 0);
      const Tensor bias = wave({6}, 0.9, 0.4).requires_grad_((mask & 4) != 0);
      const Tensor output = conv2d(input, weight, bias, 2, 1, 1, 2);
      output.backward(wave(output.shape(), 0.23, 0.7));
      return Results{output.detach(), input.grad(), weight.grad(), bias.grad()};
    };
    const Results unfolded = gradients(false), dnnl = gradients(true);
    EXPECT_EQ(dnnl.input_grad.defined(), (mask & 1) != 0);
    EXPECT_EQ(dnnl.weight_grad.defined(), (mask & 2) != 0);
    EXPECT_EQ(dnnl.bias_grad.defined(), (mask & 4) != 0);
    expect_close(dnnl.output, unfolded.output, "output");
    expect_close(dnnl.input_grad, unfolded.input_grad, "input gradient");
    expect_close(dnnl.weight_grad, unfolded.weight_grad, "weight gradient");
    expect_close(dnnl.bias_grad, unfolded.bias_grad, "bias gradient");
  }
}

// Threads that create and run primitives at once, some on shared shapes, some on their own.
TEST(DnnlConvolution, ConcurrentCallsShareTheCache) {
  EMBER_SKIP_WITHOUT_DNNL();
  constexpr int kThreads = 4;
  std::vector<Tensor> inputs, weights, expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(wave({2, 3, 10 + t % 2, 9}, 0.3 + 0.01 * t, 0.1));
    weights.push_back(wave({5, 3, 3, 3}, 0.5, 0.2 * t));
    const DnnlSetting off(false);
    expected.push_back(conv2d(inputs[t], weights[t], {}, 1, 1));
  }
  const DnnlSetting on(true);
  std::vector<Tensor> outputs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 5; ++repeat) outputs[t] = conv2d(inputs[t], weights[t], {}, 1, 1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) expect_close(outputs[t], expected[t], "output");
}

TEST(DnnlConvolution, NonContiguousInputs) {
  EMBER_SKIP_WITHOUT_DNNL();
  const Tensor input = wave({2, 7, 3, 9}, 0.3, 0.0).permute({0, 2, 3, 1});  // [2, 3, 9, 7], channels last
  const Tensor weight = wave({3, 4, 3, 3}, 0.5, 0.1).transpose(0, 1);       // [4, 3, 3, 3]
  Tensor expected;
  {
    const DnnlSetting off(false);
    expected = conv2d(input, weight, {}, 1, 1);
  }
  const DnnlSetting on(true);
  expect_close(conv2d(input, weight, {}, 1, 1), expected, "output");
}

}  // namespace
}  // namespace ember

#pragma once
// Convolution layers: Conv1d, Conv2d and ConvTranspose2d, computed by the tensor library's
// im2col + GEMM ops (ember/tensor/convolution.h).
//
//   nn::Conv2d conv(nn::Conv2dOptions(1, 32, 5).padding(2));
#include <cstdint>

#include "ember/nn/module.h"
#include "ember/nn/options.h"

namespace ember::nn {

// What every convolution's options hold; Derived is the options struct that setters return.
template <size_t D, class Derived>
struct ConvOptionsBase {
  using Chained = Derived;
  ConvOptionsBase(int64_t in_channels, int64_t out_channels, ExpandingArray<D> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  EMBER_ARG(int64_t, in_channels);
  EMBER_ARG(int64_t, out_channels);
  EMBER_ARG(ExpandingArray<D>, kernel_size);
  EMBER_ARG(ExpandingArray<D>, stride) = 1;
  EMBER_ARG(ExpandingArray<D>, padding) = 0;
  EMBER_ARG(ExpandingArray<D>, dilation) = 1;
  EMBER_ARG(int64_t, groups) = 1;
  EMBER_ARG(bool, bias) = true;
};

template <size_t D>
struct ConvOptions : ConvOptionsBase<D, ConvOptions<D>> {
  using ConvOptionsBase<D, ConvOptions<D>>::ConvOptionsBase;
};
using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;

template <size_t D>
struct ConvTransposeOptions : ConvOptionsBase<D, ConvTransposeOptions<D>> {
  using ConvOptionsBase<D, ConvTransposeOptions<D>>::ConvOptionsBase;
  // Extra size added to one side of the output, to pick among the sizes a strided conv maps
  // to the same input size.
  EMBER_ARG(ExpandingArray<D>, output_padding) = 0;
};
using ConvTranspose2dOptions = ConvTransposeOptions<2>;

// Makes and initialises a convolution's weight and bias: kaiming_uniform(a = sqrt(5)) and a
// bias uniform in +-1/sqrt(fan_in), as PyTorch's.
class ConvModule : public Module {
 public:
  // Draws fresh initial values.
  void reset_parameters();

  Tensor weight;
  Tensor bias;  // undefined without bias

 protected:
  // weight_shape is [out, in / groups, kernel...] ([in, out / groups, kernel...] for transposed).
  void make_parameters(const char* layer, int64_t in_channels, int64_t out_channels, int64_t groups,
                       IntArrayRef weight_shape, bool with_bias);
};

// Conv1d and Conv2d: one layer over D spatial dimensions.
template <size_t D>
class ConvNdImpl : public ConvModule {
 public:
  ConvNdImpl(int64_t in_channels, int64_t out_channels, ExpandingArray<D> kernel_size)
      : ConvNdImpl(ConvOptions<D>(in_channels, out_channels, kernel_size)) {}
  explicit ConvNdImpl(const ConvOptions<D>& options);
  Tensor forward(const Tensor& input) override;
  void pretty_print(std::ostream& stream) const override;

  ConvOptions<D> options;
};
extern template class ConvNdImpl<1>;
extern template class ConvNdImpl<2>;

// input [N, C_in, L] or [C_in, L].
class Conv1dImpl : public ConvNdImpl<1> {
 public:
  using ConvNdImpl<1>::ConvNdImpl;
};
EMBER_MODULE(Conv1d);

// input [N, C_in, H, W] or [C_in, H, W].
class Conv2dImpl : public ConvNdImpl<2> {
 public:
  using ConvNdImpl<2>::ConvNdImpl;
};
EMBER_MODULE(Conv2d);

// The transpose (gradient) of Conv2d as a layer: upsamples by stride. weight [C_in, C_out / groups, kH, kW].
class ConvTranspose2dImpl : public ConvModule {
 public:
  ConvTranspose2dImpl(int64_t in_channels, int64_t out_channels, ExpandingArray<2> kernel_size)
      : ConvTranspose2dImpl(ConvTranspose2dOptions(in_channels, out_channels, kernel_size)) {}
  explicit ConvTranspose2dImpl(const ConvTranspose2dOptions& options);
  Tensor forward(const Tensor& input) override;
  void pretty_print(std::ostream& stream) const override;

  ConvTranspose2dOptions options;
};
EMBER_MODULE(ConvTranspose2d);

}  // namespace ember::nn

#include "ember/nn/convolution.h"

#include <cmath>
#include <ostream>

#include "ember/nn/functional.h"
#include "ember/nn/init.h"
#include "ember/tensor/factories.h"

namespace ember::nn {
namespace {

// PyTorch's repr: the sizes always, the other settings when they differ from the defaults.
template <class Options>
void print_conv(std::ostream& stream, const char* layer, const Options& options, const std::string& extra) {
  stream << layer << "(" << options.in_channels() << ", " << options.out_channels()
         << ", kernel_size=" << options.kernel_size().tuple_str() << ", stride=" << options.stride().tuple_str();
  if (!(options.padding() == 0)) stream << ", padding=" << options.padding().tuple_str();
  if (!(options.dilation() == 1)) stream << ", dilation=" << options.dilation().tuple_str();
  stream << extra;
  if (options.groups() != 1) stream << ", groups=" << options.groups();
  if (!options.bias()) stream << ", bias=false";
  stream << ")";
}

template <size_t D>
DimVector weight_shape(int64_t first, int64_t second, const ExpandingArray<D>& kernel_size) {
  DimVector shape{first, second};
  for (size_t i = 0; i < D; ++i) shape.push_back(kernel_size[i]);
  return shape;
}

// The layer's name, for errors and the repr (name() is not yet the final class's in a constructor).
template <size_t D>
constexpr const char* conv_layer_name() {
  static_assert(D == 1 || D == 2, "Conv1d and Conv2d only");
  return D == 1 ? "Conv1d" : "Conv2d";
}

}  // namespace

void ConvModule::make_parameters(const char* layer, int64_t in_channels, int64_t out_channels, int64_t groups,
                                 IntArrayRef weight_shape, bool with_bias) {
  EMBER_CHECK(in_channels > 0 && out_channels > 0, "{}: in_channels and out_channels must be positive, got {} and {}",
              layer, in_channels, out_channels);
  EMBER_CHECK(groups > 0, "{}: groups must be positive, got {}", layer, groups);
  EMBER_CHECK(in_channels % groups == 0, "{}: in_channels ({}) must be divisible by groups ({})", layer, in_channels,
              groups);
  EMBER_CHECK(out_channels % groups == 0, "{}: out_channels ({}) must be divisible by groups ({})", layer,
              out_channels, groups);
  for (size_t d = 2; d < weight_shape.size(); ++d) {
    EMBER_CHECK(weight_shape[d] > 0, "{}: kernel_size must be positive, got {}", layer, to_string(weight_shape));
  }
  weight = register_parameter("weight", empty(weight_shape));
  // The bias has one entry per output channel, which is weight dim 0 for a convolution and
  // dim 1 times groups for a transposed one; out_channels covers both.
  bias = register_parameter("bias", with_bias ? empty({out_channels}) : Tensor());
  reset_parameters();
}

void ConvModule::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

template <size_t D>
ConvNdImpl<D>::ConvNdImpl(const ConvOptions<D>& options) : options(options) {
  make_parameters(conv_layer_name<D>(), options.in_channels(), options.out_channels(), options.groups(),
                  weight_shape(options.out_channels(), options.in_channels() / std::max<int64_t>(options.groups(), 1),
                               options.kernel_size()),
                  options.bias());
}

template <size_t D>
Tensor ConvNdImpl<D>::forward(const Tensor& input) {
  if constexpr (D == 1) {
    return functional::conv1d(input, weight, bias, options.stride(), options.padding(), options.dilation(),
                              options.groups());
  } else {
    return functional::conv2d(input, weight, bias, options.stride(), options.padding(), options.dilation(),
                              options.groups());
  }
}

template <size_t D>
void ConvNdImpl<D>::pretty_print(std::ostream& stream) const {
  print_conv(stream, conv_layer_name<D>(), options, "");
}

template class ConvNdImpl<1>;
template class ConvNdImpl<2>;

ConvTranspose2dImpl::ConvTranspose2dImpl(const ConvTranspose2dOptions& options) : options(options) {
  make_parameters("ConvTranspose2d", options.in_channels(), options.out_channels(), options.groups(),
                  weight_shape(options.in_channels(), options.out_channels() / std::max<int64_t>(options.groups(), 1),
                               options.kernel_size()),
                  options.bias());
}

Tensor ConvTranspose2dImpl::forward(const Tensor& input) {
  return functional::conv_transpose2d(input, weight, bias, options.stride(), options.padding(),
                                      options.output_padding(), options.groups(), options.dilation());
}

void ConvTranspose2dImpl::pretty_print(std::ostream& stream) const {
  const std::string extra =
      options.output_padding() == 0 ? std::string() : ", output_padding=" + options.output_padding().tuple_str();
  print_conv(stream, "ConvTranspose2d", options, extra);
}

}  // namespace ember::nn

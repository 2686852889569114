#include "ember/nn/pooling.h"

#include <ostream>

#include "ember/nn/functional.h"

namespace ember::nn {

Tensor MaxPool2dImpl::forward(const Tensor& input) {
  return functional::max_pool2d(input, options.kernel_size(), options.stride(), options.padding(), options.dilation(),
                                options.ceil_mode());
}

std::pair<Tensor, Tensor> MaxPool2dImpl::forward_with_indices(const Tensor& input) {
  return functional::max_pool2d_with_indices(input, options.kernel_size(), options.stride(), options.padding(),
                                             options.dilation(), options.ceil_mode());
}

void MaxPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "MaxPool2d(kernel_size=" << options.kernel_size().str() << ", stride=" << options.stride().str()
         << ", padding=" << options.padding().str() << ", dilation=" << options.dilation().str()
         << ", ceil_mode=" << (options.ceil_mode() ? "true" : "false") << ")";
}

Tensor AvgPool2dImpl::forward(const Tensor& input) {
  return functional::avg_pool2d(input, options.kernel_size(), options.stride(), options.padding(), options.ceil_mode(),
                                options.count_include_pad(), options.divisor_override());
}

void AvgPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "AvgPool2d(kernel_size=" << options.kernel_size().str() << ", stride=" << options.stride().str()
         << ", padding=" << options.padding().str() << ")";
}

Tensor AdaptiveAvgPool2dImpl::forward(const Tensor& input) {
  return functional::adaptive_avg_pool2d(input, options.output_size());
}

void AdaptiveAvgPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "AdaptiveAvgPool2d(output_size=" << options.output_size().str() << ")";
}

}  // namespace ember::nn

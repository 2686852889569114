#include "ember/nn/activation.h"

#include <ostream>

#include "ember/nn/functional.h"

namespace ember::nn {

Tensor ReLUImpl::forward(const Tensor& input) { return functional::relu(input); }

Tensor LeakyReLUImpl::forward(const Tensor& input) { return functional::leaky_relu(input, options.negative_slope()); }

void LeakyReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "LeakyReLU(negative_slope=" << fmt::format("{}", options.negative_slope()) << ")";
}

GELUImpl::GELUImpl(const GELUOptions& options) : options(options) {
  EMBER_CHECK(options.approximate() == "none" || options.approximate() == "tanh",
              "GELU: approximate must be \"none\" or \"tanh\", got \"{}\"", options.approximate());
}

Tensor GELUImpl::forward(const Tensor& input) { return functional::gelu(input, options.approximate().c_str()); }

void GELUImpl::pretty_print(std::ostream& stream) const {
  stream << "GELU(approximate='" << options.approximate() << "')";
}

Tensor SiLUImpl::forward(const Tensor& input) { return functional::silu(input); }
Tensor SigmoidImpl::forward(const Tensor& input) { return functional::sigmoid(input); }
Tensor TanhImpl::forward(const Tensor& input) { return functional::tanh(input); }

void SoftmaxModule::pretty_print(std::ostream& stream) const { stream << name() << "(dim=" << options.dim() << ")"; }

Tensor SoftmaxImpl::forward(const Tensor& input) { return functional::softmax(input, options.dim()); }

Tensor LogSoftmaxImpl::forward(const Tensor& input) { return functional::log_softmax(input, options.dim()); }

}  // namespace ember::nn

#include "ember/nn/dropout.h"

#include <ostream>

#include "ember/nn/functional.h"

namespace ember::nn {

DropoutImpl::DropoutImpl(const DropoutOptions& options) : options(options) {
  EMBER_CHECK(options.p() >= 0.0 && options.p() <= 1.0, "Dropout: the probability has to be between 0 and 1, got {}",
              options.p());
}

Tensor DropoutImpl::forward(const Tensor& input) { return functional::dropout(input, options.p(), is_training()); }

void DropoutImpl::pretty_print(std::ostream& stream) const {
  stream << "Dropout(p=" << fmt::format("{}", options.p()) << ")";
}

}  // namespace ember::nn

#pragma once
// Dropout: active in training mode only.
#include "ember/nn/module.h"
#include "ember/nn/options.h"

namespace ember::nn {

struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}
  // The probability of zeroing an element.
  EMBER_ARG(double, p);
};

// In training, zeroes each element with probability p and scales the others by 1 / (1 - p), so
// eval mode (the identity) sees the same expected activations.
class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(const DropoutOptions& options = {});
  Tensor forward(const Tensor& input) override;
  void pretty_print(std::ostream& stream) const override;

  DropoutOptions options;
};
EMBER_MODULE(Dropout);

}  // namespace ember::nn

#pragma once
// Linear, and the shape-only layers Flatten and Identity.
#include <cstdint>

#include "ember/nn/module.h"
#include "ember/nn/options.h"

namespace ember::nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  EMBER_ARG(int64_t, in_features);
  EMBER_ARG(int64_t, out_features);
  EMBER_ARG(bool, bias) = true;
};

// y = x W^T + b for x [..., in_features]. weight [out_features, in_features] and bias start
// uniform in +-1/sqrt(in_features), as PyTorch's.
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features) : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);

  Tensor forward(const Tensor& input) override;
  // Draws fresh initial values.
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  LinearOptions options;
  Tensor weight;
  Tensor bias;  // undefined without bias
};
EMBER_MODULE(Linear);

struct FlattenOptions {
  EMBER_ARG(int64_t, start_dim) = 1;
  EMBER_ARG(int64_t, end_dim) = -1;
};

// Merges dims start_dim..end_dim (by default all but the batch dim).
class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(const FlattenOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& input) override;
  void pretty_print(std::ostream& stream) const override;

  FlattenOptions options;
};
EMBER_MODULE(Flatten);

// Returns its input: a placeholder where a layer is optional.
class IdentityImpl : public Module {
 public:
  Tensor forward(const Tensor& input) override { return input; }
};
EMBER_MODULE(Identity);

}  // namespace ember::nn

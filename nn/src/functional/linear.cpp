// linear, flatten and dropout: compositions of tensor ops, whose gradients autograd records.
#include "ember/nn/functional.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/linalg.h"

namespace ember::nn::functional {

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  EMBER_CHECK(input.defined() && weight.defined(), "linear: the input and the weight must be defined");
  EMBER_CHECK(weight.dim() == 2, "linear: the weight must be 2-D [out_features, in_features], got shape {}",
              to_string(weight.sizes()));
  const int64_t in_features = weight.size(1);
  const int64_t out_features = weight.size(0);
  EMBER_CHECK(input.dim() >= 1 && input.size(-1) == in_features,
              "linear: input of shape {} does not match weight of shape {} (expected input [..., {}])",
              to_string(input.sizes()), to_string(weight.sizes()), in_features);
  EMBER_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_features),
              "linear: bias of shape {} does not match weight of shape {} (expected [{}])", to_string(bias.sizes()),
              to_string(weight.sizes()), out_features);
  // weight.t() is a transposed view that BLAS reads as is, so forward and backward are plain
  // GEMMs without copies.
  if (input.dim() == 2) return bias.defined() ? addmm(bias, input, weight.t()) : mm(input, weight.t());
  if (input.dim() == 1) {
    const Tensor product = matmul(input, weight.t());
    return bias.defined() ? product + bias : product;
  }
  // Batched input: one GEMM over all leading dims.
  DimVector output_shape(input.sizes().begin(), input.sizes().end());
  output_shape.back() = out_features;
  const Tensor rows = input.reshape({-1, in_features});
  const Tensor output = bias.defined() ? addmm(bias, rows, weight.t()) : mm(rows, weight.t());
  return output.view(output_shape);
}

Tensor flatten(const Tensor& input, int64_t start_dim, int64_t end_dim) { return input.flatten(start_dim, end_dim); }

Tensor dropout(const Tensor& input, double p, bool training, Generator* generator) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "dropout: the probability has to be between 0 and 1, got {}", p);
  if (!training || p == 0.0) return input;
  EMBER_CHECK(input.is_floating_point(), "dropout: expects a floating point input, got {}", name(input.dtype()));
  if (p == 1.0) return input * 0.0;  // keeps the graph, as PyTorch does
  Tensor mask = empty_like(input);
  mask.bernoulli_(1.0 - p, generator);
  mask.div_(1.0 - p);
  return input * mask;
}

}  // namespace ember::nn::functional

#pragma once
// Functional forms of the layers, as torch.nn.functional (same names, same argument order):
//
//   namespace F = ember::nn::functional;
//   Tensor y = F::relu(F::conv2d(x, weight, bias, /*stride=*/1, /*padding=*/2));
//
// Spatial arguments (stride, padding, ...) take one value for every dimension or one each.
#include <optional>

#include "ember/tensor/convolution.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/random.h"
#include "ember/tensor/reduction.h"
#include "ember/tensor/tensor.h"

namespace ember::nn::functional {

// ---- activations (the tensor library's ops) ----
using ::ember::gelu;  // approximate: "none" or "tanh"
using ::ember::leaky_relu;
using ::ember::log_softmax;
using ::ember::relu;
using ::ember::sigmoid;
using ::ember::silu;
using ::ember::softmax;
using ::ember::tanh;

// ---- linear ----
// input [..., in_features], weight [out_features, in_features], bias [out_features] or undefined.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});
// Merges dims start_dim..end_dim into one (a view when the strides allow), as torch.flatten.
Tensor flatten(const Tensor& input, int64_t start_dim = 0, int64_t end_dim = -1);

// ---- convolution and pooling (the tensor library's ops, ember/tensor/convolution.h) ----
using ::ember::adaptive_avg_pool2d;
using ::ember::avg_pool2d;
using ::ember::conv1d;
using ::ember::conv2d;
using ::ember::conv_transpose2d;
using ::ember::max_pool2d;
using ::ember::max_pool2d_with_indices;

// ---- normalization ----
// input [N, C, ...]. Training normalises by the batch's mean and biased variance over every dim
// but C and, when running_mean/running_var are given, updates them in place:
// running = (1 - momentum) * running + momentum * batch (the variance unbiased). Otherwise the
// running statistics normalise. weight and bias ([C]) may be undefined.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = {}, const Tensor& bias = {}, bool training = false, double momentum = 0.1,
                  double eps = 1e-5);
// Normalises over the trailing dims given by normalized_shape; weight and bias have that shape.
Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
// input [N, C, ...]: normalises each of num_groups channel groups per sample; weight, bias [C].
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

// ---- dropout and embedding ----
// In training, zeroes each element with probability p and scales the rest by 1 / (1 - p);
// otherwise returns the input.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, Generator* generator = nullptr);
// Rows of weight [num_embeddings, dim] picked by integer indices of any shape: result
// [..., dim]. The padding_idx row (negative counts from the end) receives no gradient.
Tensor embedding(const Tensor& input, const Tensor& weight, std::optional<int64_t> padding_idx = std::nullopt);

}  // namespace ember::nn::functional

// Losses (functional forms), written alongside.
#if __has_include("ember/nn/functional/loss.h")
#include "ember/nn/functional/loss.h"
#endif

#pragma once
// Loss functions, as torch.nn.functional's (PyTorch 1.13 semantics, same argument order):
//
//   namespace F = ember::nn::functional;
//   Tensor loss = F::cross_entropy(logits, labels, /*weight=*/{}, /*ignore_index=*/-100,
//                                  nn::Reduction::Mean, /*label_smoothing=*/0.1);
//
// Each loss records one gradient node (named as PyTorch's grad_fn) whose backward is the
// closed-form derivative, instead of a chain of small elementwise nodes.
#include <cstdint>
#include <string_view>

#include "ember/tensor/tensor.h"

namespace ember::nn {

// How a loss reduces its per-element values: keep them, average them, or add them up.
enum class Reduction { None, Mean, Sum };

// "none", "mean" or "sum"; anything else throws ember::Error listing the accepted names.
Reduction parse_reduction(std::string_view name);
std::string_view name(Reduction reduction);

}  // namespace ember::nn

namespace ember::nn::functional {

// (input - target)^2; input and target broadcast (PyTorch warns, Ember allows it silently).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// |input - target|.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// 0.5 z^2 / beta where z = |input - target| < beta, z - 0.5 beta elsewhere; beta 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
// 0.5 z^2 where z < delta, delta (z - 0.5 delta) elsewhere.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                  double delta = 1.0);

// Negative log-likelihood of log-probabilities input [N, C] (or [C], or [N, C, d1, ...]) at class
// indices target [N] (or [], or [N, d1, ...]), integer. Each term is -weight[t] * input[.., t, ..];
// targets equal to ignore_index contribute nothing. Mean divides by the summed weights of the
// targets that are not ignored (NaN when every one is). A target outside [0, C) is an error.
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {}, int64_t ignore_index = -100,
                Reduction reduction = Reduction::Mean);

// log_softmax over the class dim (1, or 0 for an unbatched [C] input) followed by nll_loss.
// target is either class indices (as nll_loss) or class probabilities of input's shape
// (floating; ignore_index must then stay -100, and the mean is over N * d1 * ... elements).
// label_smoothing in [0, 1] mixes in a uniform distribution over the classes.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean, double label_smoothing = 0.0);

// -weight * (target log(input) + (1 - target) log(1 - input)), each log clamped to >= -100 so
// that input 0 or 1 gives a finite loss. input in [0, 1]; target of input's shape; weight broadcasts.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            Reduction reduction = Reduction::Mean);
// The same on logits (input before the sigmoid), computed without overflow for any logit.
// pos_weight multiplies the positive term (broadcast along the last dim: one per class).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        Reduction reduction = Reduction::Mean, const Tensor& pos_weight = {});

}  // namespace ember::nn::functional

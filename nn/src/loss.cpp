#include "ember/nn/loss.h"

namespace ember::nn {
namespace {

// Registers an optional weight as a buffer (PyTorch registers None, which state_dict skips).
Tensor weight_buffer(Module& module, const char* name, const Tensor& weight) {
  return weight.defined() ? module.register_buffer(name, weight) : Tensor();
}

}  // namespace

Tensor MSELossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::mse_loss(input, target, options.reduction());
}

Tensor L1LossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::l1_loss(input, target, options.reduction());
}

Tensor SmoothL1LossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::smooth_l1_loss(input, target, options.reduction(), options.beta());
}

Tensor HuberLossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::huber_loss(input, target, options.reduction(), options.delta());
}

NLLLossImpl::NLLLossImpl(const NLLLossOptions& options)
    : options(options), weight(weight_buffer(*this, "weight", options.weight())) {}

Tensor NLLLossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::nll_loss(input, target, weight, options.ignore_index(), options.reduction());
}

CrossEntropyLossImpl::CrossEntropyLossImpl(const CrossEntropyLossOptions& options)
    : options(options), weight(weight_buffer(*this, "weight", options.weight())) {}

Tensor CrossEntropyLossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::cross_entropy(input, target, weight, options.ignore_index(), options.reduction(),
                                   options.label_smoothing());
}

BCELossImpl::BCELossImpl(const BCELossOptions& options)
    : options(options), weight(weight_buffer(*this, "weight", options.weight())) {}

Tensor BCELossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::binary_cross_entropy(input, target, weight, options.reduction());
}

BCEWithLogitsLossImpl::BCEWithLogitsLossImpl(const BCEWithLogitsLossOptions& options)
    : options(options),
      weight(weight_buffer(*this, "weight", options.weight())),
      pos_weight(weight_buffer(*this, "pos_weight", options.pos_weight())) {}

Tensor BCEWithLogitsLossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::binary_cross_entropy_with_logits(input, target, weight, options.reduction(), pos_weight);
}

}  // namespace ember::nn

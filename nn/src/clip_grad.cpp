#include "ember/nn/clip_grad.h"

#include <cmath>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/reduction.h"

namespace ember::nn {

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  EMBER_CHECK(norm_type > 0.0, "clip_grad_norm_: norm_type must be positive or infinity, got {}", norm_type);
  autograd::NoGradGuard no_grad;
  const bool infinity = std::isinf(norm_type);
  // Each gradient's norm is reduced on its own device in its own dtype, as PyTorch does, and the
  // norms are combined in float64 on the first gradient's device: one synchronisation in all.
  Tensor combined;
  bool any_gradient = false;
  for (size_t index = 0; index < parameters.size(); ++index) {
    const Tensor& param = parameters[index];
    EMBER_CHECK(param.defined(), "clip_grad_norm_: parameter {} is an undefined tensor", index);
    const Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    any_gradient = true;
    if (grad.numel() == 0) continue;
    Tensor norm = ember::norm(grad, norm_type).to(kFloat64);
    if (combined.defined()) norm = norm.to(combined.device());
    if (infinity) combined = combined.defined() ? maximum(combined, norm) : norm;
    else combined = combined.defined() ? combined + pow(norm, norm_type) : pow(norm, norm_type);
  }
  if (!any_gradient) return 0.0;
  double total = combined.defined() ? combined.item<double>() : 0.0;
  if (!infinity) total = std::pow(total, 1.0 / norm_type);
  EMBER_CHECK(!error_if_nonfinite || std::isfinite(total),
              "clip_grad_norm_: the total norm of order {} for gradients from `parameters` is non-finite ({}), so it "
              "cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
              "error_if_nonfinite=false",
              norm_type, total);
  // Multiplying by a coefficient clamped to 1 changes nothing, so only a smaller one is applied.
  const double coefficient = max_norm / (total + 1e-6);
  if (!(coefficient < 1.0) && !std::isnan(coefficient)) return total;
  for (const Tensor& param : parameters) {
    if (param.grad().defined()) param.grad().detach().mul_(coefficient);
  }
  return total;
}

double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type, bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>{parameter}, max_norm, norm_type, error_if_nonfinite);
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  EMBER_CHECK(clip_value >= 0.0, "clip_grad_value_: clip_value must be >= 0, got {}", clip_value);
  autograd::NoGradGuard no_grad;
  for (size_t index = 0; index < parameters.size(); ++index) {
    EMBER_CHECK(parameters[index].defined(), "clip_grad_value_: parameter {} is an undefined tensor", index);
    const Tensor& grad = parameters[index].grad();
    if (grad.defined()) grad.detach().clamp_(-clip_value, clip_value);
  }
}

void clip_grad_value_(const Tensor& parameter, double clip_value) {
  clip_grad_value_(std::vector<Tensor>{parameter}, clip_value);
}

}  // namespace ember::nn

#pragma once
// RMSprop (torch.optim.RMSprop, PyTorch 1.13):
//   g = grad (negated when maximize) + weight_decay * param
//   square_avg = alpha * square_avg + (1 - alpha) * g * g
//   avg = sqrt(square_avg) + eps, or when centered, with grad_avg = alpha * grad_avg + (1 - alpha) * g,
//         avg = sqrt(square_avg - grad_avg^2) + eps
//   with momentum: buffer = momentum * buffer + g / avg; param -= lr * buffer
//   otherwise:     param -= lr * g / avg
#include "ember/optim/optimizer.h"

namespace ember::optim {

// lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0, centered and maximize off.
class RMSpropOptions final : public OptimizerOptions {
 public:
  RMSpropOptions();
  explicit RMSpropOptions(double lr) : RMSpropOptions() { this->lr(lr); }

  RMSpropOptions& lr(double value) { set_number(kLr, value); return *this; }
  RMSpropOptions& alpha(double value) { set_number(kAlpha, value); return *this; }
  RMSpropOptions& eps(double value) { set_number(kEps, value); return *this; }
  RMSpropOptions& weight_decay(double value) { set_number(kWeightDecay, value); return *this; }
  RMSpropOptions& momentum(double value) { set_number(kMomentum, value); return *this; }
  RMSpropOptions& centered(bool value) { set_flag(kCentered, value); return *this; }
  RMSpropOptions& maximize(bool value) { set_flag(kMaximize, value); return *this; }
  double lr() const { return number(kLr); }
  double alpha() const { return number(kAlpha); }
  double eps() const { return number(kEps); }
  double weight_decay() const { return number(kWeightDecay); }
  double momentum() const { return number(kMomentum); }
  bool centered() const { return flag(kCentered); }
  bool maximize() const { return flag(kMaximize); }

  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<RMSpropOptions>(*this); }
  void validate() const override;

 private:
  enum : size_t { kLr, kAlpha, kEps, kWeightDecay, kMomentum, kCentered, kMaximize };
};

class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = RMSpropOptions());

  using Optimizer::step;
  void step() override;
};

}  // namespace ember::optim

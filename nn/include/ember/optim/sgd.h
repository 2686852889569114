#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// exactly PyTorch 1.13's update (torch.optim.SGD):
//   g = grad (negated when maximize) + weight_decay * param
//   buffer = g on the first step, else momentum * buffer + (1 - dampening) * g
//   g = g + momentum * buffer (nesterov) or buffer
//   param -= lr * g
#include "ember/optim/optimizer.h"

namespace ember::optim {

class SGDOptions final : public OptimizerOptions {
 public:
  explicit SGDOptions(double lr);

  SGDOptions& lr(double value) { set_number(kLr, value); return *this; }
  SGDOptions& momentum(double value) { set_number(kMomentum, value); return *this; }
  SGDOptions& dampening(double value) { set_number(kDampening, value); return *this; }
  SGDOptions& weight_decay(double value) { set_number(kWeightDecay, value); return *this; }
  SGDOptions& nesterov(bool value) { set_flag(kNesterov, value); return *this; }
  SGDOptions& maximize(bool value) { set_flag(kMaximize, value); return *this; }
  double lr() const { return number(kLr); }
  double momentum() const { return number(kMomentum); }
  double dampening() const { return number(kDampening); }
  double weight_decay() const { return number(kWeightDecay); }
  bool nesterov() const { return flag(kNesterov); }
  bool maximize() const { return flag(kMaximize); }

  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<SGDOptions>(*this); }
  void validate() const override;

 private:
  enum : size_t { kLr, kMomentum, kDampening, kWeightDecay, kNesterov, kMaximize };
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);

  using Optimizer::step;
  void step() override;
};

}  // namespace ember::optim

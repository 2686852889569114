#pragma once
// Adagrad (torch.optim.Adagrad, PyTorch 1.13):
//   step += 1;  g = grad (negated when maximize) + weight_decay * param
//   sum += g * g   (sum starts at initial_accumulator_value)
//   param -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(sum) + eps)
// As in PyTorch, every parameter's state exists from construction (step 0 and the initial sum).
#include "ember/optim/optimizer.h"

namespace ember::optim {

// lr 1e-2, lr_decay 0, weight_decay 0, initial_accumulator_value 0, eps 1e-10, maximize off.
class AdagradOptions final : public OptimizerOptions {
 public:
  AdagradOptions();
  explicit AdagradOptions(double lr) : AdagradOptions() { this->lr(lr); }

  AdagradOptions& lr(double value) { set_number(kLr, value); return *this; }
  AdagradOptions& lr_decay(double value) { set_number(kLrDecay, value); return *this; }
  AdagradOptions& weight_decay(double value) { set_number(kWeightDecay, value); return *this; }
  AdagradOptions& initial_accumulator_value(double value) { set_number(kInitialAccumulatorValue, value); return *this; }
  AdagradOptions& eps(double value) { set_number(kEps, value); return *this; }
  AdagradOptions& maximize(bool value) { set_flag(kMaximize, value); return *this; }
  double lr() const { return number(kLr); }
  double lr_decay() const { return number(kLrDecay); }
  double weight_decay() const { return number(kWeightDecay); }
  double initial_accumulator_value() const { return number(kInitialAccumulatorValue); }
  double eps() const { return number(kEps); }
  bool maximize() const { return flag(kMaximize); }

  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdagradOptions>(*this); }
  void validate() const override;

 private:
  enum : size_t { kLr, kLrDecay, kWeightDecay, kInitialAccumulatorValue, kEps, kMaximize };
};

class Adagrad final : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults = AdagradOptions());
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults = AdagradOptions());

  using Optimizer::step;
  void step() override;

 private:
  void initialize_state(const ParamGroup& group);
};

}  // namespace ember::optim

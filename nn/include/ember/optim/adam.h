#pragma once
// Adam (torch.optim.Adam, PyTorch 1.13's single-tensor update), with L2 weight decay added to the
// gradient, AMSGrad and maximize:
//   g = grad (negated when maximize) + weight_decay * param;  step += 1
//   exp_avg = beta1 * exp_avg + (1 - beta1) * g
//   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
//   v = exp_avg_sq, or with amsgrad max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)
//   param -= lr / (1 - beta1^step) * exp_avg / (sqrt(v) / sqrt(1 - beta2^step) + eps)
#include <utility>

#include "ember/optim/optimizer.h"

namespace ember::optim {

// The options Adam and AdamW share; Self is the concrete options type the setters return.
template <class Self>
class AdamFamilyOptions : public OptimizerOptions {
 public:
  Self& lr(double value) { set_number(kLr, value); return self(); }
  Self& betas(std::pair<double, double> value) { set_value(kBetas, {value.first, value.second}); return self(); }
  Self& eps(double value) { set_number(kEps, value); return self(); }
  Self& weight_decay(double value) { set_number(kWeightDecay, value); return self(); }
  Self& amsgrad(bool value) { set_flag(kAmsgrad, value); return self(); }
  Self& maximize(bool value) { set_flag(kMaximize, value); return self(); }
  double lr() const { return number(kLr); }
  std::pair<double, double> betas() const {
    const std::array<double, 2> pair = value(kBetas);
    return {pair[0], pair[1]};
  }
  double eps() const { return number(kEps); }
  double weight_decay() const { return number(kWeightDecay); }
  bool amsgrad() const { return flag(kAmsgrad); }
  bool maximize() const { return flag(kMaximize); }

  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<Self>(self()); }
  void validate() const override;

 protected:
  enum : size_t { kLr, kBetas, kEps, kWeightDecay, kAmsgrad, kMaximize };
  AdamFamilyOptions(const char* optimizer_name, const std::vector<OptionSpec>& specs)
      : OptimizerOptions(optimizer_name, specs) {}

 private:
  Self& self() { return static_cast<Self&>(*this); }
  const Self& self() const { return static_cast<const Self&>(*this); }
};

template <class Self>
void AdamFamilyOptions<Self>::validate() const {
  check_non_negative({kLr, kEps});
  const auto [beta1, beta2] = betas();
  check_unit_interval(beta1, "beta1 (betas.first)");
  check_unit_interval(beta2, "beta2 (betas.second)");
  check_non_negative({kWeightDecay});
}

// lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad and maximize off. The
// constructor without lr leaves it unset, so a parameter group inherits the optimizer's.
class AdamOptions final : public AdamFamilyOptions<AdamOptions> {
 public:
  AdamOptions();
  explicit AdamOptions(double lr) : AdamOptions() { this->lr(lr); }
};

class Adam final : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions());

  using Optimizer::step;
  void step() override;
};

}  // namespace ember::optim

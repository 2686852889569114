// Adam and AdamW: one update rule, differing only in where weight decay enters.
#include "ember/optim/adam.h"

#include <cmath>

#include "ember/optim/adamw.h"
#include "ember/tensor/factories.h"
#include "rounding.h"
#include "step_support.h"

namespace ember::optim {
namespace {

std::vector<OptionSpec> adam_family_specs(double weight_decay) {
  return {
      {"lr", OptionKind::Number, {1e-3, 0.0}},          {"betas", OptionKind::Pair, {0.9, 0.999}},
      {"eps", OptionKind::Number, {1e-8, 0.0}},         {"weight_decay", OptionKind::Number, {weight_decay, 0.0}},
      {"amsgrad", OptionKind::Flag, {0.0, 0.0}},        {"maximize", OptionKind::Flag, {0.0, 0.0}},
  };
}

const std::vector<OptionSpec>& adam_specs() {
  static const std::vector<OptionSpec> specs = adam_family_specs(0.0);
  return specs;
}

const std::vector<OptionSpec>& adamw_specs() {
  static const std::vector<OptionSpec> specs = adam_family_specs(1e-2);
  return specs;
}

const std::vector<std::string> kStateNames = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};

template <class Options>
struct Hyperparameters {
  explicit Hyperparameters(const Options& options)
      : lr(options.lr()), beta1(options.betas().first), beta2(options.betas().second), eps(options.eps()),
        weight_decay(options.weight_decay()), amsgrad(options.amsgrad()), maximize(options.maximize()) {}
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize;
};

// PyTorch 1.13's _single_tensor_adam / _single_tensor_adamw for one parameter. Where PyTorch
// uses addcmul_/addcdiv_ (value * t1 * t2, value * t1 / t2) the same products are formed in the
// same order, so each element rounds as PyTorch's does.
template <class Options>
void update(Tensor& param, ParamState& state, const Hyperparameters<Options>& h, bool decoupled_weight_decay,
            const char* optimizer) {
  if (state.buffers.empty()) {
    state.step = 0;
    state.add("exp_avg", zeros_like(param));
    state.add("exp_avg_sq", zeros_like(param));
    if (h.amsgrad) state.add("max_exp_avg_sq", zeros_like(param));
  }
  Tensor& exp_avg = state.at("exp_avg", optimizer);
  Tensor& exp_avg_sq = state.at("exp_avg_sq", optimizer);
  state.step += 1;

  if (decoupled_weight_decay && h.weight_decay != 0.0) param.mul_(1.0 - rounded(h.lr * h.weight_decay));
  const Tensor grad = descent_gradient(param, h.maximize, decoupled_weight_decay ? 0.0 : h.weight_decay);
  exp_avg.mul_(h.beta1).add_(grad, 1.0 - h.beta1);
  Tensor scratch = mul(grad, 1.0 - h.beta2);
  exp_avg_sq.mul_(h.beta2).add_(scratch.mul_(grad));

  const double bias_correction1 = 1.0 - std::pow(h.beta1, state.step);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, state.step);
  const double step_size = h.lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  const Tensor* second_moment = &exp_avg_sq;
  if (h.amsgrad) {
    Tensor& max_exp_avg_sq = state.at("max_exp_avg_sq", optimizer);
    max_exp_avg_sq.copy_(maximum(max_exp_avg_sq, exp_avg_sq));
    second_moment = &max_exp_avg_sq;
  }
  Tensor denominator = sqrt(*second_moment);
  denominator.div_(bias_correction2_sqrt).add_(h.eps);
  // param += -step_size * exp_avg / denominator, reusing scratch for the quotient.
  mul_out(scratch, exp_avg, scalar_tensor(-step_size, exp_avg.dtype()));
  param.add_(scratch.div_(denominator));
}

}  // namespace

AdamOptions::AdamOptions() : AdamFamilyOptions("Adam", adam_specs()) {}
AdamWOptions::AdamWOptions() : AdamFamilyOptions("AdamW", adamw_specs()) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults) : Adam(single_group(std::move(params)), defaults) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone(), {kStateNames, kFloat64}) {}

void Adam::step() {
  for_each_param_with_grad<AdamOptions>(param_groups(), [&](Tensor& param, const AdamOptions& options) {
    update(param, state_for(param), Hyperparameters(options), false, "Adam");
  });
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : AdamW(single_group(std::move(params)), defaults) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone(), {kStateNames, kFloat64}) {}

void AdamW::step() {
  for_each_param_with_grad<AdamWOptions>(param_groups(), [&](Tensor& param, const AdamWOptions& options) {
    update(param, state_for(param), Hyperparameters(options), true, "AdamW");
  });
}

}  // namespace ember::optim

#include "ember/optim/adagrad.h"

#include "ember/tensor/factories.h"
#include "rounding.h"
#include "step_support.h"

namespace ember::optim {
namespace {

const std::vector<OptionSpec>& adagrad_specs() {
  static const std::vector<OptionSpec> specs = {
      {"lr", OptionKind::Number, {1e-2, 0.0}},
      {"lr_decay", OptionKind::Number, {0.0, 0.0}},
      {"weight_decay", OptionKind::Number, {0.0, 0.0}},
      {"initial_accumulator_value", OptionKind::Number, {0.0, 0.0}},
      {"eps", OptionKind::Number, {1e-10, 0.0}},
      {"maximize", OptionKind::Flag, {0.0, 0.0}},
  };
  return specs;
}

}  // namespace

AdagradOptions::AdagradOptions() : OptimizerOptions("Adagrad", adagrad_specs()) {}

void AdagradOptions::validate() const {
  check_non_negative({kLr, kLrDecay, kWeightDecay, kInitialAccumulatorValue, kEps});
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults)
    : Adagrad(single_group(std::move(params)), defaults) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone(), {{"sum"}, kFloat64}) {
  for (const ParamGroup& group : param_groups()) initialize_state(group);
}

void Adagrad::initialize_state(const ParamGroup& group) {
  const double initial = group.options_as<AdagradOptions>().initial_accumulator_value();
  for (const Tensor& param : group.params()) {
    ParamState& state = state_for(param);
    if (state.buffers.empty()) {
      state.step = 0;
      state.add("sum", full_like(param, initial));
    }
  }
}

// PyTorch 1.13's _single_tensor_adagrad; addcmul_/addcdiv_ products are formed in PyTorch's order.
void Adagrad::step() {
  for_each_param_with_grad<AdagradOptions>(param_groups(), [&](Tensor& param, const AdagradOptions& options) {
    ParamState& state = state_for(param);
    // A group added after construction gets its state here (PyTorch would fail on it).
    if (state.buffers.empty()) state.add("sum", full_like(param, options.initial_accumulator_value()));
    state.step += 1;
    const Tensor grad = descent_gradient(param, options.maximize(), options.weight_decay());
    const double clr = options.lr() / (1.0 + rounded((state.step - 1.0) * options.lr_decay()));

    Tensor& sum = state.at("sum", "Adagrad");
    Tensor scratch = mul(grad, grad);
    sum.add_(scratch);
    Tensor deviation = sqrt(sum);
    deviation.add_(options.eps());
    mul_out(scratch, grad, scalar_tensor(-clr, grad.dtype()));
    param.add_(scratch.div_(deviation));
  });
}

}  // namespace ember::optim

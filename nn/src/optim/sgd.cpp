#include "ember/optim/sgd.h"

#include "step_support.h"

namespace ember::optim {
namespace {

const std::vector<OptionSpec>& sgd_specs() {
  static const std::vector<OptionSpec> specs = {
      {"lr", OptionKind::Number, {0.0, 0.0}},           {"momentum", OptionKind::Number, {0.0, 0.0}},
      {"dampening", OptionKind::Number, {0.0, 0.0}},    {"weight_decay", OptionKind::Number, {0.0, 0.0}},
      {"nesterov", OptionKind::Flag, {0.0, 0.0}},       {"maximize", OptionKind::Flag, {0.0, 0.0}},
  };
  return specs;
}

}  // namespace

SGDOptions::SGDOptions(double lr) : OptimizerOptions("SGD", sgd_specs()) { this->lr(lr); }

void SGDOptions::validate() const {
  check_non_negative({kLr, kMomentum, kWeightDecay});
  EMBER_CHECK(!nesterov() || (momentum() > 0.0 && dampening() == 0.0),
              "SGD: Nesterov momentum requires a momentum and zero dampening (momentum {}, dampening {})", momentum(),
              dampening());
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults) : SGD(single_group(std::move(params)), defaults) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone(), {{"momentum_buffer"}, std::nullopt}) {}

void SGD::step() {
  for_each_param_with_grad<SGDOptions>(param_groups(), [&](Tensor& param, const SGDOptions& options) {
    const double momentum = options.momentum();
    Tensor direction = descent_gradient(param, options.maximize(), options.weight_decay());
    if (momentum != 0.0) {
      ParamState& state = state_for(param);
      Tensor* buffer = state.find("momentum_buffer");
      if (buffer == nullptr) {
        buffer = &state.add("momentum_buffer", direction.clone());
      } else {
        buffer->mul_(momentum).add_(direction, 1.0 - options.dampening());
      }
      direction = options.nesterov() ? add(direction, *buffer, momentum) : *buffer;
    }
    param.add_(direction, -options.lr());
  });
}

}  // namespace ember::optim

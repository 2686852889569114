#include "ember/optim/sgd.h"

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"

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

std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups;
  groups.emplace_back(std::move(params));
  return groups;
}

}  // namespace

SGDOptions::SGDOptions(double lr) : OptimizerOptions("SGD", sgd_specs()) { this->lr(lr); }

void SGDOptions::validate() const {
  check_non_negative(kLr);
  check_non_negative(kMomentum);
  check_non_negative(kWeightDecay);
  EMBER_CHECK(!nesterov() || (momentum() > 0.0 && dampening() == 0.0),
              "SGD: Nesterov momentum requires a momentum and zero dampening (momentum {}, dampening {})", momentum(),
              dampening());
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults) : SGD(single_group(std::move(params)), defaults) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone(), {{"momentum_buffer"}, std::nullopt}) {}

void SGD::step() {
  autograd::NoGradGuard no_grad;
  for (ParamGroup& group : param_groups()) {
    const auto& options = group.options_as<SGDOptions>();
    const double lr = options.lr();
    const double momentum = options.momentum();
    const double dampening = options.dampening();
    const double weight_decay = options.weight_decay();
    for (Tensor& param : group.params()) {
      if (!param.grad().defined()) continue;
      // direction aliases the gradient until an op has to make a new tensor; the gradient itself
      // is never written.
      Tensor direction = options.maximize() ? neg(param.grad()) : param.grad();
      if (weight_decay != 0.0) direction = add(direction, param, weight_decay);
      if (momentum != 0.0) {
        ParamState& state = state_for(param);
        Tensor* buffer = state.find("momentum_buffer");
        if (buffer == nullptr) {
          buffer = &state.add("momentum_buffer", direction.clone());
        } else {
          buffer->mul_(momentum).add_(direction, 1.0 - dampening);
        }
        direction = options.nesterov() ? add(direction, *buffer, momentum) : *buffer;
      }
      param.add_(direction, -lr);
    }
  }
}

}  // namespace ember::optim

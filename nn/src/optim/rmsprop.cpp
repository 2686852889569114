#include "ember/optim/rmsprop.h"

#include "ember/tensor/factories.h"
#include "step_support.h"

namespace ember::optim {
namespace {

const std::vector<OptionSpec>& rmsprop_specs() {
  static const std::vector<OptionSpec> specs = {
      {"lr", OptionKind::Number, {1e-2, 0.0}},         {"alpha", OptionKind::Number, {0.99, 0.0}},
      {"eps", OptionKind::Number, {1e-8, 0.0}},        {"weight_decay", OptionKind::Number, {0.0, 0.0}},
      {"momentum", OptionKind::Number, {0.0, 0.0}},    {"centered", OptionKind::Flag, {0.0, 0.0}},
      {"maximize", OptionKind::Flag, {0.0, 0.0}},
  };
  return specs;
}

}  // namespace

RMSpropOptions::RMSpropOptions() : OptimizerOptions("RMSprop", rmsprop_specs()) {}

void RMSpropOptions::validate() const {
  check_non_negative({kLr, kEps, kMomentum, kWeightDecay, kAlpha});
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : RMSprop(single_group(std::move(params)), defaults) {}

// PyTorch keeps RMSprop's step as a Python int.
RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : Optimizer(std::move(groups), defaults.clone(), {{"square_avg", "momentum_buffer", "grad_avg"}, kInt64}) {}

// PyTorch 1.13's _single_tensor_rmsprop; addcmul_/addcdiv_ products are formed in PyTorch's order.
void RMSprop::step() {
  for_each_param_with_grad<RMSpropOptions>(param_groups(), [&](Tensor& param, const RMSpropOptions& options) {
    const double lr = options.lr();
    const double alpha = options.alpha();
    const double momentum = options.momentum();
    const bool centered = options.centered();
    ParamState& state = state_for(param);
    if (state.buffers.empty()) {
      state.step = 0;
      state.add("square_avg", zeros_like(param));
      if (momentum > 0.0) state.add("momentum_buffer", zeros_like(param));
      if (centered) state.add("grad_avg", zeros_like(param));
    }
    state.step += 1;
    Tensor& square_avg = state.at("square_avg", "RMSprop");

    const Tensor grad = descent_gradient(param, options.maximize(), options.weight_decay());
    Tensor scratch = mul(grad, 1.0 - alpha);
    square_avg.mul_(alpha).add_(scratch.mul_(grad));

    Tensor average;
    if (centered) {
      Tensor& grad_avg = state.at("grad_avg", "RMSprop");
      grad_avg.mul_(alpha).add_(grad, 1.0 - alpha);
      // square_avg - grad_avg^2, rounded as PyTorch's square_avg.addcmul(grad_avg, grad_avg, value=-1).
      average = mul(grad_avg, -1.0).mul_(grad_avg).add_(square_avg).sqrt_();
    } else {
      average = sqrt(square_avg);
    }
    average.add_(options.eps());

    if (momentum > 0.0) {
      Tensor& buffer = state.at("momentum_buffer", "RMSprop");
      buffer.mul_(momentum).add_(div(grad, average));
      param.add_(buffer, -lr);
    } else {
      mul_out(scratch, grad, scalar_tensor(-lr, grad.dtype()));
      param.add_(scratch.div_(average));
    }
  });
}

}  // namespace ember::optim

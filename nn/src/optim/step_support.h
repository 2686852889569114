#pragma once
// What every optimizer's step() shares: the loop over parameters that have a gradient, and the
// gradient the update follows.
#include "ember/optim/optimizer.h"
#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"

namespace ember::optim {

// Calls update(param, options) for every parameter with a gradient, with grad mode off; options
// are the parameter's group options as the optimizer's own type.
template <class Options, class Update>
void for_each_param_with_grad(std::vector<ParamGroup>& groups, Update&& update) {
  autograd::NoGradGuard no_grad;
  for (ParamGroup& group : groups) {
    const auto& options = group.options_as<Options>();
    for (Tensor& param : group.params()) {
      if (param.grad().defined()) update(param, options);
    }
  }
}

// grad, negated when maximizing, plus weight_decay * param (L2 weight decay). Aliases
// param.grad() when neither applies; the gradient itself is never written.
inline Tensor descent_gradient(const Tensor& param, bool maximize, double weight_decay) {
  Tensor grad = maximize ? neg(param.grad()) : param.grad();
  if (weight_decay != 0.0) grad = add(grad, param, weight_decay);
  return grad;
}

}  // namespace ember::optim

#pragma once
// AdamW (torch.optim.AdamW): Adam with decoupled weight decay. Each step first shrinks the
// parameter, param *= 1 - lr * weight_decay, and the gradient itself carries no decay term;
// the rest is Adam's update (ember/optim/adam.h).
#include "ember/optim/adam.h"

namespace ember::optim {

// As AdamOptions, but weight_decay defaults to 1e-2.
class AdamWOptions final : public AdamFamilyOptions<AdamWOptions> {
 public:
  AdamWOptions();
  explicit AdamWOptions(double lr) : AdamWOptions() { this->lr(lr); }
};

class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = AdamWOptions());

  using Optimizer::step;
  void step() override;
};

}  // namespace ember::optim

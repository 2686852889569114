#pragma once
// Learning-rate schedulers with PyTorch 1.13's semantics (torch.optim.lr_scheduler): each
// computes the next lr from the groups' current lr (the "chainable" form), so schedulers can be
// stacked on one optimizer. Making a scheduler performs its initial step, as in PyTorch:
//
//   optim::SGD sgd(params, optim::SGDOptions(0.1));
//   optim::StepLR scheduler(sgd, /*step_size=*/30, /*gamma=*/0.1);
//   for (epoch ...) { train(...);  scheduler.step(); }
//
// The first scheduler made on an optimizer records each group's initial_lr (kept in the group,
// and in the optimizer's state_dict); base_lrs() are those values.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ember/nn/state_dict.h"
#include "ember/optim/optimizer.h"

namespace ember::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler();
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and writes the new lr into every parameter group.
  virtual void step();
  // The lr of each group after the last step.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *optimizer_; }

  // Flat keys: last_epoch, step_count, base_lrs.<g>, last_lr.<g> and the scheduler's own
  // hyperparameters (gamma, step_size, milestones, ...).
  virtual nn::StateDict state_dict() const;
  // Restores what state_dict saved (hyperparameters included, as PyTorch's __dict__ update
  // does); the group count must match and unknown keys are errors.
  virtual void load_state_dict(const nn::StateDict& state_dict);

 protected:
  // Records initial_lr and base_lrs; the derived constructor then calls initial_step().
  LRScheduler(Optimizer& optimizer, const char* name);
  void initial_step();
  // The chainable form: the next lr of each group, from last_epoch() (already advanced) and the
  // groups' current lr.
  virtual std::vector<double> get_lr() = 0;
  // The closed form at last_epoch(), for schedulers that have one; PyTorch uses it when stepped
  // to an explicit epoch, which SequentialLR does at each milestone.
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  void step_to_epoch(int64_t epoch);

  // Hyperparameters in and out of state_dict; load reads only the keys it knows and must mark
  // them used.
  virtual void save_hyperparameters(nn::StateDict& state_dict) const {}
  virtual void load_hyperparameters(const nn::StateDict& state_dict) {}

  // The current lr of each group; throws if groups were added since the scheduler was made.
  std::vector<double> group_lrs() const;
  const char* name() const { return name_; }

  Optimizer* optimizer_;
  const char* name_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;

 private:
  void apply(const std::vector<double>& lrs);
  friend class SequentialLR;
};

// Multiplies the lr by gamma every step_size epochs.
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_hyperparameters(nn::StateDict& state_dict) const override;
  void load_hyperparameters(const nn::StateDict& state_dict) override;
  int64_t step_size_;
  double gamma_;
};

// Multiplies the lr by gamma at each milestone epoch (a milestone listed twice applies gamma^2).
class MultiStepLR final : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_hyperparameters(nn::StateDict& state_dict) const override;
  void load_hyperparameters(const nn::StateDict& state_dict) override;
  std::vector<int64_t> milestones_;  // sorted, repeats kept
  double gamma_;
};

// Multiplies the lr by gamma every epoch.
class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_hyperparameters(nn::StateDict& state_dict) const override;
  void load_hyperparameters(const nn::StateDict& state_dict) override;
  double gamma_;
};

// Cosine annealing from the base lr to eta_min over T_max epochs, and back up over the next
// T_max (SGDR without restarts). PyTorch 1.13 steps it in the recursive form, which drifts from
// the closed form by rounding; this follows the recursive form.
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_hyperparameters(nn::StateDict& state_dict) const override;
  void load_hyperparameters(const nn::StateDict& state_dict) override;
  int64_t T_max_;
  double eta_min_;
};

// Scales the lr linearly from start_factor to end_factor times the base lr over total_iters
// epochs (a warm-up), then leaves it.
class LinearLR final : public LRScheduler {
 public:
  explicit LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
                    int64_t total_iters = 5);

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_hyperparameters(nn::StateDict& state_dict) const override;
  void load_hyperparameters(const nn::StateDict& state_dict) override;
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

// Runs schedulers one after another: schedulers[i] from epoch milestones[i - 1] on. All must
// drive `optimizer`; make them first (their initial steps are undone here, as in PyTorch).
class SequentialLR final : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);

  void step() override;
  const std::vector<std::shared_ptr<LRScheduler>>& schedulers() const { return schedulers_; }
  // last_epoch, last_lr.<g>, milestones, and schedulers.<i>.<key> for each scheduler's own state.
  nn::StateDict state_dict() const override;
  void load_state_dict(const nn::StateDict& state_dict) override;

 private:
  std::vector<double> get_lr() override { return last_lr_; }
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

}  // namespace ember::optim

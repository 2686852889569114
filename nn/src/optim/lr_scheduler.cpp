#include "ember/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>
#include <string>

#include "ember/tensor/factories.h"
#include "rounding.h"

namespace ember::optim {
namespace {

const Tensor& entry(const nn::StateDict& state_dict, const std::string& key, const char* scheduler) {
  const Tensor* value = state_dict.find(key);
  EMBER_CHECK(value != nullptr && value->defined(), "{}.load_state_dict: missing key '{}'", scheduler, key);
  return *value;
}

double number(const nn::StateDict& state_dict, const std::string& key, const char* scheduler) {
  const Tensor& value = entry(state_dict, key, scheduler);
  EMBER_CHECK(value.numel() == 1, "{}.load_state_dict: '{}' must hold one number, got shape {}", scheduler, key,
              to_string(value.sizes()));
  return value.item<double>();
}

int64_t integer(const nn::StateDict& state_dict, const std::string& key, const char* scheduler) {
  const double value = number(state_dict, key, scheduler);
  EMBER_CHECK(value == std::floor(value) && std::abs(value) < 9.0e15,
              "{}.load_state_dict: '{}' must hold an integer, got {}", scheduler, key, value);
  return static_cast<int64_t>(value);
}

// A count that must be positive (StepLR's step_size, CosineAnnealingLR's T_max).
int64_t positive_integer(const nn::StateDict& state_dict, const std::string& key, const char* scheduler) {
  const int64_t value = integer(state_dict, key, scheduler);
  EMBER_CHECK(value > 0, "{}.load_state_dict: {} must be positive, got {}", scheduler, key, value);
  return value;
}

Tensor scalar(double value) { return scalar_tensor(value, kFloat64); }
Tensor scalar(int64_t value) { return scalar_tensor(value, kInt64); }

// Python's floor division, which PyTorch's closed forms use.
int64_t floor_divide(int64_t numerator, int64_t denominator) {
  const int64_t quotient = numerator / denominator;
  return (numerator % denominator != 0 && ((numerator < 0) != (denominator < 0))) ? quotient - 1 : quotient;
}

// Every key of `actual` must be in `expected` and the other way round.
void check_same_keys(const nn::StateDict& expected, const nn::StateDict& actual, const char* scheduler) {
  for (const auto& [key, value] : expected) {
    EMBER_CHECK(actual.contains(key), "{}.load_state_dict: missing key '{}'", scheduler, key);
  }
  for (const auto& [key, value] : actual) {
    EMBER_CHECK(expected.contains(key), "{}.load_state_dict: unexpected key '{}' (expected: {})", scheduler, key,
                fmt::join(expected.keys(), ", "));
  }
}

size_t count_prefixed(const nn::StateDict& state_dict, const std::string& prefix) {
  size_t count = 0;
  for (const auto& [key, value] : state_dict) count += key.rfind(prefix, 0) == 0 ? 1 : 0;
  return count;
}

}  // namespace

// ---------------------------------------------------------------- LRScheduler

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name) : optimizer_(&optimizer), name_(name) {
  for (ParamGroup& group : optimizer.param_groups()) {
    if (!group.initial_lr()) group.set_initial_lr(group.lr());
    base_lrs_.push_back(*group.initial_lr());
  }
}

LRScheduler::~LRScheduler() = default;

std::vector<double> LRScheduler::group_lrs() const {
  const std::vector<ParamGroup>& groups = optimizer_->param_groups();
  EMBER_CHECK(groups.size() == base_lrs_.size(),
              "{}: the optimizer has {} parameter groups, but the scheduler was made for {}", name_, groups.size(),
              base_lrs_.size());
  std::vector<double> lrs;
  lrs.reserve(groups.size());
  for (const ParamGroup& group : groups) lrs.push_back(group.lr());
  return lrs;
}

void LRScheduler::apply(const std::vector<double>& lrs) {
  std::vector<ParamGroup>& groups = optimizer_->param_groups();
  EMBER_CHECK(groups.size() == lrs.size(), "{}: the optimizer has {} parameter groups, but the scheduler was made for {}",
              name_, groups.size(), lrs.size());
  for (size_t index = 0; index < groups.size(); ++index) groups[index].set_lr(lrs[index]);
  last_lr_ = lrs;
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  apply(get_lr());
}

void LRScheduler::step_to_epoch(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  std::optional<std::vector<double>> closed_form = closed_form_lr();
  apply(closed_form ? *closed_form : get_lr());
}

nn::StateDict LRScheduler::state_dict() const {
  nn::StateDict result;
  result.insert("last_epoch", scalar(last_epoch_));
  result.insert("step_count", scalar(step_count_));
  for (size_t index = 0; index < base_lrs_.size(); ++index) {
    result.insert(fmt::format("base_lrs.{}", index), scalar(base_lrs_[index]));
  }
  for (size_t index = 0; index < last_lr_.size(); ++index) {
    result.insert(fmt::format("last_lr.{}", index), scalar(last_lr_[index]));
  }
  save_hyperparameters(result);
  return result;
}

void LRScheduler::load_state_dict(const nn::StateDict& state_dict) {
  const size_t groups = count_prefixed(state_dict, "base_lrs.");
  EMBER_CHECK(groups == base_lrs_.size(), "{}.load_state_dict: the state dict has {} parameter groups (base_lrs.<g>), "
              "the scheduler has {}", name_, groups, base_lrs_.size());
  check_same_keys(this->state_dict(), state_dict, name_);
  const int64_t last_epoch = integer(state_dict, "last_epoch", name_);
  const int64_t step_count = integer(state_dict, "step_count", name_);
  std::vector<double> base_lrs, last_lr;
  for (size_t index = 0; index < groups; ++index) {
    base_lrs.push_back(number(state_dict, fmt::format("base_lrs.{}", index), name_));
    last_lr.push_back(number(state_dict, fmt::format("last_lr.{}", index), name_));
  }
  load_hyperparameters(state_dict);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

// ---------------------------------------------------------------- StepLR

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  EMBER_CHECK(step_size > 0, "StepLR: step_size must be positive, got {}", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ != 0 && last_epoch_ % step_size_ == 0) {
    for (double& lr : lrs) lr *= gamma_;
  }
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(floor_divide(last_epoch_, step_size_)));
  return lrs;
}

void StepLR::save_hyperparameters(nn::StateDict& state_dict) const {
  state_dict.insert("step_size", scalar(step_size_));
  state_dict.insert("gamma", scalar(gamma_));
}

void StepLR::load_hyperparameters(const nn::StateDict& state_dict) {
  step_size_ = positive_integer(state_dict, "step_size", name_);
  gamma_ = number(state_dict, "gamma", name_);
}

// ---------------------------------------------------------------- MultiStepLR

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const auto [first, last] = std::equal_range(milestones_.begin(), milestones_.end(), last_epoch_);
  if (first != last) {
    for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(last - first));
  }
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(passed));
  return lrs;
}

void MultiStepLR::save_hyperparameters(nn::StateDict& state_dict) const {
  state_dict.insert("milestones", tensor(milestones_));
  state_dict.insert("gamma", scalar(gamma_));
}

void MultiStepLR::load_hyperparameters(const nn::StateDict& state_dict) {
  const Tensor& milestones = entry(state_dict, "milestones", name_);
  EMBER_CHECK(milestones.dim() == 1 && is_integral(milestones.dtype()),
              "MultiStepLR.load_state_dict: 'milestones' must be a 1-D integer tensor, got {} of shape {}",
              ember::name(milestones.dtype()), to_string(milestones.sizes()));
  const double gamma = number(state_dict, "gamma", name_);
  milestones_ = milestones.to_vector<int64_t>();
  std::sort(milestones_.begin(), milestones_.end());
  gamma_ = gamma;
}

// ---------------------------------------------------------------- ExponentialLR

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ != 0) {
    for (double& lr : lrs) lr *= gamma_;
  }
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(last_epoch_));
  return lrs;
}

void ExponentialLR::save_hyperparameters(nn::StateDict& state_dict) const { state_dict.insert("gamma", scalar(gamma_)); }

void ExponentialLR::load_hyperparameters(const nn::StateDict& state_dict) { gamma_ = number(state_dict, "gamma", name_); }

// ---------------------------------------------------------------- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  EMBER_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got {}", T_max);
  initial_step();
}

// The expressions keep PyTorch's operation order so that each lr rounds the same way.
std::vector<double> CosineAnnealingLR::get_lr() {
  constexpr double pi = std::numbers::pi;
  const double epoch = static_cast<double>(last_epoch_);
  const double period = static_cast<double>(T_max_);
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (size_t index = 0; index < lrs.size(); ++index) {
    const double base_lr = base_lrs_[index];
    double& lr = lrs[index];
    if (step_count_ == 1 && last_epoch_ > 0) {
      lr = eta_min_ + (base_lr - eta_min_) * (1 + std::cos(epoch * pi / period)) / 2;
    } else if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
      lr = lr + (base_lr - eta_min_) * (1 - std::cos(pi / period)) / 2;
    } else {
      lr = rounded((1 + std::cos(pi * epoch / period)) / (1 + std::cos(pi * (epoch - 1) / period)) * (lr - eta_min_)) +
           eta_min_;
    }
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) {
    lr = eta_min_ + (lr - eta_min_) * (1 + std::cos(pi * static_cast<double>(last_epoch_) / static_cast<double>(T_max_))) / 2;
  }
  return lrs;
}

void CosineAnnealingLR::save_hyperparameters(nn::StateDict& state_dict) const {
  state_dict.insert("T_max", scalar(T_max_));
  state_dict.insert("eta_min", scalar(eta_min_));
}

void CosineAnnealingLR::load_hyperparameters(const nn::StateDict& state_dict) {
  T_max_ = positive_integer(state_dict, "T_max", name_);
  eta_min_ = number(state_dict, "eta_min", name_);
}

// ---------------------------------------------------------------- LinearLR

namespace {

void check_linear_lr(double start_factor, double end_factor, int64_t total_iters, const char* where) {
  // PyTorch accepts start_factor 0 but then divides by zero on the second step.
  EMBER_CHECK(start_factor > 0.0 && start_factor <= 1.0, "{}: start_factor must be in (0, 1], got {}", where,
              start_factor);
  EMBER_CHECK(end_factor >= 0.0 && end_factor <= 1.0, "{}: end_factor must be in [0, 1], got {}", where, end_factor);
  EMBER_CHECK(total_iters > 0, "{}: total_iters must be positive, got {}", where, total_iters);
}

}  // namespace

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer, "LinearLR"), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  check_linear_lr(start_factor, end_factor, total_iters, "LinearLR");
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr *= start_factor_;
  } else if (last_epoch_ <= total_iters_) {
    const double factor =
        1. + (end_factor_ - start_factor_) / (rounded(static_cast<double>(total_iters_) * start_factor_) +
                                              rounded(static_cast<double>(last_epoch_ - 1) * (end_factor_ - start_factor_)));
    for (double& lr : lrs) lr *= factor;
  }
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  const double progress = static_cast<double>(std::min(total_iters_, last_epoch_));
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) {
    lr *= start_factor_ + (end_factor_ - start_factor_) * progress / static_cast<double>(total_iters_);
  }
  return lrs;
}

void LinearLR::save_hyperparameters(nn::StateDict& state_dict) const {
  state_dict.insert("start_factor", scalar(start_factor_));
  state_dict.insert("end_factor", scalar(end_factor_));
  state_dict.insert("total_iters", scalar(total_iters_));
}

void LinearLR::load_hyperparameters(const nn::StateDict& state_dict) {
  const double start_factor = number(state_dict, "start_factor", name_);
  const double end_factor = number(state_dict, "end_factor", name_);
  const int64_t total_iters = integer(state_dict, "total_iters", name_);
  check_linear_lr(start_factor, end_factor, total_iters, "LinearLR.load_state_dict");
  start_factor_ = start_factor;
  end_factor_ = end_factor;
  total_iters_ = total_iters;
}

// ---------------------------------------------------------------- SequentialLR

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer, "SequentialLR"), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  EMBER_CHECK(!schedulers_.empty(), "SequentialLR: needs at least one scheduler");
  for (size_t index = 0; index < schedulers_.size(); ++index) {
    EMBER_CHECK(schedulers_[index] != nullptr, "SequentialLR: scheduler {} is null", index);
    EMBER_CHECK(&schedulers_[index]->optimizer() == &optimizer,
                "SequentialLR: all schedulers must drive the optimizer passed in, but scheduler {} ({}) drives "
                "another one", index, schedulers_[index]->name());
  }
  EMBER_CHECK(milestones_.size() + 1 == schedulers_.size(),
              "SequentialLR: expects one milestone fewer than schedulers, got {} schedulers and {} milestones",
              schedulers_.size(), milestones_.size());
  EMBER_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()), "SequentialLR: milestones must be sorted, got {}",
              fmt::join(milestones_, ", "));
  last_epoch_ = 0;
  // Undo the initial steps the schedulers took when they were made, then redo the first one's.
  for (ParamGroup& group : optimizer.param_groups()) group.set_lr(*group.initial_lr());
  for (const std::shared_ptr<LRScheduler>& scheduler : schedulers_) scheduler->last_epoch_ -= 1;
  schedulers_.front()->initial_step();
  last_lr_ = schedulers_.front()->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const size_t index =
      static_cast<size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
  LRScheduler& scheduler = *schedulers_[index];
  // Entering a scheduler restarts it at epoch 0 through its closed form.
  if (index > 0 && milestones_[index - 1] == last_epoch_) scheduler.step_to_epoch(0);
  else scheduler.step();
  last_lr_ = scheduler.get_last_lr();
}

nn::StateDict SequentialLR::state_dict() const {
  nn::StateDict result;
  result.insert("last_epoch", scalar(last_epoch_));
  for (size_t index = 0; index < last_lr_.size(); ++index) {
    result.insert(fmt::format("last_lr.{}", index), scalar(last_lr_[index]));
  }
  result.insert("milestones", tensor(milestones_));
  for (size_t index = 0; index < schedulers_.size(); ++index) {
    const std::string prefix = fmt::format("schedulers.{}.", index);
    for (const auto& [key, value] : schedulers_[index]->state_dict()) result.insert(prefix + key, value);
  }
  return result;
}

void SequentialLR::load_state_dict(const nn::StateDict& state_dict) {
  const nn::StateDict expected = this->state_dict();
  for (const auto& [key, value] : state_dict) {
    EMBER_CHECK(key.rfind("schedulers.", 0) == 0 || expected.contains(key),
                "SequentialLR.load_state_dict: unexpected key '{}'", key);
  }
  const Tensor& milestones = entry(state_dict, "milestones", name_);
  EMBER_CHECK(milestones.dim() == 1 && milestones.numel() == static_cast<int64_t>(milestones_.size()) &&
                  is_integral(milestones.dtype()),
              "SequentialLR.load_state_dict: 'milestones' must be {} integers, got {} of shape {}", milestones_.size(),
              ember::name(milestones.dtype()), to_string(milestones.sizes()));
  std::vector<nn::StateDict> parts(schedulers_.size());
  for (const auto& [key, value] : state_dict) {
    if (key.rfind("schedulers.", 0) != 0) continue;
    const size_t dot = key.find('.', 11);
    const std::string index_text = key.substr(11, dot == std::string::npos ? std::string::npos : dot - 11);
    size_t index = schedulers_.size();
    if (dot != std::string::npos && !index_text.empty() &&
        index_text.find_first_not_of("0123456789") == std::string::npos && index_text.size() < 9) {
      index = std::stoul(index_text);
    }
    EMBER_CHECK(index < schedulers_.size(), "SequentialLR.load_state_dict: '{}' names no scheduler (there are {})", key,
                schedulers_.size());
    parts[index].insert(key.substr(dot + 1), value);
  }
  std::vector<double> last_lr;
  for (size_t index = 0; index < last_lr_.size(); ++index) {
    last_lr.push_back(number(state_dict, fmt::format("last_lr.{}", index), name_));
  }
  const int64_t last_epoch = integer(state_dict, "last_epoch", name_);
  for (size_t index = 0; index < schedulers_.size(); ++index) schedulers_[index]->load_state_dict(parts[index]);
  milestones_ = milestones.to_vector<int64_t>();
  last_lr_ = std::move(last_lr);
  last_epoch_ = last_epoch;
}

}  // namespace ember::optim

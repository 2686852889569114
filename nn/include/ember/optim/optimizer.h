#pragma once
// Optimizer: the base of SGD, Adam, AdamW, RMSprop and Adagrad, with PyTorch's parameter groups,
// per-parameter state and flat state_dict.
//
// Options are small structs with chainable setters (`SGDOptions(0.1).momentum(0.9)`). An option a
// parameter group does not set explicitly comes from the optimizer's defaults, as in PyTorch's
// `[{"params": [b], "lr": 0.01}]`:
//
//   optim::SGD sgd({optim::ParamGroup({weight}), optim::ParamGroup({bias}, optim::SGDOptions(0.01))},
//                  optim::SGDOptions(0.1).momentum(0.9));   // bias: lr 0.01, momentum 0.9
//
// state_dict() uses flat keys so that a checkpoint is one dataset per entry:
//   state.<i>.<name>           per-parameter state (momentum_buffer, exp_avg, ..., step as a 0-dim
//                              tensor), <i> numbering the parameters over all groups in order
//   param_groups.<g>.<option>  0-dim float64 (flags as 0/1; Adam's betas as a float64 [2])
//   param_groups.<g>.initial_lr  when an LR scheduler has recorded one
//   param_groups.<g>.params    int64 [n]: the indices <i> of the group's parameters
#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ember/nn/state_dict.h"
#include "ember/tensor/error.h"
#include "ember/tensor/tensor.h"

namespace ember::optim {

// How an option is kept: a number, a flag (stored as 0/1) or a pair (Adam's betas).
enum class OptionKind { Number, Flag, Pair };

struct OptionSpec {
  const char* name;
  OptionKind kind;
  std::array<double, 2> default_value;  // pairs use both entries, numbers and flags the first
};

// The options of one optimizer or one parameter group. Every option has a built-in default; one
// that was never set explicitly can instead be taken from another options object
// (`inherit_unset`), which is how a parameter group inherits the optimizer's defaults.
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  // Throws ember::Error naming the optimizer, the option and the value when one is out of range.
  virtual void validate() const = 0;

  // "SGD", "Adam", ...: the optimizer these options configure.
  const char* optimizer_name() const { return optimizer_name_; }
  double get_lr() const { return value(0)[0]; }
  void set_lr(double lr) { set_value(0, {lr, 0.0}); }

  // Generic access in declaration order (lr first), as state_dict needs it.
  const std::vector<OptionSpec>& specs() const { return *specs_; }
  std::optional<size_t> find(std::string_view name) const;
  bool is_set(size_t index) const { return values_.at(index).has_value(); }
  std::array<double, 2> value(size_t index) const;
  void set_value(size_t index, std::array<double, 2> value);
  // Takes every option left unset here from `defaults` (which must configure the same optimizer).
  void inherit_unset(const OptimizerOptions& defaults);

 protected:
  OptimizerOptions(const char* optimizer_name, const std::vector<OptionSpec>& specs);

  double number(size_t index) const { return value(index)[0]; }
  bool flag(size_t index) const { return value(index)[0] != 0.0; }
  void set_number(size_t index, double number) { set_value(index, {number, 0.0}); }
  void set_flag(size_t index, bool flag) { set_value(index, {flag ? 1.0 : 0.0, 0.0}); }
  // validate() helpers: each option must be >= 0 (NaN fails), checked in the order given, or a
  // value must lie in [0, 1).
  void check_non_negative(std::initializer_list<size_t> indices) const;
  void check_unit_interval(double value, const char* what) const;

 private:
  const char* optimizer_name_;
  const std::vector<OptionSpec>* specs_;
  std::vector<std::optional<std::array<double, 2>>> values_;
};

// A list of parameters that share options. Without options it takes all of the optimizer's
// defaults; with options, the ones they set explicitly override the defaults.
class ParamGroup {
 public:
  explicit ParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}
  template <class Options>
    requires std::derived_from<Options, OptimizerOptions>
  ParamGroup(std::vector<Tensor> params, const Options& options)
      : params_(std::move(params)), options_(options.clone()) {}
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ParamGroup(ParamGroup&&) noexcept = default;
  ParamGroup& operator=(ParamGroup&&) noexcept = default;
  ~ParamGroup() = default;

  const std::vector<Tensor>& params() const { return params_; }
  std::vector<Tensor>& params() { return params_; }
  bool has_options() const { return options_ != nullptr; }
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  // The options as the optimizer's own type: group.options_as<SGDOptions>().momentum(0.5).
  template <class Options> Options& options_as() {
    auto* typed = dynamic_cast<Options*>(&options());
    EMBER_CHECK(typed != nullptr, "ParamGroup: the options configure {}, not the requested type",
                options().optimizer_name());
    return *typed;
  }
  template <class Options> const Options& options_as() const {
    const auto* typed = dynamic_cast<const Options*>(&options());
    EMBER_CHECK(typed != nullptr, "ParamGroup: the options configure {}, not the requested type",
                options().optimizer_name());
    return *typed;
  }
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }

  // The group's learning rate: what LR schedulers read and write.
  double lr() const { return options().get_lr(); }
  void set_lr(double lr) { options().set_lr(lr); }
  // The lr schedules start from (PyTorch's group["initial_lr"]); the first scheduler made on
  // the optimizer records it.
  const std::optional<double>& initial_lr() const { return initial_lr_; }
  void set_initial_lr(std::optional<double> lr) { initial_lr_ = lr; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
  std::optional<double> initial_lr_;
};

// One parameter's optimizer state: a step count and named buffers in the order they were made
// (momentum_buffer, exp_avg, exp_avg_sq, ...).
struct ParamState {
  double step = 0;
  std::vector<std::pair<std::string, Tensor>> buffers;

  Tensor* find(std::string_view name);
  const Tensor* find(std::string_view name) const;
  // Throws, naming `optimizer` and the buffer, when it is missing (a state_dict from another
  // configuration, e.g. amsgrad turned on after the state was made).
  Tensor& at(std::string_view name, const char* optimizer);
  Tensor& add(std::string name, Tensor value);
};

class Optimizer {
 public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; parameters without one are skipped.
  virtual void step() = 0;
  // Evaluates closure with grad mode on (it typically zeroes grads, computes the loss and calls
  // backward), then steps; returns the closure's loss.
  Tensor step(const std::function<Tensor()>& closure);
  // set_to_none drops each .grad(); otherwise it is detached and zeroed in place.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return param_groups_; }
  const std::vector<ParamGroup>& param_groups() const { return param_groups_; }
  // Checks the parameters (floating point, leaves, in no other group) and fills unset options
  // from the defaults.
  void add_param_group(ParamGroup group);
  const OptimizerOptions& defaults() const { return *defaults_; }
  const char* name() const { return defaults_->optimizer_name(); }
  // The state of one parameter, or null before its first update.
  const ParamState* state(const Tensor& param) const;

  // The tensors are the optimizer's own state buffers (no copies, as in PyTorch): clone them to
  // keep a snapshot while training goes on.
  nn::StateDict state_dict() const;
  // Replaces the state and the groups' options. The group count, each group's parameter count
  // and every state tensor's shape must match; errors name the key. State tensors are copied and
  // converted to their parameter's dtype and device.
  void load_state_dict(const nn::StateDict& state_dict);

 protected:
  // The state one optimizer keeps per parameter: its buffer names and, when it counts steps, the
  // dtype state_dict gives the count (PyTorch keeps Adam's as a float tensor, RMSprop's as an int).
  struct StateLayout {
    std::vector<std::string> buffer_names;
    std::optional<DType> step_dtype;
  };

  Optimizer(std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults, StateLayout layout);
  // The one group a constructor given a plain parameter list makes.
  static std::vector<ParamGroup> single_group(std::vector<Tensor> params);

  ParamState* find_state(const Tensor& param);
  // The state of param, made empty on first use.
  ParamState& state_for(const Tensor& param);

 private:
  std::unique_ptr<OptimizerOptions> defaults_;
  StateLayout layout_;
  std::vector<ParamGroup> param_groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

}  // namespace ember::optim

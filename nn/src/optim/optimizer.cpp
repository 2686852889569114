#include "ember/optim/optimizer.h"

#include <charconv>
#include <cmath>
#include <map>
#include <unordered_set>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/factories.h"

namespace ember::optim {

// ---------------------------------------------------------------- options

OptimizerOptions::OptimizerOptions(const char* optimizer_name, const std::vector<OptionSpec>& specs)
    : optimizer_name_(optimizer_name), specs_(&specs), values_(specs.size()) {}

std::optional<size_t> OptimizerOptions::find(std::string_view name) const {
  for (size_t index = 0; index < specs_->size(); ++index) {
    if (name == (*specs_)[index].name) return index;
  }
  return std::nullopt;
}

std::array<double, 2> OptimizerOptions::value(size_t index) const {
  const std::optional<std::array<double, 2>>& explicit_value = values_.at(index);
  return explicit_value ? *explicit_value : (*specs_)[index].default_value;
}

void OptimizerOptions::set_value(size_t index, std::array<double, 2> value) { values_.at(index) = value; }

void OptimizerOptions::inherit_unset(const OptimizerOptions& defaults) {
  EMBER_CHECK(specs_ == defaults.specs_, "{}: a parameter group's options configure {}, not {}", optimizer_name_,
              optimizer_name_, defaults.optimizer_name_);
  for (size_t index = 0; index < values_.size(); ++index) {
    if (!values_[index]) values_[index] = defaults.values_[index];
  }
}

void OptimizerOptions::check_non_negative(std::initializer_list<size_t> indices) const {
  for (const size_t index : indices) {
    const double number = value(index)[0];
    EMBER_CHECK(number >= 0.0, "{}: invalid {} value: {} (it must be >= 0)", optimizer_name_, (*specs_)[index].name,
                number);
  }
}

void OptimizerOptions::check_unit_interval(double number, const char* what) const {
  EMBER_CHECK(number >= 0.0 && number < 1.0, "{}: invalid {} value: {} (it must be in [0, 1))", optimizer_name_, what,
              number);
}

// ---------------------------------------------------------------- parameter groups and state

ParamGroup::ParamGroup(const ParamGroup& other)
    : params_(other.params_), options_(other.options_ ? other.options_->clone() : nullptr),
      initial_lr_(other.initial_lr_) {}

ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) *this = ParamGroup(other);
  return *this;
}

OptimizerOptions& ParamGroup::options() {
  EMBER_CHECK(options_ != nullptr, "ParamGroup: this group has no options yet (an optimizer fills them in)");
  return *options_;
}

const OptimizerOptions& ParamGroup::options() const {
  EMBER_CHECK(options_ != nullptr, "ParamGroup: this group has no options yet (an optimizer fills them in)");
  return *options_;
}

Tensor* ParamState::find(std::string_view name) {
  for (auto& [buffer_name, buffer] : buffers) {
    if (buffer_name == name) return &buffer;
  }
  return nullptr;
}

const Tensor* ParamState::find(std::string_view name) const { return const_cast<ParamState*>(this)->find(name); }

Tensor& ParamState::at(std::string_view name, const char* optimizer) {
  Tensor* buffer = find(name);
  EMBER_CHECK(buffer != nullptr,
              "{}: a parameter's state has no '{}' (was the state loaded from another optimizer, or was the option "
              "that needs it turned on after the state was made?)",
              optimizer, name);
  return *buffer;
}

Tensor& ParamState::add(std::string name, Tensor value) {
  buffers.emplace_back(std::move(name), std::move(value));
  return buffers.back().second;
}

// ---------------------------------------------------------------- optimizer

std::vector<ParamGroup> Optimizer::single_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups;
  groups.emplace_back(std::move(params));
  return groups;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults, StateLayout layout)
    : defaults_(std::move(defaults)), layout_(std::move(layout)) {
  defaults_->validate();
  size_t count = 0;
  for (const ParamGroup& group : groups) count += group.params().size();
  EMBER_CHECK(count > 0, "{}: got an empty parameter list", name());
  for (ParamGroup& group : groups) add_param_group(std::move(group));
}

Optimizer::~Optimizer() = default;

void Optimizer::add_param_group(ParamGroup group) {
  const size_t group_index = param_groups_.size();
  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& existing : param_groups_) {
    for (const Tensor& param : existing.params()) seen.insert(param.impl_ptr().get());
  }
  for (size_t index = 0; index < group.params().size(); ++index) {
    const Tensor& param = group.params()[index];
    EMBER_CHECK(param.defined(), "{}: parameter {} of group {} is an undefined tensor", name(), index, group_index);
    EMBER_CHECK(param.is_floating_point(), "{}: parameter {} of group {} has dtype {}; only floating-point tensors "
                "can be optimized", name(), index, group_index, ember::name(param.dtype()));
    EMBER_CHECK(param.is_leaf(), "{}: parameter {} of group {} is not a leaf (it was made by {}); optimize the "
                "leaf it was computed from", name(), index, group_index, param.grad_fn()->name());
    EMBER_CHECK(seen.insert(param.impl_ptr().get()).second,
                "{}: parameter {} of group {} (shape {}) appears more than once in the parameter groups", name(), index,
                group_index, to_string(param.sizes()));
  }
  if (group.has_options()) {
    group.options().inherit_unset(*defaults_);
    group.options().validate();
  } else {
    group.set_options(defaults_->clone());
  }
  param_groups_.push_back(std::move(group));
}

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  Tensor loss;
  {
    autograd::EnableGradGuard enable_grad;
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (ParamGroup& group : param_groups_) {
    for (const Tensor& param : group.params()) {
      if (!param.grad().defined()) continue;
      Tensor& grad = param.mutable_grad();
      if (set_to_none) {
        grad = Tensor();
      } else {
        // A gradient made by create_graph backward has history; zeroing must not record into it.
        if (grad.grad_fn() != nullptr) grad = grad.detach();
        autograd::NoGradGuard no_grad;
        grad.zero_();
      }
    }
  }
}

const ParamState* Optimizer::state(const Tensor& param) const {
  const auto found = state_.find(param.impl_ptr().get());
  return found == state_.end() ? nullptr : &found->second;
}

ParamState* Optimizer::find_state(const Tensor& param) {
  const auto found = state_.find(param.impl_ptr().get());
  return found == state_.end() ? nullptr : &found->second;
}

ParamState& Optimizer::state_for(const Tensor& param) { return state_[param.impl_ptr().get()]; }

// ---------------------------------------------------------------- state_dict

nn::StateDict Optimizer::state_dict() const {
  nn::StateDict result;
  int64_t index = 0;
  for (const ParamGroup& group : param_groups_) {
    for (const Tensor& param : group.params()) {
      if (const ParamState* state = this->state(param)) {
        const std::string prefix = fmt::format("state.{}.", index);
        if (layout_.step_dtype) result.insert(prefix + "step", scalar_tensor(state->step, *layout_.step_dtype));
        for (const auto& [buffer_name, buffer] : state->buffers) result.insert(prefix + buffer_name, buffer);
      }
      ++index;
    }
  }
  index = 0;
  for (size_t group_index = 0; group_index < param_groups_.size(); ++group_index) {
    const ParamGroup& group = param_groups_[group_index];
    const std::string prefix = fmt::format("param_groups.{}.", group_index);
    const OptimizerOptions& options = group.options();
    for (size_t option = 0; option < options.specs().size(); ++option) {
      const OptionSpec& spec = options.specs()[option];
      const std::array<double, 2> value = options.value(option);
      result.insert(prefix + spec.name, spec.kind == OptionKind::Pair
                                            ? tensor(std::vector<double>{value[0], value[1]})
                                            : scalar_tensor(value[0], kFloat64));
    }
    if (group.initial_lr()) result.insert(prefix + "initial_lr", scalar_tensor(*group.initial_lr(), kFloat64));
    std::vector<int64_t> indices(group.params().size());
    for (int64_t& param_index : indices) param_index = index++;
    result.insert(prefix + "params", tensor(indices));
  }
  return result;
}

namespace {

// "state.12.exp_avg" -> {"state", 12, "exp_avg"}; nullopt when the key has another form.
struct ParsedKey {
  std::string_view section;
  int64_t index;
  std::string_view name;
};

std::optional<ParsedKey> parse_key(std::string_view key) {
  const size_t first = key.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = key.find('.', first + 1);
  if (second == std::string_view::npos || second + 1 == key.size()) return std::nullopt;
  const std::string_view number = key.substr(first + 1, second - first - 1);
  int64_t index = -1;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), index);
  if (error != std::errc() || end != number.data() + number.size() || index < 0) return std::nullopt;
  return ParsedKey{key.substr(0, first), index, key.substr(second + 1)};
}

// Options PyTorch keeps in its param_groups that only choose an implementation.
bool is_pytorch_implementation_switch(std::string_view name) {
  return name == "foreach" || name == "differentiable" || name == "capturable" || name == "fused";
}

std::string option_names(const OptimizerOptions& options) {
  std::string names;
  for (const OptionSpec& spec : options.specs()) names += (names.empty() ? "" : ", ") + std::string(spec.name);
  return names;
}

}  // namespace

void Optimizer::load_state_dict(const nn::StateDict& state_dict) {
  const char* op = name();
  // Sort the keys by section first so that parameter groups are known before the state refers
  // to them; everything is built aside and committed at the end, so a bad dict changes nothing.
  std::map<int64_t, std::vector<std::pair<std::string_view, const Tensor*>>> group_entries;
  std::vector<std::pair<ParsedKey, const nn::StateDict::Item*>> state_entries;
  for (const nn::StateDict::Item& item : state_dict) {
    const std::optional<ParsedKey> key = parse_key(item.first);
    EMBER_CHECK(key && (key->section == "state" || key->section == "param_groups"),
                "{}.load_state_dict: unexpected key '{}' (keys are state.<i>.<name> and param_groups.<g>.<option>)",
                op, item.first);
    EMBER_CHECK(item.second.defined(), "{}.load_state_dict: '{}' is an undefined tensor", op, item.first);
    if (key->section == "state") state_entries.emplace_back(*key, &item);
    else group_entries[key->index].emplace_back(key->name, &item.second);
  }
  EMBER_CHECK(group_entries.size() == param_groups_.size() &&
                  (group_entries.empty() || group_entries.rbegin()->first + 1 == static_cast<int64_t>(group_entries.size())),
              "{}.load_state_dict: the state dict has {} parameter groups (param_groups.<g>.*), the optimizer has {}",
              op, group_entries.size(), param_groups_.size());

  std::vector<std::unique_ptr<OptimizerOptions>> new_options;
  std::vector<std::optional<double>> new_initial_lrs;
  std::unordered_map<int64_t, const Tensor*> param_by_index;
  for (auto& [group_index, entries] : group_entries) {
    const ParamGroup& group = param_groups_[static_cast<size_t>(group_index)];
    std::unique_ptr<OptimizerOptions> options = group.options().clone();
    std::optional<double> initial_lr;
    bool has_params = false;
    for (const auto& [option_name, value] : entries) {
      const std::string key = fmt::format("param_groups.{}.{}", group_index, option_name);
      if (option_name == "params") {
        has_params = true;
        EMBER_CHECK(is_integral(value->dtype()) && value->dim() == 1,
                    "{}.load_state_dict: '{}' must be a 1-D integer tensor of parameter indices, got {} of shape {}",
                    op, key, ember::name(value->dtype()), to_string(value->sizes()));
        EMBER_CHECK(value->numel() == static_cast<int64_t>(group.params().size()),
                    "{}.load_state_dict: '{}' lists {} parameters, but the optimizer's group {} has {}", op, key,
                    value->numel(), group_index, group.params().size());
        const std::vector<int64_t> indices = value->to_vector<int64_t>();
        for (size_t position = 0; position < indices.size(); ++position) {
          EMBER_CHECK(param_by_index.emplace(indices[position], &group.params()[position]).second,
                      "{}.load_state_dict: '{}' lists parameter index {} that another entry already uses", op, key,
                      indices[position]);
        }
        continue;
      }
      EMBER_CHECK(value->numel() >= 1 && value->numel() <= 2, "{}.load_state_dict: '{}' must hold a number, got shape {}",
                  op, key, to_string(value->sizes()));
      const std::vector<double> numbers = value->to(kFloat64).to_vector<double>();
      if (option_name == "initial_lr") {
        initial_lr = numbers[0];
        continue;
      }
      if (is_pytorch_implementation_switch(option_name)) continue;
      const std::optional<size_t> option = options->find(option_name);
      EMBER_CHECK(option.has_value(), "{}.load_state_dict: '{}' is not an option of {} (its options: {})", op, key, op,
                  option_names(*options));
      const bool is_pair = options->specs()[*option].kind == OptionKind::Pair;
      EMBER_CHECK(value->numel() == (is_pair ? 2 : 1), "{}.load_state_dict: '{}' must hold {}, got shape {}", op, key,
                  is_pair ? "two numbers" : "one number", to_string(value->sizes()));
      options->set_value(*option, {numbers[0], is_pair ? numbers[1] : 0.0});
    }
    EMBER_CHECK(has_params, "{}.load_state_dict: missing key 'param_groups.{}.params'", op, group_index);
    options->validate();
    new_options.push_back(std::move(options));
    new_initial_lrs.push_back(initial_lr);
  }

  std::unordered_map<const TensorImpl*, ParamState> new_state;
  for (const auto& [key, item] : state_entries) {
    const std::string& key_text = item->first;
    const Tensor& value = item->second;
    const auto found = param_by_index.find(key.index);
    EMBER_CHECK(found != param_by_index.end(),
                "{}.load_state_dict: '{}' refers to parameter {}, which no param_groups.<g>.params lists", op, key_text,
                key.index);
    const Tensor& param = *found->second;
    ParamState& state = new_state[param.impl_ptr().get()];
    if (key.name == "step" && layout_.step_dtype) {
      EMBER_CHECK(value.numel() == 1, "{}.load_state_dict: '{}' must hold one number, got shape {}", op, key_text,
                  to_string(value.sizes()));
      state.step = value.item<double>();
      continue;
    }
    bool known = false;
    for (const std::string& buffer_name : layout_.buffer_names) known = known || buffer_name == key.name;
    EMBER_CHECK(known, "{}.load_state_dict: '{}' is not part of {}'s state", op, key_text, op);
    EMBER_CHECK(value.sizes() == param.sizes(), "{}.load_state_dict: '{}' has shape {}, but parameter {} has shape {}",
                op, key_text, to_string(value.sizes()), key.index, to_string(param.sizes()));
    autograd::NoGradGuard no_grad;
    Tensor buffer = value.detach().to(param.options());
    if (buffer.shares_storage_with(value)) buffer = buffer.clone();
    state.add(std::string(key.name), std::move(buffer));
  }

  for (size_t group_index = 0; group_index < param_groups_.size(); ++group_index) {
    param_groups_[group_index].set_options(std::move(new_options[group_index]));
    param_groups_[group_index].set_initial_lr(new_initial_lrs[group_index]);
  }
  state_ = std::move(new_state);
}

}  // namespace ember::optim

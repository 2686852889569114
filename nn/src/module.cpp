#include "ember/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <unordered_set>

#include "ember/tensor/autograd_graph.h"

namespace ember::nn {
namespace {

std::string join_quoted(const std::vector<std::string>& keys) {
  std::string result;
  for (const std::string& key : keys) result += (result.empty() ? "\"" : ", \"") + key + "\"";
  return result;
}

// Shares ownership when the module is owned by a shared_ptr; otherwise (a module on the stack)
// a non-owning pointer, valid as long as the module.
std::shared_ptr<Module> pointer_to(Module& module) {
  if (std::shared_ptr<Module> owned = module.weak_from_this().lock()) return owned;
  return std::shared_ptr<Module>(std::shared_ptr<Module>(), &module);
}

std::vector<Tensor> tensors_of(Module::NamedTensors named) {
  std::vector<Tensor> result;
  result.reserve(named.size());
  for (auto& item : named) result.push_back(std::move(item.second));
  return result;
}

}  // namespace

void Module::check_new_name(const std::string& name, const char* what) const {
  EMBER_CHECK(!name.empty(), "{}: {} name cannot be empty", this->name(), what);
  EMBER_CHECK(name.find('.') == std::string::npos, "{}: {} name '{}' cannot contain \".\"", this->name(), what, name);
  const bool taken =
      std::any_of(parameters_.begin(), parameters_.end(), [&](const auto& item) { return item.first == name; }) ||
      std::any_of(buffers_.begin(), buffers_.end(), [&](const Buffer& item) { return item.name == name; }) ||
      std::any_of(children_.begin(), children_.end(), [&](const auto& item) { return item.first == name; });
  EMBER_CHECK(!taken, "{}: cannot register {} '{}': the name is already registered", this->name(), what, name);
}

Tensor Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  if (tensor.defined()) {
    // A parameter is a leaf, as nn.Parameter makes one from any tensor.
    if (!tensor.is_leaf()) tensor = tensor.detach();
    tensor.requires_grad_(requires_grad);
  }
  parameters_.emplace_back(std::move(name), tensor);
  return tensor;
}

Tensor Module::register_buffer(std::string name, Tensor tensor, bool persistent) {
  check_new_name(name, "buffer");
  buffers_.push_back(Buffer{std::move(name), tensor, persistent});
  return tensor;
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name(name, "submodule");
  EMBER_CHECK(module != nullptr, "{}: cannot register submodule '{}': the module is null (an empty handle)",
              this->name(), name);
  EMBER_CHECK(module.get() != this, "{}: cannot register a module as its own submodule '{}'", this->name(), name);
  children_.emplace_back(std::move(name), std::move(module));
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  EMBER_CHECK(module != nullptr, "{}: cannot replace submodule '{}' with a null module", this->name(), name);
  for (auto& [child_name, child] : children_) {
    if (child_name == name) {
      child = std::move(module);
      return;
    }
  }
  fail("{}: no submodule named '{}' to replace", this->name(), name);
}

void Module::visit(const std::string& prefix, std::vector<const Module*>& seen,
                   const std::function<void(const std::string&, const Module&)>& fn) const {
  if (std::find(seen.begin(), seen.end(), this) != seen.end()) return;
  seen.push_back(this);
  fn(prefix, *this);
  for (const auto& [name, child] : children_) child->visit(prefix.empty() ? name : prefix + "." + name, seen, fn);
}

Module::NamedTensors Module::named_tensors(bool recurse, TensorKind kind) const {
  NamedTensors result;
  // A tensor registered in two places is listed once, under the first name found (PyTorch's
  // remove_duplicate).
  std::unordered_set<const TensorImpl*> seen_tensors;
  auto add = [&](const std::string& prefix, const std::string& name, const Tensor& tensor) {
    if (tensor.defined() && seen_tensors.insert(&tensor.impl()).second) {
      result.emplace_back(prefix.empty() ? name : prefix + "." + name, tensor);
    }
  };
  auto collect = [&](const std::string& prefix, const Module& module) {
    if (kind == TensorKind::Parameter) {
      for (const auto& [name, tensor] : module.parameters_) add(prefix, name, tensor);
    } else {
      for (const Buffer& buffer : module.buffers_) add(prefix, buffer.name, buffer.tensor);
    }
  };
  if (recurse) {
    std::vector<const Module*> seen_modules;
    visit("", seen_modules, collect);
  } else {
    collect("", *this);
  }
  return result;
}

Module::NamedTensors Module::named_parameters(bool recurse) const {
  return named_tensors(recurse, TensorKind::Parameter);
}

std::vector<Tensor> Module::parameters(bool recurse) const { return tensors_of(named_parameters(recurse)); }

Module::NamedTensors Module::named_buffers(bool recurse) const { return named_tensors(recurse, TensorKind::Buffer); }

std::vector<Tensor> Module::buffers(bool recurse) const { return tensors_of(named_buffers(recurse)); }

Module::NamedModules Module::named_children() const {
  NamedModules result;
  for (const auto& [name, child] : children_) {
    const bool repeated =
        std::any_of(result.begin(), result.end(), [&](const auto& item) { return item.second == child; });
    if (!repeated) result.emplace_back(name, child);
  }
  return result;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> result;
  for (auto& item : named_children()) result.push_back(std::move(item.second));
  return result;
}

Module::NamedModules Module::named_modules(bool include_self) {
  NamedModules result;
  std::vector<const Module*> seen;
  visit("", seen, [&](const std::string& prefix, const Module& module) {
    if (&module == this && !include_self) return;
    result.emplace_back(prefix, pointer_to(const_cast<Module&>(module)));
  });
  return result;
}

std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) {
  std::vector<std::shared_ptr<Module>> result;
  for (auto& item : named_modules(include_self)) result.push_back(std::move(item.second));
  return result;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (const auto& [name, child] : children_) child->apply(fn);
  fn(*this);
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [name, child] : children_) child->train(on);
}

void Module::convert(const std::function<Tensor(const Tensor&)>& convert_tensor, bool floating_only) {
  autograd::NoGradGuard no_grad;
  std::unordered_set<const TensorImpl*> done;
  auto apply_to = [&](const Tensor& tensor) {
    if (!tensor.defined() || (floating_only && !tensor.is_floating_point())) return;
    if (!done.insert(&tensor.impl()).second) return;
    tensor.set_data(convert_tensor(tensor));
    const Tensor& grad = tensor.grad();
    if (grad.defined()) grad.set_data(convert_tensor(grad));
  };
  std::vector<const Module*> seen;
  visit("", seen, [&](const std::string&, const Module& module) {
    for (const auto& item : module.parameters_) apply_to(item.second);
    for (const Buffer& buffer : module.buffers_) apply_to(buffer.tensor);
  });
}

void Module::to(Device device, bool non_blocking) {
  convert([&](const Tensor& tensor) { return tensor.to(device, non_blocking); }, false);
}

void Module::to(DType dtype) {
  convert([&](const Tensor& tensor) { return tensor.to(dtype); }, true);
}

void Module::to(Device device, DType dtype, bool non_blocking) {
  to(device, non_blocking);
  to(dtype);
}

void Module::zero_grad(bool set_to_none) {
  for (const Tensor& parameter : parameters()) {
    if (!parameter.grad().defined()) continue;
    Tensor& grad = parameter.mutable_grad();
    if (set_to_none) {
      grad = Tensor();
    } else {
      // A gradient made with create_graph has history; zeroing must not write through it.
      if (grad.grad_fn()) grad = grad.detach();
      grad.zero_();
    }
  }
}

void Module::collect_state(const std::string& prefix, StateDict& destination) const {
  for (const auto& [name, tensor] : parameters_) {
    if (tensor.defined()) destination.insert(prefix + name, tensor.detach());
  }
  for (const Buffer& buffer : buffers_) {
    if (buffer.tensor.defined() && buffer.persistent) destination.insert(prefix + buffer.name, buffer.tensor.detach());
  }
  for (const auto& [name, child] : children_) child->collect_state(prefix + name + ".", destination);
}

StateDict Module::state_dict() const {
  StateDict result;
  collect_state("", result);
  return result;
}

LoadStateDictResult Module::load_state_dict(const StateDict& source, bool strict) {
  const StateDict own = state_dict();
  LoadStateDictResult result;
  std::vector<std::string> size_mismatches;
  for (const auto& [key, tensor] : own) {
    const Tensor* incoming = source.find(key);
    if (incoming == nullptr) {
      result.missing_keys.push_back(key);
    } else if (!incoming->defined()) {
      size_mismatches.push_back(fmt::format("value for {} is an undefined tensor", key));
    } else if (incoming->sizes() != tensor.sizes()) {
      size_mismatches.push_back(
          fmt::format("size mismatch for {}: the state_dict has shape {}, the module has shape {}", key,
                      to_string(incoming->sizes()), to_string(tensor.sizes())));
    }
  }
  for (const auto& [key, tensor] : source) {
    if (!own.contains(key)) result.unexpected_keys.push_back(key);
  }
  std::vector<std::string> problems;
  if (strict && !result.missing_keys.empty()) {
    problems.push_back("missing key(s) in state_dict: " + join_quoted(result.missing_keys));
  }
  if (strict && !result.unexpected_keys.empty()) {
    problems.push_back("unexpected key(s) in state_dict: " + join_quoted(result.unexpected_keys));
  }
  problems.insert(problems.end(), size_mismatches.begin(), size_mismatches.end());
  if (!problems.empty()) {
    std::string message = fmt::format("load_state_dict: error(s) loading state_dict for {}:", name());
    for (const std::string& problem : problems) message += "\n\t" + problem;
    throw Error(message);
  }
  autograd::NoGradGuard no_grad;
  for (const auto& [key, tensor] : own) {
    if (const Tensor* incoming = source.find(key)) {
      // The state_dict tensors are detached views of the module's own, so copy_ writes into them.
      Tensor target = tensor;
      if (!incoming->is_same(target)) target.copy_(*incoming);
    }
  }
  return result;
}

Tensor Module::forward(const Tensor& input) {
  fail("{}: forward(const Tensor&) is not defined for this module: it takes other arguments, or the class "
       "does not override `Tensor forward(const Tensor& input) override` (needed to run it in a Sequential)",
       name());
}

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled != nullptr ? demangled : mangled;
  std::free(demangled);
  // Drop template arguments and namespaces: "ember::nn::LinearImpl" -> "LinearImpl".
  if (const size_t angle = full.find('<'); angle != std::string::npos) full.erase(angle);
  if (const size_t colon = full.rfind("::"); colon != std::string::npos) full.erase(0, colon + 2);
  constexpr std::string_view kSuffix = "Impl";
  if (full.size() > kSuffix.size() && full.ends_with(kSuffix)) full.erase(full.size() - kSuffix.size());
  return full;
}

void Module::pretty_print(std::ostream& stream) const { stream << name(); }

namespace {

void print_module(std::ostream& stream, const Module& module, const std::string& indent) {
  std::ostringstream own;
  module.pretty_print(own);
  const std::string head = own.str();
  stream << head;
  const Module::NamedModules children = module.named_children();
  if (children.empty()) {
    // "ReLU()" and "Sequential()", as PyTorch prints modules without settings.
    if (head.find('(') == std::string::npos) stream << "()";
    return;
  }
  stream << "(\n";
  for (const auto& [name, child] : children) {
    stream << indent << "  (" << name << "): ";
    print_module(stream, *child, indent + "  ");
    stream << "\n";
  }
  stream << indent << ")";
}

}  // namespace

std::ostream& operator<<(std::ostream& stream, const Module& module) {
  print_module(stream, module, "");
  return stream;
}

}  // namespace ember::nn

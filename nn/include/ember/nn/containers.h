#pragma once
// Containers: Sequential (a chain of single-tensor modules), ModuleList (an indexed list) and
// ModuleDict (modules by name). Their children are named "0", "1", ... (or by the given name), so
// state_dict keys are PyTorch's ("0.weight").
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/nn/module.h"

namespace ember::nn {

namespace detail {

template <class T> struct is_shared_module : std::false_type {};
template <class M> struct is_shared_module<std::shared_ptr<M>> : std::is_base_of<Module, M> {};

// Anything a container accepts as a module: a handle or a shared_ptr to a module.
template <class T>
concept ModuleLike = is_module_holder<std::decay_t<T>>::value || is_shared_module<std::decay_t<T>>::value;

template <class T> std::shared_ptr<Module> to_module_pointer(T&& module) {
  if constexpr (is_module_holder<std::decay_t<T>>::value) return module.ptr();
  else return module;
}

}  // namespace detail

// Shared by ModuleList and Sequential: children kept in order, indexed by position.
class ModuleSequence : public Module {
 public:
  size_t size() const { return child_entries().size(); }
  bool is_empty() const { return child_entries().empty(); }
  std::shared_ptr<Module> operator[](size_t index) const { return ptr(index); }
  std::shared_ptr<Module> ptr(size_t index) const;
  // The module at index as its concrete type (an Impl class or its handle type); throws naming
  // both types when it is something else.
  template <class T> auto& at(size_t index) const {
    auto* typed = ptr(index)->template as<T>();
    EMBER_CHECK(typed != nullptr, "{}: the module at index {} is a {}, not the requested type", name(), index,
                ptr(index)->name());
    return *typed;
  }
  // Iterates over the modules in order.
  auto begin() const { return ModuleIterator{child_entries().begin()}; }
  auto end() const { return ModuleIterator{child_entries().end()}; }

  template <detail::ModuleLike M> void push_back(M&& module) {
    append(std::to_string(size()), detail::to_module_pointer(std::forward<M>(module)));
  }
  template <detail::ModuleLike M> void push_back(std::string name, M&& module) {
    append(std::move(name), detail::to_module_pointer(std::forward<M>(module)));
  }

 protected:
  struct ModuleIterator {
    NamedModules::const_iterator position;
    const std::shared_ptr<Module>& operator*() const { return position->second; }
    ModuleIterator& operator++() {
      ++position;
      return *this;
    }
    bool operator==(const ModuleIterator&) const = default;
  };
  void append(std::string name, std::shared_ptr<Module> module) { add_child(std::move(name), std::move(module)); }
};

// Runs its modules one after another: Sequential(Linear(784, 64), ReLU(), Linear(64, 10)).
class SequentialImpl : public ModuleSequence {
 public:
  SequentialImpl() = default;
  template <detail::ModuleLike... Modules>
    requires(sizeof...(Modules) > 0)
  explicit SequentialImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }
  // Named children, as nn.Sequential(OrderedDict(...)).
  explicit SequentialImpl(std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules);

  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(Sequential);

// Holds modules without a forward of its own; the owner decides how to call them.
class ModuleListImpl : public ModuleSequence {
 public:
  ModuleListImpl() = default;
  template <detail::ModuleLike... Modules>
    requires(sizeof...(Modules) > 0)
  explicit ModuleListImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }
  // Appends every module of another list.
  void extend(const ModuleListImpl& other);
};
EMBER_MODULE(ModuleList);

// Modules by name, in insertion order.
class ModuleDictImpl : public Module {
 public:
  ModuleDictImpl() = default;
  explicit ModuleDictImpl(std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules);

  size_t size() const { return child_entries().size(); }
  bool is_empty() const { return child_entries().empty(); }
  bool contains(const std::string& key) const;
  std::shared_ptr<Module> operator[](const std::string& key) const;
  template <class T> auto& at(const std::string& key) const {
    auto* typed = (*this)[key]->template as<T>();
    EMBER_CHECK(typed != nullptr, "{}: the module '{}' is a {}, not the requested type", name(), key,
                (*this)[key]->name());
    return *typed;
  }
  std::vector<std::string> keys() const;
  std::vector<std::shared_ptr<Module>> values() const;
  const NamedModules& items() const { return child_entries(); }
  auto begin() const { return child_entries().begin(); }
  auto end() const { return child_entries().end(); }

  // Adds the module under key, replacing any module already there.
  template <detail::ModuleLike M> void insert(std::string key, M&& module) {
    insert_pointer(std::move(key), detail::to_module_pointer(std::forward<M>(module)));
  }
  // Adds or replaces each entry.
  void update(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_modules);

 private:
  void insert_pointer(std::string key, std::shared_ptr<Module> module);
};
EMBER_MODULE(ModuleDict);

}  // namespace ember::nn

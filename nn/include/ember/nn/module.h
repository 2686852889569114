#pragma once
// Module: the base of every layer and model. It owns named parameters, buffers and child
// modules, and walks them in PyTorch's order, so names and state_dict keys match PyTorch's for
// the same model ("fc1.weight", "0.bias", "bn.num_batches_tracked").
//
// Layers come in two parts, as in libtorch: `LinearImpl` is the module, `Linear` (declared with
// EMBER_MODULE) a shared handle to one. Copies of a handle share the module.
//
//   struct NetImpl : nn::Module {
//     NetImpl() { fc1 = register_module("fc1", nn::Linear(784, 64)); ... }
//     Tensor forward(const Tensor& x) override { return fc2(F::relu(fc1(x))); }
//     nn::Linear fc1{nullptr}, fc2{nullptr};
//   };
//   EMBER_MODULE(Net);
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/nn/state_dict.h"
#include "ember/tensor/error.h"
#include "ember/tensor/tensor.h"

namespace ember::nn {

template <class Contained> class ModuleHolder;

template <class T> struct is_module_holder : std::false_type {};
template <class T>
  requires requires { typename T::ContainedType; } && std::is_base_of_v<ModuleHolder<typename T::ContainedType>, T>
struct is_module_holder<T> : std::true_type {};

// What load_state_dict found when it was not strict.
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
  using NamedModules = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;

  Module() = default;
  virtual ~Module() = default;
  // A module owns its registrations; share it through a holder or shared_ptr instead of copying.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- registration (names are unique across parameters, buffers and children) ----
  // Makes `tensor` a parameter (a leaf; requires grad unless told otherwise) and returns it. An
  // undefined tensor registers an absent parameter (a layer without bias), skipped everywhere.
  Tensor register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  // State that is not trained (running statistics). Non-persistent buffers stay out of state_dict.
  Tensor register_buffer(std::string name, Tensor tensor, bool persistent = true);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: the type is not a Module");
    add_child(std::move(name), module);
    return module;
  }
  // With a handle, returns the handle: `fc1 = register_module("fc1", nn::Linear(784, 64));`
  template <class Holder>
    requires is_module_holder<std::decay_t<Holder>>::value
  std::decay_t<Holder> register_module(std::string name, Holder&& holder) {
    register_module(std::move(name), holder.ptr());
    return std::forward<Holder>(holder);
  }
  // Swaps the module registered under `name` (same rules as register_module).
  template <class M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
    replace_child(name, module);
    return module;
  }
  template <class Holder>
    requires is_module_holder<std::decay_t<Holder>>::value
  std::decay_t<Holder> replace_module(const std::string& name, Holder&& holder) {
    replace_module(name, holder.ptr());
    return std::forward<Holder>(holder);
  }

  // ---- traversal: registration order, each module before its children, shared tensors once ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  NamedModules named_children() const;
  // This module (named "") and every descendant, depth first.
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true);
  NamedModules named_modules(bool include_self = true);
  // Calls fn on every child (recursively) and then on this module, as PyTorch's Module.apply.
  void apply(const std::function<void(Module&)>& fn);

  // ---- mode ----
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- moving and zeroing ----
  // Moves every parameter and buffer, keeping the same Tensor objects (optimizers that hold them
  // stay valid); gradients move with them.
  void to(Device device, bool non_blocking = false);
  // Converts floating-point parameters and buffers (integer buffers keep their dtype).
  void to(DType dtype);
  void to(Device device, DType dtype, bool non_blocking = false);
  // set_to_none drops the gradients; otherwise they are zeroed in place.
  void zero_grad(bool set_to_none = true);

  // ---- checkpoints ----
  // Parameters then buffers of each module, then its children's, under dotted prefixes. The
  // values share storage with the module (detached).
  StateDict state_dict() const;
  // Copies values in without recording gradients. Every key must match when strict; shapes must
  // match always. Nothing is copied when an error is thrown.
  LoadStateDictResult load_state_dict(const StateDict& state_dict, bool strict = true);

  // ---- use ----
  // The single-tensor forward that Sequential chains. Modules whose forward takes other
  // arguments do not override it; calling it then throws.
  virtual Tensor forward(const Tensor& input);
  // "Linear": the class name without namespace and "Impl".
  virtual std::string name() const;
  // This module's own line, "Linear(in_features=784, out_features=10, bias=true)"; the children
  // are printed by operator<<.
  virtual void pretty_print(std::ostream& stream) const;

  // The module as a T (a module type or its holder), or null when it is not one.
  template <class T> auto* as() {
    if constexpr (is_module_holder<T>::value) return dynamic_cast<typename T::ContainedType*>(this);
    else return dynamic_cast<T*>(this);
  }
  template <class T> const auto* as() const {
    if constexpr (is_module_holder<T>::value) return dynamic_cast<const typename T::ContainedType*>(this);
    else return dynamic_cast<const T*>(this);
  }

 protected:
  // Children in registration order, for containers.
  const NamedModules& child_entries() const { return children_; }
  void add_child(std::string name, std::shared_ptr<Module> module);
  void replace_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  struct Buffer {
    std::string name;
    Tensor tensor;
    bool persistent = true;
  };

  void check_new_name(const std::string& name, const char* what) const;
  // Visits every (module, prefix) pair depth first, each module once.
  void visit(const std::string& prefix, std::vector<const Module*>& seen,
             const std::function<void(const std::string&, const Module&)>& fn) const;
  enum class TensorKind { Parameter, Buffer };
  // named_parameters / named_buffers: this module's tensors of one kind (with recurse, its
  // submodules' too), each defined tensor once.
  NamedTensors named_tensors(bool recurse, TensorKind kind) const;
  void collect_state(const std::string& prefix, StateDict& destination) const;
  // Applies convert to every parameter, buffer and gradient in place (set_data).
  void convert(const std::function<Tensor(const Tensor&)>& convert_tensor, bool floating_only);

  bool training_ = true;
  NamedTensors parameters_;
  std::vector<Buffer> buffers_;
  NamedModules children_;
};

// Prints the module like PyTorch's repr: its own line, then each child indented under "(name): ".
std::ostream& operator<<(std::ostream& stream, const Module& module);

// A shared handle to a module: `nn::Linear fc(784, 10); fc(x); fc->weight`. `nn::Linear fc{nullptr}`
// is an empty handle to assign later.
template <class Contained>
class ModuleHolder {
 public:
  using ContainedType = Contained;

  // Default-constructs the module when it has a default constructor (Sequential, ReLU, ...).
  ModuleHolder()
    requires std::is_default_constructible_v<Contained>
      : impl_(std::make_shared<Contained>()) {}
  ModuleHolder(std::nullptr_t) {}
  ModuleHolder(std::shared_ptr<Contained> module) : impl_(std::move(module)) {}
  // Builds the module from its constructor arguments (not from another handle: that copies).
  template <class Head, class... Tail>
    requires(!(sizeof...(Tail) == 0 && std::is_base_of_v<ModuleHolder, std::decay_t<Head>>) &&
             !(sizeof...(Tail) == 0 && std::is_same_v<std::decay_t<Head>, std::shared_ptr<Contained>>) &&
             std::is_constructible_v<Contained, Head, Tail...>)
  explicit ModuleHolder(Head&& head, Tail&&... tail)
      : impl_(std::make_shared<Contained>(std::forward<Head>(head), std::forward<Tail>(tail)...)) {}

  Contained* operator->() const { return get(); }
  Contained& operator*() const { return *get(); }
  Contained* get() const {
    EMBER_CHECK(impl_ != nullptr, "module: the handle is empty (made with nullptr); assign a module to it first");
    return impl_.get();
  }
  const std::shared_ptr<Contained>& ptr() const { return impl_; }
  bool is_empty() const { return impl_ == nullptr; }
  explicit operator bool() const { return impl_ != nullptr; }

  // Calls the module's forward with these arguments.
  template <class... Args> decltype(auto) operator()(Args&&... args) const {
    return get()->forward(std::forward<Args>(args)...);
  }
  // Indexes containers: seq[0], dict["fc"].
  template <class Key> decltype(auto) operator[](Key&& key) const { return (*get())[std::forward<Key>(key)]; }

 private:
  std::shared_ptr<Contained> impl_;
};

template <class Contained>
std::ostream& operator<<(std::ostream& stream, const ModuleHolder<Contained>& holder) {
  return stream << static_cast<const Module&>(*holder);
}

}  // namespace ember::nn

// Declares `Name`, the handle type for the module class `NameImpl`.
#define EMBER_MODULE(Name)                                                   \
  class Name : public ::ember::nn::ModuleHolder<Name##Impl> {                \
   public:                                                                   \
    using ::ember::nn::ModuleHolder<Name##Impl>::ModuleHolder;               \
  }

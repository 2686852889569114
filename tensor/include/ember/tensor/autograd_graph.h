#pragma once
// The recorded graph: what an op leaves behind so that autograd can run its gradient later.
//
// Ops live in the tensor library and record their backward next to their forward
// (`record_backward` below); the engine that walks the graph lives in `autograd/`. A node has one
// output (the tensor the op returned) and one edge per differentiable input.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember::autograd {

class Node;
using TensorList = std::vector<Tensor>;

// Thread-local switch: when off, ops record nothing (optimizer steps, evaluation).
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// Turns recording off for a scope (optimizer updates, evaluation), restoring the previous mode.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Turns recording back on inside a NoGradGuard scope.
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// Where a gradient goes: into `node` (the producer of an input, or a leaf's accumulator).
struct Edge {
  std::shared_ptr<Node> node;
  bool valid() const { return node != nullptr; }
};

// The shape, dtype and device an input had when the op ran; the engine reduces a broadcast
// gradient back to it and checks the rest.
struct InputInfo {
  DimVector sizes;
  DType dtype = kFloat32;
  Device device = kCPU;
};

using GradHook = std::function<Tensor(const Tensor&)>;         // may return undefined: keep the gradient
using PostAccumulateHook = std::function<void(const Tensor&)>;  // sees the leaf itself

// Hooks registered on one tensor; shared with its node so a handle can remove them later.
struct HookList {
  std::vector<std::pair<uint64_t, GradHook>> grad_hooks;
  std::vector<std::pair<uint64_t, PostAccumulateHook>> post_accumulate_hooks;
  uint64_t next_id = 0;
};

class Node {
 public:
  explicit Node(const char* name);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Gradients of the inputs (one per edge, undefined where none flows) from the output's gradient.
  virtual TensorList apply(const Tensor& grad_output) = 0;
  // Frees what was saved for the backward pass; a second backward then fails with a clear error.
  virtual void release_saved() {}
  virtual bool is_accumulator() const { return false; }

  const char* name() const { return name_; }
  uint64_t sequence_nr() const { return sequence_nr_; }
  const std::vector<Edge>& next_edges() const { return next_edges_; }
  const std::vector<InputInfo>& input_info() const { return input_info_; }
  // Hooks of the tensor this node produced (register_hook on a non-leaf).
  const std::shared_ptr<HookList>& output_hooks() const { return output_hooks_; }
  std::shared_ptr<HookList>& mutable_output_hooks() { return output_hooks_; }

  void add_input(const Tensor& input);

 protected:
  const char* name_;
  uint64_t sequence_nr_;
  std::vector<Edge> next_edges_;
  std::vector<InputInfo> input_info_;
  std::shared_ptr<HookList> output_hooks_;
};

// The node at a leaf that requires grad: sums incoming gradients into `.grad()`.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  TensorList apply(const Tensor& grad_output) override;
  bool is_accumulator() const override { return true; }
  Tensor leaf() const { return Tensor(leaf_); }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Per-tensor autograd state, allocated only for tensors that take part in autograd.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;                  // null for leaves
  std::weak_ptr<Node> grad_accumulator;           // a leaf's AccumulateGrad while a graph uses it
  std::shared_ptr<HookList> hooks;                // a leaf's hooks (a non-leaf's live on its grad_fn)
  HookHandle retain_grad_hook;                    // moves to the new grad_fn after an in-place op
  uint32_t rewrites_seen = 0;                     // a view's storage.recorded_rewrites when it was made
};

// A tensor kept for the backward pass, with the storage version it had then: using it after an
// in-place write raises the error PyTorch raises instead of computing a wrong gradient.
class SavedTensor {
 public:
  SavedTensor() = default;
  // Saves data only (no autograd history), so an output saved by its own node makes no cycle.
  explicit SavedTensor(const Tensor& tensor);
  Tensor unpack(const char* op) const;
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
};

// A node whose backward is a lambda written next to the op's forward.
template <class Backward>
class LambdaNode final : public Node {
 public:
  LambdaNode(const char* name, Backward backward) : Node(name), backward_(std::move(backward)) {}
  TensorList apply(const Tensor& grad_output) override;
  void release_saved() override { backward_.reset(); }

 private:
  std::optional<Backward> backward_;
};

[[noreturn]] void fail_released(const char* name);

template <class Backward>
TensorList LambdaNode<Backward>::apply(const Tensor& grad_output) {
  if (!backward_) fail_released(name_);
  return (*backward_)(grad_output);
}

// The edge a gradient for `tensor` flows into: its grad_fn, or its leaf accumulator.
Edge gradient_edge(const Tensor& tensor);

// Attaches `node` as the grad_fn of `output`: a fresh result, or the target of an in-place op
// (whose retained gradient then follows the new node).
void set_history(const Tensor& output, std::shared_ptr<Node> node);

// Records `backward` as the grad_fn of `output`. `backward(grad_output)` returns one gradient per
// input in order (undefined for inputs that need none); the engine reduces broadcast gradients to
// each input's shape and dtype. Inputs that do not require grad get no edge.
template <class Backward>
void record_backward(const char* name, const Tensor& output, std::initializer_list<const Tensor*> inputs,
                     Backward&& backward) {
  auto node = std::make_shared<LambdaNode<std::decay_t<Backward>>>(name, std::forward<Backward>(backward));
  for (const Tensor* input : inputs) node->add_input(*input);
  set_history(output, std::move(node));
}

// True when an op with these inputs must record a node.
inline bool requires_grad_any(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* input : inputs) {
    if (input->defined() && input->requires_grad()) return true;
  }
  return false;
}

// Sums `gradient` down to `sizes` (the inverse of broadcasting); returns it as is when it matches.
Tensor sum_to(const Tensor& gradient, IntArrayRef sizes);

}  // namespace ember::autograd

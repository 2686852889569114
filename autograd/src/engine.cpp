// The backward engine. It counts, for every node reachable from the roots, how many edges point
// at it; a node runs once all of those have delivered their gradient (summed in its buffer).
// Ready nodes run latest-recorded first, leaf accumulators before anything else, so a leaf's
// post-accumulate hook fires as early as the graph allows (data parallelism overlaps its
// all-reduce with the rest of backward from there). No recursion anywhere: a chain of 100,000
// ops needs no stack.
#include <algorithm>
#include <deque>
#include <queue>
#include <unordered_map>

#include "ember/autograd/autograd.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"

namespace ember::autograd {

namespace {

struct NodeState {
  int64_t dependencies = 0;
  Tensor buffer;
  bool queued = false;
  bool discovered = false;
  bool leads_to_capture = true;        // grad(): false when no captured node lies below this one
  std::vector<size_t> capture_indices;  // grad(): the inputs whose gradient arrives here
};

struct ReadyOrder {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

// The gradient `grad` for an input described by `info`, reduced and converted to match it.
Tensor conform(Tensor grad, const InputInfo& info, const Node& node) {
  if (grad.sizes() != IntArrayRef(info.sizes)) {
    const DimVector broadcast = broadcast_shapes(info.sizes, grad.sizes(), node.name());
    EMBER_CHECK(IntArrayRef(broadcast) == grad.sizes(),
                "{}: returned a gradient of shape {} for an input of shape {}", node.name(),
                to_string(grad.sizes()), to_string(info.sizes));
    grad = sum_to(grad, info.sizes);
  }
  if (grad.dtype() != info.dtype) grad = grad.to(info.dtype);
  if (grad.device() != info.device) grad = grad.to(info.device);
  return grad;
}

void accumulate(Tensor& buffer, Tensor grad) {
  // Out of place: an op may hand the same tensor to several inputs (add's backward does).
  buffer = buffer.defined() ? add(buffer, grad) : std::move(grad);
}

// Per-node state of one backward call. Small graphs (the common case for per-step overhead) are
// searched linearly; larger ones get a hash index.
class NodeStates {
 public:
  NodeState& operator[](Node* node) {
    if (index_.empty()) {
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i] == node) return states_[i];
      }
    } else if (const auto found = index_.find(node); found != index_.end()) {
      return states_[found->second];
    }
    nodes_.push_back(node);
    states_.emplace_back();
    if (!index_.empty()) {
      index_.emplace(node, nodes_.size() - 1);
    } else if (nodes_.size() > kLinearLimit) {
      for (size_t i = 0; i < nodes_.size(); ++i) index_.emplace(nodes_[i], i);
    }
    return states_.back();
  }

 private:
  static constexpr size_t kLinearLimit = 24;
  std::vector<Node*> nodes_;
  std::deque<NodeState> states_;  // stable addresses while growing
  std::unordered_map<Node*, size_t> index_;
};

class GraphTask {
 public:
  GraphTask(bool retain_graph) : retain_graph_(retain_graph) {}

  void add_root(const Edge& edge, Tensor grad) {
    keep_alive(edge.node);
    roots_.push_back(edge.node.get());
    accumulate(states_[edge.node.get()].buffer, std::move(grad));
  }

  // grad(): the gradient arriving at `node` is returned for input `index` instead of being applied.
  void capture(const std::shared_ptr<Node>& node, size_t index) {
    keep_alive(node);
    states_[node.get()].capture_indices.push_back(index);
  }

  std::vector<Tensor> run(size_t capture_count) {
    count_dependencies();
    if (capture_count > 0) mark_needed();
    captured_.resize(capture_count);
    std::priority_queue<Node*, std::vector<Node*>, ReadyOrder> ready;
    for (Node* root : roots_) {
      NodeState& state = states_[root];
      if (state.dependencies == 0 && !state.queued) {
        state.queued = true;
        ready.push(root);
      }
    }
    while (!ready.empty()) {
      Node* node = ready.top();
      ready.pop();
      execute(*node, ready);
    }
    return std::move(captured_);
  }

 private:
  void count_dependencies() {
    std::vector<Node*> stack;
    for (Node* root : roots_) {
      bool& discovered = states_[root].discovered;
      if (discovered) continue;
      discovered = true;
      visited_.push_back(root);
      stack.push_back(root);
    }
    while (!stack.empty()) {
      Node* node = stack.back();
      stack.pop_back();
      for (const Edge& edge : node->next_edges()) {
        Node* child = edge.node.get();
        if (child == nullptr) continue;
        NodeState& state = states_[child];
        ++state.dependencies;
        if (!state.discovered) {
          state.discovered = true;
          visited_.push_back(child);
          stack.push_back(child);
        }
      }
    }
  }

  // grad() runs a node only when a captured node lies below it.
  void mark_needed() {
    // Kahn's order over a copy of the counts lists every parent before its children.
    std::unordered_map<Node*, int64_t> remaining;
    for (Node* node : visited_) remaining[node] = states_[node].dependencies;
    std::vector<Node*> order, frontier;
    for (Node* node : visited_) {
      if (remaining[node] == 0) frontier.push_back(node);
    }
    while (!frontier.empty()) {
      Node* node = frontier.back();
      frontier.pop_back();
      order.push_back(node);
      for (const Edge& edge : node->next_edges()) {
        if (edge.node && --remaining[edge.node.get()] == 0) frontier.push_back(edge.node.get());
      }
    }
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      bool leads_to_capture = false;
      for (const Edge& edge : (*it)->next_edges()) {
        if (!edge.node) continue;
        const NodeState& child = states_[edge.node.get()];
        leads_to_capture = leads_to_capture || !child.capture_indices.empty() || child.leads_to_capture;
      }
      states_[*it].leads_to_capture = leads_to_capture;
    }
  }

  void execute(Node& node, std::priority_queue<Node*, std::vector<Node*>, ReadyOrder>& ready) {
    NodeState& state = states_[&node];
    Tensor grad = std::move(state.buffer);
    // As PyTorch 1.13: grad() returns what arrives, before the tensor's own hooks run.
    for (const size_t index : state.capture_indices) captured_[index] = grad;
    if (grad.defined() && node.output_hooks()) {
      // Copy: a hook may register or remove hooks.
      const auto hooks = node.output_hooks()->grad_hooks;
      for (const auto& [id, hook] : hooks) {
        Tensor replaced = hook(grad);
        if (replaced.defined()) grad = std::move(replaced);
      }
    }
    TensorList input_grads;
    const bool capturing = !captured_.empty();
    const bool skip = !grad.defined() || (capturing && (!state.leads_to_capture || node.is_accumulator()));
    if (!skip) {
      input_grads = node.apply(grad);
      grad = Tensor();
    }
    if (!retain_graph_ && !skip) node.release_saved();

    const std::vector<Edge>& edges = node.next_edges();
    EMBER_CHECK(input_grads.empty() || input_grads.size() == edges.size(),
                "{}: returned {} gradients for {} inputs", node.name(), input_grads.size(), edges.size());
    for (size_t i = 0; i < edges.size(); ++i) {
      Node* child = edges[i].node.get();
      if (child == nullptr) continue;
      NodeState& child_state = states_[child];
      if (!input_grads.empty() && input_grads[i].defined()) {
        accumulate(child_state.buffer, conform(std::move(input_grads[i]), node.input_info()[i], node));
      }
      if (--child_state.dependencies == 0 && !child_state.queued) {
        child_state.queued = true;
        ready.push(child);
      }
    }
  }

  // A leaf's accumulator is owned only by the graphs that reach it: one made for a root or a
  // captured input must live until the run ends.
  void keep_alive(const std::shared_ptr<Node>& node) { owned_.push_back(node); }

  bool retain_graph_;
  std::vector<std::shared_ptr<Node>> owned_;
  std::vector<Node*> roots_;
  std::vector<Node*> visited_;
  NodeStates states_;
  std::vector<Tensor> captured_;
};

// The roots' edges and gradients, checked as PyTorch checks them.
void add_roots(GraphTask& task, const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
               const char* op) {
  EMBER_CHECK(grad_tensors.empty() || grad_tensors.size() == tensors.size(),
              "{}: got {} tensors but {} gradients", op, tensors.size(), grad_tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& tensor = tensors[i];
    EMBER_CHECK(tensor.defined(), "{}: tensor {} is undefined", op, i);
    EMBER_CHECK(tensor.requires_grad(),
                "{}: tensor {} (shape {}) does not require grad and has no grad_fn: nothing to differentiate", op, i,
                to_string(tensor.sizes()));
    Tensor grad = grad_tensors.empty() ? Tensor() : grad_tensors[i];
    if (!grad.defined()) {
      EMBER_CHECK(tensor.numel() == 1,
                  "{}: a gradient can be created implicitly only for outputs with one element; tensor {} has shape "
                  "{}, so pass its gradient",
                  op, i, to_string(tensor.sizes()));
      grad = ones_like(tensor);
    } else {
      EMBER_CHECK(grad.sizes() == tensor.sizes(), "{}: gradient {} has shape {} but its tensor has shape {}", op, i,
                  to_string(grad.sizes()), to_string(tensor.sizes()));
      grad = grad.detach();
      if (grad.dtype() != tensor.dtype()) grad = grad.to(tensor.dtype());
    }
    task.add_root(gradient_edge(tensor), std::move(grad));
  }
}

}  // namespace

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors, bool retain_graph) {
  NoGradGuard no_grad;
  GraphTask task(retain_graph);
  add_roots(task, tensors, grad_tensors, "backward");
  task.run(0);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
  EMBER_CHECK(!inputs.empty(), "grad: no inputs given");
  NoGradGuard no_grad;
  GraphTask task(retain_graph);
  add_roots(task, outputs, grad_outputs, "grad");
  for (size_t i = 0; i < inputs.size(); ++i) {
    EMBER_CHECK(inputs[i].defined() && inputs[i].requires_grad(),
                "grad: input {} does not require grad, so it has no gradient", i);
    task.capture(gradient_edge(inputs[i]).node, i);
  }
  std::vector<Tensor> result = task.run(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EMBER_CHECK(allow_unused || result[i].defined(),
                "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true if that is "
                "expected",
                i, to_string(inputs[i].sizes()));
  }
  return result;
}

}  // namespace ember::autograd

namespace ember {

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{},
                     retain_graph);
}

}  // namespace ember

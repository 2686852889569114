// The recorded graph's pieces and the Tensor methods that read or change a tensor's autograd state.
#include "ember/tensor/autograd_graph.h"

#include <atomic>

#include "ember/tensor/elementwise.h"
#include "ember/tensor/reduction.h"

namespace ember {

// ---- TensorImpl's autograd slot ----

TensorImpl::TensorImpl() = default;
TensorImpl::~TensorImpl() = default;

autograd::AutogradMeta& TensorImpl::autograd_meta() {
  if (!autograd) autograd = std::make_unique<autograd::AutogradMeta>();
  return *autograd;
}

namespace autograd {

namespace {
thread_local bool grad_mode_enabled = true;
std::atomic<uint64_t> next_sequence_nr{0};

// Nodes being destroyed by the outermost ~Node on this thread; inner destructors hand their
// children over instead of recursing, so a 100,000-op chain is freed in a loop.
thread_local std::vector<std::shared_ptr<Node>>* nodes_to_release = nullptr;
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

Node::Node(const char* name) : name_(name), sequence_nr_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  if (nodes_to_release != nullptr) {
    for (Edge& edge : next_edges_) {
      if (edge.node) nodes_to_release->push_back(std::move(edge.node));
    }
    return;
  }
  std::vector<std::shared_ptr<Node>> pending;
  nodes_to_release = &pending;
  for (Edge& edge : next_edges_) {
    if (edge.node) pending.push_back(std::move(edge.node));
  }
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    node.reset();  // if this was the last owner, its destructor appends its children to `pending`
  }
  nodes_to_release = nullptr;
}

void Node::add_input(const Tensor& input) {
  next_edges_.push_back(input.defined() && input.requires_grad() ? gradient_edge(input) : Edge{});
  InputInfo info;
  if (input.defined()) {
    info.sizes = input.impl().sizes;
    info.dtype = input.dtype();
    info.device = input.device();
  }
  input_info_.push_back(std::move(info));
}

void fail_released(const char* name) {
  fail(
      "{}: trying to backward through the graph a second time (or to use its saved tensors after they were "
      "freed); pass retain_graph=true to the first backward if you need to backward twice",
      name);
}

// ---- AccumulateGrad ----

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node("AccumulateGrad"), leaf_(std::move(leaf)) {
  AutogradMeta& meta = leaf_->autograd_meta();
  if (!meta.hooks) meta.hooks = std::make_shared<HookList>();
  output_hooks_ = meta.hooks;
  // Run as soon as ready: a leaf's gradient is complete the moment its accumulator is reached,
  // and data parallelism starts its all-reduce from the post-accumulate hook.
  sequence_nr_ = UINT64_MAX;
}

TensorList AccumulateGrad::apply(const Tensor& grad_output) {
  AutogradMeta& meta = leaf_->autograd_meta();
  if (!meta.grad.defined()) {
    // Take the incoming tensor when nothing else can see it; otherwise own a copy, so later
    // accumulation never writes into another tensor's memory.
    const TensorImpl& incoming = grad_output.impl();
    const bool exclusive = grad_output.impl_ptr().use_count() == 1 && incoming.storage.use_count() == 1 &&
                           incoming.is_contiguous && incoming.storage_offset == 0 &&
                           incoming.storage->nbytes == static_cast<size_t>(grad_output.nbytes()) &&
                           !incoming.autograd;
    meta.grad = exclusive ? grad_output : grad_output.clone();
  } else {
    meta.grad.add_(grad_output);
  }
  if (meta.hooks) {
    const Tensor leaf(leaf_);
    // Copy: a hook may remove itself.
    const auto hooks = meta.hooks->post_accumulate_hooks;
    for (const auto& [id, hook] : hooks) hook(leaf);
  }
  return {};
}

// ---- edges, history, saved tensors ----

Edge gradient_edge(const Tensor& tensor) {
  AutogradMeta& meta = tensor.impl().autograd_meta();
  if (meta.grad_fn) {
    // PyTorch rebases a view's history when its base is modified in place; Ember does not, so
    // using such a view would give a silently wrong gradient.
    EMBER_CHECK(!tensor.impl().is_view || tensor.storage()->recorded_rewrites.load() == meta.rewrites_seen,
                "{}: this view (shape {}) was made before its base was modified by an in-place operation that "
                "autograd recorded, so its recorded history is stale; take the view again after the in-place "
                "operation, or use the out-of-place form of that operation",
                meta.grad_fn->name(), to_string(tensor.sizes()));
    return Edge{meta.grad_fn};
  }
  std::shared_ptr<Node> accumulator = meta.grad_accumulator.lock();
  if (!accumulator) {
    accumulator = std::make_shared<AccumulateGrad>(tensor.impl_ptr());
    meta.grad_accumulator = accumulator;
  }
  return Edge{std::move(accumulator)};
}

void set_history(const Tensor& output, std::shared_ptr<Node> node) {
  AutogradMeta& meta = output.impl().autograd_meta();
  // An in-place op gives the tensor a new grad_fn; a retained gradient follows it, as in PyTorch.
  const bool moves_retained_grad = meta.retains_grad && meta.grad_fn;
  if (moves_retained_grad) {
    meta.retain_grad_hook.remove();
    meta.retains_grad = false;
  }
  meta.grad_fn = std::move(node);
  if (output.impl().is_view) meta.rewrites_seen = output.storage()->recorded_rewrites.load();
  if (moves_retained_grad) output.retain_grad();
}

SavedTensor::SavedTensor(const Tensor& tensor) {
  if (!tensor.defined()) return;
  data_ = tensor.detach();
  version_ = tensor.version();
}

Tensor SavedTensor::unpack(const char* op) const {
  if (data_.defined() && data_.version() != version_) {
    fail(
        "{}: one of the tensors needed for gradient computation has been modified by an in-place operation: a "
        "tensor of shape {} and dtype {} is at version {}; expected version {}. Use the out-of-place form, or clone "
        "the tensor before modifying it",
        op, to_string(data_.sizes()), name(data_.dtype()), data_.version(), version_);
  }
  return data_;
}

Tensor sum_to(const Tensor& gradient, IntArrayRef sizes) {
  if (gradient.sizes() == sizes) return gradient;
  const int64_t leading = gradient.dim() - static_cast<int64_t>(sizes.size());
  EMBER_CHECK(leading >= 0, "sum_to: gradient of shape {} cannot be reduced to shape {}", to_string(gradient.sizes()),
              to_string(sizes));
  DimVector dims;
  for (int64_t d = 0; d < gradient.dim(); ++d) {
    if (d < leading) {
      dims.push_back(d);
      continue;
    }
    const int64_t target = sizes[d - leading];
    if (target == 1 && gradient.size(d) != 1) {
      dims.push_back(d);
    } else {
      EMBER_CHECK(target == gradient.size(d), "sum_to: gradient of shape {} cannot be reduced to shape {}",
                  to_string(gradient.sizes()), to_string(sizes));
    }
  }
  if (dims.empty()) return gradient.view(sizes);
  return sum(gradient, dims, /*keepdim=*/true).view(sizes);
}

}  // namespace autograd

// ---- hooks ----

void HookHandle::remove() {
  const std::shared_ptr<autograd::HookList> list = list_.lock();
  if (!list) return;
  std::erase_if(list->grad_hooks, [&](const auto& entry) { return entry.first == id_; });
  std::erase_if(list->post_accumulate_hooks, [&](const auto& entry) { return entry.first == id_; });
}

// ---- Tensor's autograd methods ----

bool Tensor::requires_grad() const {
  const autograd::AutogradMeta* meta = impl().autograd.get();
  return meta != nullptr && (meta->requires_grad || meta->grad_fn != nullptr);
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  EMBER_CHECK(is_leaf() || requires_grad,
              "requires_grad_: can only change the flag of leaf tensors; this one was made by {} (use detach())",
              grad_fn()->name());
  EMBER_CHECK(!requires_grad || is_floating_point(),
              "requires_grad_: only floating-point tensors can require gradients, this one has dtype {}",
              name(dtype()));
  if (!requires_grad && !impl().autograd) return *this;
  impl().autograd_meta().requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const {
  const autograd::AutogradMeta* meta = impl().autograd.get();
  return meta == nullptr || meta->grad_fn == nullptr;
}

const Tensor& Tensor::grad() const {
  static const Tensor undefined;
  const autograd::AutogradMeta* meta = impl().autograd.get();
  return meta != nullptr ? meta->grad : undefined;
}

Tensor& Tensor::mutable_grad() const { return impl().autograd_meta().grad; }

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const autograd::AutogradMeta* meta = impl().autograd.get();
  return meta != nullptr ? meta->grad_fn : nullptr;
}

Tensor Tensor::detach() const {
  Tensor result = make_tensor(storage(), sizes(), strides(), storage_offset(), dtype());
  result.impl().is_wrapped_number = impl().is_wrapped_number;
  result.impl().is_view = true;
  return result;
}

void Tensor::set_data(const Tensor& other) const {
  EMBER_CHECK(other.defined(), "set_data: the new data is an undefined tensor");
  TensorImpl& target = impl();
  const TensorImpl& source = other.impl();
  target.storage = source.storage;
  target.sizes = source.sizes;
  target.strides = source.strides;
  target.storage_offset = source.storage_offset;
  target.dtype = source.dtype;
  target.is_view = source.is_view;
  target.refresh_metadata();
}

bool Tensor::retains_grad() const {
  const autograd::AutogradMeta* meta = impl().autograd.get();
  return meta != nullptr && meta->retains_grad;
}

void Tensor::retain_grad() const {
  EMBER_CHECK(requires_grad(), "retain_grad: the tensor (shape {}) does not require grad", ember::to_string(sizes()));
  if (is_leaf() || retains_grad()) return;
  impl().autograd_meta().retains_grad = true;
  std::weak_ptr<TensorImpl> weak_self = impl_ptr();
  impl().autograd_meta().retain_grad_hook = register_grad_hook([weak_self](const Tensor& grad) {
    if (const std::shared_ptr<TensorImpl> self = weak_self.lock()) {
      Tensor& stored = self->autograd_meta().grad;
      if (stored.defined()) stored = stored + grad;
      else stored = grad.clone();
    }
    return Tensor();
  });
}

HookHandle Tensor::register_grad_hook(std::function<Tensor(const Tensor&)> hook) const {
  EMBER_CHECK(requires_grad(), "register_hook: cannot register a hook on a tensor (shape {}) that does not require grad",
              ember::to_string(sizes()));
  autograd::AutogradMeta& meta = impl().autograd_meta();
  std::shared_ptr<autograd::HookList>& list = meta.grad_fn ? meta.grad_fn->mutable_output_hooks() : meta.hooks;
  if (!list) list = std::make_shared<autograd::HookList>();
  const uint64_t id = list->next_id++;
  list->grad_hooks.emplace_back(id, std::move(hook));
  return HookHandle(list, id);
}

HookHandle Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const {
  EMBER_CHECK(is_leaf() && requires_grad(),
              "register_post_accumulate_grad_hook: only leaf tensors that require grad accumulate a gradient; "
              "this one (shape {}) {}",
              ember::to_string(sizes()), is_leaf() ? "does not require grad" : "is not a leaf");
  autograd::AutogradMeta& meta = impl().autograd_meta();
  if (!meta.hooks) meta.hooks = std::make_shared<autograd::HookList>();
  const uint64_t id = meta.hooks->next_id++;
  meta.hooks->post_accumulate_hooks.emplace_back(id, std::move(hook));
  return HookHandle(meta.hooks, id);
}

}  // namespace ember

// Gathering, scattering and joining, written once for every device: argument and index checks
// here, the four gather/scatter primitives in the backends, and cat, stack, split, chunk and
// one_hot composed from views, copy_ and elementwise ops. Each gather has the matching scatter
// as its gradient and the other way round; cat and stack hand each input its slice of the
// gradient. split and chunk return views, whose gradients come with the views.
#include "ember/tensor/indexing.h"

#include <algorithm>
#include <numeric>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "kernels/backend.h"
#include "ops/elementwise_support.h"

namespace ember {
namespace {

void check_defined(const Tensor& tensor, const char* op, const char* role) {
  EMBER_CHECK(tensor.defined(), "{}: the {} is an undefined tensor", op, role);
}

void check_same_device(const Tensor& input, const Tensor& other, const char* op, const char* role) {
  EMBER_CHECK(input.device() == other.device(), "{}: the {} is on {} but the input is on {}", op, role,
              other.device().str(), input.device().str());
}

// Kernels see 0-dim tensors as one-element vectors; views, so writes reach the original.
Tensor at_least_1d(const Tensor& tensor) { return tensor.dim() == 0 ? tensor.unsqueeze(0) : tensor; }
int64_t rank_at_least_1(const Tensor& tensor) { return std::max<int64_t>(tensor.dim(), 1); }

Tensor index_as_int64(const Tensor& index, const char* op) {
  EMBER_CHECK(index.dtype() == kInt64 || index.dtype() == kInt32, "{}: the index must be int64 or int32, got {}", op,
              name(index.dtype()));
  return index.to(kInt64);
}

// The index's values on the host, row-major. Range checks run here for every device, so the
// kernels can trust what they are given.
Tensor host_values(const Tensor& index) { return index.cpu().to(kInt64).contiguous(); }

void check_index_range(const Tensor& index, int64_t size, int64_t dim, const char* op) {
  if (index.numel() == 0) return;
  const Tensor host = host_values(index);
  const int64_t* values = host.data_ptr<int64_t>();
  for (int64_t i = 0; i < host.numel(); ++i) {
    EMBER_CHECK(values[i] >= 0 && values[i] < size,
                "{}: index {} is out of range for dim {} of size {} (expected 0 <= index < {})", op, values[i], dim,
                size, size);
  }
}

// A scatter's destination must not alias itself, or one write would land in several places.
void check_writable(const Tensor& destination, const char* op) {
  for (int64_t d = 0; d < destination.dim(); ++d) {
    EMBER_CHECK(destination.size(d) <= 1 || destination.stride(d) != 0,
                "{}: the input (shape {}, strides {}) has elements that share memory; clone it first", op,
                to_string(destination.sizes()), to_string(destination.strides()));
  }
}

// An operand read while `destination` is written must not share its memory.
Tensor detached_from(const Tensor& operand, const Tensor& destination) {
  return operand.shares_storage_with(destination) ? operand.clone() : operand;
}

// What scatter_add and index_add both require of their operands; returns the wrapped dim.
int64_t check_accumulate_operands(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                                  const char* op) {
  check_defined(self, op, "input");
  check_defined(index, op, "index");
  check_defined(source, op, "source");
  dim = wrap_dim(dim, self.dim(), op);
  check_same_device(self, index, op, "index");
  check_same_device(self, source, op, "source");
  EMBER_CHECK(source.dtype() == self.dtype(), "{}: the source has dtype {} but the input has dtype {}", op,
              name(source.dtype()), name(self.dtype()));
  return dim;
}

void scatter_add_into(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source, const char* op) {
  dim = check_accumulate_operands(self, dim, index, source, op);
  const Tensor index64 = index_as_int64(index, op);
  EMBER_CHECK(rank_at_least_1(index) == rank_at_least_1(self) && rank_at_least_1(source) == rank_at_least_1(self),
              "{}: input, index and source must have the same number of dims, got shapes {}, {} and {}", op,
              to_string(self.sizes()), to_string(index.sizes()), to_string(source.sizes()));
  const Tensor destination = at_least_1d(self), index1 = at_least_1d(index64), source1 = at_least_1d(source);
  for (int64_t d = 0; d < destination.dim(); ++d) {
    EMBER_CHECK(index1.size(d) <= source1.size(d) && (d == dim || index1.size(d) <= destination.size(d)),
                "{}: index shape {} must not exceed the source shape {} at any dim, nor the input shape {} at dims "
                "other than {} (dim {} differs)",
                op, to_string(index.sizes()), to_string(source.sizes()), to_string(self.sizes()), dim, d);
  }
  check_index_range(index1, destination.size(dim), dim, op);
  check_writable(destination, op);
  self.bump_version();
  if (index1.numel() == 0) return;
  kernels::backend(self.device())
      .scatter_add({destination, detached_from(index1, self), detached_from(source1, self), dim});
}

void index_add_into(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source, const char* op) {
  dim = check_accumulate_operands(self, dim, index, source, op);
  EMBER_CHECK(index.dim() <= 1, "{}: the index must be 1-D or 0-dim, got shape {}", op, to_string(index.sizes()));
  const Tensor index64 = at_least_1d(index_as_int64(index, op));
  EMBER_CHECK(rank_at_least_1(source) == rank_at_least_1(self),
              "{}: the source (shape {}) must have the input's number of dims (shape {})", op,
              to_string(source.sizes()), to_string(self.sizes()));
  const Tensor destination = at_least_1d(self), source1 = at_least_1d(source);
  EMBER_CHECK(source1.size(dim) == index64.numel(),
              "{}: the index has {} entries but the source has size {} along dim {}", op, index64.numel(),
              source1.size(dim), dim);
  for (int64_t d = 0; d < destination.dim(); ++d) {
    EMBER_CHECK(d == dim || source1.size(d) == destination.size(d),
                "{}: the source shape {} must match the input shape {} except along dim {} (dim {} differs)", op,
                to_string(source.sizes()), to_string(self.sizes()), dim, d);
  }
  check_index_range(index64, destination.size(dim), dim, op);
  check_writable(destination, op);
  self.bump_version();
  if (source1.numel() == 0) return;
  kernels::backend(self.device())
      .index_add({destination, detached_from(index64, self), detached_from(source1, self), dim});
}

using autograd::SavedTensor;
using autograd::TensorList;

// True when an op over a list of tensors must record a node.
bool any_requires_grad(const std::vector<Tensor>& tensors) {
  if (!autograd::GradMode::is_enabled()) return false;
  return std::any_of(tensors.begin(), tensors.end(),
                     [](const Tensor& tensor) { return tensor.defined() && tensor.requires_grad(); });
}

// record_backward for a variable number of inputs.
template <class Backward>
void record_list_backward(const char* name, const Tensor& output, const std::vector<Tensor>& inputs,
                          Backward&& backward) {
  auto node = std::make_shared<autograd::LambdaNode<std::decay_t<Backward>>>(name, std::forward<Backward>(backward));
  for (const Tensor& input : inputs) node->add_input(input);
  autograd::set_history(output, std::move(node));
}

}  // namespace

// ---- gather and scatter ----

Tensor index_select(const Tensor& input, int64_t dim, const Tensor& index) {
  constexpr const char* op = "index_select";
  check_defined(input, op, "input");
  check_defined(index, op, "index");
  dim = wrap_dim(dim, input.dim(), op);
  check_same_device(input, index, op, "index");
  EMBER_CHECK(index.dim() <= 1, "index_select: the index must be 1-D or 0-dim, got shape {}", to_string(index.sizes()));
  const Tensor index64 = at_least_1d(index_as_int64(index, op));
  // PyTorch returns one element for any number of indices into a 0-dim input; one is asked for.
  EMBER_CHECK(input.dim() > 0 || index64.numel() == 1,
              "index_select: a 0-dim input takes exactly one index, got {} (index shape {})", index64.numel(),
              to_string(index.sizes()));
  Tensor result;
  {
    autograd::NoGradGuard internal_views;
    const Tensor source = at_least_1d(input);
    check_index_range(index64, source.size(dim), dim, op);
    DimVector shape = source.shape();
    shape[dim] = index64.numel();
    Tensor output = empty(shape, input.options());
    if (output.numel() > 0) kernels::backend(input.device()).index_select({source, index64, output, dim});
    result = input.dim() == 0 ? output.squeeze(0) : output;
  }
  if (autograd::requires_grad_any({&input})) {
    // Repeated indices take the gradient of every output slice they produced: index_add.
    autograd::record_backward("IndexSelectBackward0", result, {&input},
                              [index_saved = SavedTensor(index), sizes = input.shape(), dim](const Tensor& grad) {
                                Tensor grad_input = zeros(sizes, grad.options());
                                grad_input.index_add_(dim, index_saved.unpack("IndexSelectBackward0"), grad);
                                return TensorList{grad_input};
                              });
  }
  return result;
}

Tensor gather(const Tensor& input, int64_t dim, const Tensor& index) {
  constexpr const char* op = "gather";
  check_defined(input, op, "input");
  check_defined(index, op, "index");
  dim = wrap_dim(dim, input.dim(), op);
  check_same_device(input, index, op, "index");
  const Tensor index64 = index_as_int64(index, op);
  EMBER_CHECK(rank_at_least_1(index) == rank_at_least_1(input),
              "gather: the index (shape {}) must have the input's number of dims (shape {})", to_string(index.sizes()),
              to_string(input.sizes()));
  Tensor output = empty(index.sizes(), input.options());
  {
    autograd::NoGradGuard internal_views;
    const Tensor source = at_least_1d(input), index1 = at_least_1d(index64);
    for (int64_t d = 0; d < source.dim(); ++d) {
      EMBER_CHECK(d == dim || index1.size(d) <= source.size(d),
                  "gather: index shape {} exceeds input shape {} at dim {} (only dim {} may be larger)",
                  to_string(index.sizes()), to_string(input.sizes()), d, dim);
    }
    check_index_range(index1, source.size(dim), dim, op);
    if (output.numel() > 0) kernels::backend(input.device()).gather({source, index1, at_least_1d(output), dim});
  }
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward("GatherBackward0", output, {&input},
                              [index_saved = SavedTensor(index), sizes = input.shape(), dim](const Tensor& grad) {
                                Tensor grad_input = zeros(sizes, grad.options());
                                grad_input.scatter_add_(dim, index_saved.unpack("GatherBackward0"), grad);
                                return TensorList{grad_input};
                              });
  }
  return output;
}

namespace {

// The input's gradient passes through; the source's is the gradient gathered where each source
// element was added. An index smaller than the source reads only part of it: the rest gets 0.
void record_scatter_add(const Tensor& result, const Tensor& input, int64_t dim, const Tensor& index,
                        const Tensor& source) {
  autograd::record_backward(
      "ScatterAddBackward0", result, {&input, &source},
      [index_saved = source.requires_grad() ? SavedTensor(index) : SavedTensor(), source_sizes = source.shape(),
       dim = wrap_dim(dim, input.dim(), "scatter_add")](const Tensor& grad) {
        Tensor grad_source;
        if (index_saved.defined()) {
          const Tensor index = index_saved.unpack("ScatterAddBackward0");
          grad_source = gather(grad, dim, index);
          if (grad_source.sizes() != IntArrayRef(source_sizes)) {
            Tensor padded = zeros(source_sizes, grad.options());
            Tensor covered = padded;
            for (int64_t d = 0; d < index.dim(); ++d) covered = covered.narrow(d, 0, index.size(d));
            covered.copy_(grad_source);
            grad_source = padded;
          }
        }
        return TensorList{grad, grad_source};
      });
}

// The input's gradient passes through; the source's is the gradient at the slices it was
// added to.
void record_index_add(const Tensor& result, const Tensor& input, int64_t dim, const Tensor& index,
                      const Tensor& source) {
  autograd::record_backward(
      "IndexAddBackward0", result, {&input, &source},
      [index_saved = source.requires_grad() ? SavedTensor(index) : SavedTensor(), source_sizes = source.shape(),
       dim = wrap_dim(dim, input.dim(), "index_add")](const Tensor& grad) {
        Tensor grad_source;
        if (index_saved.defined()) {
          grad_source = index_select(grad, dim, index_saved.unpack("IndexAddBackward0")).reshape(source_sizes);
        }
        return TensorList{grad, grad_source};
      });
}

}  // namespace

Tensor scatter_add(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& source) {
  check_defined(input, "scatter_add", "input");
  Tensor result = ops::clone_values(input);
  scatter_add_into(result, dim, index, source, "scatter_add");
  if (autograd::requires_grad_any({&input, &source})) record_scatter_add(result, input, dim, index, source);
  return result;
}

Tensor index_add(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& source) {
  check_defined(input, "index_add", "input");
  Tensor result = ops::clone_values(input);
  index_add_into(result, dim, index, source, "index_add");
  if (autograd::requires_grad_any({&input, &source})) record_index_add(result, input, dim, index, source);
  return result;
}

// The in-place forms record the same node, whose input is self's previous history.
Tensor& Tensor::scatter_add_(int64_t dim, const Tensor& index, const Tensor& source) {
  const bool record = ops::check_inplace(*this, {&source}, "scatter_add_");
  scatter_add_into(*this, dim, index, source, "scatter_add_");
  if (record) record_scatter_add(*this, *this, dim, index, source);
  return *this;
}

Tensor& Tensor::index_add_(int64_t dim, const Tensor& index, const Tensor& source) {
  const bool record = ops::check_inplace(*this, {&source}, "index_add_");
  index_add_into(*this, dim, index, source, "index_add_");
  if (record) record_index_add(*this, *this, dim, index, source);
  return *this;
}

// ---- joining ----

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  DType dtype = tensors.front().dtype();
  const Device device = tensors.front().device();
  // PyTorch's legacy rule: 1-D empty tensors are skipped whatever the others' shapes, though
  // their dtype still takes part in promotion.
  auto skipped = [](const Tensor& tensor) { return tensor.dim() == 1 && tensor.numel() == 0; };
  std::optional<size_t> reference;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& tensor = tensors[i];
    EMBER_CHECK(tensor.defined(), "cat: tensor {} is undefined", i);
    EMBER_CHECK(tensor.dim() > 0, "cat: tensor {} is 0-dim and cannot be concatenated; unsqueeze it first", i);
    EMBER_CHECK(tensor.device() == device,
                "cat: expected all tensors on the same device, tensor 0 is on {} but tensor {} is on {}", device.str(),
                i, tensor.device().str());
    dtype = promote_types(dtype, tensor.dtype());
    if (!reference && !skipped(tensor)) reference = i;
  }
  if (!reference) return empty({0}, TensorOptions(dtype).device(device));
  const Tensor& first = tensors[*reference];
  dim = wrap_dim(dim, first.dim(), "cat");
  DimVector shape = first.shape();
  shape[dim] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& tensor = tensors[i];
    if (skipped(tensor)) continue;
    EMBER_CHECK(tensor.dim() == first.dim(),
                "cat: tensors must have the same number of dims, but tensor {} has shape {} and tensor {} has shape {}",
                *reference, to_string(first.sizes()), i, to_string(tensor.sizes()));
    for (int64_t d = 0; d < first.dim(); ++d) {
      EMBER_CHECK(d == dim || tensor.size(d) == first.size(d),
                  "cat: sizes must match except along dim {}, but tensor {} has shape {} and tensor {} has shape {}",
                  dim, *reference, to_string(first.sizes()), i, to_string(tensor.sizes()));
    }
    shape[dim] += tensor.size(dim);
  }
  Tensor output = empty(shape, TensorOptions(dtype).device(device));
  if (output.numel() > 0) {
    autograd::NoGradGuard no_grad;
    int64_t offset = 0;
    for (const Tensor& tensor : tensors) {
      if (skipped(tensor)) continue;
      const int64_t length = tensor.size(dim);
      if (length > 0) output.narrow(dim, offset, length).copy_(tensor);
      offset += length;
    }
  }
  if (any_requires_grad(tensors)) {
    // Each input's gradient is its slice of the output's, a view: no copy.
    std::vector<int64_t> lengths;
    for (const Tensor& tensor : tensors) lengths.push_back(skipped(tensor) ? -1 : tensor.size(dim));
    record_list_backward("CatBackward0", output, tensors, [lengths = std::move(lengths), dim](const Tensor& grad) {
      TensorList grads;
      grads.reserve(lengths.size());
      int64_t offset = 0;
      for (const int64_t length : lengths) {
        if (length < 0) {
          grads.push_back(empty({0}, grad.options()));
          continue;
        }
        grads.push_back(grad.narrow(dim, offset, length));
        offset += length;
      }
      return grads;
    });
  }
  return output;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    EMBER_CHECK(tensors[i].defined(), "stack: tensor {} is undefined", i);
    EMBER_CHECK(tensors[i].sizes() == tensors.front().sizes(),
                "stack: expects every tensor to have the same shape, but tensor 0 has shape {} and tensor {} has "
                "shape {}",
                to_string(tensors.front().sizes()), i, to_string(tensors[i].sizes()));
  }
  dim = wrap_dim(dim, tensors.front().dim() + 1, "stack");
  Tensor result;
  {
    autograd::NoGradGuard no_grad;
    std::vector<Tensor> expanded;
    expanded.reserve(tensors.size());
    for (const Tensor& tensor : tensors) expanded.push_back(tensor.unsqueeze(dim));
    result = cat(expanded, dim);
  }
  if (any_requires_grad(tensors)) {
    record_list_backward("StackBackward0", result, tensors, [count = tensors.size(), dim](const Tensor& grad) {
      TensorList grads;
      grads.reserve(count);
      for (size_t i = 0; i < count; ++i) grads.push_back(grad.select(dim, static_cast<int64_t>(i)));
      return grads;
    });
  }
  return result;
}

// ---- splitting: views into the input ----

std::vector<Tensor> split(const Tensor& input, int64_t split_size, int64_t dim) {
  check_defined(input, "split", "input");
  EMBER_CHECK(input.dim() > 0, "split: expects a tensor with at least 1 dim, got a 0-dim tensor");
  dim = wrap_dim(dim, input.dim(), "split");
  EMBER_CHECK(split_size >= 0, "split: split_size must be non-negative, got {}", split_size);
  const int64_t size = input.size(dim);
  EMBER_CHECK(split_size > 0 || size == 0, "split: split_size can only be 0 when dim {} has size 0, but it has size {}",
              dim, size);
  const int64_t count = split_size == 0 ? 1 : std::max<int64_t>((size + split_size - 1) / split_size, 1);
  std::vector<Tensor> parts;
  parts.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t start = i * split_size;
    parts.push_back(input.narrow(dim, start, std::min(split_size, size - start)));
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& input, const std::vector<int64_t>& split_sizes, int64_t dim) {
  check_defined(input, "split", "input");
  EMBER_CHECK(input.dim() > 0, "split: expects a tensor with at least 1 dim, got a 0-dim tensor");
  dim = wrap_dim(dim, input.dim(), "split");
  const int64_t size = input.size(dim);
  for (int64_t part : split_sizes) {
    EMBER_CHECK(part >= 0, "split: split sizes must be non-negative, got {} in {}", part, to_string(split_sizes));
  }
  const int64_t total = std::accumulate(split_sizes.begin(), split_sizes.end(), int64_t{0});
  EMBER_CHECK(total == size, "split: split sizes {} sum to {} but dim {} has size {}", to_string(split_sizes), total,
              dim, size);
  std::vector<Tensor> parts;
  parts.reserve(split_sizes.size());
  int64_t start = 0;
  for (int64_t part : split_sizes) {
    parts.push_back(input.narrow(dim, start, part));
    start += part;
  }
  return parts;
}

std::vector<Tensor> chunk(const Tensor& input, int64_t chunks, int64_t dim) {
  check_defined(input, "chunk", "input");
  EMBER_CHECK(input.dim() > 0, "chunk: expects a tensor with at least 1 dim, got a 0-dim tensor");
  EMBER_CHECK(chunks > 0, "chunk: chunks must be positive, got {}", chunks);
  dim = wrap_dim(dim, input.dim(), "chunk");
  const int64_t size = input.size(dim);
  // As PyTorch: chunks of ceil(size / chunks), so there may be fewer than asked for, except
  // that an empty dim yields `chunks` empty pieces.
  if (size == 0) return split(input, std::vector<int64_t>(static_cast<size_t>(chunks), 0), dim);
  return split(input, (size + chunks - 1) / chunks, dim);
}

// ---- one_hot ----

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  check_defined(indices, "one_hot", "indices");
  EMBER_CHECK(indices.dtype() == kInt64, "one_hot: the indices must be int64, got {}", name(indices.dtype()));
  EMBER_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (inferred) or non-negative, got {}", num_classes);
  if (indices.numel() == 0) {
    EMBER_CHECK(num_classes > 0, "one_hot: cannot infer the number of classes from an empty tensor (shape {}); pass "
                "num_classes > 0", to_string(indices.sizes()));
  } else {
    const Tensor host = host_values(indices);
    const int64_t* values = host.data_ptr<int64_t>();
    int64_t largest = 0;
    for (int64_t i = 0; i < host.numel(); ++i) {
      EMBER_CHECK(values[i] >= 0, "one_hot: class index {} is negative; class indices must be non-negative", values[i]);
      EMBER_CHECK(num_classes == -1 || values[i] < num_classes,
                  "one_hot: class index {} is out of range for num_classes {} (expected 0 <= index < {})", values[i],
                  num_classes, num_classes);
      largest = std::max(largest, values[i]);
    }
    if (num_classes == -1) num_classes = largest + 1;
  }
  const Tensor classes = arange(num_classes, TensorOptions(kInt64).device(indices.device()));
  return eq(indices.unsqueeze(-1), classes).to(kInt64);
}

}  // namespace ember

// Tensor metadata, views and conversions. Views never copy; they build a new TensorImpl over the
// same storage. Each view or copy records its gradient next to it: a view's maps the output's
// gradient back onto the input's shape.
#include "ember/tensor/tensor.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/indexing.h"
#include "kernels/backend.h"
#include "kernels/device_copy.h"
#include "ops/elementwise_support.h"

namespace ember {

void TensorImpl::refresh_metadata() {
  // Sizes were validated where they were made; only an empty tensor's other dims may multiply
  // past int64 (its numel is 0 whatever they are).
  numel = std::find(sizes.begin(), sizes.end(), 0) != sizes.end() ? 0 : product(sizes);
  is_contiguous = true;
  if (numel == 0) return;
  int64_t expected = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] == 1) continue;
    if (strides[i] != expected) {
      is_contiguous = false;
      return;
    }
    expected *= sizes[i];
  }
}

Tensor make_tensor(Storage storage, IntArrayRef sizes, IntArrayRef strides, int64_t storage_offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes.assign(sizes.begin(), sizes.end());
  impl->strides.assign(strides.begin(), strides.end());
  impl->storage_offset = storage_offset;
  impl->dtype = dtype;
  impl->refresh_metadata();
  return Tensor(std::move(impl));
}

DimVector contiguous_strides(IntArrayRef sizes) {
  DimVector strides(sizes.size());
  int64_t stride = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    // Only an empty tensor can get here with sizes whose product overflows; its strides are
    // never used to address memory, so saturating is safe.
    if (__builtin_mul_overflow(stride, std::max<int64_t>(sizes[i], 1), &stride)) stride = INT64_MAX;
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t range = std::max<int64_t>(ndim, 1);  // 0-dim tensors accept dim 0 and -1
  EMBER_CHECK(dim >= -range && dim < range, "{}: dim {} is out of range for a tensor of {} dims (expected [{}, {}])",
              op, dim, ndim, -range, range - 1);
  return dim < 0 ? dim + range : dim;
}

namespace {

// The strides that let `sizes` view memory laid out as (old_sizes, old_strides), if any exist
// (the chunk-matching rule PyTorch's view uses).
std::optional<DimVector> view_strides(IntArrayRef old_sizes, IntArrayRef old_strides, IntArrayRef sizes) {
  DimVector strides(sizes.size());
  if (product(old_sizes) == 0) return contiguous_strides(sizes);
  const int64_t one = 1;
  if (old_sizes.empty()) {
    old_sizes = IntArrayRef(&one, 1);
    old_strides = IntArrayRef(&one, 1);
  }
  int64_t view_dim = static_cast<int64_t>(sizes.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_dim = static_cast<int64_t>(old_sizes.size()) - 1; tensor_dim >= 0; --tensor_dim) {
    tensor_numel *= old_sizes[tensor_dim];
    const bool chunk_ends = tensor_dim == 0 || (old_sizes[tensor_dim - 1] != 1 &&
                                                old_strides[tensor_dim - 1] != tensor_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_dim >= 0 && (view_numel < tensor_numel || sizes[view_dim] == 1)) {
      strides[view_dim] = view_numel * chunk_base_stride;
      view_numel *= sizes[view_dim];
      --view_dim;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (tensor_dim > 0) {
      chunk_base_stride = old_strides[tensor_dim - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_dim != -1) return std::nullopt;
  return strides;
}

// Resolves one -1 in sizes and checks the element count.
DimVector infer_sizes(IntArrayRef sizes, int64_t numel, const char* op) {
  DimVector result(sizes.begin(), sizes.end());
  int64_t known = 1;
  std::optional<size_t> inferred;
  for (size_t i = 0; i < result.size(); ++i) {
    if (result[i] == -1) {
      EMBER_CHECK(!inferred, "{}: only one dimension can be inferred, got shape {}", op, ember::to_string(sizes));
      inferred = i;
    } else {
      EMBER_CHECK(result[i] >= 0, "{}: invalid shape dimension {} in {}", op, result[i], ember::to_string(sizes));
      EMBER_CHECK(!__builtin_mul_overflow(known, result[i], &known), "{}: shape {} overflows int64", op,
                  ember::to_string(sizes));
    }
  }
  if (inferred) {
    EMBER_CHECK(known != 0 && numel % known == 0, "{}: shape {} is invalid for input of size {}", op,
                ember::to_string(sizes), numel);
    result[*inferred] = numel / known;
  } else {
    EMBER_CHECK(known == numel, "{}: shape {} is invalid for input of size {}", op, ember::to_string(sizes), numel);
  }
  return result;
}

Tensor restride(const Tensor& self, IntArrayRef sizes, IntArrayRef strides, int64_t offset) {
  Tensor view = make_tensor(self.storage(), sizes, strides, offset, self.dtype());
  view.impl().is_view = true;
  return view;
}

using autograd::TensorList;

// Records the node of a view or copy of `self`: backward(grad) is self's gradient.
template <class Backward>
Tensor with_grad(const char* node_name, Tensor result, const Tensor& self, Backward backward) {
  if (autograd::requires_grad_any({&self})) {
    autograd::record_backward(node_name, result, {&self}, [backward = std::move(backward)](const Tensor& grad) {
      return TensorList{backward(grad)};
    });
  }
  return result;
}

Tensor pass_gradient(const Tensor& grad) { return grad; }

// The gradient of a slice or select: zeros of the input's shape with the output's gradient
// written where the view was taken from (`place` makes the same view of the zeros).
template <class Place>
auto scatter_into_zeros(DimVector input_sizes, Place place) {
  return [input_sizes = std::move(input_sizes), place](const Tensor& grad) {
    Tensor result = zeros(input_sizes, grad.options());
    ops::copy_values(place(result), grad);
    return result;
  };
}

}  // namespace

int64_t Tensor::size(int64_t dim) const {
  return impl().sizes[wrap_dim(dim, this->dim(), "size")];
}

int64_t Tensor::stride(int64_t dim) const {
  return impl().strides[wrap_dim(dim, this->dim(), "stride")];
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(storage()->data.get()) + storage_offset() * element_size();
}

Tensor Tensor::view(IntArrayRef sizes) const {
  const DimVector inferred = infer_sizes(sizes, numel(), "view");
  const auto strides = view_strides(this->sizes(), this->strides(), inferred);
  EMBER_CHECK(strides.has_value(),
              "view: shape {} is not compatible with input of shape {} and strides {} (a dimension spans two "
              "non-contiguous chunks); use reshape instead",
              ember::to_string(inferred), ember::to_string(this->sizes()), ember::to_string(this->strides()));
  return with_grad("ViewBackward0", restride(*this, inferred, *strides, storage_offset()), *this,
                   [input_sizes = shape()](const Tensor& grad) { return grad.reshape(input_sizes); });
}

// A view when the strides allow; otherwise a copy (CloneBackward0) viewed (ViewBackward0).
Tensor Tensor::reshape(IntArrayRef sizes) const {
  const DimVector inferred = infer_sizes(sizes, numel(), "reshape");
  if (const auto strides = view_strides(this->sizes(), this->strides(), inferred)) {
    return with_grad("ReshapeAliasBackward0", restride(*this, inferred, *strides, storage_offset()), *this,
                     [input_sizes = shape()](const Tensor& grad) { return grad.reshape(input_sizes); });
  }
  return contiguous().view(inferred);
}

Tensor Tensor::permute(IntArrayRef dims) const {
  const int64_t ndim = dim();
  EMBER_CHECK(static_cast<int64_t>(dims.size()) == ndim, "permute: {} dims given for a tensor of {} dims ({})",
              dims.size(), ndim, ember::to_string(dims));
  DimVector sizes(ndim), strides(ndim), inverse(ndim);
  std::vector<bool> seen(ndim, false);
  for (int64_t i = 0; i < ndim; ++i) {
    const int64_t source = wrap_dim(dims[i], ndim, "permute");
    EMBER_CHECK(!seen[source], "permute: dims {} repeat dim {}", ember::to_string(dims), source);
    seen[source] = true;
    sizes[i] = this->sizes()[source];
    strides[i] = this->strides()[source];
    inverse[source] = i;
  }
  return with_grad("PermuteBackward0", restride(*this, sizes, strides, storage_offset()), *this,
                   [inverse = std::move(inverse)](const Tensor& grad) { return grad.permute(inverse); });
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  const int64_t ndim = dim();
  dim0 = wrap_dim(dim0, ndim, "transpose");
  dim1 = wrap_dim(dim1, ndim, "transpose");
  if (ndim == 0) return *this;
  DimVector sizes = impl().sizes, strides = impl().strides;
  std::swap(sizes[dim0], sizes[dim1]);
  std::swap(strides[dim0], strides[dim1]);
  return with_grad("TransposeBackward0", restride(*this, sizes, strides, storage_offset()), *this,
                   [dim0, dim1](const Tensor& grad) { return grad.transpose(dim0, dim1); });
}

Tensor Tensor::t() const {
  EMBER_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got shape {}", ember::to_string(sizes()));
  if (dim() < 2) return *this;
  return with_grad("TBackward0", restride(*this, {size(1), size(0)}, {stride(1), stride(0)}, storage_offset()), *this,
                   [](const Tensor& grad) { return grad.t(); });
}

Tensor Tensor::expand(IntArrayRef sizes) const {
  const int64_t ndim = dim();
  const int64_t target = static_cast<int64_t>(sizes.size());
  EMBER_CHECK(target >= ndim, "expand: the number of sizes {} must be >= the tensor's dims, shape {}",
              ember::to_string(sizes), ember::to_string(this->sizes()));
  DimVector new_sizes(target), new_strides(target);
  for (int64_t i = target - 1; i >= 0; --i) {
    const int64_t source = i - (target - ndim);
    if (source < 0) {
      EMBER_CHECK(sizes[i] >= 0, "expand: size -1 is not allowed in a new leading dim: {}", ember::to_string(sizes));
      new_sizes[i] = sizes[i];
      new_strides[i] = 0;
      continue;
    }
    const int64_t current = this->sizes()[source];
    EMBER_CHECK(sizes[i] >= -1, "expand: invalid size {} at dim {} in {}", sizes[i], i, ember::to_string(sizes));
    const int64_t wanted = sizes[i] == -1 ? current : sizes[i];
    EMBER_CHECK(current == wanted || current == 1,
                "expand: the expanded size {} must match the existing size {} at dim {} (shape {} to {})", wanted,
                current, i, ember::to_string(this->sizes()), ember::to_string(sizes));
    new_sizes[i] = wanted;
    new_strides[i] = current == wanted ? this->strides()[source] : 0;
  }
  // The engine sums a gradient of the expanded shape down to the input's (autograd::sum_to).
  return with_grad("ExpandBackward0", restride(*this, new_sizes, new_strides, storage_offset()), *this,
                   pass_gradient);
}

Tensor Tensor::squeeze() const {
  DimVector sizes, strides;
  for (int64_t i = 0; i < dim(); ++i) {
    if (this->sizes()[i] == 1) continue;
    sizes.push_back(this->sizes()[i]);
    strides.push_back(this->strides()[i]);
  }
  return with_grad("SqueezeBackward0", restride(*this, sizes, strides, storage_offset()), *this,
                   [input_sizes = shape()](const Tensor& grad) { return grad.reshape(input_sizes); });
}

Tensor Tensor::squeeze(int64_t dim) const {
  dim = wrap_dim(dim, this->dim(), "squeeze");
  DimVector sizes = impl().sizes, strides = impl().strides;
  if (this->dim() > 0 && sizes[dim] == 1) {
    sizes.erase(sizes.begin() + dim);
    strides.erase(strides.begin() + dim);
  }
  return with_grad("SqueezeBackward1", restride(*this, sizes, strides, storage_offset()), *this,
                   [input_sizes = shape()](const Tensor& grad) { return grad.reshape(input_sizes); });
}

Tensor Tensor::unsqueeze(int64_t dim) const {
  dim = wrap_dim(dim, this->dim() + 1, "unsqueeze");
  DimVector sizes = impl().sizes, strides = impl().strides;
  const int64_t stride = dim < this->dim() ? sizes[dim] * strides[dim] : 1;
  sizes.insert(sizes.begin() + dim, 1);
  strides.insert(strides.begin() + dim, stride);
  return with_grad("UnsqueezeBackward0", restride(*this, sizes, strides, storage_offset()), *this,
                   [dim](const Tensor& grad) { return grad.squeeze(dim); });
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  EMBER_CHECK(this->dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  dim = wrap_dim(dim, this->dim(), "narrow");
  const int64_t size = sizes()[dim];
  EMBER_CHECK(start >= -size && start <= size, "narrow: start {} is out of range for dim {} of size {}", start, dim,
              size);
  if (start < 0) start += size;
  EMBER_CHECK(length >= 0 && length <= size - start,
              "narrow: start {} + length {} exceeds dim {} of size {} (shape {})", start, length, dim, size,
              ember::to_string(sizes()));
  return slice(dim, start, start + length, 1);
}

Tensor Tensor::slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) const {
  EMBER_CHECK(this->dim() > 0, "slice: cannot slice a 0-dim tensor");
  dim = wrap_dim(dim, this->dim(), "slice");
  EMBER_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const int64_t size = sizes()[dim];
  // Python slice semantics: negative bounds count from the end, out-of-range bounds clamp.
  auto clamp_bound = [size](int64_t bound) {
    if (bound < 0) bound += size;
    return std::clamp<int64_t>(bound, 0, size);
  };
  const int64_t first = start ? clamp_bound(*start) : 0;
  const int64_t last = std::max(first, end ? clamp_bound(*end) : size);
  DimVector sizes = impl().sizes, strides = impl().strides;
  sizes[dim] = (last - first + step - 1) / step;
  strides[dim] *= step;
  return with_grad("SliceBackward0", restride(*this, sizes, strides, storage_offset() + first * this->strides()[dim]),
                   *this, scatter_into_zeros(shape(), [dim, first, last, step](const Tensor& zeros) {
                     return zeros.slice(dim, first, last, step);
                   }));
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  EMBER_CHECK(this->dim() > 0, "select: cannot select from a 0-dim tensor");
  dim = wrap_dim(dim, this->dim(), "select");
  const int64_t size = sizes()[dim];
  EMBER_CHECK(index >= -size && index < size, "select: index {} is out of range for dim {} of size {} (shape {})",
              index, dim, size, ember::to_string(sizes()));
  if (index < 0) index += size;
  DimVector sizes = impl().sizes, strides = impl().strides;
  const int64_t offset = storage_offset() + index * strides[dim];
  sizes.erase(sizes.begin() + dim);
  strides.erase(strides.begin() + dim);
  return with_grad("SelectBackward0", restride(*this, sizes, strides, offset), *this,
                   scatter_into_zeros(shape(), [dim, index](const Tensor& zeros) { return zeros.select(dim, index); }));
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  EMBER_CHECK(start_dim <= end_dim, "flatten: start_dim {} must not come after end_dim {}", start_dim, end_dim);
  DimVector sizes(this->sizes().begin(), this->sizes().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) merged *= this->sizes()[i];
  sizes.push_back(merged);
  sizes.insert(sizes.end(), this->sizes().begin() + end_dim + 1, this->sizes().end());
  return reshape(sizes);
}

Tensor Tensor::unflatten(int64_t dim, IntArrayRef sizes) const {
  dim = wrap_dim(dim, this->dim(), "unflatten");
  DimVector inner = infer_sizes(sizes, this->sizes()[dim], "unflatten");
  DimVector new_sizes(this->sizes().begin(), this->sizes().begin() + dim);
  new_sizes.insert(new_sizes.end(), inner.begin(), inner.end());
  new_sizes.insert(new_sizes.end(), this->sizes().begin() + dim + 1, this->sizes().end());
  return view(new_sizes);
}

namespace {

// Where a tensor's elements sit in its storage (strides are never negative in Ember).
struct Geometry {
  DimVector sizes, strides;
  int64_t offset = 0;

  int64_t numel() const { return product(sizes); }
  // The highest storage element reached; only for non-empty geometries.
  int64_t last() const {
    int64_t result = offset;
    for (size_t d = 0; d < sizes.size(); ++d) result += (sizes[d] - 1) * strides[d];
    return result;
  }
  // False only when every element certainly has its own location: with dims sorted by stride,
  // each stride steps past everything the smaller dims reach (PyTorch's conservative test).
  bool may_overlap() const {
    std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of dims with size > 1
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (sizes[d] > 1) dims.emplace_back(strides[d], sizes[d]);
    }
    std::sort(dims.begin(), dims.end());
    int64_t reach = 0;
    for (const auto& [stride, size] : dims) {
      if (stride <= reach) return true;
      reach += (size - 1) * stride;
    }
    return false;
  }
  // Each element's storage index minus `base`, in row-major order: int64 of shape [numel].
  Tensor storage_indices(int64_t base, Device device) const {
    Tensor indices = full({}, offset - base, kInt64);
    for (size_t d = 0; d < sizes.size(); ++d) {
      DimVector shape(sizes.size(), 1);
      shape[d] = sizes[d];
      indices = indices + (arange(sizes[d], TensorOptions(kInt64)) * strides[d]).view(shape);
    }
    return indices.reshape({-1}).to(device);
  }
};

// as_strided reads the input's storage, not its elements: the output's gradient goes into a
// buffer standing for that storage (summed where output elements share a location), and the
// input's gradient is read back out of it through the input's geometry (shared equally where
// input elements share a location, as expand makes them).
Tensor as_strided_backward(const Tensor& grad, const Geometry& input, const Geometry& output) {
  if (input.numel() == 0 || output.numel() == 0) return zeros(input.sizes, grad.options());
  const int64_t lowest = std::min(input.offset, output.offset);
  const int64_t span = std::max(input.last(), output.last()) - lowest + 1;
  Tensor storage_grad = zeros({span}, grad.options());
  if (!output.may_overlap()) {
    ops::copy_values(storage_grad.as_strided(output.sizes, output.strides, output.offset - lowest), grad);
  } else {
    storage_grad.index_add_(0, output.storage_indices(lowest, grad.device()), grad.reshape({-1}));
  }
  if (input.may_overlap()) {
    const Tensor indices = input.storage_indices(lowest, grad.device());
    Tensor counts = zeros({span}, grad.options());
    counts.index_add_(0, indices, ones({indices.numel()}, grad.options()));
    // Locations no input element reads divide by 0; they are never read below.
    storage_grad = storage_grad / counts;
  }
  return storage_grad.as_strided(input.sizes, input.strides, input.offset - lowest);
}

}  // namespace

Tensor Tensor::as_strided(IntArrayRef sizes, IntArrayRef strides, std::optional<int64_t> offset) const {
  EMBER_CHECK(sizes.size() == strides.size(), "as_strided: {} sizes but {} strides", sizes.size(), strides.size());
  const int64_t base = offset.value_or(storage_offset());
  checked_numel(sizes, "as_strided");
  int64_t last = base;
  for (size_t i = 0; i < sizes.size(); ++i) {
    EMBER_CHECK(strides[i] >= 0, "as_strided: negative stride in {}", ember::to_string(strides));
    if (sizes[i] == 0) last = -1;
    int64_t step = 0;
    EMBER_CHECK(last < 0 || (!__builtin_mul_overflow(sizes[i] - 1, strides[i], &step) &&
                             !__builtin_add_overflow(last, step, &last)),
                "as_strided: sizes {} with strides {} overflow int64", ember::to_string(sizes), ember::to_string(strides));
  }
  const int64_t capacity = static_cast<int64_t>(storage()->nbytes) / element_size();
  EMBER_CHECK(base >= 0 && last < capacity,
              "as_strided: sizes {} strides {} offset {} reach element {} of a storage of {} elements",
              ember::to_string(sizes), ember::to_string(strides), base, last, capacity);
  const Geometry input{shape(), this->strides().dims(), storage_offset()};
  const Geometry output{sizes.dims(), strides.dims(), base};
  return with_grad("AsStridedBackward0", restride(*this, sizes, strides, base), *this,
                   [input, output](const Tensor& grad) { return as_strided_backward(grad, input, output); });
}

// A copy (CloneBackward0) when not contiguous.
Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

std::vector<Tensor> Tensor::split(int64_t split_size, int64_t dim) const { return ember::split(*this, split_size, dim); }
std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim) const { return ember::chunk(*this, chunks, dim); }

std::vector<Tensor> Tensor::unbind(int64_t dim) const {
  dim = wrap_dim(dim, this->dim(), "unbind");
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < size(dim); ++i) parts.push_back(select(dim, i));
  return parts;
}

// ---- copies and conversion ----

namespace ops {

Tensor clone_values(const Tensor& tensor) {
  Tensor result = empty(tensor.sizes(), tensor.options());
  copy_values(result, tensor);
  return result;
}

Tensor convert(const Tensor& tensor, DType dtype) {
  if (dtype == tensor.dtype()) return tensor;
  Tensor result = empty(tensor.sizes(), tensor.options().dtype(dtype));
  copy_values(result, tensor);
  return result;
}

void copy_values(const Tensor& destination, const Tensor& source, bool non_blocking) {
  EMBER_CHECK(source.defined(), "copy_: the source tensor is undefined");
  const IntArrayRef sizes = destination.sizes();
  const DimVector shape = broadcast_shapes(sizes, source.sizes(), "copy_");
  EMBER_CHECK(IntArrayRef(shape) == sizes, "copy_: source of shape {} cannot be broadcast to destination shape {}",
              ember::to_string(source.sizes()), ember::to_string(sizes));
  for (int64_t d = 0; d < destination.dim(); ++d) {
    EMBER_CHECK(sizes[d] <= 1 || destination.strides()[d] != 0,
                "copy_: the destination (shape {}, strides {}) has elements that share memory; clone it first",
                ember::to_string(sizes), ember::to_string(destination.strides()));
  }
  destination.bump_version();
  if (destination.numel() == 0) return;
  if (source.device() != destination.device()) {
    // Cross-device: move the bytes as they are (contiguous, source dtype), then convert on the
    // destination's side if anything else differs.
    const Tensor dense_source = source.is_contiguous() ? source : clone_values(source);
    const bool direct = destination.is_contiguous() && source.dtype() == destination.dtype() && source.sizes() == sizes;
    const Tensor staging =
        direct ? destination : empty(source.sizes(), dense_source.options().device(destination.device()));
    kernels::copy_between_devices(staging, dense_source, non_blocking && direct);
    if (!direct) copy_values(destination, staging);
    return;
  }
  Tensor expanded = source.sizes() == sizes ? source : source.expand(sizes);
  if (expanded.shares_storage_with(destination) &&
      !(expanded.data_ptr() == destination.data_ptr() && expanded.strides() == destination.strides() &&
        expanded.dtype() == destination.dtype())) {
    expanded = clone_values(expanded);  // partial overlap: read everything before writing
  }
  const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&destination, &expanded});
  kernels::backend(destination.device()).copy(plan);
}

}  // namespace ops

Tensor Tensor::clone() const { return with_grad("CloneBackward0", ops::clone_values(*this), *this, pass_gradient); }

// The engine converts the gradient back to the input's dtype and device. Integer and bool
// results take no part in autograd.
Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  Tensor result = ops::convert(*this, dtype);
  if (!ember::is_floating_point(dtype)) return result;
  return with_grad("ToCopyBackward0", std::move(result), *this, pass_gradient);
}

Tensor Tensor::to(Device device, bool non_blocking) const {
  if (device == this->device()) return *this;
  Tensor result = empty(sizes(), options().device(device));
  ops::copy_values(result, *this, non_blocking);
  return with_grad("ToCopyBackward0", std::move(result), *this, pass_gradient);
}

Tensor Tensor::to(const TensorOptions& options) const { return to(options.dtype_value).to(options.device_value); }

Tensor Tensor::pin_memory() const {
  EMBER_CHECK(device().is_cpu(), "pin_memory: only CPU tensors can be pinned, this one is on {}", device().str());
  Storage storage = std::make_shared<StorageImpl>();
  storage->data = pinned_allocator().allocate(static_cast<size_t>(nbytes()));
  storage->nbytes = static_cast<size_t>(nbytes());
  storage->device = kCPU;
  Tensor result = make_tensor(std::move(storage), sizes(), contiguous_strides(sizes()), 0, dtype());
  ops::copy_values(result, *this);
  return with_grad("PinMemoryBackward0", std::move(result), *this, pass_gradient);
}

// The source gets the gradient (summed over any broadcast, converted back to its dtype and
// device by the engine); the overwritten values get zero, as PyTorch's CopyBackwards.
Tensor& Tensor::copy_(const Tensor& source, bool non_blocking) {
  EMBER_CHECK(source.defined(), "copy_: the source tensor is undefined");
  const bool record = ops::check_inplace(*this, {&source}, "copy_") && is_floating_point();
  const bool destination_needs = record && requires_grad();
  ops::copy_values(*this, source, non_blocking);
  if (record) {
    autograd::record_backward("CopyBackwards", *this, {this, &source}, [destination_needs](const Tensor& grad) {
      return TensorList{destination_needs ? zeros_like(grad) : Tensor(), grad};
    });
  }
  return *this;
}

Scalar Tensor::item() const {
  EMBER_CHECK(numel() == 1, "item: a tensor with {} elements (shape {}) cannot be converted to a number", numel(),
              ember::to_string(sizes()));
  autograd::NoGradGuard no_grad;
  const Tensor host = cpu();
  return visit_dtype(dtype(), [&]<class T>(TypeTag<T>) -> Scalar {
    const T value = *static_cast<const T*>(host.data_ptr());
    if constexpr (std::is_same_v<T, bool>) return Scalar(value);
    else if constexpr (is_floating_v<T>) return Scalar(static_cast<double>(static_cast<compute_t<T>>(value)));
    else return Scalar(static_cast<int64_t>(value));
  });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  autograd::NoGradGuard no_grad;
  const Tensor host = cpu().to(dtype_of_v<T>).contiguous();
  const T* data = static_cast<const T*>(host.data_ptr());
  return std::vector<T>(data, data + host.numel());
}
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<Half> Tensor::to_vector<Half>() const;
template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;

}  // namespace ember

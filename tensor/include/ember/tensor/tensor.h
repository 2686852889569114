#pragma once
// Tensor: a cheap handle onto shared storage, viewed through sizes, strides and an offset.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/tensor/device.h"
#include "ember/tensor/dtype.h"
#include "ember/tensor/error.h"
#include "ember/tensor/int_array_ref.h"
#include "ember/tensor/scalar.h"
#include "ember/tensor/storage.h"

namespace ember {

class Generator;
class Tensor;

namespace autograd {
struct AutogradMeta;
struct HookList;
class Node;
}  // namespace autograd

// Removes a hook registered on a tensor. Dropping the handle keeps the hook, as in PyTorch.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<autograd::HookList> list, uint64_t id) : list_(std::move(list)), id_(id) {}
  void remove();

 private:
  std::weak_ptr<autograd::HookList> list_;
  uint64_t id_ = 0;
};

struct TensorImpl {
  TensorImpl();
  ~TensorImpl();

  Storage storage;
  DimVector sizes;
  DimVector strides;  // in elements
  int64_t storage_offset = 0;
  int64_t numel = 1;
  DType dtype = kFloat32;
  bool is_contiguous = true;
  // Set on 0-dim tensors made from a C++ number (`x + 2`): they promote like PyTorch's
  // wrapped numbers, by category only.
  bool is_wrapped_number = false;
  // Set on tensors that view another's storage through a view op, so that an in-place op that
  // autograd would have to record through the view is refused rather than silently wrong.
  bool is_view = false;
  // Present only on tensors that take part in autograd.
  std::unique_ptr<autograd::AutogradMeta> autograd;

  autograd::AutogradMeta& autograd_meta();  // creates it on first use

  // Recomputes numel and is_contiguous after sizes or strides change.
  void refresh_metadata();
};

// How a new tensor is made. Implicit from a dtype or a device: zeros({2}, kFloat64).
struct TensorOptions {
  DType dtype_value = kFloat32;
  Device device_value = kCPU;

  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype_value(dtype) {}
  TensorOptions(Device device) : device_value(device) {}
  TensorOptions& dtype(DType dtype) { dtype_value = dtype; return *this; }
  TensorOptions& device(Device device) { device_value = device; return *this; }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  IntArrayRef sizes() const { return impl().sizes; }
  IntArrayRef strides() const { return impl().strides; }
  DimVector shape() const { return impl().sizes; }
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t numel() const { return impl().numel; }
  int64_t storage_offset() const { return impl().storage_offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_floating_point() const { return ember::is_floating_point(dtype()); }
  int64_t element_size() const { return ember::element_size(dtype()); }
  int64_t nbytes() const { return numel() * element_size(); }
  bool is_contiguous() const { return impl().is_contiguous; }
  TensorOptions options() const { return TensorOptions(dtype()).device(device()); }
  const Storage& storage() const { return impl().storage; }
  TensorImpl& impl() const {
    EMBER_CHECK(impl_ != nullptr, "tensor: the tensor is undefined (default-constructed)");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  // True when both handles view the same storage.
  bool shares_storage_with(const Tensor& other) const { return storage() == other.storage(); }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  void* data_ptr() const;
  // Typed pointer; throws when T does not match the dtype.
  template <class T> T* data_ptr() const {
    EMBER_CHECK(dtype_of_v<T> == dtype(), "data_ptr: tensor has dtype {}, requested {}", name(dtype()),
                name(dtype_of_v<T>));
    return static_cast<T*>(data_ptr());
  }

  // ---- views: share storage ----
  Tensor view(IntArrayRef sizes) const;
  Tensor reshape(IntArrayRef sizes) const;  // a view when the strides allow, a copy otherwise
  Tensor permute(IntArrayRef dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;
  Tensor expand(IntArrayRef sizes) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start = std::nullopt, std::optional<int64_t> end = std::nullopt,
               int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor unflatten(int64_t dim, IntArrayRef sizes) const;
  Tensor as_strided(IntArrayRef sizes, IntArrayRef strides, std::optional<int64_t> storage_offset = std::nullopt) const;
  Tensor contiguous() const;  // itself when already contiguous
  Tensor view_as(const Tensor& other) const { return view(other.sizes()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.sizes()); }
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> unbind(int64_t dim = 0) const;

  // ---- copies and conversion ----
  Tensor clone() const;
  Tensor to(DType dtype) const;  // itself when the dtype already matches
  Tensor to(Device device, bool non_blocking = false) const;
  Tensor to(const TensorOptions& options) const;
  Tensor cpu() const { return to(kCPU); }
  Tensor cuda(int index = 0) const { return to(Device(DeviceType::CUDA, index)); }
  Tensor pin_memory() const;
  Scalar item() const;
  template <class T> T item() const { return item().to<T>(); }
  // Copies the elements out in row-major order, converting to T.
  template <class T> std::vector<T> to_vector() const;
  std::string to_string() const;

  // ---- in place: each bumps the storage version ----
  Tensor& zero_();
  Tensor& fill_(const Scalar& value);
  Tensor& copy_(const Tensor& source, bool non_blocking = false);
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& add_(const Scalar& other);
  Tensor& sub_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& sub_(const Scalar& other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(const Scalar& other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(const Scalar& other);
  Tensor& pow_(const Scalar& exponent);
  Tensor& neg_();
  Tensor& abs_();
  Tensor& exp_();
  Tensor& sqrt_();
  Tensor& relu_();
  Tensor& sigmoid_();
  Tensor& tanh_();
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max);
  Tensor& masked_fill_(const Tensor& mask, const Scalar& value);
  Tensor& scatter_add_(int64_t dim, const Tensor& index, const Tensor& source);
  Tensor& index_add_(int64_t dim, const Tensor& index, const Tensor& source);
  Tensor& uniform_(double low = 0.0, double high = 1.0, Generator* generator = nullptr);
  Tensor& normal_(double mean = 0.0, double std = 1.0, Generator* generator = nullptr);
  Tensor& bernoulli_(double p = 0.5, Generator* generator = nullptr);
  // Marks an in-place write for autograd's version check.
  void bump_version() const { storage()->version.fetch_add(1, std::memory_order_relaxed); }

  // ---- autograd (the engine is in autograd/; see ember/autograd/autograd.h) ----
  bool requires_grad() const;
  // Makes a floating-point leaf record operations on it, or stop doing so.
  Tensor& requires_grad_(bool requires_grad = true);
  // A tensor is a leaf unless an op that recorded a gradient made it.
  bool is_leaf() const;
  // The gradient accumulated by backward(); undefined until the first one reaches this tensor.
  const Tensor& grad() const;
  Tensor& mutable_grad() const;
  // The node that made this tensor, or null for leaves; grad_fn()->name() is e.g. "MulBackward0".
  std::shared_ptr<autograd::Node> grad_fn() const;
  // Shares the data, without history and without requiring grad.
  Tensor detach() const;
  // Points this tensor at other's data (storage, shape, strides, dtype, device), keeping its
  // identity and autograd state: Module::to() moves parameters this way so optimizers keep them.
  void set_data(const Tensor& other) const;
  // Makes a non-leaf keep its .grad() during backward.
  void retain_grad() const;
  bool retains_grad() const;
  // Storage version: bumped by every in-place write.
  uint64_t version() const { return storage()->version.load(std::memory_order_relaxed); }
  // Backpropagates from this tensor; without `gradient` it must hold one element.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;
  // Sees, and may replace (by returning a defined tensor), the gradient flowing into this tensor.
  template <class Hook> HookHandle register_hook(Hook&& hook) const {
    if constexpr (std::is_void_v<std::invoke_result_t<Hook&, const Tensor&>>) {
      return register_grad_hook([hook = std::forward<Hook>(hook)](const Tensor& grad) mutable {
        hook(grad);
        return Tensor();
      });
    } else {
      return register_grad_hook(std::forward<Hook>(hook));
    }
  }
  HookHandle register_grad_hook(std::function<Tensor(const Tensor&)> hook) const;
  // On a leaf that requires grad: runs once its .grad() is complete for the current backward.
  HookHandle register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const;

  // ---- method forms of the free functions in ops.h ----
  Tensor add(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor sub(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor mul(const Tensor& other) const;
  Tensor div(const Tensor& other) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor pow(const Scalar& exponent) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor gelu() const;
  Tensor silu() const;
  Tensor sign() const;
  Tensor square() const;
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max) const;
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor masked_fill(const Tensor& mask, const Scalar& value) const;

  Tensor sum() const;
  Tensor sum(IntArrayRef dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(IntArrayRef dims, bool keepdim = false) const;
  Tensor prod() const;
  Tensor max() const;
  Tensor min() const;
  std::pair<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  std::pair<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor std(bool unbiased = true) const;
  Tensor norm(double p = 2.0) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor all() const;
  Tensor any() const;

  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& stream, const Tensor& tensor);
void print(const Tensor& tensor);

// Builds the handle for a view or a new tensor; the one place TensorImpl objects are made.
Tensor make_tensor(Storage storage, IntArrayRef sizes, IntArrayRef strides, int64_t storage_offset, DType dtype);
// Row-major strides for sizes.
DimVector contiguous_strides(IntArrayRef sizes);
// Wraps a dim that may be negative (-1 is the last) and checks it against ndim.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace ember

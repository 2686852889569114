// Creating tensors: uninitialised, constant, ranges, identity, and wrapping caller memory.
#include "ember/tensor/factories.h"

#include <cmath>

#include "kernels/backend.h"

namespace ember {

Tensor empty(IntArrayRef sizes, TensorOptions options) {
  const int64_t numel = checked_numel(sizes, "empty", element_size(options.dtype_value));
  Storage storage = make_storage(static_cast<size_t>(numel * element_size(options.dtype_value)), options.device_value);
  return make_tensor(std::move(storage), sizes, contiguous_strides(sizes), 0, options.dtype_value);
}

Tensor full(IntArrayRef sizes, const Scalar& value, TensorOptions options) {
  Tensor result = empty(sizes, options);
  result.fill_(value);
  return result;
}

Tensor zeros(IntArrayRef sizes, TensorOptions options) { return full(sizes, 0, options); }
Tensor ones(IntArrayRef sizes, TensorOptions options) { return full(sizes, 1, options); }

Tensor empty_like(const Tensor& like) { return empty(like.sizes(), like.options()); }
Tensor zeros_like(const Tensor& like) { return zeros(like.sizes(), like.options()); }
Tensor ones_like(const Tensor& like) { return ones(like.sizes(), like.options()); }
Tensor full_like(const Tensor& like, const Scalar& value) { return full(like.sizes(), value, like.options()); }
Tensor empty_like(const Tensor& like, TensorOptions options) { return empty(like.sizes(), options); }
Tensor zeros_like(const Tensor& like, TensorOptions options) { return zeros(like.sizes(), options); }

Tensor scalar_tensor(const Scalar& value, TensorOptions options) { return full({}, value, options); }

Tensor scalar_tensor(const Scalar& value) {
  const DType dtype = value.is_floating_point() ? kFloat32 : value.is_bool() ? kBool : kInt64;
  return full({}, value, dtype);
}

Tensor arange(const Scalar& end, std::optional<TensorOptions> options) { return arange(0, end, 1, options); }

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, std::optional<TensorOptions> options) {
  const bool integral = !start.is_floating_point() && !end.is_floating_point() && !step.is_floating_point();
  const TensorOptions resolved = options.value_or(TensorOptions(integral ? kInt64 : kFloat32));
  const double first = start.to_double(), last = end.to_double(), increment = step.to_double();
  EMBER_CHECK(increment != 0, "arange: step must be nonzero");
  EMBER_CHECK(std::isfinite(first) && std::isfinite(last), "arange: bounds must be finite, got {} and {}",
              start.to_string(), end.to_string());
  EMBER_CHECK((increment > 0 && last >= first) || (increment < 0 && last <= first),
              "arange: upper bound {} and lower bound {} are inconsistent with step sign {}", end.to_string(),
              start.to_string(), step.to_string());
  const double steps = std::ceil((last - first) / increment);
  EMBER_CHECK(steps < 9.2e18, "arange: {} elements from {} to {} in steps of {} overflow int64", steps,
              start.to_string(), end.to_string(), step.to_string());
  const int64_t count = static_cast<int64_t>(steps);
  Tensor result = empty({count}, resolved);
  if (count > 0) kernels::backend(resolved.device_value).fill_range(result, first, increment, 0, last);
  return result;
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  EMBER_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got {}", steps);
  Tensor result = empty({steps}, options);
  if (steps == 0) return result;
  const double step = steps == 1 ? 0.0 : (end - start) / static_cast<double>(steps - 1);
  // The second half counts back from `end` so that the last value is exactly `end`.
  kernels::backend(options.device_value).fill_range(result, start, step, steps / 2, end);
  return result;
}

Tensor eye(int64_t rows, int64_t columns, TensorOptions options) {
  if (columns == -1) columns = rows;
  EMBER_CHECK(rows >= 0 && columns >= 0, "eye: rows and columns must be non-negative, got {} and {}", rows, columns);
  Tensor result = zeros({rows, columns}, options);
  const int64_t diagonal = std::min(rows, columns);
  if (diagonal > 0) result.as_strided({diagonal}, {columns + 1}, 0).fill_(1);
  return result;
}

Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides, DType dtype, std::function<void(void*)> deleter) {
  EMBER_CHECK(sizes.size() == strides.size(), "from_blob: {} sizes but {} strides", sizes.size(), strides.size());
  checked_numel(sizes, "from_blob", element_size(dtype));
  int64_t extent = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    EMBER_CHECK(strides[i] >= 0, "from_blob: negative stride in {}", to_string(strides));
    if (sizes[i] == 0) extent = 0;
    int64_t step = 0;
    EMBER_CHECK(extent == 0 || (!__builtin_mul_overflow(sizes[i] - 1, strides[i], &step) &&
                                !__builtin_add_overflow(extent, step, &extent)),
                "from_blob: sizes {} with strides {} overflow int64", to_string(sizes), to_string(strides));
  }
  EMBER_CHECK(data != nullptr || extent == 0, "from_blob: null data for a non-empty shape {}", to_string(sizes));
  auto storage = std::make_shared<StorageImpl>();
  if (deleter) {
    auto* context = new std::function<void(void*)>(std::move(deleter));
    storage->data = DataPtr(data, context, [](void* ctx, void* pointer) {
      auto* function = static_cast<std::function<void(void*)>*>(ctx);
      (*function)(pointer);
      delete function;
    });
  } else {
    storage->data = DataPtr(data, nullptr, nullptr);
  }
  storage->nbytes = static_cast<size_t>(extent * element_size(dtype));
  storage->device = kCPU;
  return make_tensor(std::move(storage), sizes, strides, 0, dtype);
}

Tensor from_blob(void* data, IntArrayRef sizes, DType dtype, std::function<void(void*)> deleter) {
  return from_blob(data, sizes, contiguous_strides(sizes), dtype, std::move(deleter));
}

}  // namespace ember

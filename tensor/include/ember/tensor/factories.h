#pragma once
// Creating tensors.
#include <cstring>
#include <functional>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember {

Tensor empty(IntArrayRef sizes, TensorOptions options = {});
Tensor zeros(IntArrayRef sizes, TensorOptions options = {});
Tensor ones(IntArrayRef sizes, TensorOptions options = {});
Tensor full(IntArrayRef sizes, const Scalar& value, TensorOptions options = {});
// The dtype defaults like PyTorch's: int64 when every bound is an integer, float32 otherwise.
Tensor arange(const Scalar& end, std::optional<TensorOptions> options = std::nullopt);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step = 1,
              std::optional<TensorOptions> options = std::nullopt);
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t rows, int64_t columns = -1, TensorOptions options = {});

Tensor empty_like(const Tensor& like);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, const Scalar& value);
Tensor empty_like(const Tensor& like, TensorOptions options);
Tensor zeros_like(const Tensor& like, TensorOptions options);

// Wraps caller-owned CPU memory without copying. The caller keeps it alive, or passes a
// deleter that the last tensor referring to it will call.
Tensor from_blob(void* data, IntArrayRef sizes, DType dtype, std::function<void(void*)> deleter = {});
Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides, DType dtype,
                 std::function<void(void*)> deleter = {});

// Copies values into a new CPU tensor; sizes default to a 1-D tensor of values.size().
template <class T>
Tensor tensor(const std::vector<T>& values, IntArrayRef sizes) {
  EMBER_CHECK(product(sizes) == static_cast<int64_t>(values.size()),
              "tensor: {} values do not fill shape {}", values.size(), to_string(sizes));
  Tensor result = empty(sizes, dtype_of_v<T>);
  if (!values.empty()) {
    if constexpr (std::is_same_v<T, bool>) {
      bool* out = result.data_ptr<bool>();
      for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
    } else {
      std::memcpy(result.data_ptr(), values.data(), values.size() * sizeof(T));
    }
  }
  return result;
}
template <class T>
Tensor tensor(const std::vector<T>& values) {
  return tensor(values, {static_cast<int64_t>(values.size())});
}
inline Tensor tensor(std::initializer_list<float> values) { return tensor(std::vector<float>(values)); }
// A 0-dim tensor holding value (float32 for floating values, int64 for integers, bool for bools).
Tensor scalar_tensor(const Scalar& value, TensorOptions options);
Tensor scalar_tensor(const Scalar& value);

}  // namespace ember

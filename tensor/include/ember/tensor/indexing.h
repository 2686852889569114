#pragma once
// Gathering, scattering and joining. Index tensors are int64 (int32 accepted); every index is
// range-checked and a bad one throws naming the op, the index and the size.
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember {

Tensor index_select(const Tensor& input, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& input, int64_t dim, const Tensor& index);
// input with source's values added at index along dim (out of place).
Tensor scatter_add(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& source);
// input with source's slices added at index along dim (out of place).
Tensor index_add(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& source);
Tensor masked_fill(const Tensor& input, const Tensor& mask, const Scalar& value);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& input, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& input, const std::vector<int64_t>& split_sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& input, int64_t chunks, int64_t dim = 0);
// int64 indices -> int64 one-hot along a new last dim; num_classes -1 means max + 1.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);

}  // namespace ember

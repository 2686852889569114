#pragma once
// Reductions over any set of dims. An empty dim list means every dim.
#include <optional>
#include <utility>

#include "ember/tensor/tensor.h"

namespace ember {

// Integer and bool inputs sum to int64, as in PyTorch.
Tensor sum(const Tensor& input, IntArrayRef dims = {}, bool keepdim = false);
Tensor mean(const Tensor& input, IntArrayRef dims = {}, bool keepdim = false);
Tensor prod(const Tensor& input, IntArrayRef dims = {}, bool keepdim = false);
Tensor amax(const Tensor& input, IntArrayRef dims = {}, bool keepdim = false);
Tensor amin(const Tensor& input, IntArrayRef dims = {}, bool keepdim = false);
// Values and int64 indices along one dim; ties give the first index.
std::pair<Tensor, Tensor> max(const Tensor& input, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& input, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& input);
Tensor min(const Tensor& input);
// Without a dim: the index into the flattened tensor.
Tensor argmax(const Tensor& input, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& input, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor var(const Tensor& input, IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& input, IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false);
// p-norm: p = 2 Euclidean, 1, any positive p, or infinity (max |x|).
Tensor norm(const Tensor& input, double p = 2.0, IntArrayRef dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& input, IntArrayRef dims, bool keepdim = false);
Tensor softmax(const Tensor& input, int64_t dim);
Tensor log_softmax(const Tensor& input, int64_t dim);
// Bool results.
Tensor all(const Tensor& input);
Tensor all(const Tensor& input, int64_t dim, bool keepdim = false);
Tensor any(const Tensor& input);
Tensor any(const Tensor& input, int64_t dim, bool keepdim = false);

}  // namespace ember

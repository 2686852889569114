// embedding: a row gather whose gradient scatters rows back, skipping the padding row.
#include "ember/nn/functional.h"
#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/indexing.h"

namespace ember::nn::functional {

Tensor embedding(const Tensor& input, const Tensor& weight, std::optional<int64_t> padding_idx) {
  EMBER_CHECK(input.defined() && weight.defined(), "embedding: the indices and the weight must be defined");
  EMBER_CHECK(weight.dim() == 2, "embedding: the weight must be 2-D [num_embeddings, embedding_dim], got shape {}",
              to_string(weight.sizes()));
  EMBER_CHECK(input.dtype() == kInt64 || input.dtype() == kInt32,
              "embedding: the indices must be int64 or int32, got {}", name(input.dtype()));
  const int64_t num_embeddings = weight.size(0);
  const int64_t embedding_dim = weight.size(1);
  if (padding_idx) {
    EMBER_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings,
                "embedding: padding_idx {} is out of range for {} embeddings", *padding_idx, num_embeddings);
    if (*padding_idx < 0) *padding_idx += num_embeddings;
  }
  const Tensor indices = input.reshape({-1});
  DimVector output_shape(input.sizes().begin(), input.sizes().end());
  output_shape.push_back(embedding_dim);
  Tensor output;
  {
    autograd::NoGradGuard no_grad;
    const Tensor rows = index_select(weight, 0, indices);  // contiguous [count, embedding_dim]
    output = make_tensor(rows.storage(), output_shape, contiguous_strides(output_shape), rows.storage_offset(),
                         rows.dtype());
  }
  if (autograd::requires_grad_any({&weight})) {
    autograd::record_backward(
        "EmbeddingBackward0", output, {&weight},
        [indices_saved = autograd::SavedTensor(indices), num_embeddings, embedding_dim,
         padding_idx](const Tensor& grad) {
          const Tensor indices = indices_saved.unpack("EmbeddingBackward0");
          Tensor grad_weight = zeros({num_embeddings, embedding_dim}, grad.options());
          grad_weight.index_add_(0, indices, grad.reshape({-1, embedding_dim}));
          if (padding_idx) grad_weight.select(0, *padding_idx).zero_();
          return autograd::TensorList{grad_weight};
        });
  }
  return output;
}

}  // namespace ember::nn::functional

#include "ember/nn/embedding.h"

#include <ostream>

#include "ember/nn/functional.h"
#include "ember/nn/init.h"
#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/factories.h"

namespace ember::nn {

EmbeddingImpl::EmbeddingImpl(const EmbeddingOptions& options) : options(options) {
  const int64_t count = options.num_embeddings();
  EMBER_CHECK(count >= 0 && options.embedding_dim() >= 0,
              "Embedding: num_embeddings and embedding_dim must be non-negative, got {} and {}", count,
              options.embedding_dim());
  if (const std::optional<int64_t> padding = options.padding_idx()) {
    EMBER_CHECK(*padding >= -count && *padding < count, "Embedding: padding_idx {} must be within num_embeddings ({})",
                *padding, count);
    if (*padding < 0) this->options.padding_idx(*padding + count);
  }
  weight = register_parameter("weight", empty({count, options.embedding_dim()}));
  reset_parameters();
}

void EmbeddingImpl::reset_parameters() {
  init::normal_(weight);
  if (const std::optional<int64_t> padding = options.padding_idx()) {
    autograd::NoGradGuard no_grad;
    weight.select(0, *padding).zero_();
  }
}

Tensor EmbeddingImpl::forward(const Tensor& input) {
  return functional::embedding(input, weight, options.padding_idx());
}

void EmbeddingImpl::pretty_print(std::ostream& stream) const {
  stream << "Embedding(" << options.num_embeddings() << ", " << options.embedding_dim();
  if (options.padding_idx()) stream << ", padding_idx=" << *options.padding_idx();
  stream << ")";
}

}  // namespace ember::nn

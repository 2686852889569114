#include "ember/io/dataset.h"

#include <fmt/ranges.h>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/indexing.h"

namespace ember::io {

size_t Dataset::field_index(const std::string& name) const {
  const std::vector<Field>& all = fields();
  std::vector<std::string> names;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == name) return i;
    names.push_back(all[i].name);
  }
  fail("dataset: no field '{}' (fields: {})", name, fmt::join(names, ", "));
}

TensorDataset::TensorDataset(std::vector<std::string> names, std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  EMBER_CHECK(names.size() == tensors_.size() && !names.empty(),
              "TensorDataset: {} names for {} tensors (need one name per tensor, at least one)", names.size(),
              tensors_.size());
  for (size_t i = 0; i < names.size(); ++i) {
    Tensor& tensor = tensors_[i];
    EMBER_CHECK(tensor.defined() && tensor.dim() >= 1, "TensorDataset: field '{}' needs a tensor with a sample axis",
                names[i]);
    tensor = tensor.to(kCPU).contiguous();
    if (i == 0) size_ = tensor.size(0);
    EMBER_CHECK(tensor.size(0) == size_, "TensorDataset: field '{}' has {} samples (shape {}) but '{}' has {}", names[i],
                tensor.size(0), to_string(tensor.sizes()), names[0], size_);
    fields_.push_back(Field{names[i], tensor.dtype(), DimVector(tensor.sizes().begin() + 1, tensor.sizes().end())});
  }
}

std::vector<Tensor> TensorDataset::read(std::span<const int64_t> indices) const {
  for (int64_t index : indices) {
    EMBER_CHECK(index >= 0 && index < size_, "TensorDataset: sample index {} is out of range (size {})", index, size_);
  }
  const Tensor positions = tensor(std::vector<int64_t>(indices.begin(), indices.end()));
  std::vector<Tensor> result;
  result.reserve(tensors_.size());
  for (const Tensor& field : tensors_) result.push_back(index_select(field, 0, positions).contiguous());
  return result;
}

}  // namespace ember::io

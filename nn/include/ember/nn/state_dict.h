#pragma once
// StateDict: named tensors in insertion order, as PyTorch's OrderedDict state_dict. Modules and
// optimizers produce and consume it; checkpoints write one dataset per entry.
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ember/tensor/error.h"
#include "ember/tensor/tensor.h"

namespace ember::nn {

class StateDict {
 public:
  using Item = std::pair<std::string, Tensor>;

  void insert(std::string key, Tensor value) {
    EMBER_CHECK(!contains(key), "state_dict: duplicate key '{}'", key);
    index_.emplace(key, items_.size());
    items_.emplace_back(std::move(key), std::move(value));
  }
  bool contains(const std::string& key) const { return index_.count(key) != 0; }
  const Tensor& at(const std::string& key) const {
    const auto found = index_.find(key);
    EMBER_CHECK(found != index_.end(), "state_dict: no key '{}'", key);
    return items_[found->second].second;
  }
  const Tensor* find(const std::string& key) const {
    const auto found = index_.find(key);
    return found == index_.end() ? nullptr : &items_[found->second].second;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> result;
    result.reserve(items_.size());
    for (const Item& item : items_) result.push_back(item.first);
    return result;
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace ember::nn

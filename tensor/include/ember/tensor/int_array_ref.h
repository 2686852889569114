#pragma once
// Sizes, strides and dim lists: a non-owning view accepted from braces, vectors or one integer,
// and the small inline vector tensors store them in.
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace ember {

using DimVector = boost::container::small_vector<int64_t, 6>;

class IntArrayRef {
 public:
  constexpr IntArrayRef() = default;
  constexpr IntArrayRef(const int64_t& one) : data_(&one), size_(1) {}
  constexpr IntArrayRef(const int64_t* data, size_t size) : data_(data), size_(size) {}
  // Like std::span over a braced list: valid for the full expression that makes the call.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
  constexpr IntArrayRef(std::initializer_list<int64_t> list) : data_(list.begin()), size_(list.size()) {}
#pragma GCC diagnostic pop
  IntArrayRef(const std::vector<int64_t>& vector) : data_(vector.data()), size_(vector.size()) {}
  IntArrayRef(const DimVector& vector) : data_(vector.data()), size_(vector.size()) {}

  constexpr const int64_t* begin() const { return data_; }
  constexpr const int64_t* end() const { return data_ + size_; }
  constexpr const int64_t* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr int64_t operator[](size_t index) const { return data_[index]; }
  constexpr int64_t back() const { return data_[size_ - 1]; }
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  DimVector dims() const { return DimVector(begin(), end()); }
  bool operator==(IntArrayRef other) const {
    if (size_ != other.size_) return false;
    for (size_t i = 0; i < size_; ++i)
      if (data_[i] != other.data_[i]) return false;
    return true;
  }

 private:
  const int64_t* data_ = nullptr;
  size_t size_ = 0;
};

// "[2, 3]", the form every error message uses for shapes.
std::string to_string(IntArrayRef values);

int64_t product(IntArrayRef values);
// product() that throws ember::Error naming `op` when a value is negative or the product
// overflows int64 (or the element count times element_bytes does).
int64_t checked_numel(IntArrayRef sizes, const char* op, int64_t element_bytes = 1);

}  // namespace ember

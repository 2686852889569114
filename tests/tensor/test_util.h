#pragma once
// Helpers shared by the tensor tests: error checks, reference values, non-contiguous inputs.
#include <gtest/gtest.h>

#include <ember/ember.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace ember::testing {

// Runs `body`, expects an ember::Error whose message contains every fragment.
inline void expect_error(const std::function<void()>& body, const std::vector<std::string>& fragments) {
  try {
    body();
  } catch (const ember::Error& error) {
    const std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nmissing: " << fragment;
    }
    return;
  } catch (const std::exception& other) {
    ADD_FAILURE() << "expected ember::Error, got another exception: " << other.what();
    return;
  }
  ADD_FAILURE() << "expected ember::Error, nothing was thrown";
}

inline std::vector<double> values(const Tensor& tensor) { return tensor.to_vector<double>(); }

// Row-major multi-index of a flat position.
inline std::vector<int64_t> unravel(int64_t flat, IntArrayRef shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return index;
}

// Value of `tensor` (given as row-major values and shape) read at an index of a broadcast shape.
inline double broadcast_read(const std::vector<double>& data, IntArrayRef shape, const std::vector<int64_t>& index) {
  int64_t flat = 0;
  const size_t offset = index.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t i = shape[d] == 1 ? 0 : index[offset + d];
    flat = flat * shape[d] + i;
  }
  return data[static_cast<size_t>(flat)];
}

// Expected result of a broadcasting binary op, computed element by element in double.
inline std::vector<double> reference_binary(const Tensor& a, const Tensor& b, IntArrayRef out_shape,
                                            const std::function<double(double, double)>& op) {
  const std::vector<double> av = values(a), bv = values(b);
  std::vector<double> result(static_cast<size_t>(product(out_shape)));
  for (size_t i = 0; i < result.size(); ++i) {
    const auto index = unravel(static_cast<int64_t>(i), out_shape);
    result[i] = op(broadcast_read(av, a.sizes(), index), broadcast_read(bv, b.sizes(), index));
  }
  return result;
}

inline void expect_values_near(const Tensor& actual, const std::vector<double>& expected, double tolerance) {
  const std::vector<double> got = values(actual);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(got[i], expected[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], expected[i], tolerance * std::max(1.0, std::abs(expected[i]))) << "at " << i;
    }
  }
}

// A [rows, columns] tensor of distinct values laid out transposed in memory (not contiguous).
inline Tensor transposed_matrix(int64_t rows, int64_t columns, DType dtype = kFloat32) {
  return (arange(rows * columns, kFloat64).view({columns, rows}) * 0.5 - 3.0).to(dtype).t();
}

}  // namespace ember::testing

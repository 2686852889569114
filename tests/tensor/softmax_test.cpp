// softmax and log_softmax through the fused row primitive (softmax dim last) and the composite
// (any other dim), against a plain double-precision loop.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::expect_values_near;
using testing::values;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Softmax (or log_softmax) of each contiguous row of `data`, in double.
std::vector<double> reference(const std::vector<double>& data, int64_t n, bool log) {
  std::vector<double> result(data.size());
  for (size_t start = 0; start < data.size(); start += static_cast<size_t>(n)) {
    double maximum = -kInf;
    bool saw_nan = false;
    for (int64_t i = 0; i < n; ++i) {
      saw_nan |= std::isnan(data[start + i]);
      maximum = std::max(maximum, data[start + i]);
    }
    if (saw_nan) maximum = kNan;
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += std::exp(data[start + i] - maximum);
    for (int64_t i = 0; i < n; ++i) {
      const double shifted = data[start + i] - maximum;
      result[start + i] = log ? shifted - std::log(total) : std::exp(shifted) / total;
    }
  }
  return result;
}

// Varied values in [-8, 8]: every row has a different maximum and spread.
Tensor wavy(int64_t rows, int64_t n, DType dtype) {
  std::vector<double> data(static_cast<size_t>(rows * n));
  for (size_t i = 0; i < data.size(); ++i) data[i] = 8.0 * std::sin(0.37 * static_cast<double>(i) + 0.1 * (i % 13));
  return tensor(data, {rows, n}).to(dtype);
}

double tolerance_for(DType dtype) {
  if (dtype == kFloat64) return 1e-12;
  if (dtype == kFloat32) return 2e-6;
  if (dtype == kFloat16) return 2e-3;
  return 1.2e-2;  // bfloat16: 8 significant bits
}

// Bitwise equality of the values, nan equal to nan.
void expect_identical(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = values(a), y = values(b);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    EXPECT_EQ(std::memcmp(&x[i], &y[i], sizeof(double)), 0) << "at " << i << ": " << x[i] << " vs " << y[i];
  }
}

TEST(SoftmaxFused, MatchesDoubleReferenceForEveryDtypeAndRowLength) {
  for (const DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const int64_t n : {1, 7, 1000, 4097}) {
      SCOPED_TRACE(std::string(name(dtype)) + " n=" + std::to_string(n));
      const Tensor x = wavy(3, n, dtype);
      const std::vector<double> data = values(x);  // the rounded inputs the op actually sees
      const Tensor probabilities = softmax(x, 1);
      const Tensor logs = log_softmax(x, -1);
      EXPECT_EQ(probabilities.dtype(), dtype);
      EXPECT_EQ(logs.dtype(), dtype);
      EXPECT_EQ(probabilities.shape(), (DimVector{3, n}));
      expect_values_near(probabilities, reference(data, n, false), tolerance_for(dtype));
      expect_values_near(logs, reference(data, n, true), tolerance_for(dtype));
    }
  }
}

TEST(SoftmaxFused, RowsOfLengthOneGiveOneAndZero) {
  const Tensor x = tensor(std::vector<float>{-5.0f, 0.0f, 1e30f}, {3, 1});
  EXPECT_EQ(values(softmax(x, 1)), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(values(log_softmax(x, 1)), (std::vector<double>{0, 0, 0}));
}

TEST(SoftmaxFused, StableForLargeMagnitudes) {
  const std::vector<double> data{1000, -1000, 999, 0, -1000, -1000, -999, -1000.5};
  for (const DType dtype : {kFloat32, kFloat64}) {
    const Tensor x = tensor(data, {2, 4}).to(dtype);
    expect_values_near(softmax(x, 1), reference(data, 4, false), tolerance_for(dtype));
    expect_values_near(log_softmax(x, 1), reference(data, 4, true), tolerance_for(dtype));
  }
  // Hand-worked: softmax([1000, 999]) = [1 / (1 + e^-1), e^-1 / (1 + e^-1)].
  const double e = std::exp(-1.0);
  expect_values_near(softmax(tensor({1000.0f, 999.0f}), 0), {1 / (1 + e), e / (1 + e)}, 1e-6);
}

TEST(SoftmaxFused, InfinitiesAndNanFollowPyTorch) {
  // Expected rows from PyTorch 1.13 (torch.softmax / torch.log_softmax over dim 1): a -inf entry
  // gives 0 (log: -inf); a row of -inf, a row holding +inf or one holding nan is all nan.
  const std::vector<double> data{-kInf, 0, 1,  -kInf, -kInf, -kInf, 1, kInf, 2, 1, kNan, 2, 3, 3, 3};
  const double row0[] = {0.0, 0.2689414322376251, 0.7310585975646973};
  const double log_row0[] = {-kInf, -1.31326162815094, -0.31326165795326233};
  for (const DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    SCOPED_TRACE(name(dtype));
    const Tensor x = tensor(data, {5, 3}).to(dtype);
    const double tolerance = std::max(tolerance_for(dtype), 1e-7);
    const double third = 1.0 / 3.0, log_third = -std::log(3.0);
    expect_values_near(softmax(x, 1), {row0[0], row0[1], row0[2], kNan, kNan, kNan, kNan, kNan, kNan, kNan, kNan,
                                       kNan, third, third, third},
                       tolerance);
    expect_values_near(log_softmax(x, 1), {log_row0[0], log_row0[1], log_row0[2], kNan, kNan, kNan, kNan, kNan, kNan,
                                           kNan, kNan, kNan, log_third, log_third, log_third},
                       tolerance);
  }
}

TEST(SoftmaxFused, TransposedInputMatchesReferenceAndTheCompositePath) {
  for (const DType dtype : {kFloat32, kFloat64}) {
    const Tensor storage = wavy(1000, 5, dtype);  // contiguous [1000, 5]
    const Tensor x = storage.t();                 // [5, 1000], dim 1 last but not contiguous
    ASSERT_FALSE(x.is_contiguous());
    const std::vector<double> rows = values(x);   // row-major values of the transposed view
    expect_values_near(softmax(x, 1), reference(rows, 1000, false), tolerance_for(dtype));
    expect_values_near(log_softmax(x, -1), reference(rows, 1000, true), tolerance_for(dtype));
    // Dim 0 of the storage is not last: the composite path, over the same rows.
    expect_values_near(softmax(storage, 0).t(), values(softmax(x, 1)), tolerance_for(dtype));
    expect_values_near(log_softmax(storage, 0).t(), values(log_softmax(x, 1)), tolerance_for(dtype));
  }
}

TEST(SoftmaxFused, HigherRankAndSlicedInputs) {
  const Tensor x = wavy(6, 40, kFloat32).view({2, 3, 40});
  expect_values_near(softmax(x, 2), reference(values(x), 40, false), 2e-6);
  // Step-2 slice of the last dim: non-contiguous rows of 20.
  const Tensor sliced = x.slice(2, 0, std::nullopt, 2);
  ASSERT_FALSE(sliced.is_contiguous());
  expect_values_near(log_softmax(sliced, -1), reference(values(sliced), 20, true), 2e-6);
  // Dim 1 (composite) of a 3-D tensor against the fused path on the moved dim.
  expect_values_near(softmax(x, 1).transpose(1, 2), values(softmax(x.transpose(1, 2), 2)), 2e-6);
}

TEST(SoftmaxFused, ResultsAreBitIdenticalForAnyThreadCount) {
  const int saved = num_threads();
  for (const DType dtype : {kFloat32, kFloat64, kBFloat16}) {
    const Tensor x = wavy(256, 1000, dtype);
    set_num_threads(1);
    const Tensor one_p = softmax(x, 1), one_l = log_softmax(x, 1);
    set_num_threads(2);
    const Tensor two_p = softmax(x, 1), two_l = log_softmax(x, 1);
    expect_identical(one_p, two_p);
    expect_identical(one_l, two_l);
  }
  set_num_threads(saved);
}

TEST(SoftmaxFused, IntegersPromoteAndEmptyOrScalarInputsWork) {
  const Tensor ints = tensor(std::vector<int64_t>{1, 2, 3, 0, 0, 0}, {2, 3});
  const Tensor result = softmax(ints, 1);
  EXPECT_EQ(result.dtype(), kFloat32);
  expect_values_near(result, reference({1, 2, 3, 0, 0, 0}, 3, false), 1e-6);
  expect_values_near(log_softmax(ints, 1), reference({1, 2, 3, 0, 0, 0}, 3, true), 1e-6);

  EXPECT_EQ(softmax(zeros({4, 0}), 1).shape(), (DimVector{4, 0}));
  EXPECT_EQ(log_softmax(zeros({0, 4}), -1).shape(), (DimVector{0, 4}));
  const Tensor scalar = scalar_tensor(2.5);
  EXPECT_EQ(softmax(scalar, -1).dim(), 0);
  EXPECT_EQ(softmax(scalar, 0).item<double>(), 1.0);
  EXPECT_EQ(log_softmax(scalar, 0).item<double>(), 0.0);

  expect_error([&] { softmax(ints, 2); }, {"softmax", "dim 2"});
  expect_error([&] { log_softmax(Tensor(), 0); }, {"log_softmax"});
}

}  // namespace
}  // namespace ember

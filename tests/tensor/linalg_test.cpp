// Matrix products checked against plain double loops written here, over every rank
// combination of matmul, strided and broadcast inputs, empty shapes, dtypes and bad inputs.
#include <gtest/gtest.h>

#include <ember/ember.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::expect_values_near;

// Distinct small multiples of 1/4: exact in every floating dtype, so only the sums round.
Tensor sample(IntArrayRef shape, DType dtype = kFloat32, int salt = 0) {
  std::vector<double> data(static_cast<size_t>(product(shape)));
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<double>((static_cast<int>(i) * 7 + salt * 5) % 13 - 6) * 0.25;
  }
  return tensor(data, shape).to(dtype);
}

// Small non-negative integers, so uint8 products stay in range.
Tensor integer_sample(IntArrayRef shape, DType dtype, int salt = 0) {
  std::vector<int64_t> data(static_cast<size_t>(product(shape)));
  for (size_t i = 0; i < data.size(); ++i) data[i] = (static_cast<int64_t>(i) * 3 + salt) % 5;
  return tensor(data, shape).to(dtype);
}

// torch.matmul in double, straight from its definition: 1-D operands become a row (left) or a
// column (right), batch dims broadcast, and each output element is a sum over the shared dim.
// Returns the values in row-major order of the batched [..., m, n] result, which is also the
// order of the squeezed result.
std::vector<double> reference_matmul(const Tensor& a, const Tensor& b) {
  const std::vector<double> av = testing::values(a), bv = testing::values(b);
  DimVector shape_a = a.shape(), shape_b = b.shape();
  if (a.dim() == 1) shape_a.insert(shape_a.begin(), 1);
  if (b.dim() == 1) shape_b.push_back(1);
  const size_t batch_dims = std::max(shape_a.size(), shape_b.size()) - 2;
  DimVector batch(batch_dims, 1);
  for (size_t d = 0; d < batch_dims; ++d) {
    const size_t from_end = batch_dims - d;  // position counted from the last batch dim
    const int64_t size_a = shape_a.size() - 2 >= from_end ? shape_a[shape_a.size() - 2 - from_end] : 1;
    const int64_t size_b = shape_b.size() - 2 >= from_end ? shape_b[shape_b.size() - 2 - from_end] : 1;
    batch[d] = size_a == 1 ? size_b : size_a;
  }
  const int64_t m = shape_a[shape_a.size() - 2], k = shape_a.back(), n = shape_b.back();
  std::vector<double> result;
  for (int64_t flat = 0; flat < product(batch); ++flat) {
    const std::vector<int64_t> batch_index = testing::unravel(flat, batch);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          std::vector<int64_t> index_a = batch_index, index_b = batch_index;
          index_a.insert(index_a.end(), {i, p});
          index_b.insert(index_b.end(), {p, j});
          sum += testing::broadcast_read(av, shape_a, index_a) * testing::broadcast_read(bv, shape_b, index_b);
        }
        result.push_back(sum);
      }
    }
  }
  return result;
}

void expect_matmul(const Tensor& a, const Tensor& b, IntArrayRef expected_shape, double tolerance = 1e-5) {
  const Tensor result = matmul(a, b);
  EXPECT_EQ(result.sizes(), expected_shape) << "shapes " << to_string(a.sizes()) << " and " << to_string(b.sizes());
  EXPECT_EQ(result.dtype(), a.dtype());
  expect_values_near(result, reference_matmul(a, b), tolerance);
}

TEST(LinalgMatmul, EveryRankCombination) {
  expect_matmul(sample({5}), sample({5}, kFloat32, 1), {});
  expect_matmul(sample({3, 4}), sample({4, 5}, kFloat32, 1), {3, 5});
  expect_matmul(sample({4}), sample({4, 6}, kFloat32, 1), {6});
  expect_matmul(sample({3, 4}), sample({4}, kFloat32, 1), {3});
  expect_matmul(sample({2, 3, 4}), sample({2, 4, 5}, kFloat32, 1), {2, 3, 5});
  expect_matmul(sample({2, 3, 4}), sample({4, 5}, kFloat32, 1), {2, 3, 5});
  expect_matmul(sample({3, 4}), sample({2, 4, 5}, kFloat32, 1), {2, 3, 5});
  expect_matmul(sample({4}), sample({2, 4, 5}, kFloat32, 1), {2, 5});
  expect_matmul(sample({2, 3, 4}), sample({4}, kFloat32, 1), {2, 3});
  expect_matmul(sample({2, 1, 3, 4}), sample({3, 4, 2}, kFloat32, 1), {2, 3, 3, 2});
  expect_matmul(sample({4}), sample({2, 3, 4, 5}, kFloat32, 1), {2, 3, 5});
  expect_matmul(sample({1, 2, 3, 4}), sample({4}, kFloat32, 1), {1, 2, 3});
  expect_matmul(sample({2, 1, 1, 3, 4}), sample({1, 3, 2, 4, 2}, kFloat32, 1), {2, 3, 2, 3, 2});
}

TEST(LinalgMatmul, HandWorkedValues) {
  const Tensor a = tensor(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = tensor(std::vector<float>{7, 8, 9, 10, 11, 12}, {3, 2});
  EXPECT_EQ(matmul(a, b).to_vector<float>(), (std::vector<float>{58, 64, 139, 154}));
  EXPECT_EQ(matmul(tensor({1.0f, 2.0f, 3.0f}), tensor({4.0f, 5.0f, 6.0f})).item<float>(), 32.0f);
  EXPECT_EQ(a.matmul(b).to_vector<float>(), a.mm(b).to_vector<float>());
}

TEST(LinalgMatmul, TransposedOperands) {
  const Tensor a = testing::transposed_matrix(6, 5);  // [6, 5] stored column-major
  const Tensor b = testing::transposed_matrix(5, 7);
  expect_matmul(a, b, {6, 7});
  expect_matmul(a, sample({5, 3}), {6, 3});
  expect_matmul(sample({2, 6}), a, {2, 5});
  // Batched operands whose matrices are transposed views.
  const Tensor batched_a = sample({3, 4, 5}).transpose(1, 2);  // [3, 5, 4]
  const Tensor batched_b = sample({3, 2, 4}, kFloat32, 1).transpose(1, 2);  // [3, 4, 2]
  expect_matmul(batched_a, batched_b, {3, 5, 2});
  // The batch dim innermost in memory: matrices interleaved.
  expect_matmul(sample({4, 5, 3}).permute({2, 0, 1}), sample({3, 5, 2}, kFloat32, 2), {3, 4, 2});
}

TEST(LinalgMatmul, SlicedOperands) {
  const Tensor wide = sample({7, 12});
  expect_matmul(wide.narrow(1, 2, 5), sample({5, 4}, kFloat32, 1), {7, 4});               // leading dim 12
  expect_matmul(wide.slice(0, 0, std::nullopt, 2), sample({12, 3}, kFloat32, 1), {4, 3});  // rows step 2
  expect_matmul(wide.slice(1, 1, std::nullopt, 3), sample({4, 2}, kFloat32, 1), {7, 2});   // columns step 3: copied
  expect_matmul(sample({3, 6}), wide.t().slice(0, 0, std::nullopt, 2), {3, 7});             // transposed, rows step 2
  // Batch dims with gaps and a vector with a stride.
  expect_matmul(sample({6, 3, 4}).slice(0, 1, std::nullopt, 2), sample({3, 4, 2}, kFloat32, 1), {3, 3, 2});
  expect_matmul(sample({9}).slice(0, 0, std::nullopt, 3), sample({3, 3, 5}, kFloat32, 1), {3, 5});
  expect_matmul(sample({4, 3}), sample({6}).slice(0, 0, std::nullopt, 2), {4});
  // Batch dims that cannot be merged into one stride (looped over).
  expect_matmul(sample({3, 2, 4, 5}).permute({1, 0, 2, 3}), sample({2, 3, 5, 2}, kFloat32, 1), {2, 3, 4, 2});
}

TEST(LinalgMatmul, ExpandedOperands) {
  // A broadcast batch dim, on either side, with contiguous and transposed matrices.
  expect_matmul(sample({1, 3, 4}).expand({5, 3, 4}), sample({5, 4, 2}, kFloat32, 1), {5, 3, 2});
  expect_matmul(sample({5, 3, 4}), sample({4, 2}, kFloat32, 1).t().t().expand({5, 4, 2}), {5, 3, 2});
  expect_matmul(sample({5, 3, 4}), sample({2, 4}, kFloat32, 1).t().expand({5, 4, 2}), {5, 3, 2});
  // Rows that all alias one vector (stride 0 inside the matrix) must be copied.
  expect_matmul(sample({4}).expand({3, 4}), sample({4, 2}, kFloat32, 1), {3, 2});
  expect_matmul(sample({2, 1, 4}).expand({2, 3, 4}).transpose(1, 2).expand({2, 4, 3}), sample({3, 2}), {2, 4, 2});
  // Broadcast along a batch dim and a strided matrix layout together.
  const Tensor strided = sample({3, 8}).slice(1, 0, std::nullopt, 2).unsqueeze(0).expand({4, 3, 4});
  expect_matmul(strided, sample({4, 4, 2}, kFloat32, 1), {4, 3, 2});
  // A vector with stride 0.
  expect_matmul(sample({1}).expand({6}), sample({6}, kFloat32, 1), {});
}

TEST(LinalgMatmul, TallFoldedProduct) {
  // [batch, tokens, features] @ [features, out] as in a linear layer, contiguous and not.
  expect_matmul(sample({4, 5, 6}), sample({6, 3}, kFloat32, 1), {4, 5, 3});
  expect_matmul(sample({2, 4, 1, 6}), sample({6, 3}, kFloat32, 1), {2, 4, 1, 3});
  expect_matmul(sample({8, 5, 6}).slice(0, 0, std::nullopt, 2), sample({6, 3}, kFloat32, 1), {4, 5, 3});
  expect_matmul(sample({4, 5, 9}).narrow(2, 1, 6), sample({6, 3}, kFloat32, 1), {4, 5, 3});
}

TEST(LinalgMatmul, LargeAndManySmall) {
  // Big enough for OpenBLAS to use threads, and many small products spread over ours.
  expect_matmul(sample({130, 70}), sample({70, 90}, kFloat32, 1), {130, 90}, 1e-5);
  expect_matmul(sample({64, 8, 8}), sample({64, 8, 8}, kFloat32, 1), {64, 8, 8});
  const Tensor a = sample({100, 6, 7}), b = sample({100, 7, 5}, kFloat32, 3);
  const int threads = num_threads();
  set_num_threads(1);
  const std::vector<float> serial = matmul(a, b).to_vector<float>();
  set_num_threads(2);
  const std::vector<float> parallel = matmul(a, b).to_vector<float>();
  set_num_threads(threads);
  EXPECT_EQ(serial, parallel);
}

TEST(LinalgMatmul, ZeroSize) {
  expect_matmul(sample({0, 4}), sample({4, 3}), {0, 3});
  expect_matmul(sample({3, 4}), sample({4, 0}), {3, 0});
  expect_matmul(sample({0, 3, 4}), sample({4, 2}), {0, 3, 2});
  expect_matmul(sample({1, 3, 4}), sample({0, 4, 2}), {0, 3, 2});
  expect_matmul(sample({1, 4}).expand({3, 4}), sample({2, 0, 4, 2}), {2, 0, 3, 2});
  // Nothing to sum over: all zeros, like an empty sum.
  const Tensor empty_sum = matmul(sample({3, 0}), sample({0, 2}));
  EXPECT_EQ(empty_sum.sizes(), (DimVector{3, 2}));
  EXPECT_EQ(empty_sum.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(matmul(sample({0}), sample({0})).item<float>(), 0.0f);
  EXPECT_EQ(matmul(sample({2, 3, 0}, kFloat64), sample({0, 4}, kFloat64)).to_vector<double>(),
            std::vector<double>(24, 0.0));
}

TEST(LinalgMatmul, FloatingDtypes) {
  for (DType dtype : {kFloat64, kFloat16, kBFloat16}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const double tolerance = dtype == kFloat64 ? 1e-12 : dtype == kFloat16 ? 2e-3 : 1e-2;
    expect_matmul(sample({6, 9}, dtype), sample({9, 5}, dtype, 1), {6, 5}, tolerance);
    expect_matmul(sample({9, 6}, dtype).t(), sample({5, 9}, dtype, 1).t(), {6, 5}, tolerance);
    expect_matmul(sample({3, 4, 7}, dtype), sample({7, 2}, dtype, 1), {3, 4, 2}, tolerance);
    expect_matmul(sample({1, 4, 7}, dtype).expand({3, 4, 7}), sample({3, 7, 2}, dtype, 1), {3, 4, 2}, tolerance);
    expect_matmul(sample({40, 4, 5}, dtype), sample({40, 5, 3}, dtype, 2), {40, 4, 3}, tolerance);
    expect_matmul(sample({8}, dtype), sample({8}, dtype, 1), {}, tolerance);
    EXPECT_EQ(matmul(sample({2, 0}, dtype), sample({0, 3}, dtype)).to_vector<double>(), std::vector<double>(6, 0.0));
  }
  // float64 keeps digits float32 would lose.
  const Tensor precise = tensor(std::vector<double>{1.0 + 1e-12, 1.0}, {1, 2});
  const Tensor ones_column = tensor(std::vector<double>{1.0, -1.0}, {2, 1});
  EXPECT_NEAR(matmul(precise, ones_column).item<double>(), 1e-12, 1e-16);
}

TEST(LinalgMatmul, IntegerDtypes) {
  for (DType dtype : {kInt64, kInt32, kUInt8}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Tensor a = integer_sample({3, 4}, dtype), b = integer_sample({4, 2}, dtype, 1);
    expect_matmul(a, b, {3, 2}, 0.0);
    expect_matmul(a.t().contiguous().t(), b, {3, 2}, 0.0);
    expect_matmul(a.unsqueeze(0).expand({2, 3, 4}), b, {2, 3, 2}, 0.0);
  }
  // uint8 wraps modulo 256 as in PyTorch: 16 * 16 + 1 * 1 = 257 -> 1.
  const Tensor a = tensor(std::vector<uint8_t>{16, 1}, {1, 2});
  const Tensor b = tensor(std::vector<uint8_t>{16, 1}, {2, 1});
  EXPECT_EQ(matmul(a, b).item<int64_t>(), 1);
}

TEST(LinalgMm, MatchesMatmulAndChecksRank) {
  expect_values_near(mm(sample({3, 4}), sample({4, 2}, kFloat32, 1)),
                     reference_matmul(sample({3, 4}), sample({4, 2}, kFloat32, 1)), 1e-6);
  expect_values_near(mm(testing::transposed_matrix(3, 4), sample({4, 2})),
                     reference_matmul(testing::transposed_matrix(3, 4), sample({4, 2})), 1e-6);
  expect_error([] { mm(sample({2, 3, 4}), sample({4, 2})); }, {"mm:", "[2, 3, 4]", "[4, 2]"});
  expect_error([] { mm(sample({4}), sample({4, 2})); }, {"mm:", "[4]"});
  expect_error([] { mm(sample({3, 4}), sample({3, 2})); }, {"mm: shapes [3, 4] and [3, 2] cannot be multiplied"});
}

TEST(LinalgBmm, BatchesWithoutBroadcasting) {
  const Tensor a = sample({3, 2, 4}), b = sample({3, 4, 5}, kFloat32, 1);
  expect_values_near(bmm(a, b), reference_matmul(a, b), 1e-6);
  expect_values_near(bmm(a.transpose(1, 2).contiguous().transpose(1, 2), b), reference_matmul(a, b), 1e-6);
  EXPECT_EQ(bmm(sample({0, 2, 4}), sample({0, 4, 5})).sizes(), (DimVector{0, 2, 5}));
  expect_error([] { bmm(sample({3, 2, 4}), sample({1, 4, 5})); }, {"bmm:", "[3, 2, 4]", "[1, 4, 5]"});
  expect_error([] { bmm(sample({2, 4}), sample({4, 5})); }, {"bmm:", "[2, 4]", "[4, 5]"});
  expect_error([] { bmm(sample({3, 2, 4}), sample({3, 5, 5})); },
               {"bmm: shapes [3, 2, 4] and [3, 5, 5] cannot be multiplied"});
}

TEST(LinalgDot, VectorsOnly) {
  EXPECT_EQ(dot(tensor({1.0f, 2.0f, 3.0f}), tensor({4.0f, -5.0f, 6.0f})).item<float>(), 12.0f);
  const Tensor strided = sample({12}).slice(0, 0, std::nullopt, 3);
  expect_values_near(dot(strided, sample({4}, kFloat32, 1)), reference_matmul(strided, sample({4}, kFloat32, 1)),
                     1e-6);
  EXPECT_EQ(dot(sample({0}), sample({0})).dim(), 0);
  expect_error([] { dot(sample({2, 2}), sample({2, 2})); }, {"dot:", "[2, 2]"});
  expect_error([] { dot(sample({3}), sample({4})); }, {"dot:", "[3]", "[4]"});
}

// beta * bias + alpha * a @ b, in double.
std::vector<double> reference_addmm(const Tensor& bias, const Tensor& a, const Tensor& b, double beta, double alpha) {
  const std::vector<double> product_values = reference_matmul(a, b);
  const DimVector shape{a.size(0), b.size(1)};
  const std::vector<double> bias_values = testing::values(bias);
  std::vector<double> result(product_values.size());
  for (size_t i = 0; i < result.size(); ++i) {
    const double bias_value = testing::broadcast_read(bias_values, bias.sizes(), testing::unravel(i, shape));
    result[i] = (beta == 0.0 ? 0.0 : beta * bias_value) + alpha * product_values[i];
  }
  return result;
}

TEST(LinalgAddmm, BiasBroadcastAndFactors) {
  const Tensor a = sample({4, 3}), b = sample({3, 5}, kFloat32, 1);
  for (const Tensor& bias : {sample({4, 5}, kFloat32, 2), sample({5}, kFloat32, 2), sample({4, 1}, kFloat32, 2),
                             scalar_tensor(1.5), sample({1, 5}, kFloat32, 2).expand({4, 5}),
                             sample({5, 4}, kFloat32, 2).t()}) {
    SCOPED_TRACE(to_string(bias.sizes()));
    expect_values_near(addmm(bias, a, b), reference_addmm(bias, a, b, 1.0, 1.0), 1e-6);
    expect_values_near(addmm(bias, a, b, 0.5, -2.0), reference_addmm(bias, a, b, 0.5, -2.0), 1e-6);
    expect_values_near(addmm(bias, a.t().contiguous().t(), b, 2, 3), reference_addmm(bias, a, b, 2.0, 3.0), 1e-6);
  }
  // beta = 0 ignores the bias, NaN included, as PyTorch does.
  const Tensor nan_bias = full({4, 5}, std::numeric_limits<double>::quiet_NaN());
  expect_values_near(addmm(nan_bias, a, b, 0, 1), reference_matmul(a, b), 1e-6);
  // An empty sum leaves beta * bias.
  const Tensor bias = sample({2, 3});
  expect_values_near(addmm(bias, sample({2, 0}), sample({0, 3}), 3, 1),
                     reference_addmm(bias, sample({2, 0}), sample({0, 3}), 3.0, 1.0), 1e-6);
  EXPECT_EQ(addmm(bias, sample({2, 0}), sample({0, 3}), 0, 1).to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(addmm(sample({0, 3}), sample({0, 2}), sample({2, 3})).sizes(), (DimVector{0, 3}));
}

TEST(LinalgAddmm, OtherDtypes) {
  for (DType dtype : {kFloat64, kFloat16, kBFloat16}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Tensor bias = sample({5}, dtype, 2), a = sample({4, 6}, dtype), b = sample({6, 5}, dtype, 1);
    const double tolerance = dtype == kFloat64 ? 1e-12 : 1e-2;
    expect_values_near(addmm(bias, a, b, 0.5, 2.0), reference_addmm(bias, a, b, 0.5, 2.0), tolerance);
  }
  const Tensor a = arange(6, kInt64).view({2, 3}), b = arange(6, kInt64).view({3, 2});
  const Tensor bias = tensor(std::vector<int64_t>{100, 200});
  expect_values_near(addmm(bias, a, b, 2, 3), reference_addmm(bias, a, b, 2.0, 3.0), 0.0);
  expect_values_near(addmm(bias, a, b.t().contiguous().t(), 0, 1), reference_matmul(a, b), 0.0);
  expect_values_near(addmm(bias, sample({2, 0}).to(kInt64), sample({0, 2}).to(kInt64), 3, 1),
                     std::vector<double>{300, 600, 300, 600}, 0.0);
}

TEST(LinalgAddmm, BadInputs) {
  const Tensor a = sample({4, 3}), b = sample({3, 5});
  expect_error([&] { addmm(sample({3, 5}), a, b); }, {"addmm:", "[3, 5]", "[4, 5]"});
  expect_error([&] { addmm(sample({2, 4, 5}), a, b); }, {"addmm:", "[2, 4, 5]"});
  expect_error([&] { addmm(sample({5}), a, sample({4, 5})); },
               {"addmm: shapes [4, 3] and [4, 5] cannot be multiplied"});
  expect_error([&] { addmm(sample({5}, kFloat64), a, b); }, {"addmm:", "float64", "float32"});
  expect_error([&] { addmm(sample({5}), sample({2, 4, 3}), b); }, {"addmm:", "[2, 4, 3]"});
  const Tensor integers = arange(4, kInt64).view({2, 2});
  expect_error([&] { addmm(integers, integers, integers, 0.5, 1); }, {"addmm:", "int64", "0.5"});
  expect_error([&] { addmm(Tensor(), a, b); }, {"addmm:", "undefined"});
}

TEST(LinalgMatmul, BadInputs) {
  expect_error([] { matmul(sample({2, 3}), sample({4, 5})); },
               {"matmul: shapes [2, 3] and [4, 5] cannot be multiplied"});
  expect_error([] { matmul(sample({3}), sample({4})); }, {"matmul: shapes [3] and [4] cannot be multiplied"});
  expect_error([] { matmul(sample({2, 3}), sample({4})); }, {"matmul: shapes [2, 3] and [4] cannot be multiplied"});
  expect_error([] { matmul(sample({3}), sample({2, 4, 5})); },
               {"matmul: shapes [3] and [2, 4, 5] cannot be multiplied"});
  expect_error([] { matmul(sample({2, 3, 4}), sample({3, 4, 5})); },
               {"matmul:", "[2, 3, 4]", "[3, 4, 5]", "broadcast"});
  expect_error([] { matmul(sample({2, 3}), sample({3, 2}, kFloat64)); }, {"matmul:", "float32", "float64"});
  expect_error([] { matmul(sample({2, 3}, kFloat16), sample({3, 2}, kBFloat16)); }, {"matmul:", "float16", "bfloat16"});
  expect_error([] { matmul(scalar_tensor(2.0), sample({3})); }, {"matmul:", "[]", "[3]"});
  expect_error([] { matmul(sample({3}), scalar_tensor(2.0)); }, {"matmul:", "[3]", "[]"});
  const Tensor flags = full({2, 2}, true, kBool);
  expect_error([&] { matmul(flags, flags); }, {"matmul:", "bool"});
  expect_error([] { matmul(Tensor(), sample({3})); }, {"matmul:", "undefined"});
}

}  // namespace
}  // namespace ember

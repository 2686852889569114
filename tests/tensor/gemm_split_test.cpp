// Large products are split into row or column blocks across threads (cpu/blas.cpp): every shape,
// transposition and thread count must give the same values as a float64 reference.
#include <gtest/gtest.h>

#include "ember/ember.h"

namespace ember {
namespace {

// C = A @ B in float64, by definition.
Tensor reference_product(const Tensor& a, const Tensor& b) {
  const Tensor a64 = a.to(kFloat64).contiguous(), b64 = b.to(kFloat64).contiguous();
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const std::vector<double> left = a64.to_vector<double>(), right = b64.to_vector<double>();
  std::vector<double> product(m * n, 0.0);
  for (int64_t row = 0; row < m; ++row) {
    for (int64_t inner = 0; inner < k; ++inner) {
      for (int64_t col = 0; col < n; ++col) product[row * n + col] += left[row * k + inner] * right[inner * n + col];
    }
  }
  return tensor(product).view({m, n});
}

class GemmSplit : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    previous_ = num_threads();
    set_num_threads(GetParam());
  }
  void TearDown() override { set_num_threads(previous_); }
  int previous_ = 1;
};

TEST_P(GemmSplit, BlocksCoverEveryElementForAllShapesAndTranspositions) {
  manual_seed(3);
  // Tall, wide, sizes that are not multiples of the 16-wide blocks, and one barely big enough to split.
  for (const auto& [m, k, n] : std::vector<std::array<int64_t, 3>>{{301, 67, 45}, {45, 67, 301}, {64, 64, 65}, {17, 200, 33}}) {
    for (const bool transpose_a : {false, true}) {
      for (const bool transpose_b : {false, true}) {
        const Tensor a = transpose_a ? randn({k, m}).t() : randn({m, k});
        const Tensor b = transpose_b ? randn({n, k}).t() : randn({k, n});
        const Tensor product = matmul(a, b);
        EXPECT_TRUE(allclose(product.to(kFloat64), reference_product(a, b), 1e-4, 1e-4))
            << m << "x" << k << "x" << n << " transpose_a " << transpose_a << " transpose_b " << transpose_b;
      }
    }
  }
}

TEST_P(GemmSplit, BatchesSmallerThanTheThreadCountSplitEachProduct) {
  manual_seed(4);
  const Tensor a = randn({1, 130, 90}), b = randn({1, 90, 70});
  const Tensor product = bmm(a, b);
  EXPECT_TRUE(allclose(product[0].to(kFloat64), reference_product(a[0], b[0]), 1e-4, 1e-4));
}

TEST_P(GemmSplit, AddmmKeepsBetaAndAlphaInEveryBlock) {
  manual_seed(5);
  const Tensor bias = randn({200, 48}), a = randn({200, 80}), b = randn({80, 48});
  const Tensor result = addmm(bias, a, b, 0.5, 2.0);
  const Tensor expected = bias.to(kFloat64) * 0.5 + reference_product(a, b) * 2.0;
  EXPECT_TRUE(allclose(result.to(kFloat64), expected, 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Threads, GemmSplit, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace ember

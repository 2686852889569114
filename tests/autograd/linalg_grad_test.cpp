// Gradients of the matrix products: every matmul shape case, broadcast batch dims, addmm's bias
// forms and scalars, and a linear layer's sizes checked against a float64 reference.
#include <gtest/gtest.h>

#include <functional>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"

namespace ember {
namespace {

Tensor leaf(IntArrayRef sizes) { return randn(sizes, kFloat64).requires_grad_(); }

// A leaf stored column-major: the transpose of a row-major [cols, rows] tensor.
Tensor column_major_leaf(int64_t rows, int64_t cols, DType dtype = kFloat64) {
  Tensor matrix = randn({cols, rows}, dtype).t();
  matrix.requires_grad_();
  return matrix;
}

void gradcheck_product(const std::function<Tensor(const Tensor&, const Tensor&)>& op, IntArrayRef shape_a,
                       IntArrayRef shape_b) {
  SCOPED_TRACE(to_string(shape_a) + " x " + to_string(shape_b));
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                      {leaf(shape_a), leaf(shape_b)});
}

Tensor matmul_op(const Tensor& a, const Tensor& b) { return matmul(a, b); }

TEST(LinalgGrad, MatmulEveryShapeCase) {
  gradcheck_product(matmul_op, {4}, {4});           // dot
  gradcheck_product(matmul_op, {4}, {4, 3});        // vector @ matrix
  gradcheck_product(matmul_op, {3, 4}, {4});        // matrix @ vector
  gradcheck_product(matmul_op, {3, 4}, {4, 5});     // matrix @ matrix
  gradcheck_product(matmul_op, {2, 3, 4}, {4, 5});  // batch @ shared matrix
  gradcheck_product(matmul_op, {2, 3, 4}, {4});     // batch @ vector
  gradcheck_product(matmul_op, {4}, {2, 4, 5});     // vector @ batch
  gradcheck_product(matmul_op, {3, 4}, {2, 4, 5});  // shared matrix @ batch
  gradcheck_product(matmul_op, {2, 3, 4}, {2, 4, 5});
  // Broadcast batch dims, summed back to each operand's shape.
  gradcheck_product(matmul_op, {2, 1, 3, 4}, {5, 4, 2});
  gradcheck_product(matmul_op, {1, 3, 4}, {2, 4, 5});
  gradcheck_product(matmul_op, {3, 1, 2, 4}, {1, 2, 4, 3});
}

TEST(LinalgGrad, MatmulNodeNames) {
  Tensor v = leaf({4}), m = leaf({3, 4}), n = leaf({4, 2}), batch = leaf({2, 3, 4});
  EXPECT_STREQ(matmul(v, v).grad_fn()->name(), "DotBackward0");
  EXPECT_STREQ(matmul(m, v).grad_fn()->name(), "MvBackward0");
  EXPECT_STREQ(matmul(m, n).grad_fn()->name(), "MmBackward0");
  EXPECT_STREQ(matmul(batch, n).grad_fn()->name(), "BmmBackward0");
  EXPECT_EQ(matmul(batch, n).grad_fn()->next_edges().size(), 2u);
}

TEST(LinalgGrad, MmBmmDot) {
  gradcheck_product([](const Tensor& a, const Tensor& b) { return mm(a, b); }, {3, 4}, {4, 5});
  gradcheck_product([](const Tensor& a, const Tensor& b) { return mm(a, b); }, {1, 4}, {4, 1});
  gradcheck_product([](const Tensor& a, const Tensor& b) { return bmm(a, b); }, {2, 3, 4}, {2, 4, 5});
  gradcheck_product([](const Tensor& a, const Tensor& b) { return dot(a, b); }, {5}, {5});
  Tensor a = leaf({3, 4}), b = leaf({4, 5});
  EXPECT_STREQ(mm(a, b).grad_fn()->name(), "MmBackward0");
  EXPECT_STREQ(bmm(leaf({2, 3, 4}), leaf({2, 4, 5})).grad_fn()->name(), "BmmBackward0");
  EXPECT_STREQ(dot(leaf({3}), leaf({3})).grad_fn()->name(), "DotBackward0");
}

TEST(LinalgGrad, OnlyInputsThatRequireGradGetOne) {
  Tensor a = leaf({3, 4});
  const Tensor b = randn({4, 5}, kFloat64);
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return mm(in[0], b); }, {a});
  mm(a, b).sum().backward();
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  const Tensor c = randn({2, 3, 4}, kFloat64);
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return matmul(c, in[0]); }, {leaf({4, 5})});
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], c); }, {leaf({3, 1, 2, 3})});
}

TEST(LinalgGrad, ColumnMajorOperandsGetTheRightGradient) {
  // A linear layer multiplies by weight.t(): a column-major operand. Its gradient is computed
  // in that layout; the values must not change.
  for (const bool a_transposed : {false, true}) {
    for (const bool b_transposed : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "a column-major " << a_transposed << ", b column-major " << b_transposed);
      Tensor a = a_transposed ? column_major_leaf(3, 4) : leaf({3, 4});
      Tensor b = b_transposed ? column_major_leaf(4, 5) : leaf({4, 5});
      Tensor dense_a = a.detach().contiguous().requires_grad_(), dense_b = b.detach().contiguous().requires_grad_();
      const Tensor weights = randn({3, 5}, kFloat64);
      const auto grads = autograd::grad({mm(a, b)}, {a, b}, {weights});
      const auto expected = autograd::grad({mm(dense_a, dense_b)}, {dense_a, dense_b}, {weights});
      EXPECT_TRUE(allclose(grads[0], expected[0], 1e-12, 1e-12));
      EXPECT_TRUE(allclose(grads[1], expected[1], 1e-12, 1e-12));
      const auto addmm_grads =
          autograd::grad({addmm(zeros({5}, kFloat64), a, b, 1, 2.5)}, {a, b}, {weights});
      EXPECT_TRUE(allclose(addmm_grads[0], expected[0] * 2.5, 1e-12, 1e-12));
      EXPECT_TRUE(allclose(addmm_grads[1], expected[1] * 2.5, 1e-12, 1e-12));
    }
  }
}

TEST(LinalgGrad, ThroughTransposedViews) {
  // A linear layer: addmm(bias, x, weight.t()), every operand requiring grad.
  autograd::gradcheck([](const std::vector<Tensor>& in) { return addmm(in[0], in[1], in[2].t()); },
                      {leaf({5}), leaf({3, 4}), leaf({5, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return mm(in[0].t(), in[1].t()); },
                      {leaf({4, 3}), leaf({5, 4})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0].transpose(-1, -2), in[1]); },
                      {leaf({2, 4, 3}), leaf({4, 5})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return bmm(in[0], in[1].transpose(1, 2)); },
                      {leaf({2, 3, 4}), leaf({2, 5, 4})});
}

TEST(LinalgGrad, AddmmBiasFormsAndScalars) {
  struct Case {
    std::vector<int64_t> bias_shape;
    double beta, alpha;
  };
  for (const Case& c : std::vector<Case>{{{3, 5}, 1.0, 1.0},
                                        {{5}, 1.0, 1.0},
                                        {{1, 5}, 0.5, 2.0},
                                        {{3, 1}, 1.0, -1.5},
                                        {{}, 2.0, 1.0},
                                        {{5}, 0.0, 3.0}}) {
    SCOPED_TRACE(::testing::Message() << "bias " << to_string(IntArrayRef(c.bias_shape)) << " beta " << c.beta
                                      << " alpha " << c.alpha);
    autograd::gradcheck(
        [&](const std::vector<Tensor>& in) { return addmm(in[0], in[1], in[2], c.beta, c.alpha); },
        {leaf(c.bias_shape), leaf({3, 4}), leaf({4, 5})});
  }
  Tensor bias = leaf({5});
  EXPECT_STREQ(addmm(bias, randn({3, 4}, kFloat64), randn({4, 5}, kFloat64)).grad_fn()->name(), "AddmmBackward0");
  // Only the bias requires grad.
  const Tensor a = randn({3, 4}, kFloat64), b = randn({4, 5}, kFloat64);
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return addmm(in[0], a, b, 0.5); }, {bias});
}

// The reference: an independent float64 dot product for a sample of entries, and the whole
// matrices against float64 products.
TEST(LinalgGrad, LinearLayerSizedProductMatchesFloat64Reference) {
  manual_seed(7);
  const int64_t m = 128, k = 784, n = 1024;
  Tensor a = randn({m, k}).requires_grad_();
  Tensor b = randn({k, n}).requires_grad_();
  const Tensor grad = randn({m, n});
  mm(a, b).backward(grad);
  ASSERT_EQ(a.grad().sizes(), a.sizes());
  ASSERT_EQ(b.grad().sizes(), b.sizes());

  const Tensor a64 = a.detach().to(kFloat64), b64 = b.detach().to(kFloat64), grad64 = grad.to(kFloat64);
  EXPECT_TRUE(allclose(a.grad().to(kFloat64), mm(grad64, b64.t()), 1e-4, 1e-3));
  EXPECT_TRUE(allclose(b.grad().to(kFloat64), mm(a64.t(), grad64), 1e-4, 1e-3));

  const std::vector<double> av = a64.contiguous().to_vector<double>(), bv = b64.contiguous().to_vector<double>(),
                            gv = grad64.contiguous().to_vector<double>();
  const std::vector<float> grad_a = a.grad().contiguous().to_vector<float>(),
                           grad_b = b.grad().contiguous().to_vector<float>();
  for (int64_t sample = 0; sample < 64; ++sample) {
    const int64_t row = (sample * 37) % m, col = (sample * 101) % k;  // entry of grad_a: sum_j g[row, j] b[col, j]
    double expected = 0;
    for (int64_t j = 0; j < n; ++j) expected += gv[row * n + j] * bv[col * n + j];
    EXPECT_NEAR(grad_a[row * k + col], expected, 1e-3 + 1e-4 * std::abs(expected));
    const int64_t inner = (sample * 53) % k, out = (sample * 211) % n;  // grad_b: sum_i a[i, inner] g[i, out]
    expected = 0;
    for (int64_t i = 0; i < m; ++i) expected += av[i * k + inner] * gv[i * n + out];
    EXPECT_NEAR(grad_b[inner * n + out], expected, 1e-3 + 1e-4 * std::abs(expected));
  }

  // The same through addmm with the weight as a linear layer stores it ([n, k], used transposed).
  Tensor weight_t = column_major_leaf(k, n, kFloat32);
  Tensor bias = randn({n}).requires_grad_();
  Tensor x = a.detach().requires_grad_();
  addmm(bias, x, weight_t).backward(grad);
  EXPECT_TRUE(allclose(x.grad().to(kFloat64), mm(grad64, weight_t.detach().to(kFloat64).t()), 1e-4, 1e-3));
  EXPECT_TRUE(allclose(weight_t.grad().to(kFloat64), mm(a64.t(), grad64), 1e-4, 1e-3));
  EXPECT_TRUE(allclose(bias.grad().to(kFloat64), sum(grad64, {0}), 1e-4, 1e-3));
}

}  // namespace
}  // namespace ember

// Gradients of gathering, scattering and joining: repeated indices accumulate, partial indices
// leave zeros, and cat/stack hand each input its own slice.
#include <gtest/gtest.h>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"

namespace ember {
namespace {

Tensor leaf(IntArrayRef sizes) { return randn(sizes, kFloat64).requires_grad_(); }

Tensor indices(const std::vector<int64_t>& values, IntArrayRef sizes) { return tensor(values, sizes); }

void expect_values(const Tensor& actual, const std::vector<double>& expected) {
  ASSERT_TRUE(actual.defined());
  const std::vector<double> values = actual.to(kFloat64).contiguous().to_vector<double>();
  ASSERT_EQ(values.size(), expected.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_DOUBLE_EQ(values[i], expected[i]) << "element " << i;
}

TEST(IndexingGrad, IndexSelectAccumulatesRepeatedIndices) {
  const Tensor index = indices({2, 0, 2}, {3});
  for (const int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE(::testing::Message() << "dim " << dim);
    autograd::gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], dim, index); },
                        {leaf({3, 4})});
  }
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 1, index.to(kInt32)); },
                      {leaf({2, 3, 2})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return index_select(in[0], 0, indices({0}, {1})); },
                      {leaf({})});
  Tensor x = leaf({4});
  Tensor selected = index_select(x, 0, indices({1, 1, 3}, {3}));
  EXPECT_STREQ(selected.grad_fn()->name(), "IndexSelectBackward0");
  selected.sum().backward();
  expect_values(x.grad(), {0, 2, 0, 1});
}

TEST(IndexingGrad, GatherScattersBack) {
  const Tensor index = indices({0, 2, 2, 1, 0, 0}, {2, 3});
  for (const int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE(::testing::Message() << "dim " << dim);
    autograd::gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], dim, index); }, {leaf({3, 4})});
  }
  Tensor x = leaf({2, 3});
  Tensor gathered = gather(x, 1, indices({0, 0, 2, 1}, {2, 2}));
  EXPECT_STREQ(gathered.grad_fn()->name(), "GatherBackward0");
  gathered.sum().backward();
  expect_values(x.grad(), {2, 0, 0, 0, 1, 1});
}

TEST(IndexingGrad, ScatterAddToInputAndSource) {
  const Tensor index = indices({0, 2, 2, 1, 0, 0}, {2, 3});
  for (const int64_t dim : {1, -1}) {
    autograd::gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], dim, index, in[1]); },
                        {leaf({2, 4}), leaf({2, 3})});
  }
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, index.clamp(0, 1), in[1]); },
                      {leaf({2, 3}), leaf({2, 3})});
  // An index smaller than the source reads only its corner; the rest of the source gets 0.
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, index, in[1]); },
                      {leaf({2, 5}), leaf({3, 4})});
  Tensor input = leaf({2, 3}), source = leaf({2, 2});
  const Tensor weights = tensor(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor result = scatter_add(input, 1, indices({2, 2, 0, 1}, {2, 2}), source);
  EXPECT_STREQ(result.grad_fn()->name(), "ScatterAddBackward0");
  (result * weights).sum().backward();
  expect_values(input.grad(), {1, 2, 3, 4, 5, 6});
  expect_values(source.grad(), {3, 3, 4, 5});
  // Only the source requires grad.
  const Tensor plain = randn({2, 4}, kFloat64);
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(plain, 1, index, in[0]); },
                      {leaf({2, 3})});
}

TEST(IndexingGrad, IndexAddToInputAndSource) {
  const Tensor index = indices({2, 0, 2}, {3});
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return index_add(in[0], 0, index, in[1]); },
                      {leaf({4, 2}), leaf({3, 2})});
  autograd::gradcheck([&](const std::vector<Tensor>& in) { return index_add(in[0], -1, index, in[1]); },
                      {leaf({2, 3}), leaf({2, 3})});
  Tensor input = leaf({3}), source = leaf({2});
  Tensor result = index_add(input, 0, indices({2, 2}, {2}), source);
  EXPECT_STREQ(result.grad_fn()->name(), "IndexAddBackward0");
  (result * tensor(std::vector<double>{1, 2, 3})).sum().backward();
  expect_values(input.grad(), {1, 2, 3});
  expect_values(source.grad(), {3, 3});
}

TEST(IndexingGrad, CatAlongEveryDim) {
  for (const int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE(::testing::Message() << "dim " << dim);
    const std::vector<int64_t> second = dim == 0 ? std::vector<int64_t>{1, 3} : std::vector<int64_t>{2, 1};
    autograd::gradcheck([&](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, dim); },
                        {leaf({2, 3}), leaf(second), leaf({2, 3})});
  }
  // Inputs that need no gradient, and the legacy empty 1-D tensors cat skips.
  const Tensor plain = randn({2, 3}, kFloat64);
  autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return cat({plain, in[0], empty({0}, kFloat64), in[1]}, 0); },
      {leaf({1, 3}), leaf({3, 3})});
  Tensor a = leaf({2}), b = leaf({3});
  Tensor joined = cat({a, b});
  EXPECT_STREQ(joined.grad_fn()->name(), "CatBackward0");
  (joined * tensor(std::vector<double>{1, 2, 3, 4, 5})).sum().backward();
  expect_values(a.grad(), {1, 2});
  expect_values(b.grad(), {3, 4, 5});
}

TEST(IndexingGrad, CatPromotesAndGradientsKeepEachDtype) {
  Tensor a = randn({2}).requires_grad_();
  Tensor b = randn({2}, kFloat64).requires_grad_();
  Tensor joined = cat({a, b});
  EXPECT_EQ(joined.dtype(), kFloat64);
  joined.sum().backward();
  EXPECT_EQ(a.grad().dtype(), kFloat32);
  EXPECT_EQ(b.grad().dtype(), kFloat64);
}

TEST(IndexingGrad, StackAlongEveryDim) {
  for (const int64_t dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE(::testing::Message() << "dim " << dim);
    autograd::gradcheck([&](const std::vector<Tensor>& in) { return stack({in[0], in[1], in[2]}, dim); },
                        {leaf({2, 3}), leaf({2, 3}), leaf({2, 3})});
  }
  Tensor a = leaf({2}), b = leaf({2});
  Tensor stacked = stack({a, b}, 1);
  EXPECT_STREQ(stacked.grad_fn()->name(), "StackBackward0");
  ASSERT_EQ(stacked.grad_fn()->next_edges().size(), 2u);
  EXPECT_TRUE(stacked.grad_fn()->next_edges()[0].node->is_accumulator());
  (stacked * tensor(std::vector<double>{1, 2, 3, 4}, {2, 2})).sum().backward();
  expect_values(a.grad(), {1, 3});
  expect_values(b.grad(), {2, 4});
}

TEST(IndexingGrad, InPlaceFormsRecordOnANonLeaf) {
  const Tensor index = indices({0, 2, 2, 1, 0, 0}, {2, 3});
  autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        Tensor target = in[0] * 2.0;
        target.scatter_add_(1, index, in[1]);
        return target;
      },
      {leaf({2, 4}), leaf({2, 3})});
  autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        Tensor target = in[0] * 2.0;
        target.index_add_(0, indices({2, 0, 2}, {3}), in[1]);
        return target;
      },
      {leaf({4, 2}), leaf({3, 2})});
  // A target without history gains the source's.
  Tensor source = leaf({2, 3});
  Tensor target = zeros({2, 4}, kFloat64);
  target.scatter_add_(1, index, source);
  EXPECT_STREQ(target.grad_fn()->name(), "ScatterAddBackward0");
  target.sum().backward();
  expect_values(source.grad(), {1, 1, 1, 1, 1, 1});
  // A leaf that requires grad cannot be written in place, as in PyTorch.
  Tensor parameter = leaf({2, 4});
  EXPECT_THROW(parameter.scatter_add_(1, index, source), Error);
  EXPECT_THROW(parameter.index_add_(1, indices({0}, {1}), randn({2, 1}, kFloat64)), Error);
  {
    autograd::NoGradGuard no_grad;
    parameter.index_add_(1, indices({0}, {1}), randn({2, 1}, kFloat64));
  }
}

TEST(IndexingGrad, ThroughNonContiguousViews) {
  autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return index_select(in[0].t(), 0, indices({1, 1, 0}, {3})); },
      {leaf({2, 3})});
  autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return gather(in[0].t(), 1, indices({0, 1, 1, 0}, {2, 2})); },
      {leaf({2, 3})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return cat({in[0].t(), in[1]}, 0); },
                      {leaf({3, 2}), leaf({1, 3})});
  autograd::gradcheck([](const std::vector<Tensor>& in) { return stack({in[0].t(), in[1]}, 1); },
                      {leaf({3, 2}), leaf({2, 3})});
}

TEST(IndexingGrad, OneHotIsNotDifferentiable) {
  const Tensor encoded = one_hot(indices({0, 2, 1}, {3}), 3);
  EXPECT_EQ(encoded.dtype(), kInt64);
  EXPECT_FALSE(encoded.requires_grad());
}

}  // namespace
}  // namespace ember

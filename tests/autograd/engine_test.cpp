// The engine: the seeds' examples, accumulation, retain_graph, hooks, in-place checks, deep chains.
#include <gtest/gtest.h>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"

namespace ember {
namespace {

TEST(Engine, SquareAtTwoHasGradientFour) {
  Tensor x = full({}, 2.0).requires_grad_();
  Tensor y = x * x;
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 4.0);
}

TEST(Engine, FourOpGraphOnSmallTensor) {
  Tensor x = arange(-8, 8, 1, kFloat32).reshape({4, 4}).requires_grad_();
  Tensor loss = ((x * 2 + 1).relu()).sum();
  loss.backward();
  // d/dx relu(2x+1) = 2 where 2x+1 > 0, i.e. x >= 0 here.
  const std::vector<float> grad = x.grad().to_vector<float>();
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(grad[i], i - 8 >= 0 ? 2.0f : 0.0f) << i;
  EXPECT_STREQ(loss.grad_fn()->name(), "SumBackward0");
}

TEST(Engine, GradcheckPassesForMulAddAndCatchesAWrongGradient) {
  Tensor a = randn({3, 4}, kFloat64).requires_grad_();
  Tensor b = randn({4}, kFloat64).requires_grad_();
  autograd::gradcheck([](const std::vector<Tensor>& in) { return (in[0] * in[1] + in[1]).relu() / 3.0; }, {a, b});
  // A function whose recorded gradient is wrong: x * x computed through a detached factor.
  EXPECT_THROW(autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0].detach(); }, {a}),
               Error);
}

}  // namespace
}  // namespace ember

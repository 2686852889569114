// The engine: the seeds' examples, accumulation, retain_graph, grad(), hooks, saved-tensor version
// checks, grad mode, and a chain deep enough that any recursion would overflow the stack.
#include <gtest/gtest.h>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"

namespace ember {
namespace {

using autograd::NoGradGuard;

TEST(Engine, SquareAtTwoHasGradientFour) {
  Tensor x = full({}, 2.0).requires_grad_();
  Tensor y = x * x;
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 4.0);
}

TEST(Engine, LogAtTwoHasGradientOneHalf) {
  Tensor x = full({}, 2.0).requires_grad_();
  log(x).backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 0.5);
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

TEST(Engine, LeafAndNonLeafFlags) {
  Tensor x = ones({2}).requires_grad_();
  Tensor constant = ones({2});
  Tensor y = x * 3;
  EXPECT_TRUE(x.is_leaf());
  EXPECT_TRUE(constant.is_leaf());
  EXPECT_FALSE(constant.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(x.grad_fn(), nullptr);
  EXPECT_STREQ(y.grad_fn()->name(), "MulBackward1");
  EXPECT_FALSE((constant * 3).requires_grad());
  Tensor detached = y.detach();
  EXPECT_FALSE(detached.requires_grad());
  EXPECT_TRUE(detached.is_leaf());
  EXPECT_TRUE(detached.shares_storage_with(y));
  EXPECT_THROW(y.requires_grad_(false), Error);
  EXPECT_THROW(arange(0, 3).requires_grad_(), Error);  // int64
}

TEST(Engine, GradientsAccumulateAcrossBackwardCallsUntilZeroed) {
  Tensor x = full({3}, 1.5).requires_grad_();
  (x * 2).sum().backward();
  (x * 3).sum().backward();
  EXPECT_TRUE(allclose(x.grad(), full({3}, 5.0f)));
  x.mutable_grad().zero_();
  (x * 4).sum().backward();
  EXPECT_TRUE(allclose(x.grad(), full({3}, 4.0f)));
}

TEST(Engine, SharedSubexpressionSumsBothPaths) {
  Tensor x = full({2}, 3.0, kFloat64).requires_grad_();
  Tensor y = x * x;          // used twice below
  Tensor z = (y + y * x).sum();  // x^2 + x^3 -> 2x + 3x^2 = 6 + 27
  z.backward();
  EXPECT_TRUE(allclose(x.grad(), full({2}, 33.0, kFloat64)));
}

TEST(Engine, NonScalarNeedsAnExplicitGradient) {
  Tensor x = ones({2, 2}).requires_grad_();
  Tensor y = x * 2;
  EXPECT_THROW(y.backward(), Error);
  y.backward(full({2, 2}, 0.5f));
  EXPECT_TRUE(allclose(x.grad(), ones({2, 2})));
  Tensor z = x * 2;
  EXPECT_THROW(z.backward(ones({3})), Error);  // wrong shape
}

TEST(Engine, BackwardTwiceNeedsRetainGraph) {
  Tensor x = full({}, 2.0).requires_grad_();
  Tensor y = x * x;
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 8.0);
  try {
    y.backward();
    FAIL() << "a third backward through a freed graph must fail";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("MulBackward0"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("retain_graph"), std::string::npos) << error.what();
  }
}

TEST(Engine, BackwardOnATensorWithoutHistoryFails) {
  Tensor x = ones({});
  EXPECT_THROW(x.backward(), Error);
}

TEST(Engine, ModifyingASavedTensorInPlaceIsCaughtAtBackward) {
  Tensor x = full({3}, 2.0).requires_grad_();
  Tensor w = full({3}, 4.0);
  Tensor y = (x * w).sum();  // saves w for x's gradient
  w.add_(1);                 // w does not require grad, so this is allowed, but bumps its version
  try {
    y.backward();
    FAIL() << "backward must refuse a modified saved tensor";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("MulBackward0"), std::string::npos) << message;
    EXPECT_NE(message.find("in-place"), std::string::npos) << message;
  }
}

TEST(Engine, NoGradGuardStopsRecordingAndRestores) {
  Tensor x = ones({2}).requires_grad_();
  {
    NoGradGuard no_grad;
    EXPECT_FALSE((x * 2).requires_grad());
    {
      autograd::EnableGradGuard enable;
      EXPECT_TRUE((x * 2).requires_grad());
    }
    EXPECT_FALSE(autograd::GradMode::is_enabled());
  }
  EXPECT_TRUE(autograd::GradMode::is_enabled());
  EXPECT_TRUE((x * 2).requires_grad());
}

TEST(Engine, GradReturnsGradientsWithoutTouchingDotGrad) {
  Tensor a = full({2}, 3.0, kFloat64).requires_grad_();
  Tensor b = full({2}, 5.0, kFloat64).requires_grad_();
  Tensor hidden = a * b;
  Tensor out = (hidden * a).sum();  // a^2 b
  const std::vector<Tensor> grads = autograd::grad({out}, {a, hidden}, {}, /*retain_graph=*/true);
  EXPECT_TRUE(allclose(grads[0], full({2}, 30.0, kFloat64)));  // 2ab
  EXPECT_TRUE(allclose(grads[1], full({2}, 3.0, kFloat64)));   // d out / d hidden = a
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  Tensor unused = ones({1}, kFloat64).requires_grad_();
  EXPECT_THROW(autograd::grad({out}, {unused}, {}, true), Error);
  EXPECT_FALSE(autograd::grad({out}, {unused}, {}, true, /*allow_unused=*/true)[0].defined());
}

TEST(Engine, TensorHookSeesAndReplacesTheGradient) {
  Tensor x = full({2}, 1.0).requires_grad_();
  Tensor y = x * 3;
  Tensor seen;
  y.register_hook([&](const Tensor& grad) { seen = grad.clone(); });
  HookHandle doubling = y.register_hook([](const Tensor& grad) { return grad * 2; });
  (y * 5).sum().backward();
  EXPECT_TRUE(allclose(seen, full({2}, 5.0f)));
  EXPECT_TRUE(allclose(x.grad(), full({2}, 30.0f)));  // 5 * 2 (hook) * 3
  doubling.remove();
  x.mutable_grad() = Tensor();
  Tensor y2 = x * 3;
  (y2 * 5).sum().backward();
  EXPECT_TRUE(allclose(x.grad(), full({2}, 15.0f)));
}

TEST(Engine, LeafHookRunsBeforeAccumulation) {
  Tensor x = full({2}, 1.0).requires_grad_();
  HookHandle handle = x.register_hook([](const Tensor& grad) { return grad * 10; });
  (x * 2).sum().backward();
  EXPECT_TRUE(allclose(x.grad(), full({2}, 20.0f)));
  handle.remove();
  (x * 2).sum().backward();
  EXPECT_TRUE(allclose(x.grad(), full({2}, 22.0f)));
}

TEST(Engine, PostAccumulateHookFiresOnceWithTheCompleteGradient) {
  Tensor w = full({2}, 1.0).requires_grad_();
  int calls = 0;
  Tensor seen;
  w.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    ++calls;
    seen = leaf.grad().clone();
  });
  // w is used by three ops: its gradient is complete only after all three contributed.
  Tensor loss = (w * 2).sum() + (w * 3).sum() + (w * w).sum();
  loss.backward();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(allclose(seen, full({2}, 7.0f)));
  EXPECT_THROW((w * 2).register_post_accumulate_grad_hook([](const Tensor&) {}), Error);
}

TEST(Engine, PostAccumulateHooksFireInReverseOrderOfUse) {
  // Layers used last in forward complete first in backward: the order data parallelism relies on.
  Tensor first = full({2}, 1.0).requires_grad_();
  Tensor second = full({2}, 1.0).requires_grad_();
  std::vector<int> order;
  first.register_post_accumulate_grad_hook([&](const Tensor&) { order.push_back(1); });
  second.register_post_accumulate_grad_hook([&](const Tensor&) { order.push_back(2); });
  Tensor input = full({2}, 3.0);
  Tensor hidden = (input * first).relu();
  Tensor output = (hidden * second).sum();
  output.backward();
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

TEST(Engine, RetainGradKeepsANonLeafGradient) {
  Tensor x = full({2}, 2.0).requires_grad_();
  Tensor y = x * 3;
  y.retain_grad();
  Tensor z = x * 4;
  (y * z).sum().backward();
  EXPECT_TRUE(allclose(y.grad(), full({2}, 8.0f)));
  EXPECT_FALSE(z.grad().defined());
}

TEST(Engine, DeepChainNeedsNoRecursion) {
  // 100,000 recorded ops: both backward and freeing the graph must run without recursion.
  Tensor x = full({1}, 1.0, kFloat64).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0000001;
  y.sum().backward();
  EXPECT_NEAR(x.grad().item<double>(), std::pow(1.0000001, 100000), 1e-9);
  y = Tensor();  // frees the chain
}

TEST(Engine, GraphIsFreedAfterBackward) {
  Tensor x = full({1000}, 1.0).requires_grad_();
  std::weak_ptr<autograd::Node> node;
  {
    Tensor y = (x * 2).sum();
    node = y.grad_fn();
    y.backward();
  }
  EXPECT_TRUE(node.expired());
  // The leaf's accumulator is released with its graph too.
  EXPECT_TRUE(x.impl().autograd->grad_accumulator.expired());
}

TEST(Engine, BroadcastGradientIsReducedToTheInputShape) {
  Tensor a = ones({3, 1}, kFloat64).requires_grad_();
  Tensor b = ones({4}, kFloat64).requires_grad_();
  (a * b).sum().backward();
  EXPECT_EQ(a.grad().sizes(), IntArrayRef({3, 1}));
  EXPECT_TRUE(allclose(a.grad(), full({3, 1}, 4.0, kFloat64)));
  EXPECT_TRUE(allclose(b.grad(), full({4}, 3.0, kFloat64)));
}

TEST(Engine, MixedDtypeGradientsArriveInEachInputsDtype) {
  Tensor a = ones({2}, kFloat32).requires_grad_();
  Tensor b = ones({2}, kFloat64).requires_grad_();
  (a * b).sum().backward();
  EXPECT_EQ(a.grad().dtype(), kFloat32);
  EXPECT_EQ(b.grad().dtype(), kFloat64);
}

TEST(Engine, RandomFillsFollowTheInPlaceRules) {
  Tensor weight = empty({3}).requires_grad_();
  EXPECT_THROW(weight.uniform_(), Error);  // a leaf that requires grad, with grad mode on
  {
    NoGradGuard no_grad;  // how nn::init fills parameters
    weight.uniform_(-1, 1);
    weight.normal_();
  }
  Tensor hidden = weight * 2;
  hidden.bernoulli_(0.5);  // a non-leaf: the old values get no gradient
  (hidden * weight).sum().backward();
  EXPECT_TRUE(allclose(weight.grad(), hidden.detach()));
}

TEST(Engine, BackwardOnALeafAccumulatesIntoItself) {
  Tensor x = ones({3}).requires_grad_();
  x.backward(full({3}, 2.0f));
  EXPECT_TRUE(allclose(x.grad(), full({3}, 2.0f)));
  Tensor scalar = full({}, 3.0).requires_grad_();
  scalar.backward();
  EXPECT_DOUBLE_EQ(scalar.grad().item<double>(), 1.0);
  const std::vector<Tensor> grads = autograd::grad({scalar}, {scalar});
  EXPECT_DOUBLE_EQ(grads[0].item<double>(), 1.0);
}

TEST(Engine, GradAcceptsTheSameInputTwice) {
  Tensor x = ones({3}, kFloat64).requires_grad_();
  const std::vector<Tensor> grads = autograd::grad({(x * 2).sum()}, {x, x});
  EXPECT_TRUE(allclose(grads[0], full({3}, 2.0, kFloat64)));
  EXPECT_TRUE(allclose(grads[1], full({3}, 2.0, kFloat64)));
}

TEST(Engine, GradReturnsWhatArrivesBeforeTheInputsOwnHooks) {
  // PyTorch 1.13: autograd.grad((y*y).sum(), [y]) is 2y whatever y's hooks do.
  Tensor x = ones({2}, kFloat64).requires_grad_();
  Tensor y = x * 2;
  y.register_hook([](const Tensor& grad) { return grad * 10; });
  EXPECT_TRUE(allclose(autograd::grad({(y * y).sum()}, {y})[0], full({2}, 4.0, kFloat64)));
}

TEST(Engine, RetainedGradientFollowsAnInPlaceOp) {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 2;
  y.retain_grad();
  y.mul_(3);
  y.sum().backward();
  EXPECT_TRUE(allclose(y.grad(), ones({2})));  // d sum / d (new y), as PyTorch
  EXPECT_TRUE(allclose(x.grad(), full({2}, 6.0f)));
}

TEST(Engine, AViewOfATensorModifiedInPlaceAfterwardsIsRefused) {
  // PyTorch rebases the view's history; Ember refuses instead of giving a stale gradient.
  Tensor w = tensor(std::vector<float>{-1, 2, -3, 4}).requires_grad_();
  Tensor hidden = w * 1.0;
  Tensor front = hidden.narrow(0, 0, 2);
  Tensor used_before = front.sum();  // recorded before the in-place write: still fine
  hidden.relu_();
  try {
    front.sum();
    FAIL() << "a stale view must be refused";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("in-place"), std::string::npos) << error.what();
  }
  Tensor fresh = hidden.narrow(0, 0, 2);  // taken after the write: carries the new history
  (fresh.sum() + used_before).backward();
  EXPECT_TRUE(allclose(w.grad(), tensor(std::vector<float>{1, 2, 0, 0})));
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

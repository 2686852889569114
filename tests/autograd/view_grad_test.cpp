// Gradients through views, copies and conversions: each maps the output's gradient back onto
// the input (checked against finite differences in float64).
#include <gtest/gtest.h>

#include "ember/autograd/gradcheck.h"
#include "ember/ember.h"
#include "tensor/test_util.h"

namespace ember {
namespace {

using autograd::gradcheck;
using Inputs = std::vector<Tensor>;
using testing::expect_error;

Tensor leaf(IntArrayRef sizes) { return randn(sizes, kFloat64).requires_grad_(); }

// Weights every output element differently, so a gradient sent to the wrong place shows.
Tensor weighted(const Tensor& output) {
  const Tensor weights = arange(1, output.numel() + 1, 1, kFloat64).reshape(output.sizes());
  return output * weights;
}

TEST(ViewGrad, ReshapingViews) {
  const Tensor x = leaf({2, 3, 4});
  gradcheck([](const Inputs& in) { return weighted(in[0].view({6, 4})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].view({-1})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].reshape({4, -1})); }, {x});
  // Not viewable: reshape copies, and the gradient still finds its way.
  gradcheck([](const Inputs& in) { return weighted(in[0].transpose(0, 2).reshape({-1})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].flatten()); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].flatten(1, 2)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].unflatten(2, {2, 2})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].view_as(in[1])); }, {x, leaf({4, 6})});
  EXPECT_STREQ(x.view({6, 4}).grad_fn()->name(), "ViewBackward0");
  EXPECT_STREQ(x.reshape({6, 4}).grad_fn()->name(), "ReshapeAliasBackward0");
}

TEST(ViewGrad, PermutingViews) {
  const Tensor x = leaf({2, 3, 4}), matrix = leaf({3, 5});
  gradcheck([](const Inputs& in) { return weighted(in[0].permute({2, 0, 1})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].permute({-1, 1, 0})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].transpose(0, -1)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].t()); }, {matrix});
  EXPECT_STREQ(matrix.t().grad_fn()->name(), "TBackward0");
  EXPECT_STREQ(x.permute({2, 0, 1}).grad_fn()->name(), "PermuteBackward0");
  EXPECT_STREQ(x.transpose(0, 1).grad_fn()->name(), "TransposeBackward0");
}

TEST(ViewGrad, ExpandSumsTheGradientBack) {
  const Tensor x = leaf({3, 1}), row = leaf({4}), scalar = leaf({});
  gradcheck([](const Inputs& in) { return weighted(in[0].expand({3, 4})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].expand({2, 3, 4})); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].expand({2, -1})); }, {row});
  gradcheck([](const Inputs& in) { return weighted(in[0].expand({2, 3})); }, {scalar});
  gradcheck([](const Inputs& in) { return weighted(in[0].expand_as(in[1])); }, {x, leaf({3, 5})});
  Tensor y = x.expand({2, 3, 5});
  EXPECT_STREQ(y.grad_fn()->name(), "ExpandBackward0");
  y.sum().backward();
  EXPECT_EQ(x.grad().sizes(), IntArrayRef({3, 1}));
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>({10, 10, 10}));
}

TEST(ViewGrad, SqueezeAndUnsqueeze) {
  const Tensor x = leaf({2, 1, 3, 1});
  gradcheck([](const Inputs& in) { return weighted(in[0].squeeze()); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].squeeze(1)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].squeeze(-1)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].squeeze(0)); }, {x});  // size 2: unchanged
  gradcheck([](const Inputs& in) { return weighted(in[0].unsqueeze(0)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].unsqueeze(-1)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].unsqueeze(2)); }, {x});
  EXPECT_STREQ(x.squeeze().grad_fn()->name(), "SqueezeBackward0");
  EXPECT_STREQ(x.squeeze(1).grad_fn()->name(), "SqueezeBackward1");
  EXPECT_STREQ(x.unsqueeze(0).grad_fn()->name(), "UnsqueezeBackward0");
}

TEST(ViewGrad, NarrowSliceSelect) {
  const Tensor x = leaf({4, 5});
  gradcheck([](const Inputs& in) { return weighted(in[0].narrow(1, 1, 3)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].narrow(0, -2, 2)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].slice(1, 0, 5, 2)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].slice(0, -3)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].select(1, -1)); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0][2]); }, {x});
  // Overlapping slices: their gradients add up.
  gradcheck([](const Inputs& in) { return weighted(in[0].narrow(1, 0, 3) * in[0].narrow(1, 2, 3)); }, {x});
  EXPECT_STREQ(x.narrow(1, 1, 3).grad_fn()->name(), "SliceBackward0");
  EXPECT_STREQ(x.select(0, 1).grad_fn()->name(), "SelectBackward0");
  Tensor part = x.slice(1, 1, 5, 2);
  part.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(),
            std::vector<double>({0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0}));
}

TEST(ViewGrad, SplitChunkUnbind) {
  const Tensor x = leaf({5, 3});
  gradcheck([](const Inputs& in) {
    const std::vector<Tensor> parts = in[0].split(2);
    return parts[0].sum() + parts[1].square().sum() * 2.0 + parts[2].exp().sum();
  }, {x});
  gradcheck([](const Inputs& in) {
    const std::vector<Tensor> parts = in[0].chunk(2, 1);
    return weighted(parts[0]).sum() - parts[1].sin().sum();
  }, {x});
  gradcheck([](const Inputs& in) {
    const std::vector<Tensor> rows = in[0].unbind();
    return rows[0] * rows[1] + rows[4] * 3.0;
  }, {x});
  gradcheck([](const Inputs& in) {
    const std::vector<Tensor> columns = in[0].unbind(-1);
    return columns[0] - columns[2].tanh();
  }, {x});
  // Only some parts used: the others' rows get zero.
  Tensor used = x.split(2)[1];
  used.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>({0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0}));
}

TEST(ViewGrad, AsStrided) {
  const Tensor x = leaf({12});
  // Non-overlapping: a transposed window.
  gradcheck([](const Inputs& in) { return weighted(in[0].as_strided({3, 2}, {1, 3}, 1)); }, {x});
  // On a view with an offset: the window is placed relative to the storage.
  gradcheck([](const Inputs& in) { return weighted(in[0].narrow(0, 2, 8).as_strided({2, 2}, {4, 1}, 3)); }, {x});
  // Overlapping output (sliding windows): each element's gradient sums over its windows.
  gradcheck([](const Inputs& in) { return weighted(in[0].as_strided({5, 4}, {2, 1})); }, {x});
  // Overlapping input (an expanded tensor): elements sharing a location share its gradient.
  const Tensor small = leaf({3});
  gradcheck([](const Inputs& in) { return weighted(in[0].expand({4, 3}).as_strided({2, 2}, {1, 1})); }, {small});
  EXPECT_STREQ(x.as_strided({3}, {2}).grad_fn()->name(), "AsStridedBackward0");
  Tensor windows = x.as_strided({3, 2}, {1, 1});  // [0, 1], [1, 2], [2, 3]
  windows.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>({1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(ViewGrad, ChainOfViews) {
  const Tensor x = leaf({2, 3, 4});
  gradcheck([](const Inputs& in) {
    Tensor y = in[0].permute({1, 0, 2}).reshape({3, 8}).narrow(1, 2, 5).t().unsqueeze(0);
    return weighted(y.expand({2, 5, 3}).select(2, 1) * y.squeeze(0).select(1, 2));
  }, {x});
}

TEST(ViewGrad, DetachHasNoHistory) {
  const Tensor x = leaf({3});
  const Tensor y = (x * 2.0).detach();
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_TRUE(y.is_leaf());
  // A function through a detached value: no gradient flows there.
  Tensor z = x * y;
  z.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (x.detach() * 2.0).to_vector<double>());
}

// ---- copies and conversions ----

TEST(CopyGrad, CloneContiguousAndDtypeConversion) {
  const Tensor x = leaf({3, 4});
  gradcheck([](const Inputs& in) { return weighted(in[0].clone()); }, {x});
  gradcheck([](const Inputs& in) { return weighted(in[0].t().contiguous()); }, {x});
  EXPECT_STREQ(x.clone().grad_fn()->name(), "CloneBackward0");
  EXPECT_STREQ(x.t().contiguous().grad_fn()->name(), "CloneBackward0");
  EXPECT_TRUE(x.contiguous().is_same(x));
  // float64 -> float32 -> float64: the gradient comes back in each input's dtype.
  gradcheck([](const Inputs& in) { return weighted(in[0].to(kFloat32).to(kFloat64)); }, {x},
            {.eps = 1e-3, .atol = 1e-4, .rtol = 1e-3});
  Tensor narrow = x.to(kFloat32);
  EXPECT_STREQ(narrow.grad_fn()->name(), "ToCopyBackward0");
  (narrow * 3.0f).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(12, 3.0));
  // Integer results leave autograd.
  EXPECT_FALSE(x.to(kInt64).requires_grad());
  EXPECT_TRUE(x.to(kFloat64).is_same(x));
  EXPECT_TRUE(x.to(kCPU).is_same(x));
}

TEST(CopyGrad, CopyIntoANonLeafGivesTheSourceTheGradient) {
  const Tensor x = leaf({2, 3}), source = leaf({3});
  gradcheck([](const Inputs& in) {
    Tensor y = in[0] * 2.0;
    y.copy_(in[1]);  // broadcast: the source's gradient is summed over rows
    return weighted(y);
  }, {x, source});
  // A float32 source copied into float64: the gradient arrives as float32.
  const Tensor single = randn({3}, kFloat32).requires_grad_();
  Tensor destination = zeros({2, 3}, kFloat64);
  destination.copy_(single);
  EXPECT_STREQ(destination.grad_fn()->name(), "CopyBackwards");
  destination.sum().backward();
  EXPECT_EQ(single.grad().dtype(), kFloat32);
  EXPECT_EQ(single.grad().to_vector<float>(), std::vector<float>(3, 2.0f));
  // The overwritten values get a zero gradient (not none), as in PyTorch.
  Tensor y = x * 1.0;
  y.copy_(source);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(6, 0.0));
}

TEST(CopyGrad, CopyIntoALeafOrAViewThatRequiresGradIsRefused) {
  Tensor x = leaf({3});
  const Tensor source = leaf({3});
  expect_error([&] { x.copy_(source); },
               {"a leaf tensor that requires grad is being used in an in-place operation: copy_"});
  Tensor y = x * 1.0;
  Tensor part = y.narrow(0, 0, 2);
  expect_error([&] { part.copy_(source.narrow(0, 1, 2)); }, {"copy_", "view"});
  {
    autograd::NoGradGuard no_grad;
    x.copy_(source);  // loading weights
  }
  EXPECT_EQ(x.to_vector<double>(), source.to_vector<double>());
  EXPECT_TRUE(x.is_leaf());
}

}  // namespace
}  // namespace ember

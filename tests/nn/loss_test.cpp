// Loss functions and modules: values on hand-checked cases, every reduction, gradients against
// finite differences, and the errors a user sees for bad targets and shapes. (Bitwise parity with
// PyTorch over many option combinations is in parity_losses_test.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "ember/autograd/autograd.h"
#include "ember/autograd/gradcheck.h"
#include "ember/nn/loss.h"
#include "ember/tensor/ops.h"

namespace ember::nn {
namespace {

namespace F = functional;
using autograd::gradcheck;

Tensor doubles(const std::vector<double>& values, IntArrayRef sizes) { return tensor(values, sizes); }
Tensor longs(const std::vector<int64_t>& values, IntArrayRef sizes) { return tensor(values, sizes); }
Tensor leaf(Tensor value) { return value.requires_grad_(); }

// Runs fn expecting ember::Error and returns its message.
template <class Fn> std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected ember::Error";
  return {};
}

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

Tensor random_doubles(IntArrayRef sizes, uint64_t seed, double low = -2.0, double high = 2.0) {
  Generator generator(seed);
  return empty(sizes, kFloat64).uniform_(low, high, &generator);
}

TEST(Reduction, ParsesPyTorchNamesAndRejectsOthers) {
  EXPECT_EQ(parse_reduction("none"), Reduction::None);
  EXPECT_EQ(parse_reduction("mean"), Reduction::Mean);
  EXPECT_EQ(parse_reduction("sum"), Reduction::Sum);
  EXPECT_EQ(name(Reduction::Sum), "sum");
  const std::string message = error_of([] { parse_reduction("elementwise_mean"); });
  expect_contains(message, "elementwise_mean");
  expect_contains(message, "'none', 'mean', 'sum'");
}

TEST(MseLoss, ReducesSquaredDifferences) {
  const Tensor input = doubles({1, 2, 3, 4}, {2, 2});
  const Tensor target = doubles({0, 2, 5, 1}, {2, 2});
  EXPECT_DOUBLE_EQ(F::mse_loss(input, target).item<double>(), (1 + 0 + 4 + 9) / 4.0);
  EXPECT_DOUBLE_EQ(F::mse_loss(input, target, Reduction::Sum).item<double>(), 14.0);
  const Tensor none = F::mse_loss(input, target, Reduction::None);
  EXPECT_EQ(none.shape(), DimVector({2, 2}));
  EXPECT_EQ(none.to_vector<double>(), std::vector<double>({1, 0, 4, 9}));
}

TEST(MseLoss, GradientFlowsToInputAndTargetWithPyTorchNodeName) {
  const Tensor input = leaf(doubles({1, 2, 3}, {3}));
  const Tensor target = leaf(doubles({0, 4, 3}, {3}));
  const Tensor loss = F::mse_loss(input, target);
  ASSERT_NE(loss.grad_fn(), nullptr);
  EXPECT_STREQ(loss.grad_fn()->name(), "MseLossBackward0");
  loss.backward();
  // d/dx mean((x - t)^2) = 2 (x - t) / n.
  EXPECT_EQ(input.grad().to_vector<double>(), std::vector<double>({2.0 / 3, -4.0 / 3, 0.0}));
  EXPECT_EQ(target.grad().to_vector<double>(), std::vector<double>({-2.0 / 3, 4.0 / 3, 0.0}));
}

TEST(PointwiseLosses, GradientsMatchFiniteDifferencesForEveryReduction) {
  for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    SCOPED_TRACE(std::string(name(reduction)));
    // Differences spread over both sides of beta and delta, away from the kinks.
    const Tensor input = leaf(doubles({0.1, -0.3, 2.5, -1.7, 0.45, 3.0}, {2, 3}));
    const Tensor target = leaf(doubles({0.4, 0.2, -0.5, 0.3, 0.0, 0.5}, {2, 3}));
    gradcheck([&](const std::vector<Tensor>& x) { return F::mse_loss(x[0], x[1], reduction); }, {input, target});
    gradcheck([&](const std::vector<Tensor>& x) { return F::l1_loss(x[0], x[1], reduction); }, {input, target});
    gradcheck([&](const std::vector<Tensor>& x) { return F::smooth_l1_loss(x[0], x[1], reduction, 0.8); },
              {input, target});
    gradcheck([&](const std::vector<Tensor>& x) { return F::huber_loss(x[0], x[1], reduction, 1.3); },
              {input, target});
  }
}

TEST(PointwiseLosses, BroadcastTargetGetsSummedGradient) {
  const Tensor input = leaf(random_doubles({3, 4}, 1));
  const Tensor target = leaf(random_doubles({4}, 2));
  gradcheck([](const std::vector<Tensor>& x) { return F::mse_loss(x[0], x[1]); }, {input, target});
  EXPECT_THROW(F::mse_loss(input, random_doubles({3}, 3)), Error);
}

TEST(SmoothL1AndHuber, FollowTheirPiecewiseDefinitions) {
  const Tensor input = doubles({0.0, 0.0, 0.0}, {3});
  const Tensor target = doubles({0.5, 2.0, -3.0}, {3});
  // beta 1: 0.5 z^2 inside, z - 0.5 outside.
  EXPECT_EQ(F::smooth_l1_loss(input, target, Reduction::None).to_vector<double>(),
            std::vector<double>({0.125, 1.5, 2.5}));
  // beta 2: 0.5 z^2 / 2 inside, z - 1 outside.
  EXPECT_EQ(F::smooth_l1_loss(input, target, Reduction::None, 2.0).to_vector<double>(),
            std::vector<double>({0.0625, 1.0, 2.0}));
  // beta 0 is L1.
  EXPECT_EQ(F::smooth_l1_loss(input, target, Reduction::None, 0.0).to_vector<double>(),
            std::vector<double>({0.5, 2.0, 3.0}));
  // delta 2: 0.5 z^2 inside, 2 (z - 1) outside.
  EXPECT_EQ(F::huber_loss(input, target, Reduction::None, 2.0).to_vector<double>(),
            std::vector<double>({0.125, 2.0, 4.0}));
  expect_contains(error_of([&] { F::smooth_l1_loss(input, target, Reduction::Mean, -1.0); }), "beta");
  expect_contains(error_of([&] { F::huber_loss(input, target, Reduction::Mean, 0.0); }), "delta");
}

TEST(NllLoss, PicksNegatedLogProbabilitiesAndAveragesOverWeights) {
  const Tensor input = doubles({-1, -2, -3, -4, -5, -6}, {2, 3});
  const Tensor target = longs({2, 0}, {2});
  EXPECT_EQ(F::nll_loss(input, target, {}, -100, Reduction::None).to_vector<double>(), std::vector<double>({3, 4}));
  EXPECT_DOUBLE_EQ(F::nll_loss(input, target).item<double>(), 3.5);
  const Tensor weight = doubles({2, 1, 0.5}, {3});
  // (0.5 * 3 + 2 * 4) / (0.5 + 2)
  EXPECT_DOUBLE_EQ(F::nll_loss(input, target, weight).item<double>(), 9.5 / 2.5);
  EXPECT_DOUBLE_EQ(F::nll_loss(input, target, weight, -100, Reduction::Sum).item<double>(), 9.5);
}

TEST(NllLoss, IgnoredTargetsContributeNothingAndLeaveTheMeansDivisor) {
  const Tensor input = doubles({-1, -2, -3, -4, -5, -6}, {2, 3});
  const Tensor target = longs({2, 1}, {2});
  EXPECT_DOUBLE_EQ(F::nll_loss(input, target, {}, /*ignore_index=*/1).item<double>(), 3.0);
  EXPECT_EQ(F::nll_loss(input, target, {}, 1, Reduction::None).to_vector<double>(), std::vector<double>({3, 0}));
  // Every target ignored: 0 / 0, as PyTorch 1.13.
  EXPECT_TRUE(std::isnan(F::nll_loss(input, longs({-100, -100}, {2})).item<double>()));
}

TEST(NllLoss, GradientScattersIntoTheTargetClasses) {
  const Tensor input = leaf(random_doubles({4, 5}, 4));
  const Tensor target = longs({4, 0, -100, 4}, {4});
  const Tensor weight = doubles({1.0, 0.5, 2.0, 3.0, 0.25}, {5});
  const Tensor loss = F::nll_loss(input, target, weight);
  EXPECT_STREQ(loss.grad_fn()->name(), "NllLossBackward0");
  loss.backward();
  const double total = 0.25 + 1.0 + 0.25;
  std::vector<double> expected(20, 0.0);
  expected[0 * 5 + 4] = -0.25 / total;
  expected[1 * 5 + 0] = -1.0 / total;
  expected[3 * 5 + 4] = -0.25 / total;
  const std::vector<double> actual = input.grad().to_vector<double>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(actual[i], expected[i]) << i;
  for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    gradcheck([&](const std::vector<Tensor>& x) { return F::nll_loss(x[0], target, weight, -100, reduction); },
              {input});
  }
}

TEST(NllLoss, SpatialAndUnbatchedShapes) {
  const Tensor input = leaf(random_doubles({2, 3, 2, 2}, 5));
  const Tensor target = longs({0, 1, 2, 1, 2, -100, 0, 0}, {2, 2, 2});
  const Tensor none = F::nll_loss(input, target, {}, -100, Reduction::None);
  EXPECT_EQ(none.shape(), DimVector({2, 2, 2}));
  EXPECT_DOUBLE_EQ(none.to_vector<double>()[3], -input.detach()[0][1][1][1].item<double>());
  EXPECT_STREQ(F::nll_loss(input, target).grad_fn()->name(), "NllLoss2DBackward0");
  gradcheck([&](const std::vector<Tensor>& x) { return F::nll_loss(x[0], target); }, {input});

  const Tensor single = doubles({-0.5, -1.5, -2.5}, {3});
  const Tensor loss = F::nll_loss(single, scalar_tensor(int64_t{1}));
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_DOUBLE_EQ(loss.item<double>(), 1.5);
}

TEST(NllLoss, BadTargetsAreErrorsNamingTheValueAndClassCount) {
  const Tensor input = random_doubles({3, 4}, 6);
  std::string message = error_of([&] { F::nll_loss(input, longs({0, 7, 1}, {3})); });
  expect_contains(message, "nll_loss");
  expect_contains(message, "target 7");
  expect_contains(message, "4 classes");
  message = error_of([&] { F::cross_entropy(input, longs({0, -1, 1}, {3})); });
  expect_contains(message, "cross_entropy");
  expect_contains(message, "target -1");
  message = error_of([&] { F::cross_entropy(input, longs({0, 1, 2, 3}, {4})); });
  expect_contains(message, "batch_size (3)");
  expect_contains(error_of([&] { F::nll_loss(input, longs({0, 1, 2}, {3}), doubles({1, 1}, {2})); }), "weight");
  expect_contains(error_of([&] { F::nll_loss(input, doubles({0, 1, 2}, {3})); }), "integer class indices");
  expect_contains(error_of([&] { F::nll_loss(input, longs({0, 1, 2, 0, 1, 2}, {3, 2})); }), "[3, 2]");
}

TEST(CrossEntropy, EqualsNegativeLogSoftmaxAtTheTarget) {
  const Tensor input = doubles({1, 2, 3, 1, 1, 1}, {2, 3});
  const Tensor target = longs({2, 0}, {2});
  const double first = -(3 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  const double second = std::log(3.0);
  const Tensor none = F::cross_entropy(input, target, {}, -100, Reduction::None);
  EXPECT_NEAR(none.to_vector<double>()[0], first, 1e-12);
  EXPECT_NEAR(none.to_vector<double>()[1], second, 1e-12);
  EXPECT_NEAR(F::cross_entropy(input, target).item<double>(), (first + second) / 2, 1e-12);
}

TEST(CrossEntropy, LabelSmoothingMixesInTheUniformDistribution) {
  const Tensor input = doubles({1, 2, 3, 0.5, -1, 2}, {2, 3});
  const Tensor target = longs({2, 0}, {2});
  const double smoothing = 0.2;
  const Tensor log_probabilities = input.log_softmax(1);
  // Per sample: (1 - s) * nll + s / C * sum over classes of -log p.
  const Tensor expected_none =
      F::nll_loss(log_probabilities, target, {}, -100, Reduction::None) * (1 - smoothing) +
      (-log_probabilities.sum({1})) * (smoothing / 3);
  const Tensor none = F::cross_entropy(input, target, {}, -100, Reduction::None, smoothing);
  EXPECT_TRUE(allclose(none, expected_none, 1e-12, 1e-12)) << none << expected_none;
  // The same as class-probability targets holding the smoothed one-hot labels.
  const Tensor probabilities = doubles({0, 0, 1, 1, 0, 0}, {2, 3});
  EXPECT_NEAR(F::cross_entropy(input, target, {}, -100, Reduction::Mean, smoothing).item<double>(),
              F::cross_entropy(input, probabilities, {}, -100, Reduction::Mean, smoothing).item<double>(), 1e-12);
  expect_contains(error_of([&] { F::cross_entropy(input, target, {}, -100, Reduction::Mean, 1.5); }),
                  "label_smoothing");
}

TEST(CrossEntropy, GradientsMatchFiniteDifferencesAcrossOptions) {
  const Tensor input = leaf(random_doubles({4, 3, 2}, 7));
  const Tensor target = longs({0, 2, 1, -100, 2, 2, 1, 0}, {4, 2});
  const Tensor weight = doubles({0.3, 1.0, 2.5}, {3});
  for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    for (double smoothing : {0.0, 0.3}) {
      for (bool weighted : {false, true}) {
        SCOPED_TRACE(std::string(name(reduction)) + " smoothing " + std::to_string(smoothing) +
                     (weighted ? " weighted" : ""));
        gradcheck(
            [&](const std::vector<Tensor>& x) {
              return F::cross_entropy(x[0], target, weighted ? weight : Tensor(), -100, reduction, smoothing);
            },
            {input});
      }
    }
  }
  const Tensor probabilities = leaf(random_doubles({4, 3, 2}, 8, 0.0, 1.0));
  gradcheck([&](const std::vector<Tensor>& x) { return F::cross_entropy(x[0], x[1], weight); },
            {input, probabilities});
}

TEST(CrossEntropy, NonContiguousInputGivesTheContiguousResultAndGradient) {
  const Tensor storage = random_doubles({5, 4}, 22);
  const Tensor transposed = leaf(storage.t());  // [4, 5], not contiguous
  const Tensor compact = leaf(storage.t().contiguous());
  const Tensor target = longs({4, 0, 2, 1}, {4});
  const Tensor weight = doubles({1.0, 2.0, 0.5, 1.5, 1.0}, {5});
  const Tensor loss = F::cross_entropy(transposed, target, weight, -100, Reduction::Mean, 0.1);
  const Tensor expected = F::cross_entropy(compact, target, weight, -100, Reduction::Mean, 0.1);
  EXPECT_DOUBLE_EQ(loss.item<double>(), expected.item<double>());
  loss.backward();
  expected.backward();
  EXPECT_TRUE(allclose(transposed.grad(), compact.grad(), 1e-14, 1e-14));
  gradcheck([&](const std::vector<Tensor>& x) { return F::nll_loss(x[0].t(), target, weight); },
            {leaf(random_doubles({5, 4}, 23))});
}

TEST(CrossEntropy, ProbabilityTargetsNeedTheInputsShapeAndNoIgnoreIndex) {
  const Tensor input = random_doubles({2, 3}, 9);
  const Tensor probabilities = random_doubles({2, 3}, 10, 0.0, 1.0);
  expect_contains(error_of([&] { F::cross_entropy(input, probabilities, {}, 1); }), "ignore_index");
  expect_contains(error_of([&] { F::cross_entropy(input, random_doubles({3, 2}, 11)); }), "[3, 2]");
}

TEST(BinaryCrossEntropy, ClampsTheLogSoSaturatedInputsStayFinite) {
  const Tensor input = leaf(doubles({0.0, 1.0, 0.25}, {3}));
  const Tensor target = doubles({1.0, 1.0, 0.0}, {3});
  const Tensor losses = F::binary_cross_entropy(input, target, {}, Reduction::None);
  EXPECT_DOUBLE_EQ(losses.to_vector<double>()[0], 100.0);
  EXPECT_DOUBLE_EQ(losses.to_vector<double>()[1], 0.0);
  EXPECT_NEAR(losses.to_vector<double>()[2], -std::log(0.75), 1e-15);
  losses.sum().backward();
  for (double value : input.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(value));
  expect_contains(error_of([] { F::binary_cross_entropy(doubles({1.5}, {1}), doubles({1}, {1})); }),
                  "between 0 and 1");
  expect_contains(error_of([] { F::binary_cross_entropy(doubles({0.5, 0.5}, {2}), doubles({1}, {1})); }),
                  "target size");
}

TEST(BinaryCrossEntropy, GradientsMatchFiniteDifferences) {
  const Tensor input = leaf(random_doubles({3, 4}, 12, 0.05, 0.95));
  const Tensor target = leaf(random_doubles({3, 4}, 13, 0.0, 1.0));
  const Tensor weight = random_doubles({4}, 14, 0.5, 2.0);
  for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    gradcheck([&](const std::vector<Tensor>& x) { return F::binary_cross_entropy(x[0], x[1], weight, reduction); },
              {input, target});
  }
  EXPECT_STREQ(F::binary_cross_entropy(input, target).grad_fn()->name(), "BinaryCrossEntropyBackward0");
}

TEST(BinaryCrossEntropyWithLogits, IsStableForLargeLogits) {
  const Tensor input = doubles({1000.0, -1000.0, 0.0}, {3});
  const Tensor target = doubles({0.0, 1.0, 1.0}, {3});
  const std::vector<double> losses =
      F::binary_cross_entropy_with_logits(input, target, {}, Reduction::None).to_vector<double>();
  EXPECT_DOUBLE_EQ(losses[0], 1000.0);
  EXPECT_DOUBLE_EQ(losses[1], 1000.0);
  EXPECT_NEAR(losses[2], std::log(2.0), 1e-15);
  // pos_weight scales the positive term: 3 * log(2) at logit 0.
  const double weighted =
      F::binary_cross_entropy_with_logits(doubles({0.0}, {1}), doubles({1.0}, {1}), {}, Reduction::Sum,
                                          doubles({3.0}, {1}))
          .item<double>();
  EXPECT_NEAR(weighted, 3 * std::log(2.0), 1e-15);
  expect_contains(error_of([] {
                    F::binary_cross_entropy_with_logits(random_doubles({3, 1}, 15), random_doubles({3}, 16));
                  }),
                  "target size");
}

TEST(BinaryCrossEntropyWithLogits, GradientsMatchFiniteDifferences) {
  const Tensor input = leaf(random_doubles({3, 4}, 17, -4.0, 4.0));
  const Tensor target = leaf(random_doubles({3, 4}, 18, 0.0, 1.0));
  const Tensor weight = random_doubles({3, 1}, 19, 0.5, 2.0);
  const Tensor pos_weight = random_doubles({4}, 20, 0.5, 3.0);
  for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    gradcheck(
        [&](const std::vector<Tensor>& x) {
          return F::binary_cross_entropy_with_logits(x[0], x[1], weight, reduction, pos_weight);
        },
        {input, target});
    gradcheck([&](const std::vector<Tensor>& x) { return F::binary_cross_entropy_with_logits(x[0], x[1]); },
              {input, target});
  }
}

TEST(LossModules, ForwardMatchesTheFunctionalFormWithTheirOptions) {
  const Tensor input = random_doubles({4, 3}, 21);
  const Tensor target = longs({2, 0, 1, 1}, {4});
  const Tensor weight = doubles({0.5, 1.0, 2.0}, {3});
  CrossEntropyLoss criterion(
      CrossEntropyLossOptions().weight(weight).ignore_index(0).label_smoothing(0.1).reduction(Reduction::Sum));
  EXPECT_TRUE(allclose(criterion(input, target), F::cross_entropy(input, target, weight, 0, Reduction::Sum, 0.1)));
  MSELoss mse(MSELossOptions().reduction("none"));
  EXPECT_EQ(mse(input, input * 2.0).shape(), DimVector({4, 3}));
  HuberLoss huber(HuberLossOptions().delta(0.5));
  EXPECT_TRUE(allclose(huber(input, input * 0.0), F::huber_loss(input, input * 0.0, Reduction::Mean, 0.5)));
  SmoothL1Loss smooth(SmoothL1LossOptions().beta(0.5).reduction("sum"));
  EXPECT_TRUE(allclose(smooth(input, input * 0.0), F::smooth_l1_loss(input, input * 0.0, Reduction::Sum, 0.5)));
  NLLLoss nll;
  EXPECT_TRUE(allclose(nll(input, target), F::nll_loss(input, target)));
  L1Loss l1;
  EXPECT_TRUE(allclose(l1(input, input * 0.0), input.abs().mean()));
  EXPECT_THROW(MSELossOptions().reduction("average"), Error);
}

TEST(LossModules, WeightsAreBuffersUnderPyTorchsKeys) {
  const Tensor weight = doubles({0.5, 1.0, 2.0}, {3});
  EXPECT_EQ(CrossEntropyLoss(CrossEntropyLossOptions().weight(weight))->state_dict().keys(),
            std::vector<std::string>({"weight"}));
  EXPECT_TRUE(CrossEntropyLoss()->state_dict().empty());
  EXPECT_TRUE(NLLLoss()->parameters().empty());
  BCEWithLogitsLoss logits_loss(BCEWithLogitsLossOptions().pos_weight(weight));
  EXPECT_EQ(logits_loss->state_dict().keys(), std::vector<std::string>({"pos_weight"}));
  logits_loss->to(kFloat32);
  EXPECT_EQ(logits_loss->pos_weight.dtype(), kFloat32);
  BCELoss bce(BCELossOptions().weight(weight).reduction(Reduction::None));
  const Tensor input = doubles({0.2, 0.5, 0.9}, {3});
  const Tensor target = doubles({0.0, 1.0, 1.0}, {3});
  EXPECT_TRUE(allclose(bce(input, target), F::binary_cross_entropy(input, target, weight, Reduction::None)));
  std::ostringstream printed;
  printed << CrossEntropyLoss();
  EXPECT_EQ(printed.str(), "CrossEntropyLoss()");
}

}  // namespace
}  // namespace ember::nn

namespace ember {
namespace {

TEST(CrossEntropy, EveryTargetIgnoredGivesAZeroGradientNotNaN) {
  // A batch that is all padding: PyTorch's loss is NaN (0 / 0) but its input gradient is 0, so
  // one such batch does not poison the parameters.
  Tensor logits = randn({4, 3}).requires_grad_();
  const Tensor targets = full({4}, -100, kInt64);
  Tensor loss = nn::functional::cross_entropy(logits, targets);
  EXPECT_TRUE(std::isnan(loss.item<double>()));
  loss.backward();
  EXPECT_TRUE(equal(logits.grad(), zeros({4, 3})));
}

}  // namespace
}  // namespace ember

// Optimizers and gradient clipping against PyTorch 1.13 (fixtures/optim.h5, written by
// fixtures/generate_optim.py): 20-step trajectories of every optimizer configuration in float64
// and float32, the state they end with, parameter groups, state_dict round trips and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ember/ember.h"
#include "ember/nn/clip_grad.h"
#include "ember/optim/optim.h"
#include "nn/optim_test_support.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::Fixture;
using testing::optim_fixture;

// max |actual - expected| / max |expected| over the tensor: the error relative to the tensor's
// scale. Element-by-element ratios would measure how close an element passes to zero instead:
// PyTorch's own float32 trajectories, with one gradient summed in another order (a 1-ulp
// change), differ by up to 6e-5 element-wise but by 8e-8 in this measure.
double relative_error(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(to_string(actual.sizes()), to_string(expected.sizes()));
  const std::vector<double> a = actual.to(kFloat64).contiguous().to_vector<double>();
  const std::vector<double> e = expected.to(kFloat64).contiguous().to_vector<double>();
  double error = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size() && i < e.size(); ++i) {
    const double difference = std::abs(a[i] - e[i]);
    error = std::isnan(difference) ? std::numeric_limits<double>::infinity() : std::max(error, difference);
    scale = std::max(scale, std::abs(e[i]));
  }
  return scale > 0.0 ? error / scale : error;
}

double tolerance(DType dtype) { return dtype == kFloat64 ? 1e-10 : 1e-5; }

// loss = loss_sign * sum((x @ W.T + b - y)^2), the fixture's problem, with the gradients from
// Ember's autograd (matmul, t, add, sub, pow and sum backward), as the fixture's come from PyTorch's.
struct Problem {
  Tensor x, y;
  double loss_sign = 1.0;

  double loss_and_gradients(const Tensor& weight, const Tensor& bias) const {
    const Tensor loss = sum(pow(matmul(x, weight.t()) + bias - y, 2)) * loss_sign;
    loss.backward();
    return loss.item<double>();
  }
};

struct Trajectory {
  Problem problem;
  Tensor weight, bias;
};

Trajectory start(const std::string& case_path, DType dtype) {
  const Fixture& f = optim_fixture();
  Trajectory t;
  t.problem.x = f.tensor("problem/x").to(dtype);
  t.problem.y = f.tensor("problem/y").to(dtype);
  t.problem.loss_sign = f.has(case_path + "@loss_sign") ? f.number(case_path + "@loss_sign") : 1.0;
  t.weight = f.tensor("problem/W").to(dtype).requires_grad_();
  t.bias = f.tensor("problem/b").to(dtype).requires_grad_();
  return t;
}

// Sets every option the fixture gives explicitly through the generic by-name interface, so a
// name that differs from PyTorch's fails here.
void apply_fixture_options(optim::OptimizerOptions& options, const std::string& path) {
  const Fixture& f = optim_fixture();
  for (size_t index = 0; index < options.specs().size(); ++index) {
    const std::string name = options.specs()[index].name;
    if (name == "betas") {
      if (f.has(path + "@beta1")) options.set_value(index, {f.number(path + "@beta1"), f.number(path + "@beta2")});
    } else if (f.has(path + "@" + name)) {
      options.set_value(index, {f.number(path + "@" + name), 0.0});
    }
  }
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& case_name, std::vector<optim::ParamGroup> groups) {
  const std::string path = "optimizers/" + case_name;
  auto starts_with = [&](const char* prefix) { return case_name.rfind(prefix, 0) == 0; };
  auto configured = [&](auto options) {
    apply_fixture_options(options, path);
    return options;
  };
  if (starts_with("sgd_")) return std::make_unique<optim::SGD>(std::move(groups), configured(optim::SGDOptions(0.0)));
  if (starts_with("adam_")) return std::make_unique<optim::Adam>(std::move(groups), configured(optim::AdamOptions()));
  if (starts_with("adamw_")) return std::make_unique<optim::AdamW>(std::move(groups), configured(optim::AdamWOptions()));
  if (starts_with("rmsprop_")) {
    return std::make_unique<optim::RMSprop>(std::move(groups), configured(optim::RMSpropOptions()));
  }
  if (starts_with("adagrad_")) {
    return std::make_unique<optim::Adagrad>(std::move(groups), configured(optim::AdagradOptions()));
  }
  ADD_FAILURE() << "no optimizer for fixture case " << case_name;
  return nullptr;
}

std::vector<optim::ParamGroup> one_group(const Trajectory& t) {
  std::vector<optim::ParamGroup> groups;
  groups.emplace_back(std::vector<Tensor>{t.weight, t.bias});
  return groups;
}

// Runs the fixture's 20 steps and returns the worst relative error of params and loss.
double replay(const std::string& case_name, DType dtype, optim::Optimizer& optimizer, Trajectory& t) {
  const Fixture& f = optim_fixture();
  const std::string prefix = "optimizers/" + case_name + "/" + std::string(name(dtype)) + "/";
  const Tensor losses = f.tensor(prefix + "loss");
  const Tensor weights = f.tensor(prefix + "W");
  const Tensor biases = f.tensor(prefix + "b");
  double worst = 0.0;
  for (int64_t step = 0; step < losses.size(0); ++step) {
    optimizer.zero_grad();
    const double loss = t.problem.loss_and_gradients(t.weight, t.bias);
    worst = std::max(worst, relative_error(scalar_tensor(loss, kFloat64), losses[step]));
    optimizer.step();
    worst = std::max(worst, relative_error(t.weight, weights[step]));
    worst = std::max(worst, relative_error(t.bias, biases[step]));
    EXPECT_LE(worst, tolerance(dtype)) << case_name << " " << name(dtype) << " diverges at step " << step + 1;
    if (worst > tolerance(dtype)) break;
  }
  return worst;
}

const std::vector<std::string> kOptimizerCases = {
    "sgd_plain",         "sgd_momentum",      "sgd_dampening",
    "sgd_nesterov",      "sgd_weight_decay",  "sgd_maximize",
    "adam_default",      "adam_amsgrad_weight_decay", "adam_maximize",
    "adamw_default",     "adamw_amsgrad",     "rmsprop_plain",
    "rmsprop_centered_momentum", "adagrad_plain", "adagrad_lr_decay",
};

TEST(OptimParity, FixtureListsExactlyTheTestedCases) {
  std::vector<std::string> expected = kOptimizerCases;
  expected.push_back("sgd_two_groups");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(optim_fixture().children("optimizers"), expected);
}

class OptimizerTrajectory : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimizerTrajectory, MatchesPyTorchInFloat64AndFloat32) {
  for (const DType dtype : {kFloat64, kFloat32}) {
    Trajectory t = start("optimizers/" + GetParam(), dtype);
    std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(GetParam(), one_group(t));
    ASSERT_NE(optimizer, nullptr);
    const double worst = replay(GetParam(), dtype, *optimizer, t);
    RecordProperty(std::string("max_relative_error_") + std::string(name(dtype)), std::to_string(worst));
    std::printf("[parity] %-28s %-8s max relative error %.3g\n", GetParam().c_str(), std::string(name(dtype)).c_str(),
                worst);
  }
}

// The state after 20 steps, read back through state_dict under PyTorch's names.
TEST_P(OptimizerTrajectory, EndsWithPyTorchsStateUnderPyTorchsNames) {
  const Fixture& f = optim_fixture();
  Trajectory t = start("optimizers/" + GetParam(), kFloat64);
  std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(GetParam(), one_group(t));
  replay(GetParam(), kFloat64, *optimizer, t);
  const nn::StateDict state = optimizer->state_dict();
  const std::string state_path = "optimizers/" + GetParam() + "/float64/state";
  size_t expected_entries = 0;
  if (f.has(state_path)) {
    for (const std::string& index : f.children(state_path)) {
      for (const std::string& entry : f.children(state_path + "/" + index)) {
        ++expected_entries;
        const std::string key = "state." + index + "." + entry;
        ASSERT_TRUE(state.contains(key)) << key;
        EXPECT_LE(relative_error(state.at(key), f.tensor(state_path + "/" + index + "/" + entry)), 1e-10) << key;
      }
    }
  }
  size_t state_entries = 0;
  for (const auto& [key, value] : state) state_entries += key.rfind("state.", 0) == 0 ? 1 : 0;
  EXPECT_EQ(state_entries, expected_entries);
}

INSTANTIATE_TEST_SUITE_P(Fixture, OptimizerTrajectory, ::testing::ValuesIn(kOptimizerCases),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// [W] with the optimizer's defaults, [b] with its own lr, weight decay and nesterov; momentum
// comes from the defaults.
TEST(OptimParity, TwoParameterGroupsWithTheirOwnOptions) {
  const Fixture& f = optim_fixture();
  for (const DType dtype : {kFloat64, kFloat32}) {
    Trajectory t = start("optimizers/sgd_two_groups", dtype);
    optim::SGDOptions overrides(f.number("optimizers/sgd_two_groups/group1@lr"));
    overrides.weight_decay(f.number("optimizers/sgd_two_groups/group1@weight_decay"))
        .nesterov(f.number("optimizers/sgd_two_groups/group1@nesterov") != 0.0);
    std::vector<optim::ParamGroup> groups;
    groups.emplace_back(std::vector<Tensor>{t.weight});
    groups.emplace_back(std::vector<Tensor>{t.bias}, overrides);
    std::unique_ptr<optim::Optimizer> optimizer = make_optimizer("sgd_two_groups", std::move(groups));
    const auto& second = optimizer->param_groups()[1].options_as<optim::SGDOptions>();
    EXPECT_EQ(second.momentum(), f.number("optimizers/sgd_two_groups@momentum"));  // inherited
    EXPECT_EQ(second.lr(), f.number("optimizers/sgd_two_groups/group1@lr"));
    EXPECT_EQ(optimizer->param_groups()[0].lr(), f.number("optimizers/sgd_two_groups@lr"));
    const double worst = replay("sgd_two_groups", dtype, *optimizer, t);
    std::printf("[parity] %-28s %-8s max relative error %.3g\n", "sgd_two_groups", std::string(name(dtype)).c_str(),
                worst);
  }
}

// ---------------------------------------------------------------- behaviour

std::vector<Tensor> make_params() {
  Tensor weight = tensor(std::vector<double>{0.5, -1.0, 2.0, 0.25, 1.5, -0.75}, {2, 3}).requires_grad_();
  Tensor bias = tensor(std::vector<double>{0.1, -0.2}).requires_grad_();
  return {weight, bias};
}

void set_gradients(const std::vector<Tensor>& params, double scale) {
  for (const Tensor& param : params) {
    const int64_t count = param.numel();
    std::vector<double> values(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) values[i] = scale * std::sin(1.0 + 0.7 * static_cast<double>(i) + scale);
    param.mutable_grad() = tensor(values, param.sizes());
  }
}

std::vector<Tensor> clone_all(const std::vector<Tensor>& params) {
  std::vector<Tensor> copies;
  for (const Tensor& param : params) copies.push_back(param.detach().clone().requires_grad_());
  return copies;
}

template <class Make>
void expect_state_dict_round_trip(Make make) {
  std::vector<Tensor> params = make_params();
  std::unique_ptr<optim::Optimizer> original = make(params);
  for (int step = 0; step < 5; ++step) {
    set_gradients(params, 1.0 + step);
    original->step();
  }
  // A fresh optimizer over copies of the parameters takes over from the checkpoint.
  std::vector<Tensor> resumed_params = clone_all(params);
  std::unique_ptr<optim::Optimizer> resumed = make(resumed_params);
  resumed->load_state_dict(original->state_dict());
  for (int step = 5; step < 12; ++step) {
    set_gradients(params, 1.0 + step);
    set_gradients(resumed_params, 1.0 + step);
    original->step();
    resumed->step();
  }
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(equal(params[i].detach(), resumed_params[i].detach())) << original->name() << " parameter " << i;
  }
  // The state was copied: stepping the original did not move the resumed one's buffers.
  const nn::StateDict a = original->state_dict();
  const nn::StateDict b = resumed->state_dict();
  ASSERT_EQ(a.keys(), b.keys());
  for (const auto& [key, value] : a) {
    if (key.rfind("state.", 0) == 0 && value.dim() > 0) {
      EXPECT_FALSE(value.shares_storage_with(b.at(key))) << key;
      EXPECT_TRUE(equal(value, b.at(key))) << key;
    }
  }
}

TEST(OptimStateDict, RoundTripContinuesExactlyLikeAnUninterruptedRun) {
  expect_state_dict_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(0.01));
  });
  expect_state_dict_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.1));
  });
  expect_state_dict_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(0.01));
  });
  expect_state_dict_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(0.01).centered(true).momentum(0.5));
  });
  expect_state_dict_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions(0.1).lr_decay(0.01));
  });
}

TEST(OptimStateDict, UsesFlatPyTorchKeys) {
  std::vector<Tensor> params = make_params();
  Tensor extra = zeros({4}, kFloat64).requires_grad_();
  std::vector<optim::ParamGroup> groups;
  groups.emplace_back(params);
  groups.emplace_back(std::vector<Tensor>{extra}, optim::AdamOptions(0.5).betas({0.8, 0.9}));
  optim::Adam adam(std::move(groups), optim::AdamOptions(0.01));
  set_gradients(params, 1.0);  // extra has no gradient: it gets no state
  adam.step();
  adam.step();
  const nn::StateDict state = adam.state_dict();
  const std::vector<std::string> expected = {
      "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq",
      "param_groups.0.lr", "param_groups.0.betas", "param_groups.0.eps", "param_groups.0.weight_decay",
      "param_groups.0.amsgrad", "param_groups.0.maximize", "param_groups.0.params",
      "param_groups.1.lr", "param_groups.1.betas", "param_groups.1.eps", "param_groups.1.weight_decay",
      "param_groups.1.amsgrad", "param_groups.1.maximize", "param_groups.1.params"};
  EXPECT_EQ(state.keys(), expected);
  EXPECT_EQ(state.at("state.1.step").dim(), 0);
  EXPECT_EQ(state.at("state.1.step").dtype(), kFloat64);
  EXPECT_EQ(state.at("state.1.step").item<double>(), 2.0);
  EXPECT_EQ(state.at("param_groups.1.lr").item<double>(), 0.5);
  EXPECT_EQ(state.at("param_groups.1.eps").item<double>(), 1e-8);
  EXPECT_EQ(state.at("param_groups.1.betas").to_vector<double>(), (std::vector<double>{0.8, 0.9}));
  EXPECT_EQ(state.at("param_groups.0.betas").to_vector<double>(), (std::vector<double>{0.9, 0.999}));
  EXPECT_EQ(state.at("param_groups.0.amsgrad").item<double>(), 0.0);
  EXPECT_EQ(state.at("param_groups.0.params").dtype(), kInt64);
  EXPECT_EQ(state.at("param_groups.0.params").to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(state.at("param_groups.1.params").to_vector<int64_t>(), (std::vector<int64_t>{2}));

  // RMSprop counts steps as an integer, as PyTorch's Python int.
  optim::RMSprop rmsprop(make_params());
  set_gradients(rmsprop.param_groups()[0].params(), 1.0);
  rmsprop.step();
  EXPECT_EQ(rmsprop.state_dict().at("state.0.step").dtype(), kInt64);
  // Adagrad has state for every parameter from the start.
  optim::Adagrad adagrad(make_params(), optim::AdagradOptions().initial_accumulator_value(0.5));
  EXPECT_EQ(adagrad.state_dict().at("state.1.sum").to_vector<double>(), (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(adagrad.state_dict().at("state.1.step").item<double>(), 0.0);
}

TEST(OptimStateDict, LoadRestoresGroupOptions) {
  std::vector<Tensor> params = make_params();
  optim::SGD source(params, optim::SGDOptions(0.3).momentum(0.7));
  optim::SGD target(clone_all(params), optim::SGDOptions(0.1));
  target.load_state_dict(source.state_dict());
  const auto& options = target.param_groups()[0].options_as<optim::SGDOptions>();
  EXPECT_EQ(options.lr(), 0.3);
  EXPECT_EQ(options.momentum(), 0.7);
}

TEST(OptimStateDict, LoadConvertsStateToTheParameterDtype) {
  std::vector<Tensor> params = make_params();
  optim::SGD source(params, optim::SGDOptions(0.1).momentum(0.9));
  set_gradients(params, 1.0);
  source.step();
  std::vector<Tensor> float_params;
  for (const Tensor& param : params) float_params.push_back(param.detach().to(kFloat32).requires_grad_());
  optim::SGD target(float_params, optim::SGDOptions(0.1).momentum(0.9));
  target.load_state_dict(source.state_dict());
  EXPECT_EQ(target.state_dict().at("state.0.momentum_buffer").dtype(), kFloat32);
}

TEST(OptimStateDict, LoadRejectsMismatchesNamingTheKey) {
  std::vector<Tensor> params = make_params();
  optim::SGD source(params, optim::SGDOptions(0.1).momentum(0.9));
  set_gradients(params, 1.0);
  source.step();
  const nn::StateDict good = source.state_dict();

  // One group of one parameter against a state dict of one group of two.
  optim::SGD fewer({params[0].detach().clone().requires_grad_()}, optim::SGDOptions(0.1).momentum(0.9));
  expect_error([&] { fewer.load_state_dict(good); }, {"param_groups.0.params", "2 parameters", "has 1"});

  std::vector<optim::ParamGroup> two_groups;
  two_groups.emplace_back(std::vector<Tensor>{params[0].detach().clone().requires_grad_()});
  two_groups.emplace_back(std::vector<Tensor>{params[1].detach().clone().requires_grad_()});
  optim::SGD more(std::move(two_groups), optim::SGDOptions(0.1).momentum(0.9));
  expect_error([&] { more.load_state_dict(good); }, {"1 parameter groups", "has 2"});

  // The same parameter count with other shapes.
  optim::SGD reshaped({zeros({3, 2}, kFloat64).requires_grad_(), zeros({2}, kFloat64).requires_grad_()},
                      optim::SGDOptions(0.1).momentum(0.9));
  expect_error([&] { reshaped.load_state_dict(good); }, {"state.0.momentum_buffer", "[2, 3]", "[3, 2]"});

  optim::Adam adam(clone_all(params));
  expect_error([&] { adam.load_state_dict(good); }, {"param_groups.0.momentum", "not an option of Adam"});

  nn::StateDict bad_key;
  for (const auto& [key, value] : good) bad_key.insert(key, value);
  bad_key.insert("state.0.exp_avg", zeros({2, 3}, kFloat64));
  optim::SGD target(clone_all(params), optim::SGDOptions(0.1));
  expect_error([&] { target.load_state_dict(bad_key); }, {"state.0.exp_avg", "not part of SGD's state"});

  nn::StateDict stray;
  stray.insert("momentum", zeros({}, kFloat64));
  expect_error([&] { target.load_state_dict(stray); }, {"unexpected key 'momentum'"});

  nn::StateDict bad_value;
  for (const auto& [key, value] : good) {
    bad_value.insert(key, key == "param_groups.0.lr" ? scalar_tensor(-1.0, kFloat64) : value);
  }
  expect_error([&] { target.load_state_dict(bad_value); }, {"lr", "-1"});
  // A failed load leaves the optimizer as it was.
  EXPECT_EQ(target.param_groups()[0].lr(), 0.1);
}

TEST(OptimZeroGrad, SetToNoneDropsTheGradientOtherwiseZeroesItInPlace) {
  std::vector<Tensor> params = make_params();
  optim::SGD sgd(params, optim::SGDOptions(0.1));
  set_gradients(params, 1.0);
  const Tensor kept = params[0].grad();
  sgd.zero_grad(false);
  ASSERT_TRUE(params[0].grad().defined());
  EXPECT_TRUE(params[0].grad().is_same(kept));  // the same tensor, zeroed in place
  EXPECT_EQ(sum(abs(kept)).item<double>(), 0.0);
  sgd.zero_grad();
  EXPECT_FALSE(params[0].grad().defined());
  EXPECT_FALSE(params[1].grad().defined());
  sgd.zero_grad(false);  // nothing to zero: no error
}

TEST(OptimStep, SkipsParametersWithoutGradient) {
  std::vector<Tensor> params = make_params();
  const Tensor before = params[1].detach().clone();
  optim::Adam adam(params, optim::AdamOptions(0.1));
  params[0].mutable_grad() = ones({2, 3}, kFloat64);
  adam.step();
  EXPECT_TRUE(equal(params[1].detach(), before));
  EXPECT_EQ(adam.state(params[1]), nullptr);
  ASSERT_NE(adam.state(params[0]), nullptr);
  EXPECT_EQ(adam.state(params[0])->step, 1.0);
  // Adam's first step moves every element by lr (the bias-corrected ratio is sign(grad)).
  EXPECT_NEAR(params[0].detach().to_vector<double>()[0], 0.5 - 0.1, 1e-7);
}

TEST(OptimStep, UpdatesDoNotRecordAutogradHistory) {
  std::vector<Tensor> params = make_params();
  optim::SGD sgd(params, optim::SGDOptions(0.1).momentum(0.9));
  set_gradients(params, 1.0);
  sgd.step();
  EXPECT_TRUE(params[0].is_leaf());
  EXPECT_TRUE(params[0].requires_grad());
  EXPECT_EQ(params[0].grad_fn(), nullptr);
}

TEST(OptimStep, ClosureIsEvaluatedWithGradModeOn) {
  Tensor weight = tensor(std::vector<double>{3.0}).requires_grad_();
  optim::SGD sgd({weight}, optim::SGDOptions(0.25));
  autograd::NoGradGuard no_grad;  // the closure still records
  const Tensor loss = sgd.step([&] {
    sgd.zero_grad();
    Tensor value = weight * weight;
    value.backward(ones({1}, kFloat64));
    return value;
  });
  EXPECT_EQ(loss.item<double>(), 9.0);
  EXPECT_DOUBLE_EQ(weight.detach().item<double>(), 3.0 - 0.25 * 6.0);
}

TEST(OptimParamGroups, LearningRateIsPerGroupAndWritable) {
  std::vector<Tensor> params = make_params();
  optim::SGD sgd({params[0]}, optim::SGDOptions(0.1));
  sgd.add_param_group(optim::ParamGroup({params[1]}, optim::SGDOptions(0.01)));
  ASSERT_EQ(sgd.param_groups().size(), 2u);
  EXPECT_EQ(sgd.param_groups()[1].lr(), 0.01);
  sgd.param_groups()[0].set_lr(1.0);
  params[0].mutable_grad() = ones({2, 3}, kFloat64);
  params[1].mutable_grad() = ones({2}, kFloat64);
  sgd.step();
  EXPECT_DOUBLE_EQ(params[0].detach().to_vector<double>()[0], 0.5 - 1.0);
  EXPECT_DOUBLE_EQ(params[1].detach().to_vector<double>()[0], 0.1 - 0.01);
  // A parameter may be in one group only.
  expect_error([&] { sgd.add_param_group(optim::ParamGroup({params[0]})); }, {"more than once"});
  // A group's options must be the optimizer's kind.
  expect_error([&] { sgd.add_param_group(optim::ParamGroup({zeros({1}, kFloat64)}, optim::AdamOptions())); },
               {"configure Adam, not SGD"});
}

// ---------------------------------------------------------------- option errors

TEST(OptimOptions, DefaultsAreTorchs) {
  const optim::AdamOptions adam;
  EXPECT_EQ(adam.lr(), 1e-3);
  EXPECT_EQ(adam.betas(), (std::pair<double, double>{0.9, 0.999}));
  EXPECT_EQ(adam.eps(), 1e-8);
  EXPECT_EQ(adam.weight_decay(), 0.0);
  EXPECT_FALSE(adam.amsgrad());
  EXPECT_EQ(optim::AdamWOptions().weight_decay(), 1e-2);
  const optim::RMSpropOptions rmsprop;
  EXPECT_EQ(rmsprop.lr(), 1e-2);
  EXPECT_EQ(rmsprop.alpha(), 0.99);
  EXPECT_EQ(rmsprop.eps(), 1e-8);
  const optim::AdagradOptions adagrad;
  EXPECT_EQ(adagrad.lr(), 1e-2);
  EXPECT_EQ(adagrad.eps(), 1e-10);
  const optim::SGDOptions sgd(0.5);
  EXPECT_EQ(sgd.momentum(), 0.0);
  EXPECT_EQ(sgd.dampening(), 0.0);
  EXPECT_FALSE(sgd.nesterov());
  EXPECT_FALSE(sgd.maximize());
}

TEST(OptimOptions, InvalidValuesNameTheOptionAndValue) {
  const std::vector<Tensor> params = make_params();
  expect_error([&] { optim::SGD(params, optim::SGDOptions(-0.1)); }, {"SGD", "lr", "-0.1"});
  expect_error([&] { optim::SGD(params, optim::SGDOptions(0.1).momentum(-1)); }, {"momentum", "-1"});
  expect_error([&] { optim::SGD(params, optim::SGDOptions(0.1).weight_decay(-2)); }, {"weight_decay", "-2"});
  expect_error([&] { optim::SGD(params, optim::SGDOptions(0.1).nesterov(true)); }, {"Nesterov"});
  expect_error([&] { optim::SGD(params, optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)); },
               {"Nesterov", "dampening 0.1"});
  expect_error([&] { optim::Adam(params, optim::AdamOptions().betas({1.0, 0.999})); }, {"Adam", "beta1", "1"});
  expect_error([&] { optim::AdamW(params, optim::AdamWOptions().betas({0.9, -0.5})); }, {"AdamW", "beta2", "-0.5"});
  expect_error([&] { optim::Adam(params, optim::AdamOptions().eps(-1e-8)); }, {"eps", "-1e-08"});
  expect_error([&] { optim::Adam(params, optim::AdamOptions(std::nan(""))); }, {"lr", "nan"});
  expect_error([&] { optim::RMSprop(params, optim::RMSpropOptions().alpha(-0.5)); }, {"RMSprop", "alpha", "-0.5"});
  expect_error([&] { optim::Adagrad(params, optim::AdagradOptions().lr_decay(-1)); }, {"Adagrad", "lr_decay", "-1"});
  expect_error([&] { optim::Adagrad(params, optim::AdagradOptions().initial_accumulator_value(-1)); },
               {"initial_accumulator_value"});
  // A group's own options are checked too.
  expect_error([&] { optim::SGD({optim::ParamGroup({params[0]}, optim::SGDOptions(-3.0))}, optim::SGDOptions(0.1)); },
               {"lr", "-3"});
}

TEST(OptimOptions, InvalidParametersAreRejected) {
  expect_error([] { optim::SGD(std::vector<Tensor>{}, optim::SGDOptions(0.1)); }, {"empty parameter list"});
  expect_error([] { optim::SGD({Tensor()}, optim::SGDOptions(0.1)); }, {"undefined"});
  expect_error([] { optim::SGD({zeros({2}, kInt64)}, optim::SGDOptions(0.1)); }, {"int64", "floating-point"});
  Tensor leaf = zeros({2}, kFloat64).requires_grad_();
  Tensor computed = leaf * 2.0;
  expect_error([&] { optim::SGD({computed}, optim::SGDOptions(0.1)); }, {"not a leaf", "MulBackward"});
  expect_error([&] { optim::SGD({leaf, leaf}, optim::SGDOptions(0.1)); }, {"more than once"});
}

// ---------------------------------------------------------------- gradient clipping

std::vector<Tensor> clip_params(DType dtype) {
  const Fixture& f = optim_fixture();
  Tensor weight = zeros({3, 4}, dtype).requires_grad_();
  Tensor bias = zeros({3}, dtype).requires_grad_();
  weight.mutable_grad() = f.tensor("clip/grad_W").to(dtype);
  bias.mutable_grad() = f.tensor("clip/grad_b").to(dtype);
  return {weight, bias};
}

TEST(ClipGrad, NormMatchesPyTorch) {
  const Fixture& f = optim_fixture();
  for (const std::string case_name : {"l2_clipped", "l2_not_clipped", "inf", "l1", "p3", "l2_float32"}) {
    const std::string path = "clip/" + case_name;
    const DType dtype = case_name == "l2_float32" ? kFloat32 : kFloat64;
    const double rtol = tolerance(dtype);
    std::vector<Tensor> params = clip_params(dtype);
    const double total = nn::clip_grad_norm_(params, f.number(path + "@max_norm"), f.number(path + "@norm_type"));
    const double expected = f.number(path + "@total_norm");
    EXPECT_LE(std::abs(total - expected), rtol * expected) << case_name;
    const double worst = std::max(relative_error(params[0].grad(), f.tensor(path + "/W")),
                                  relative_error(params[1].grad(), f.tensor(path + "/b")));
    EXPECT_LE(worst, rtol) << case_name;
    std::printf("[parity] clip_grad_norm_ %-14s total norm error %.3g, gradients %.3g\n", case_name.c_str(),
                std::abs(total - expected) / expected, worst);
  }
}

TEST(ClipGrad, ValueMatchesPyTorch) {
  const Fixture& f = optim_fixture();
  std::vector<Tensor> params = clip_params(kFloat64);
  nn::clip_grad_value_(params, f.number("clip/value@clip_value"));
  EXPECT_TRUE(equal(params[0].grad(), f.tensor("clip/value/W")));
  EXPECT_TRUE(equal(params[1].grad(), f.tensor("clip/value/b")));
  expect_error([&] { nn::clip_grad_value_(params, -1.0); }, {"clip_grad_value_", "-1"});
}

TEST(ClipGrad, SkipsMissingGradientsAndReportsNonFiniteNorms) {
  Tensor without = zeros({3}, kFloat64).requires_grad_();
  EXPECT_EQ(nn::clip_grad_norm_(std::vector<Tensor>{without}, 1.0), 0.0);
  Tensor with = zeros({2}, kFloat64).requires_grad_();
  with.mutable_grad() = tensor(std::vector<double>{3.0, 4.0});
  EXPECT_DOUBLE_EQ(nn::clip_grad_norm_(std::vector<Tensor>{without, with}, 1.0), 5.0);
  EXPECT_NEAR(with.grad().to_vector<double>()[1], 4.0 / (5.0 + 1e-6), 1e-15);
  EXPECT_FALSE(without.grad().defined());

  with.mutable_grad() = tensor(std::vector<double>{std::numeric_limits<double>::infinity(), 1.0});
  expect_error([&] { nn::clip_grad_norm_(with, 1.0, 2.0, /*error_if_nonfinite=*/true); }, {"non-finite"});
  EXPECT_TRUE(std::isinf(nn::clip_grad_norm_(with, 1.0)));  // PyTorch scales by 0: inf becomes nan
  EXPECT_TRUE(std::isnan(with.grad().to_vector<double>()[0]));
  expect_error([&] { nn::clip_grad_norm_(with, 1.0, 0.0); }, {"norm_type", "0"});
}

}  // namespace
}  // namespace ember

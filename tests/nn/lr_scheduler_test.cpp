// LR schedulers against PyTorch 1.13 (fixtures/optim.h5, written by fixtures/generate_optim.py):
// the lr of every group after construction and after each of 30 steps, state_dict round trips
// and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ember/ember.h"
#include "ember/optim/optim.h"
#include "nn/optim_test_support.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::optim_fixture;

// An SGD optimizer with one dummy parameter per group, each group at its own lr.
std::unique_ptr<optim::SGD> make_optimizer(const std::vector<double>& lrs) {
  std::vector<optim::ParamGroup> groups;
  for (const double lr : lrs) groups.emplace_back(std::vector<Tensor>{zeros({1}).requires_grad_()}, optim::SGDOptions(lr));
  return std::make_unique<optim::SGD>(std::move(groups), optim::SGDOptions(lrs.front()));
}

using SchedulerFactory = std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&, const std::string& path)>;

double attribute(const std::string& path, const char* name) { return optim_fixture().number(path + "@" + name); }
int64_t integer_attribute(const std::string& path, const char* name) {
  return static_cast<int64_t>(attribute(path, name));
}
std::vector<int64_t> milestones(const std::string& path) {
  return optim_fixture().tensor(path + "/milestones").to_vector<int64_t>();
}

std::shared_ptr<optim::LRScheduler> make_step_lr(optim::Optimizer& optimizer, const std::string& path) {
  return std::make_shared<optim::StepLR>(optimizer, integer_attribute(path, "step_size"), attribute(path, "gamma"));
}
std::shared_ptr<optim::LRScheduler> make_cosine(optim::Optimizer& optimizer, const std::string& path) {
  return std::make_shared<optim::CosineAnnealingLR>(optimizer, integer_attribute(path, "T_max"),
                                                    attribute(path, "eta_min"));
}
std::shared_ptr<optim::LRScheduler> make_linear(optim::Optimizer& optimizer, const std::string& path) {
  return std::make_shared<optim::LinearLR>(optimizer, attribute(path, "start_factor"), attribute(path, "end_factor"),
                                           integer_attribute(path, "total_iters"));
}

const std::vector<std::pair<std::string, SchedulerFactory>>& cases() {
  static const std::vector<std::pair<std::string, SchedulerFactory>> all = {
      {"step_lr", make_step_lr},
      {"step_lr_two_groups", make_step_lr},
      {"multistep_lr",
       [](optim::Optimizer& optimizer, const std::string& path) -> std::shared_ptr<optim::LRScheduler> {
         return std::make_shared<optim::MultiStepLR>(optimizer, milestones(path), attribute(path, "gamma"));
       }},
      {"exponential_lr",
       [](optim::Optimizer& optimizer, const std::string& path) -> std::shared_ptr<optim::LRScheduler> {
         return std::make_shared<optim::ExponentialLR>(optimizer, attribute(path, "gamma"));
       }},
      {"cosine_annealing_lr", make_cosine},
      {"cosine_annealing_lr_two_groups", make_cosine},
      {"linear_lr", make_linear},
      {"linear_lr_default",
       [](optim::Optimizer& optimizer, const std::string&) -> std::shared_ptr<optim::LRScheduler> {
         return std::make_shared<optim::LinearLR>(optimizer);  // PyTorch's defaults, written in the fixture
       }},
      {"sequential_lr",
       [](optim::Optimizer& optimizer, const std::string& path) -> std::shared_ptr<optim::LRScheduler> {
         std::vector<std::shared_ptr<optim::LRScheduler>> parts = {make_linear(optimizer, path + "/warmup"),
                                                                   make_cosine(optimizer, path + "/cosine")};
         return std::make_shared<optim::SequentialLR>(optimizer, std::move(parts), milestones(path));
       }},
  };
  return all;
}

// The worst relative difference between the schedule and PyTorch's, over every step and group.
double compare_schedule(const std::string& case_name, const SchedulerFactory& factory) {
  const std::string path = "schedulers/" + case_name;
  const std::vector<double> initial_lrs = optim_fixture().tensor(path + "/initial_lr").to_vector<double>();
  const Tensor expected = optim_fixture().tensor(path + "/lr");
  std::unique_ptr<optim::SGD> optimizer = make_optimizer(initial_lrs);
  std::shared_ptr<optim::LRScheduler> scheduler = factory(*optimizer, path);
  double worst = 0.0;
  for (int64_t step = 0; step < expected.size(0); ++step) {
    if (step > 0) scheduler->step();
    const std::vector<double> row = expected[step].to_vector<double>();
    const std::vector<double>& actual = scheduler->get_last_lr();
    EXPECT_EQ(actual.size(), row.size());
    for (size_t group = 0; group < row.size() && group < actual.size(); ++group) {
      EXPECT_EQ(optimizer->param_groups()[group].lr(), actual[group]);
      const double difference = std::abs(actual[group] - row[group]);
      worst = std::max(worst, row[group] != 0.0 ? difference / std::abs(row[group]) : difference);
    }
    EXPECT_EQ(scheduler->last_epoch(), step) << case_name;
  }
  return worst;
}

TEST(LRSchedulerParity, FixtureListsExactlyTheTestedCases) {
  std::vector<std::string> names;
  for (const auto& [name, factory] : cases()) names.push_back(name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(optim_fixture().children("schedulers"), names);
}

TEST(LRSchedulerParity, ThirtyStepsMatchPyTorch) {
  for (const auto& [name, factory] : cases()) {
    SCOPED_TRACE(name);
    const double worst = compare_schedule(name, factory);
    // Bit for bit: the same double operations in the same order. (CosineAnnealingLR's closed
    // form, which PyTorch 1.13 does not step with, differs from its recursive form by ~5e-15.)
    EXPECT_EQ(worst, 0.0);
    std::printf("[parity] %-32s max relative error %.3g\n", name.c_str(), worst);
  }
}

TEST(LRSchedulerParity, LinearLRDefaultsAreTorchs) {
  const std::string path = "schedulers/linear_lr_default";
  std::unique_ptr<optim::SGD> optimizer = make_optimizer({0.1});
  optim::LinearLR scheduler(*optimizer);
  const nn::StateDict state = scheduler.state_dict();
  EXPECT_EQ(state.at("start_factor").item<double>(), attribute(path, "start_factor"));
  EXPECT_EQ(state.at("end_factor").item<double>(), attribute(path, "end_factor"));
  EXPECT_EQ(state.at("total_iters").item<double>(), attribute(path, "total_iters"));
}

// ---------------------------------------------------------------- behaviour

TEST(LRScheduler, RecordsInitialLrInTheGroupsAndTheOptimizerStateDict) {
  std::unique_ptr<optim::SGD> optimizer = make_optimizer({0.1, 0.02});
  optim::ExponentialLR first(*optimizer, 0.5);
  first.step();
  EXPECT_DOUBLE_EQ(optimizer->param_groups()[0].lr(), 0.05);
  // A second scheduler keeps the recorded initial_lr as its base, not the current lr.
  optim::StepLR second(*optimizer, 3);
  EXPECT_EQ(second.base_lrs(), (std::vector<double>{0.1, 0.02}));
  EXPECT_EQ(optimizer->param_groups()[1].initial_lr(), 0.02);
  EXPECT_EQ(optimizer->state_dict().at("param_groups.1.initial_lr").item<double>(), 0.02);
}

// Saves after `steps`, rebuilds optimizer and scheduler from scratch, loads both state dicts and
// checks that the rest of the schedule is the uninterrupted one.
void expect_round_trip(const std::string& case_name, int steps) {
  const auto& factory =
      std::find_if(cases().begin(), cases().end(), [&](const auto& entry) { return entry.first == case_name; })->second;
  const std::string path = "schedulers/" + case_name;
  const std::vector<double> initial_lrs = optim_fixture().tensor(path + "/initial_lr").to_vector<double>();
  std::unique_ptr<optim::SGD> optimizer = make_optimizer(initial_lrs);
  std::shared_ptr<optim::LRScheduler> scheduler = factory(*optimizer, path);
  for (int step = 0; step < steps; ++step) scheduler->step();
  const nn::StateDict optimizer_state = optimizer->state_dict();
  const nn::StateDict scheduler_state = scheduler->state_dict();

  std::unique_ptr<optim::SGD> resumed_optimizer = make_optimizer(initial_lrs);
  std::shared_ptr<optim::LRScheduler> resumed = factory(*resumed_optimizer, path);
  resumed_optimizer->load_state_dict(optimizer_state);
  resumed->load_state_dict(scheduler_state);
  EXPECT_EQ(resumed->last_epoch(), scheduler->last_epoch());
  EXPECT_EQ(resumed->get_last_lr(), scheduler->get_last_lr());
  for (int step = steps; step < 30; ++step) {
    scheduler->step();
    resumed->step();
    EXPECT_EQ(resumed->get_last_lr(), scheduler->get_last_lr()) << case_name << " step " << step + 1;
  }
}

TEST(LRScheduler, StateDictRoundTripResumesTheSchedule) {
  for (const auto& [name, factory] : cases()) expect_round_trip(name, 7);
  expect_round_trip("sequential_lr", 3);  // still in the warm-up
}

TEST(LRScheduler, StateDictKeys) {
  std::unique_ptr<optim::SGD> optimizer = make_optimizer({0.1, 0.2});
  optim::MultiStepLR scheduler(*optimizer, {9, 3, 3}, 0.5);
  const nn::StateDict state = scheduler.state_dict();
  EXPECT_EQ(state.keys(), (std::vector<std::string>{"last_epoch", "step_count", "base_lrs.0", "base_lrs.1",
                                                    "last_lr.0", "last_lr.1", "milestones", "gamma"}));
  EXPECT_EQ(state.at("milestones").to_vector<int64_t>(), (std::vector<int64_t>{3, 3, 9}));
  EXPECT_EQ(state.at("last_epoch").dtype(), kInt64);
  EXPECT_EQ(state.at("last_epoch").item<int64_t>(), 0);
}

TEST(LRScheduler, InvalidArgumentsAreErrors) {
  std::unique_ptr<optim::SGD> optimizer = make_optimizer({0.1});
  expect_error([&] { optim::StepLR(*optimizer, 0); }, {"StepLR", "step_size", "0"});
  expect_error([&] { optim::CosineAnnealingLR(*optimizer, -2); }, {"CosineAnnealingLR", "T_max", "-2"});
  expect_error([&] { optim::LinearLR(*optimizer, 1.5); }, {"LinearLR", "start_factor", "1.5"});
  expect_error([&] { optim::LinearLR(*optimizer, 0.5, -0.1); }, {"end_factor", "-0.1"});
  expect_error([&] { optim::LinearLR(*optimizer, 0.5, 1.0, 0); }, {"total_iters", "0"});

  auto warmup = std::make_shared<optim::LinearLR>(*optimizer);
  auto decay = std::make_shared<optim::ExponentialLR>(*optimizer, 0.9);
  expect_error([&] { optim::SequentialLR(*optimizer, {warmup, decay}, {}); }, {"2 schedulers and 0 milestones"});
  std::unique_ptr<optim::SGD> other = make_optimizer({0.1});
  auto elsewhere = std::make_shared<optim::ExponentialLR>(*other, 0.9);
  expect_error([&] { optim::SequentialLR(*optimizer, {warmup, elsewhere}, {5}); }, {"scheduler 1", "ExponentialLR"});
}

TEST(LRScheduler, LoadRejectsForeignStateDicts) {
  std::unique_ptr<optim::SGD> optimizer = make_optimizer({0.1});
  optim::StepLR step_lr(*optimizer, 5);
  optim::ExponentialLR exponential(*optimizer, 0.9);
  expect_error([&] { step_lr.load_state_dict(exponential.state_dict()); }, {"StepLR", "missing key 'step_size'"});
  std::unique_ptr<optim::SGD> two = make_optimizer({0.1, 0.2});
  optim::StepLR two_groups(*two, 5);
  expect_error([&] { step_lr.load_state_dict(two_groups.state_dict()); }, {"2 parameter groups", "has 1"});
  nn::StateDict extra = step_lr.state_dict();
  extra.insert("warmup", zeros({}));
  expect_error([&] { step_lr.load_state_dict(extra); }, {"unexpected key 'warmup'"});
  // A group added after the scheduler was made.
  optimizer->add_param_group(optim::ParamGroup({zeros({1}).requires_grad_()}));
  expect_error([&] { step_lr.step(); }, {"StepLR", "2 parameter groups", "made for 1"});
}

}  // namespace
}  // namespace ember

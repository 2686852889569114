// Exact resume: train N steps, checkpoint, train M more; a fresh setup that loads the checkpoint
// and trains M steps must produce the same losses and parameters, bit for bit. Dropout draws
// from the default generator and the data comes shuffled through a DataLoader, so the generator
// state and the loader position must both come back for that to hold.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "ember/io/checkpoint.h"
#include "ember/io/data_loader.h"
#include "ember/io/dataset.h"
#include "ember/io/sampler.h"
#include "ember/nn/nn.h"
#include "ember/tensor/ops.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

constexpr int64_t kSamples = 40, kBatchSize = 6;  // 7 batches an epoch, the last one of 4
constexpr uint64_t kShuffleSeed = 5;

std::shared_ptr<TensorDataset> make_dataset() {
  Generator data_generator(7);
  return std::make_shared<TensorDataset>(std::vector<std::string>{"features", "labels"},
                                         std::vector<Tensor>{randn({kSamples, 8}, {}, &data_generator),
                                                             randint(0, 3, {kSamples}, kInt64, &data_generator)});
}

enum class OptimizerKind { SGDMomentum, Adam };

// Everything one training process builds. Its constructor draws the initial weights from the
// default generator, as a real program's does.
struct Setup {
  nn::Sequential model{nn::Linear(8, 16), nn::ReLU(), nn::Dropout(0.3), nn::Linear(16, 3)};
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<optim::StepLR> scheduler;
  DataLoader loader;

  Setup(const std::shared_ptr<TensorDataset>& dataset, OptimizerKind kind)
      : loader(dataset, DataLoaderOptions()
                            .batch_size(kBatchSize)
                            .sampler(std::make_shared<RandomSampler>(kSamples, kShuffleSeed))
                            .num_workers(2)) {
    if (kind == OptimizerKind::Adam) {
      optimizer = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions(0.01));
    } else {
      optimizer = std::make_unique<optim::SGD>(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    }
    scheduler = std::make_unique<optim::StepLR>(*optimizer, /*step_size=*/4, /*gamma=*/0.5);
  }

  // `steps` optimizer steps, the scheduler stepped after each; returns the losses.
  std::vector<float> train(int64_t steps) {
    std::vector<float> losses;
    while (static_cast<int64_t>(losses.size()) < steps) {
      for (const Batch& batch : loader) {
        // The batches are BatchSampler(RandomSampler) order, whichever thread loaded them.
        const auto expected = BatchSampler(std::make_shared<RandomSampler>(kSamples, kShuffleSeed), kBatchSize)
                                  .batches(batch.epoch())[static_cast<size_t>(batch.number())];
        EXPECT_EQ(batch.indices(), expected);
        optimizer->zero_grad();
        Tensor loss = nn::functional::cross_entropy(model->forward(batch["features"]), batch["labels"]);
        loss.backward();
        optimizer->step();
        scheduler->step();
        losses.push_back(loss.item<float>());
        if (static_cast<int64_t>(losses.size()) == steps) break;
      }
    }
    return losses;
  }

  Checkpoint checkpoint(int64_t step) const {
    Checkpoint result;
    result.model = model->state_dict();
    result.optimizer = optimizer->state_dict();
    result.scheduler = scheduler->state_dict();
    result.loader = loader.position();
    result.generators["default"] = default_generator().state();
    result.step = step;
    result.epoch = loader.position().epoch;
    return result;
  }
};

void expect_identical(const nn::StateDict& actual, const nn::StateDict& expected, const char* what) {
  ASSERT_EQ(actual.keys(), expected.keys()) << what;
  for (const auto& [key, tensor] : expected) {
    EXPECT_TRUE(equal(actual.at(key), tensor)) << what << " " << key;
  }
}

struct Resumed {
  std::vector<float> losses;
  nn::StateDict model;
  nn::StateDict optimizer;
};

constexpr int64_t kStepsBefore = 9, kStepsAfter = 10;  // saved mid-epoch 1; ends mid-epoch 2

// Trains kStepsBefore steps, saves through a CheckpointManager, trains kStepsAfter more; returns
// the latter losses and the final state, and leaves the checkpoint in `directory`.
Resumed run_uninterrupted(OptimizerKind kind, const std::string& directory) {
  const auto dataset = make_dataset();
  manual_seed(42);
  Setup setup(dataset, kind);
  setup.train(kStepsBefore);
  EXPECT_EQ(setup.loader.position().epoch, 1);
  EXPECT_EQ(setup.loader.position().batches_consumed, 2);
  CheckpointManager(directory).save(setup.checkpoint(kStepsBefore));
  Resumed result;
  result.losses = setup.train(kStepsAfter);
  result.model = setup.model->state_dict();
  result.optimizer = setup.optimizer->state_dict();
  return result;
}

struct Restored {
  bool generator = true;
  bool loader = true;
};

// A new process's view: new objects, a different seed, then the latest checkpoint.
Resumed run_resumed(OptimizerKind kind, const std::string& directory, Restored restored = {}) {
  const auto dataset = make_dataset();
  manual_seed(1234);
  Setup setup(dataset, kind);
  const std::optional<std::string> latest = CheckpointManager(directory).latest();
  EXPECT_TRUE(latest.has_value());
  const Checkpoint checkpoint = load_checkpoint(*latest);
  EXPECT_EQ(checkpoint.step, kStepsBefore);
  restore(checkpoint, *setup.model, setup.optimizer.get(), setup.scheduler.get());
  if (restored.generator) default_generator().set_state(checkpoint.generator("default"));
  if (restored.loader) setup.loader.restore(*checkpoint.loader);
  Resumed result;
  result.losses = setup.train(kStepsAfter);
  result.model = setup.model->state_dict();
  result.optimizer = setup.optimizer->state_dict();
  return result;
}

TEST(Resume, AdamStepLRAndDropoutResumeBitForBit) {
  TempDir dir;
  const Resumed uninterrupted = run_uninterrupted(OptimizerKind::Adam, dir.path());
  const Resumed resumed = run_resumed(OptimizerKind::Adam, dir.path());
  EXPECT_EQ(resumed.losses, uninterrupted.losses);  // exact float equality
  expect_identical(resumed.model, uninterrupted.model, "model");
  expect_identical(resumed.optimizer, uninterrupted.optimizer, "optimizer");
}

TEST(Resume, SGDMomentumStepLRAndDropoutResumeBitForBit) {
  TempDir dir;
  const Resumed uninterrupted = run_uninterrupted(OptimizerKind::SGDMomentum, dir.path());
  const Resumed resumed = run_resumed(OptimizerKind::SGDMomentum, dir.path());
  EXPECT_EQ(resumed.losses, uninterrupted.losses);
  expect_identical(resumed.model, uninterrupted.model, "model");
  expect_identical(resumed.optimizer, uninterrupted.optimizer, "optimizer");
}

// The controls: the generator state and the loader position are each needed, so the test above
// would notice a checkpoint that lost either.
TEST(Resume, WithoutTheGeneratorStateOrTheLoaderPositionTheRunDiverges) {
  TempDir dir;
  const Resumed uninterrupted = run_uninterrupted(OptimizerKind::Adam, dir.path());
  const Resumed no_generator = run_resumed(OptimizerKind::Adam, dir.path(), {.generator = false});
  const Resumed no_loader = run_resumed(OptimizerKind::Adam, dir.path(), {.loader = false});
  EXPECT_NE(no_generator.losses, uninterrupted.losses);
  EXPECT_NE(no_loader.losses, uninterrupted.losses);
  EXPECT_FALSE(equal(no_generator.model.at("3.weight"), uninterrupted.model.at("3.weight")));
}

}  // namespace
}  // namespace ember::io

#include "ember/io/data_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "ember/io/shard_writer.h"
#include "ember/io/sharded_dataset.h"
#include "ember/tensor/factories.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

using namespace std::chrono_literals;

// Runs `body` on its own thread and fails the test (ending the process, since a hung loader
// cannot be cancelled) unless it finishes within 10 seconds.
template <class Body>
void within_deadline(Body body) {
  std::packaged_task<void()> task(std::move(body));
  std::future<void> done = task.get_future();
  std::thread thread(std::move(task));
  if (done.wait_for(10s) != std::future_status::ready) {
    std::fprintf(stderr, "DataLoader test: no result within 10 s: the loader hangs\n");
    std::abort();
  }
  thread.join();
  done.get();
}

// Sample i: an image [1, 3, 4] of (i * 12 + k) % 251 and the label i.
std::shared_ptr<TensorDataset> numbered_dataset(int64_t size) {
  std::vector<uint8_t> pixels(static_cast<size_t>(size * 12));
  for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = static_cast<uint8_t>(k % 251);
  std::vector<int64_t> labels(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) labels[static_cast<size_t>(i)] = i;
  return std::make_shared<TensorDataset>(std::vector<std::string>{"images", "labels"},
                                         std::vector<Tensor>{tensor(pixels, {size, 1, 3, 4}), tensor(labels)});
}

// Wraps a dataset, recording every read (and the data of every tensor it returns); optionally
// fails on one sample, like a bad file. Reads sorted indices only unless `any_order` passes the
// inner dataset's reads_any_order() on.
class RecordingDataset : public Dataset {
 public:
  explicit RecordingDataset(std::shared_ptr<const Dataset> inner, int64_t failing_sample = -1, bool any_order = false)
      : inner_(std::move(inner)), failing_sample_(failing_sample), any_order_(any_order) {}

  int64_t size() const override { return inner_->size(); }
  const std::vector<Field>& fields() const override { return inner_->fields(); }
  bool reads_any_order() const override { return any_order_ && inner_->reads_any_order(); }
  std::vector<Tensor> read(std::span<const int64_t> sorted_indices) const override {
    std::vector<Tensor> result = read_recorded(sorted_indices);
    std::lock_guard lock(mutex_);
    returned_.insert(returned_.end(), result.begin(), result.end());
    return result;
  }

  std::vector<std::vector<int64_t>> reads() const {
    std::lock_guard lock(mutex_);
    return reads_;
  }
  // Whether `data` is the data of a tensor that read() returned (all are kept alive, so no later
  // tensor can have the same address).
  bool returned(const void* data) const {
    std::lock_guard lock(mutex_);
    return std::any_of(returned_.begin(), returned_.end(), [&](const Tensor& field) { return field.data_ptr() == data; });
  }
  int64_t reads_started() const {
    std::lock_guard lock(mutex_);
    return static_cast<int64_t>(reads_.size());
  }
  int64_t in_progress() const {
    std::lock_guard lock(mutex_);
    return in_progress_;
  }
  int64_t most_in_progress() const {
    std::lock_guard lock(mutex_);
    return most_in_progress_;
  }
  // Waits (at most 10 s) until `count` reads have started; false on timeout.
  bool wait_for_reads(int64_t count) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return static_cast<int64_t>(reads_.size()) >= count; });
  }

 private:
  std::vector<Tensor> read_recorded(std::span<const int64_t> sorted_indices) const {
    {
      std::lock_guard lock(mutex_);
      reads_.emplace_back(sorted_indices.begin(), sorted_indices.end());
      ++in_progress_;
      most_in_progress_ = std::max(most_in_progress_, in_progress_);
    }
    changed_.notify_all();
    struct Done {
      const RecordingDataset& dataset;
      ~Done() {
        std::lock_guard lock(dataset.mutex_);
        --dataset.in_progress_;
      }
    } done{*this};
    if (std::find(sorted_indices.begin(), sorted_indices.end(), failing_sample_) != sorted_indices.end()) {
      fail("RecordingDataset: cannot read sample {} of /data/shard-0.h5, dataset 'images': bad chunk", failing_sample_);
    }
    return inner_->read(sorted_indices);
  }

  std::shared_ptr<const Dataset> inner_;
  int64_t failing_sample_;
  bool any_order_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable std::vector<std::vector<int64_t>> reads_;
  mutable std::vector<Tensor> returned_;
  mutable int64_t in_progress_ = 0;
  mutable int64_t most_in_progress_ = 0;
};

// A dataset that breaks the rules: throws a standard exception, or returns too few rows.
class BrokenDataset : public Dataset {
 public:
  BrokenDataset(std::shared_ptr<const Dataset> inner, bool short_rows) : inner_(std::move(inner)), short_rows_(short_rows) {}
  int64_t size() const override { return inner_->size(); }
  const std::vector<Field>& fields() const override { return inner_->fields(); }
  std::vector<Tensor> read(std::span<const int64_t> sorted_indices) const override {
    if (sorted_indices.front() < 8) return inner_->read(sorted_indices);
    if (!short_rows_) throw std::out_of_range("vector::at: index 8 >= 8");
    return inner_->read(sorted_indices.subspan(1));
  }

 private:
  std::shared_ptr<const Dataset> inner_;
  bool short_rows_;
};

// A fixed order, the same every epoch (may repeat indices).
class FixedSampler : public Sampler {
 public:
  explicit FixedSampler(std::vector<int64_t> order) : order_(std::move(order)) {}
  std::vector<int64_t> indices(int64_t) const override { return order_; }
  int64_t size() const override { return static_cast<int64_t>(order_.size()); }

 private:
  std::vector<int64_t> order_;
};

// Fails on the sample whose first pixel is `poison`.
class PoisonTransform : public Transform {
 public:
  explicit PoisonTransform(uint8_t poison) : poison_(poison) {}
  Field output_field(const Field& input) const override { return input; }
  void apply(const Tensor& input, const Tensor& output, SampleRandom&) const override {
    const uint8_t* in = input.data_ptr<uint8_t>();
    if (in[0] == poison_) fail("PoisonTransform: pixel value {}", poison_);
    std::memcpy(output.data_ptr(), in, static_cast<size_t>(input.nbytes()));
  }
  std::string repr() const override { return "PoisonTransform()"; }

 private:
  uint8_t poison_;
};

// Copies of every batch of one pass.
std::vector<Batch> one_pass(DataLoader& loader) {
  std::vector<Batch> batches;
  for (const Batch& batch : loader) batches.push_back(batch);
  return batches;
}

std::vector<int64_t> all_indices(const std::vector<Batch>& batches) {
  std::vector<int64_t> indices;
  for (const Batch& batch : batches) indices.insert(indices.end(), batch.indices().begin(), batch.indices().end());
  return indices;
}

void expect_same_batches(const std::vector<Batch>& expected, const std::vector<Batch>& actual, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t b = 0; b < expected.size(); ++b) {
    EXPECT_EQ(expected[b].indices(), actual[b].indices()) << what << ", batch " << b;
    EXPECT_EQ(expected[b].number(), actual[b].number()) << what << ", batch " << b;
    EXPECT_EQ(expected[b].epoch(), actual[b].epoch()) << what << ", batch " << b;
    for (const std::string& name : expected[b].names()) {
      const Tensor& left = expected[b][name];
      const Tensor& right = actual[b][name];
      ASSERT_EQ(left.dtype(), right.dtype()) << what << ", " << name;
      ASSERT_EQ(left.shape(), right.shape()) << what << ", " << name;
      EXPECT_EQ(std::memcmp(left.data_ptr(), right.data_ptr(), static_cast<size_t>(left.nbytes())), 0)
          << what << ", batch " << b << ", field " << name;
    }
  }
}

// Every row of every batch holds the dataset's sample of its index.
void expect_rows_match(const std::vector<Batch>& batches, const TensorDataset& dataset) {
  for (const Batch& batch : batches) {
    const std::vector<Tensor> expected = [&] {
      std::vector<Tensor> rows;
      for (int64_t index : batch.indices()) rows.push_back(dataset.read(std::vector<int64_t>{index})[0]);
      return rows;
    }();
    EXPECT_EQ(batch["labels"].to_vector<int64_t>(), batch.indices());
    ASSERT_EQ(batch["images"].shape(), (DimVector{batch.size(), 1, 3, 4}));
    ASSERT_TRUE(batch["images"].is_contiguous());
    for (int64_t j = 0; j < batch.size(); ++j) {
      EXPECT_EQ(batch["images"][j].to_vector<int64_t>(), expected[static_cast<size_t>(j)][0].to_vector<int64_t>())
          << "sample " << batch.indices()[static_cast<size_t>(j)];
    }
  }
}

std::shared_ptr<const Transform> augmentations() {
  return std::make_shared<Compose>(std::vector<std::shared_ptr<const Transform>>{
      std::make_shared<RandomCrop>(3, 1), std::make_shared<RandomHorizontalFlip>(0.5),
      std::make_shared<Normalize>(std::vector<double>{0.5}, std::vector<double>{0.25})});
}

TEST(DataLoaderTest, SequentialBatchesCoverTheDatasetBothWaysOfDropLast) {
  const auto dataset = numbered_dataset(10);
  DataLoader keep(dataset, DataLoaderOptions().batch_size(3));
  EXPECT_EQ(keep.size(), 4);
  const std::vector<Batch> kept = one_pass(keep);
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(kept.back().size(), 1);
  EXPECT_EQ(all_indices(kept), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  expect_rows_match(kept, *dataset);

  DataLoader drop(dataset, DataLoaderOptions().batch_size(3).drop_last(true).num_workers(2));
  EXPECT_EQ(drop.size(), 3);
  const std::vector<Batch> dropped = one_pass(drop);
  EXPECT_EQ(all_indices(dropped), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  expect_rows_match(dropped, *dataset);
}

TEST(DataLoaderTest, ShuffledBatchesFollowTheSamplerOrderEachEpoch) {
  const auto dataset = numbered_dataset(23);
  for (bool drop_last : {false, true}) {
    DataLoader loader(dataset, DataLoaderOptions().batch_size(5).shuffle(true).seed(9).drop_last(drop_last).num_workers(2));
    const RandomSampler sampler(23, 9);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      loader.set_epoch(epoch);
      const std::vector<Batch> batches = one_pass(loader);
      std::vector<int64_t> expected = sampler.indices(epoch);
      if (drop_last) expected.resize(20);
      EXPECT_EQ(all_indices(batches), expected) << "epoch " << epoch << " drop_last " << drop_last;
      expect_rows_match(batches, *dataset);
      for (const Batch& batch : batches) EXPECT_EQ(batch.epoch(), epoch);
    }
  }
}

TEST(DataLoaderTest, ConsecutivePassesGoThroughConsecutiveEpochs) {
  DataLoader loader(numbered_dataset(6), DataLoaderOptions().batch_size(4).shuffle(true).seed(1));
  EXPECT_EQ(loader.position().epoch, 0);
  const std::vector<Batch> first = one_pass(loader);
  EXPECT_EQ(loader.position().epoch, 1);
  EXPECT_EQ(loader.position().batches_consumed, 0);
  const std::vector<Batch> second = one_pass(loader);
  EXPECT_EQ(second.front().epoch(), 1);
  EXPECT_EQ(all_indices(second), RandomSampler(6, 1).indices(1));
}

TEST(DataLoaderTest, BatchesAreIdenticalWhateverTheNumberOfWorkers) {
  const auto dataset = numbered_dataset(37);
  std::vector<std::vector<Batch>> reference;
  for (int64_t workers : {0, 1, 2, 4}) {
    DataLoader loader(dataset, DataLoaderOptions()
                                   .batch_size(4)
                                   .shuffle(true)
                                   .seed(42)
                                   .num_workers(workers)
                                   .prefetch_factor(workers == 4 ? 1 : 2)
                                   .transform("images", augmentations()));
    EXPECT_EQ(loader.fields()[0].dtype, kFloat32);
    EXPECT_EQ(loader.fields()[0].sample_shape, (DimVector{1, 3, 3}));
    std::vector<std::vector<Batch>> epochs{one_pass(loader), one_pass(loader)};
    EXPECT_EQ(epochs[1].front().epoch(), 1);
    if (reference.empty()) {
      reference = epochs;
      continue;
    }
    for (size_t e = 0; e < epochs.size(); ++e) {
      expect_same_batches(reference[e], epochs[e], fmt::format("{} workers, epoch {}", workers, e));
    }
  }
  // The augmentations vary between epochs and between samples.
  EXPECT_NE(std::memcmp(reference[0][0]["images"].data_ptr(), reference[1][0]["images"].data_ptr(),
                        static_cast<size_t>(reference[0][0]["images"].nbytes())),
            0);
}

TEST(DataLoaderTest, EachBatchIsOneSortedDistinctReadInTheSamplersOrder) {
  const auto inner = numbered_dataset(8);
  const auto recording = std::make_shared<RecordingDataset>(inner);
  DataLoader loader(recording, DataLoaderOptions()
                                   .batch_size(5)
                                   .sampler(std::make_shared<FixedSampler>(std::vector<int64_t>{6, 1, 6, 0, 1, 7, 3, 2, 5, 4}))
                                   .num_workers(2));
  const std::vector<Batch> batches = one_pass(loader);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].indices(), (std::vector<int64_t>{6, 1, 6, 0, 1}));
  expect_rows_match(batches, *inner);
  std::vector<std::vector<int64_t>> reads = recording->reads();
  std::sort(reads.begin(), reads.end());
  EXPECT_EQ(reads, (std::vector<std::vector<int64_t>>{{0, 1, 6}, {2, 3, 4, 5, 7}}));
}

TEST(DataLoaderTest, AnAnyOrderDatasetReadsEachBatchAsSampledAndItsResultIsTheBatch) {
  const auto inner = numbered_dataset(8);
  ASSERT_TRUE(inner->reads_any_order());
  const auto recording = std::make_shared<RecordingDataset>(inner, -1, /*any_order=*/true);
  DataLoader loader(recording, DataLoaderOptions()
                                   .batch_size(5)
                                   .sampler(std::make_shared<FixedSampler>(std::vector<int64_t>{6, 1, 6, 0, 1, 7, 3, 2, 5, 4}))
                                   .num_workers(2));
  const std::vector<Batch> batches = one_pass(loader);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].indices(), (std::vector<int64_t>{6, 1, 6, 0, 1}));
  expect_rows_match(batches, *inner);
  std::vector<std::vector<int64_t>> reads = recording->reads();
  std::sort(reads.begin(), reads.end());
  EXPECT_EQ(reads, (std::vector<std::vector<int64_t>>{{6, 1, 6, 0, 1}, {7, 3, 2, 5, 4}}));
  // No reordering copy: every field of every batch is the tensor the dataset returned.
  for (const Batch& batch : batches) {
    for (const Tensor& field : batch.tensors()) EXPECT_TRUE(recording->returned(field.data_ptr()));
  }
}

TEST(DataLoaderTest, AnyOrderAndSortedReadsGiveIdenticalBatches) {
  const auto inner = numbered_dataset(23);
  // Repeats within a batch ({4, 4}, {9, ..., 9}) and across batches.
  const auto sampler = std::make_shared<FixedSampler>(
      std::vector<int64_t>{4, 17, 4, 22, 0, 9, 3, 9, 9, 11, 12, 5, 1, 20, 7, 7, 16, 2, 8, 19, 13, 14, 6, 10, 15, 18, 21, 3});
  for (bool transformed : {false, true}) {
    for (int64_t workers : {0, 1, 3}) {
      const auto options = [&] {
        DataLoaderOptions options = DataLoaderOptions().batch_size(6).sampler(sampler).num_workers(workers).seed(7);
        if (transformed) options.transform("images", augmentations());
        return options;
      };
      const auto any_order = std::make_shared<RecordingDataset>(inner, -1, /*any_order=*/true);
      const auto sorted = std::make_shared<RecordingDataset>(inner, -1, /*any_order=*/false);
      DataLoader direct(any_order, options());
      DataLoader reordered(sorted, options());
      for (int64_t epoch = 0; epoch < 2; ++epoch) {
        const std::vector<Batch> expected = one_pass(reordered);
        const std::vector<Batch> actual = one_pass(direct);
        const std::string what = fmt::format("transformed {}, {} workers, epoch {}", transformed, workers, epoch);
        expect_same_batches(expected, actual, what);
        ASSERT_EQ(actual.size(), 5u) << what;
        EXPECT_EQ(actual[1].indices(), (std::vector<int64_t>{3, 9, 9, 11, 12, 5})) << what;
        if (!transformed) expect_rows_match(actual, *inner);
        for (const Batch& batch : actual) {
          EXPECT_TRUE(any_order->returned(batch["labels"].data_ptr())) << what;
          // A transformed field is a fresh tensor, whatever the dataset returned.
          EXPECT_EQ(any_order->returned(batch["images"].data_ptr()), !transformed) << what;
        }
      }
      for (const std::vector<int64_t>& read : sorted->reads()) {
        EXPECT_TRUE(std::adjacent_find(read.begin(), read.end(), std::greater_equal<>()) == read.end())
            << "the sorted path read unsorted or repeated indices";
      }
    }
  }
}

TEST(DataLoaderTest, PreloadedShardedDatasetGivesTheBatchesOfItsFiles) {
  TempDir dir;
  const auto numbered = numbered_dataset(50);
  std::vector<int64_t> every(50);
  std::iota(every.begin(), every.end(), int64_t{0});
  const std::vector<Tensor> samples = numbered->read(every);
  write_shards(dir.file("part"), {"images", "labels"}, samples, {.shards = 3, .chunk_rows = 4});
  // Through HDF5, not the mapped files, so that this loader exercises the sorted-read path.
  const auto from_files = std::make_shared<ShardedDataset>(dir.path(), ShardedDatasetOptions{.preload_bytes = 0, .direct_reads = false});
  const auto in_memory = std::make_shared<ShardedDataset>(dir.path(), ShardedDatasetOptions{.preload_bytes = 1 << 20});
  ASSERT_TRUE(in_memory->preloaded());
  EXPECT_TRUE(in_memory->reads_any_order());
  EXPECT_FALSE(from_files->reads_any_order());
  // Straight from memory: any order, repeats, across shards.
  const std::vector<int64_t> picks{33, 2, 49, 2, 17, 16, 18, 0};
  const std::vector<Tensor> picked = in_memory->read(picks);
  EXPECT_EQ(picked[1].to_vector<int64_t>(), picks);
  EXPECT_THROW(in_memory->read(std::vector<int64_t>{3, 50}), Error);
  EXPECT_THROW(from_files->read(std::vector<int64_t>{3, 2}), Error);

  for (bool transformed : {false, true}) {
    for (int64_t workers : {0, 2}) {
      const auto options = [&] {
        DataLoaderOptions options = DataLoaderOptions().batch_size(8).shuffle(true).seed(3).num_workers(workers);
        if (transformed) options.transform("images", augmentations());
        return options;
      };
      DataLoader files_loader(from_files, options());
      DataLoader memory_loader(in_memory, options());
      for (int64_t epoch = 0; epoch < 2; ++epoch) {
        const std::vector<Batch> expected = one_pass(files_loader);
        const std::vector<Batch> actual = one_pass(memory_loader);
        expect_same_batches(expected, actual, fmt::format("transformed {}, {} workers, epoch {}", transformed, workers, epoch));
        if (!transformed) expect_rows_match(actual, *numbered);
      }
    }
  }
}

// Takes 2 ms per read: far longer than a thread polls for a hand-off before it sleeps. Records
// which threads read.
class SlowDataset : public Dataset {
 public:
  explicit SlowDataset(std::shared_ptr<const Dataset> inner) : inner_(std::move(inner)) {}
  int64_t size() const override { return inner_->size(); }
  const std::vector<Field>& fields() const override { return inner_->fields(); }
  bool reads_any_order() const override { return inner_->reads_any_order(); }
  std::vector<Tensor> read(std::span<const int64_t> indices) const override {
    {
      std::lock_guard lock(mutex_);
      readers_.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(2ms);
    return inner_->read(indices);
  }
  bool read_by(std::thread::id thread) const {
    std::lock_guard lock(mutex_);
    return readers_.count(thread) > 0;
  }

 private:
  std::shared_ptr<const Dataset> inner_;
  mutable std::mutex mutex_;
  mutable std::set<std::thread::id> readers_;
};

TEST(DataLoaderTest, HandOffsWorkWhenEitherSideWaitsLongerThanItPolls) {
  const auto inner = numbered_dataset(40);
  for (int64_t workers : {1, 2}) {
    within_deadline([&] {
      // Slow loading, one batch ahead per worker: the workers claim every batch of the window, so
      // the training thread has none to help with and sleeps until each batch is ready.
      DataLoader slow_loading(std::make_shared<SlowDataset>(inner),
                              DataLoaderOptions().batch_size(4).shuffle(true).num_workers(workers).prefetch_factor(1));
      const std::vector<Batch> batches = one_pass(slow_loading);
      EXPECT_EQ(all_indices(batches), RandomSampler(40, 0).indices(0));
      expect_rows_match(batches, *inner);
      // Slow training: the workers fill the window and sleep until there is room.
      DataLoader slow_training(inner, DataLoaderOptions().batch_size(4).shuffle(true).num_workers(workers));
      std::vector<Batch> received;
      for (const Batch& batch : slow_training) {
        received.push_back(batch);
        std::this_thread::sleep_for(2ms);
      }
      EXPECT_EQ(all_indices(received), RandomSampler(40, 0).indices(0));
      expect_rows_match(received, *inner);
    });
  }
}

TEST(DataLoaderTest, PrefetchStaysWithinTheWindow) {
  for (int64_t workers : {0, 1, 3}) {
    const auto recording = std::make_shared<RecordingDataset>(numbered_dataset(40));
    const int64_t prefetch = 2, window = workers * prefetch, batches = 20;
    DataLoader loader(recording, DataLoaderOptions().batch_size(2).num_workers(workers).prefetch_factor(prefetch));
    int64_t delivered = 0;
    for (const Batch& batch : loader) {
      ++delivered;
      // The workers fill the window ahead of the batch in hand, and go no further.
      const int64_t target = std::min(delivered + window, batches);
      ASSERT_TRUE(recording->wait_for_reads(target)) << workers << " workers: only " << recording->reads_started()
                                                     << " reads started, expected " << target;
      EXPECT_EQ(recording->reads_started(), target) << workers << " workers, batch " << batch.number();
    }
    EXPECT_EQ(delivered, batches);
    // The workers, and the training thread when it helps while waiting.
    EXPECT_LE(recording->most_in_progress(), workers + 1);
  }
}

TEST(DataLoaderTest, AWaitingTrainingThreadLoadsBatchesItselfAndTheOrderHolds) {
  const auto slow = std::make_shared<SlowDataset>(numbered_dataset(24));
  DataLoader loader(slow, DataLoaderOptions().batch_size(2).num_workers(1));
  int64_t expected = 0;
  for (const Batch& batch : loader) {
    EXPECT_EQ(batch.number(), expected);
    EXPECT_EQ(batch["labels"][0].item<int64_t>(), 2 * expected);
    ++expected;
  }
  EXPECT_EQ(expected, 12);
  // Every batch takes 2 ms to read and the loop does nothing else: the training thread, waiting,
  // reads some batches itself.
  EXPECT_TRUE(slow->read_by(std::this_thread::get_id()));
}

TEST(DataLoaderTest, ReadErrorReachesTheTrainingThreadAtItsBatch) {
  for (int64_t workers : {0, 2}) {
    const auto recording = std::make_shared<RecordingDataset>(numbered_dataset(30), 13);
    within_deadline([&] {
      DataLoader loader(recording, DataLoaderOptions().batch_size(4).num_workers(workers));
      int64_t received = 0;
      try {
        for (const Batch& batch : loader) {
          EXPECT_EQ(batch.number(), received);
          ++received;
        }
        ADD_FAILURE() << "no error";
      } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("sample 13"), std::string::npos) << message;
        EXPECT_NE(message.find("/data/shard-0.h5"), std::string::npos) << message;
        EXPECT_NE(message.find("batch 3 of epoch 0"), std::string::npos) << message;
      }
      EXPECT_EQ(received, 3) << workers << " workers";
      // The failed batch was not consumed: a restored run starts with it.
      EXPECT_EQ(loader.position().batches_consumed, 3);
    });
  }
}

TEST(DataLoaderTest, DatasetsBreakingTheContractGiveErrors) {
  for (bool short_rows : {false, true}) {
    for (int64_t workers : {0, 2}) {
      DataLoader loader(std::make_shared<BrokenDataset>(numbered_dataset(12), short_rows),
                        DataLoaderOptions().batch_size(4).num_workers(workers));
      try {
        one_pass(loader);
        ADD_FAILURE() << "no error";
      } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("batch 2 of epoch 0"), std::string::npos) << message;
        EXPECT_NE(message.find(short_rows ? "field 'images' as uint8 [3, 1, 3, 4]" : "index 8 >= 8"), std::string::npos)
            << message;
      }
    }
  }
}

TEST(DataLoaderTest, TransformErrorNamesTheSample) {
  const auto dataset = numbered_dataset(30);
  // Sample 7 begins with pixel 7 * 12 = 84.
  for (int64_t workers : {0, 3}) {
    within_deadline([&] {
      DataLoader loader(dataset, DataLoaderOptions().batch_size(3).shuffle(true).num_workers(workers).transform(
                                     "images", std::make_shared<PoisonTransform>(84)));
      try {
        for (const Batch& batch : loader) {
          const auto& indices = batch.indices();
          EXPECT_EQ(std::find(indices.begin(), indices.end(), 7), indices.end());
        }
        ADD_FAILURE() << "no error";
      } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("PoisonTransform() on field 'images' of sample 7"), std::string::npos) << message;
        EXPECT_NE(message.find("pixel value 84"), std::string::npos) << message;
      }
    });
  }
}

TEST(DataLoaderTest, EarlyBreakJoinsTheWorkers) {
  const auto recording = std::make_shared<RecordingDataset>(numbered_dataset(4000));
  within_deadline([&] {
    for (int round = 0; round < 20; ++round) {
      const int64_t reads_before = recording->reads_started();
      DataLoader loader(recording, DataLoaderOptions().batch_size(2).num_workers(4).shuffle(true).transform(
                                       "images", augmentations()));
      int64_t seen = 0;
      for (const Batch& batch : loader) {
        if (++seen == 3) break;
        EXPECT_EQ(batch.size(), 2);
      }
      // The pass ended with the loop: its threads are joined, so no read is in progress.
      EXPECT_EQ(recording->in_progress(), 0);
      EXPECT_LE(recording->reads_started() - reads_before, 3 + 4 * 2);
      EXPECT_EQ(loader.position().batches_consumed, 3);
    }
  });
  EXPECT_EQ(recording.use_count(), 1);
}

TEST(DataLoaderTest, DestroyingTheLoaderMidEpochJoinsAndInvalidates) {
  const auto recording = std::make_shared<RecordingDataset>(numbered_dataset(2000));
  within_deadline([&] {
    auto loader = std::make_unique<DataLoader>(recording, DataLoaderOptions().batch_size(4).num_workers(3));
    DataLoader::Iterator iterator = loader->begin();
    ++iterator;
    EXPECT_EQ(iterator->number(), 1);
    loader.reset();
    EXPECT_THROW(*iterator, Error);
    EXPECT_THROW(++iterator, Error);
  });
  EXPECT_EQ(recording.use_count(), 1);
}

TEST(DataLoaderTest, ANewPassInvalidatesTheOldIterator) {
  DataLoader loader(numbered_dataset(20), DataLoaderOptions().batch_size(2).num_workers(2));
  DataLoader::Iterator first = loader.begin();
  EXPECT_EQ(first->number(), 0);
  DataLoader::Iterator second = loader.begin();
  // The new pass continues from the position: batch 0 was delivered.
  EXPECT_EQ(second->number(), 1);
  EXPECT_THROW(*first, Error);
  EXPECT_THROW(++first, Error);
  EXPECT_FALSE(first == loader.end());
  ++second;
  EXPECT_EQ(second->number(), 2);
  loader.set_epoch(4);
  EXPECT_THROW(++second, Error);
}

TEST(DataLoaderTest, RestoredPositionGivesTheSameFollowingBatches) {
  const auto dataset = numbered_dataset(30);
  const auto options = [](int64_t workers) {
    return DataLoaderOptions().batch_size(4).shuffle(true).seed(5).num_workers(workers).transform("images", augmentations());
  };
  DataLoader original(dataset, options(2));
  one_pass(original);
  int64_t seen = 0;
  for (const Batch& batch : original) {
    EXPECT_EQ(batch.epoch(), 1);
    if (++seen == 3) break;
  }
  const LoaderPosition saved = original.position();
  EXPECT_EQ(saved.epoch, 1);
  EXPECT_EQ(saved.batches_consumed, 3);
  const std::vector<Batch> rest = one_pass(original);
  const std::vector<Batch> next_epoch = one_pass(original);
  EXPECT_EQ(rest.size(), 5u);

  for (int64_t workers : {0, 3}) {
    DataLoader resumed(dataset, options(workers));
    resumed.restore(saved);
    resumed.set_epoch(1);  // the usual call at the top of the epoch loop keeps the position
    EXPECT_EQ(resumed.position().batches_consumed, 3);
    expect_same_batches(rest, one_pass(resumed), fmt::format("rest of epoch 1, {} workers", workers));
    expect_same_batches(next_epoch, one_pass(resumed), fmt::format("epoch 2, {} workers", workers));
  }
}

TEST(DataLoaderTest, PositionRulesForSetEpochAndRestore) {
  DataLoader loader(numbered_dataset(10), DataLoaderOptions().batch_size(3));
  loader.restore({2, 4});
  EXPECT_EQ(loader.position().epoch, 3);  // all 4 batches of epoch 2 consumed
  EXPECT_EQ(loader.position().batches_consumed, 0);
  loader.restore({2, 1});
  loader.set_epoch(2);
  EXPECT_EQ(loader.position().batches_consumed, 1);
  loader.set_epoch(5);
  EXPECT_EQ(loader.position().epoch, 5);
  EXPECT_EQ(loader.position().batches_consumed, 0);
  EXPECT_THROW(loader.restore({0, 5}), Error);
  EXPECT_THROW(loader.restore({-1, 0}), Error);
  EXPECT_THROW(loader.set_epoch(-1), Error);
}

TEST(DataLoaderTest, DistributedRanksTogetherCoverTheDataset) {
  const auto dataset = numbered_dataset(11);
  std::multiset<int64_t> covered;
  for (int64_t rank = 0; rank < 2; ++rank) {
    auto sampler = std::make_shared<DistributedSampler>(
        11, DistributedSamplerOptions{.num_replicas = 2, .rank = rank, .shuffle = true, .seed = 3});
    DataLoader loader(dataset, DataLoaderOptions().batch_size(4).sampler(sampler).num_workers(1));
    EXPECT_EQ(loader.size(), 2);
    loader.set_epoch(1);
    const std::vector<Batch> batches = one_pass(loader);
    EXPECT_EQ(all_indices(batches), sampler->indices(1)) << "rank " << rank;
    expect_rows_match(batches, *dataset);
    for (int64_t index : all_indices(batches)) covered.insert(index);
  }
  EXPECT_EQ(covered.size(), 12u);  // padded to a multiple of 2 by repeating one sample
  EXPECT_EQ(std::set<int64_t>(covered.begin(), covered.end()).size(), 11u);
}

TEST(DataLoaderTest, PinMemoryWithoutCudaIsANoOp) {
  const auto dataset = numbered_dataset(9);
  DataLoader pinned(dataset, DataLoaderOptions().batch_size(4).shuffle(true).pin_memory(true).num_workers(2));
  DataLoader plain(dataset, DataLoaderOptions().batch_size(4).shuffle(true));
  EXPECT_EQ(pinned.pins_memory(), cuda_is_available());
  expect_same_batches(one_pass(plain), one_pass(pinned), "pin_memory");
}

TEST(DataLoaderTest, BadOptionsAndEmptyDatasets) {
  const auto dataset = numbered_dataset(5);
  EXPECT_THROW(DataLoader(nullptr), Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().batch_size(0)), Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().num_workers(-1)), Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().prefetch_factor(0)), Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().shuffle(true).sampler(std::make_shared<SequentialSampler>(5))),
               Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().transform("masks", augmentations())), Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().transform("labels", augmentations())), Error);
  EXPECT_THROW(DataLoader(dataset, DataLoaderOptions().transform("images", std::make_shared<RandomCrop>(8))), Error);

  DataLoader loader(dataset, DataLoaderOptions().batch_size(2));
  const std::vector<Batch> batches = one_pass(loader);
  try {
    batches[0]["masks"];
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("images, labels"), std::string::npos) << error.what();
  }

  DataLoader none(numbered_dataset(0), DataLoaderOptions().batch_size(2).num_workers(2));
  EXPECT_EQ(none.size(), 0);
  EXPECT_TRUE(one_pass(none).empty());
  DataLoader short_epoch(dataset, DataLoaderOptions().batch_size(8).drop_last(true).num_workers(2));
  EXPECT_EQ(short_epoch.size(), 0);
  EXPECT_TRUE(one_pass(short_epoch).empty());
}

}  // namespace
}  // namespace ember::io

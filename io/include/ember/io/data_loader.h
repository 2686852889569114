#pragma once
// DataLoader: batches of samples from a Dataset, loaded ahead by worker threads, in the style of
// torch.utils.data.DataLoader:
//
//   io::DataLoader loader(dataset, io::DataLoaderOptions().batch_size(64).shuffle(true).num_workers(2));
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);
//     for (const io::Batch& batch : loader) train_step(batch["images"], batch["labels"]);
//   }
//
// Each batch is loaded by one worker: it sorts and dedups the batch's indices, calls
// Dataset::read once (so a file-backed dataset coalesces the rows into few reads), puts the rows
// back in the sampler's order, applies the per-sample transforms and collates each field into
// one contiguous tensor. A dataset that reads any order (Dataset::reads_any_order: in memory)
// gets the indices unsorted instead, and what it returns is the batch, with no copy, unless a
// transform or pinning applies. Only Dataset::read may take a lock (HDF5's); the rest runs in
// parallel.
// Batch k of an epoch is the same, bit for bit, whatever num_workers is: batches are delivered in
// order and a sample's transform randomness depends on (seed, epoch, position, index) only.
//
// A DataLoader and its iterators are used from one thread (the training thread).
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ember/io/dataset.h"
#include "ember/io/sampler.h"
#include "ember/io/transforms.h"
#include "ember/nn/options.h"
#include "ember/tensor/tensor.h"

namespace ember::io {

// A transform for one field; several for the same field apply in the order given. Each sample's
// chain draws from SampleRandom::for_sample(seed, epoch, position in the epoch's order, index),
// restarted for every field, so a mask field with the same RandomCrop is cropped like its image.
struct FieldTransform {
  std::string field;
  std::shared_ptr<const Transform> transform;
};

struct DataLoaderOptions {
  EMBER_ARG(int64_t, batch_size) = 1;
  // Drop the last batch of an epoch when it is shorter than batch_size.
  EMBER_ARG(bool, drop_last) = false;
  // Without a sampler: a RandomSampler(dataset size, seed) when true, a SequentialSampler if not.
  EMBER_ARG(bool, shuffle) = false;
  // Seeds the shuffle and the transforms' randomness.
  EMBER_ARG(uint64_t, seed) = 0;
  // Decides the order instead of shuffle (e.g. a DistributedSampler); giving both is an error.
  EMBER_ARG(std::shared_ptr<const Sampler>, sampler);
  // Loader threads; 0 loads each batch in the calling thread when the iterator advances. With
  // workers, a training thread that finds its batch not ready loads the next unclaimed one within
  // the window itself rather than spin (so up to num_workers + 1 reads run at once): on a
  // machine with as many busy threads as cores, waiting is waiting for a core.
  EMBER_ARG(int64_t, num_workers) = 0;
  // Batches loaded ahead per worker: at most num_workers * prefetch_factor batches are being
  // loaded or waiting, besides the one the iterator holds. As many batches already consumed may
  // stay alive until a worker reuses their slots (so that the thread that allocated a batch
  // frees it), and until the pass ends.
  EMBER_ARG(int64_t, prefetch_factor) = 2;
  EMBER_ARG(std::vector<FieldTransform>, transforms);
  // Collate into page-locked host memory, for asynchronous copies to the GPU. Without CUDA (not
  // built, or no device) this is a no-op, as in PyTorch: batches are ordinary memory and
  // DataLoader::pins_memory() is false.
  EMBER_ARG(bool, pin_memory) = false;

 public:
  // Appends a transform for `field`.
  DataLoaderOptions& transform(std::string field, std::shared_ptr<const Transform> transform);
};

// One batch: a tensor per field, [batch, sample...] and contiguous, and the dataset index of each
// row. Copies share the tensors. A field that needs no reordering, transform or pinning is the
// tensor Dataset::read returned, passed on without a copy; every other field is a fresh tensor.
class Batch {
 public:
  // The field's tensor; throws naming the fields when there is none of that name.
  const Tensor& operator[](std::string_view field) const;
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const std::vector<std::string>& names() const;
  // Dataset index of each row, in the sampler's order.
  const std::vector<int64_t>& indices() const { return indices_; }
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  int64_t epoch() const { return epoch_; }
  // Position of the batch in its epoch (0 for the first).
  int64_t number() const { return number_; }

 private:
  friend class BatchLoader;
  std::shared_ptr<const std::vector<std::string>> names_;
  std::vector<Tensor> tensors_;
  std::vector<int64_t> indices_;
  int64_t epoch_ = 0;
  int64_t number_ = 0;
};

class BatchLoader;
class LoaderPass;

class DataLoader {
 public:
  class Iterator;

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  // Cancels a running pass and joins its threads (waiting at most for the reads in progress).
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts a pass over the rest of the current epoch, from position(), and waits for its first
  // batch. Starting a pass invalidates any earlier iterator of this loader (using it throws) and
  // joins that pass's threads. The pass's threads end when its iterator is destroyed, so
  // leaving the loop early (break, exception) stops the loading promptly. A pass that reaches
  // the end of the epoch leaves the position at {epoch + 1, 0}, so consecutive loops go through
  // consecutive epochs.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

  // Batches per epoch.
  int64_t size() const;
  // Moves to the start of `epoch`. A no-op when it is already the current epoch, so that a
  // position restored from a checkpoint survives the usual set_epoch() at the top of the loop;
  // otherwise a live iterator is invalidated.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  // Where the next batch comes from: epoch and batches of it already delivered.
  LoaderPosition position() const { return {epoch_, batches_consumed_}; }
  // Continues from a saved position: the following batches are exactly those the saved run
  // would have seen (same data, same transform randomness). Invalidates a live iterator.
  void restore(LoaderPosition position);

  // The fields of every batch, after transforms.
  const std::vector<Field>& fields() const;
  const Dataset& dataset() const;
  const Sampler& sampler() const;
  const DataLoaderOptions& options() const { return options_; }
  // True when batches are collated into page-locked memory (pin_memory and CUDA available).
  bool pins_memory() const;

 private:
  friend class Iterator;
  void invalidate_pass();
  void delivered(int64_t epoch, int64_t number);

  DataLoaderOptions options_;
  std::shared_ptr<const BatchLoader> loader_;
  int64_t epoch_ = 0;
  int64_t batches_consumed_ = 0;
  std::weak_ptr<LoaderPass> pass_;
};

// An input iterator over one pass; move-only, since it owns the pass's threads.
class DataLoader::Iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = Batch;
  using difference_type = std::ptrdiff_t;

  Iterator(Iterator&& other) noexcept = default;
  Iterator& operator=(Iterator&& other) noexcept;
  ~Iterator();

  // The current batch; valid until the iterator advances.
  const Batch& operator*() const;
  const Batch* operator->() const { return &**this; }
  // Moves to the next batch, waiting for it; throws the ember::Error of a batch that failed
  // (the position stays before it, so a retry or a restored run starts with it again).
  Iterator& operator++();
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const;

 private:
  friend class DataLoader;
  Iterator(DataLoader* loader, std::shared_ptr<LoaderPass> pass) : loader_(loader), pass_(std::move(pass)) {}
  void check_valid() const;

  DataLoader* loader_ = nullptr;
  std::shared_ptr<LoaderPass> pass_;
};

}  // namespace ember::io

#pragma once
// Samplers decide which samples an epoch visits, and in what order. They are stateless: the
// indices are a function of the options and the epoch number, so any rank, thread or resumed
// run computes the same order. Semantics follow torch.utils.data (PyTorch 1.13).
#include <cstdint>
#include <memory>
#include <vector>

namespace ember::io {

// PyTorch's CPU torch.randperm(n, generator=torch.Generator().manual_seed(seed)): the same
// permutation, bit for bit, on every platform. Like PyTorch, only the low 32 bits of the seed
// matter (its Mersenne Twister takes a 32-bit seed). Throws ember::Error when n < 0.
std::vector<int64_t> randperm_like_torch(int64_t n, uint64_t seed);

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The sample indices of one epoch, in visiting order.
  virtual std::vector<int64_t> indices(int64_t epoch) const = 0;
  // How many indices indices() returns (the same for every epoch).
  virtual int64_t size() const = 0;
};

// 0, 1, ..., dataset_size - 1 every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t dataset_size);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return dataset_size_; }

 private:
  int64_t dataset_size_;
};

// A fresh permutation each epoch: epoch e is PyTorch's RandomSampler(data, generator=
// torch.Generator().manual_seed(seed + e)), i.e. randperm_like_torch(dataset_size, seed + e).
// seed + e wraps modulo 2^64, as PyTorch reads a negative seed. An empty dataset is an error,
// as in PyTorch.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(int64_t dataset_size, uint64_t seed = 0);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return dataset_size_; }

 private:
  int64_t dataset_size_;
  uint64_t seed_;
};

struct DistributedSamplerOptions {
  int64_t num_replicas = 1;
  int64_t rank = 0;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
};

// torch.utils.data.DistributedSampler: the epoch's order (a permutation seeded by seed + epoch,
// or 0..n-1 without shuffle) is padded by repeating from its start until it divides by
// num_replicas (or cut, with drop_last), and rank r takes positions r, r + R, r + 2R, ...
// Every rank gets size() indices: ceil(n / R), or floor(n / R) with drop_last. An empty dataset
// gives every rank nothing. Throws ember::Error unless num_replicas >= 1 and 0 <= rank < R.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t dataset_size, DistributedSamplerOptions options);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return samples_per_replica_; }
  const DistributedSamplerOptions& options() const { return options_; }

 private:
  int64_t dataset_size_;
  DistributedSamplerOptions options_;
  int64_t samples_per_replica_;
};

// Groups a sampler's indices into batches of batch_size; the last, shorter batch is kept unless
// drop_last. Throws ember::Error for a null sampler or batch_size < 1.
class BatchSampler {
 public:
  BatchSampler(std::shared_ptr<const Sampler> sampler, int64_t batch_size, bool drop_last = false);
  std::vector<std::vector<int64_t>> batches(int64_t epoch) const;
  // Batches per epoch.
  int64_t size() const;
  int64_t batch_size() const { return batch_size_; }
  bool drop_last() const { return drop_last_; }
  const Sampler& sampler() const { return *sampler_; }

 private:
  std::shared_ptr<const Sampler> sampler_;
  int64_t batch_size_;
  bool drop_last_;
};

// Where a DataLoader stands, saved in checkpoints: restoring it makes a resumed run see exactly
// the batches the interrupted run would have seen next.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batches_consumed = 0;  // within the epoch
};

}  // namespace ember::io

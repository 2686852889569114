#include "ember/io/sampler.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>

#include "ember/tensor/error.h"

namespace ember::io {

std::vector<int64_t> randperm_like_torch(int64_t n, uint64_t seed) {
  EMBER_CHECK(n >= 0, "randperm_like_torch: n must be >= 0, got {}", n);
  // PyTorch's CPU generator is the standard 32-bit Mersenne Twister, seeded from the low 32 bits
  // of the seed (so seeds 1 and 2^32 + 1 give the same permutation). <random> specifies
  // std::mt19937's seeding and output exactly, so this is the same stream on every platform.
  std::mt19937 engine(static_cast<uint32_t>(seed));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  // PyTorch 1.13 shuffles front to back: position i swaps with i + (one 32-bit draw mod the
  // number of positions left), for every n (2.x changed large n; 1.13 did not). The modulo bias
  // and the 32-bit draw are part of the permutation, so they are reproduced, not improved.
  for (int64_t i = 0; i + 1 < n; ++i) {
    const uint64_t draw = engine();
    const auto offset = static_cast<int64_t>(draw % static_cast<uint64_t>(n - i));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(i + offset)]);
  }
  return order;
}

namespace {

// The generator seed of an epoch: PyTorch computes seed + epoch as a Python integer and reads it
// as a two's-complement 64-bit value (a negative sum wraps), which is this sum modulo 2^64.
uint64_t epoch_seed(uint64_t seed, int64_t epoch) { return seed + static_cast<uint64_t>(epoch); }

}  // namespace

SequentialSampler::SequentialSampler(int64_t dataset_size) : dataset_size_(dataset_size) {
  EMBER_CHECK(dataset_size >= 0, "SequentialSampler: dataset size must be >= 0, got {}", dataset_size);
}

std::vector<int64_t> SequentialSampler::indices(int64_t /*epoch*/) const {
  std::vector<int64_t> order(static_cast<size_t>(dataset_size_));
  std::iota(order.begin(), order.end(), int64_t{0});
  return order;
}

RandomSampler::RandomSampler(int64_t dataset_size, uint64_t seed) : dataset_size_(dataset_size), seed_(seed) {
  EMBER_CHECK(dataset_size >= 0, "RandomSampler: dataset size must be >= 0, got {}", dataset_size);
  // PyTorch refuses an empty dataset here too ("num_samples should be a positive integer").
  EMBER_CHECK(dataset_size > 0, "RandomSampler: the dataset is empty (PyTorch's RandomSampler rejects it too); "
                                "use a SequentialSampler for an empty dataset");
}

std::vector<int64_t> RandomSampler::indices(int64_t epoch) const {
  return randperm_like_torch(dataset_size_, epoch_seed(seed_, epoch));
}

DistributedSampler::DistributedSampler(int64_t dataset_size, DistributedSamplerOptions options)
    : dataset_size_(dataset_size), options_(options) {
  EMBER_CHECK(dataset_size >= 0, "DistributedSampler: dataset size must be >= 0, got {}", dataset_size);
  EMBER_CHECK(options.num_replicas >= 1, "DistributedSampler: num_replicas must be >= 1, got {}",
              options.num_replicas);
  EMBER_CHECK(options.rank >= 0 && options.rank < options.num_replicas,
              "DistributedSampler: rank {} is outside [0, {}) for num_replicas {}", options.rank, options.num_replicas,
              options.num_replicas);
  const int64_t replicas = options.num_replicas;
  const bool divides = dataset_size % replicas == 0;
  // drop_last cuts the order to the largest multiple of num_replicas; otherwise it is padded up
  // to the next multiple. (PyTorch's ceil((n - R) / R) is floor(n / R) when R does not divide n.)
  samples_per_replica_ = dataset_size / replicas + ((divides || options.drop_last) ? 0 : 1);
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  const int64_t replicas = options_.num_replicas;
  std::vector<int64_t> mine(static_cast<size_t>(samples_per_replica_));
  if (samples_per_replica_ == 0) return mine;
  // Position p of the padded order is position p mod n of the epoch's order: padding repeats the
  // order from its start, as many times as needed when n < num_replicas.
  auto position = [&](int64_t k) {
    const int64_t p = options_.rank + k * replicas;
    return p < dataset_size_ ? p : p % dataset_size_;
  };
  if (!options_.shuffle) {
    for (int64_t k = 0; k < samples_per_replica_; ++k) mine[static_cast<size_t>(k)] = position(k);
    return mine;
  }
  const std::vector<int64_t> order = randperm_like_torch(dataset_size_, epoch_seed(options_.seed, epoch));
  for (int64_t k = 0; k < samples_per_replica_; ++k) {
    mine[static_cast<size_t>(k)] = order[static_cast<size_t>(position(k))];
  }
  return mine;
}

BatchSampler::BatchSampler(std::shared_ptr<const Sampler> sampler, int64_t batch_size, bool drop_last)
    : sampler_(std::move(sampler)), batch_size_(batch_size), drop_last_(drop_last) {
  EMBER_CHECK(sampler_ != nullptr, "BatchSampler: the sampler is null");
  EMBER_CHECK(batch_size >= 1, "BatchSampler: batch_size must be >= 1, got {}", batch_size);
}

std::vector<std::vector<int64_t>> BatchSampler::batches(int64_t epoch) const {
  const std::vector<int64_t> order = sampler_->indices(epoch);
  const auto count = static_cast<int64_t>(order.size());
  std::vector<std::vector<int64_t>> result;
  result.reserve(static_cast<size_t>(count / batch_size_ + 1));
  for (int64_t start = 0; start < count;) {
    const int64_t length = std::min(batch_size_, count - start);
    if (length < batch_size_ && drop_last_) break;
    result.emplace_back(order.begin() + start, order.begin() + start + length);
    start += length;
  }
  return result;
}

int64_t BatchSampler::size() const {
  const int64_t count = sampler_->size();
  return count / batch_size_ + ((drop_last_ || count % batch_size_ == 0) ? 0 : 1);
}

}  // namespace ember::io

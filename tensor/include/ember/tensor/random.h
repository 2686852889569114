#pragma once
// Seedable random numbers. A Philox counter-based generator: element i of a draw depends only
// on (seed, offset, i), so results are the same whatever the number of threads or the device.
#include <cstdint>
#include <mutex>

#include "ember/tensor/tensor.h"

namespace ember {

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ull) : seed_(seed) {}
  void manual_seed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  // Reserves `count` counter values and returns the first; each draw takes a fresh range.
  uint64_t advance(uint64_t count);
  // Saved and restored by checkpoints.
  struct State {
    uint64_t seed = 0;
    uint64_t offset = 0;
  };
  State state() const;
  void set_state(State state);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand(IntArrayRef sizes, TensorOptions options = {}, Generator* generator = nullptr);
Tensor randn(IntArrayRef sizes, TensorOptions options = {}, Generator* generator = nullptr);
// Integers uniform in [low, high); int64 unless options say otherwise.
Tensor randint(int64_t low, int64_t high, IntArrayRef sizes, TensorOptions options = kInt64,
               Generator* generator = nullptr);
// 1 with probability p (elementwise), 0 otherwise; same dtype and device as p.
Tensor bernoulli(const Tensor& probabilities, Generator* generator = nullptr);
Tensor randperm(int64_t n, TensorOptions options = kInt64, Generator* generator = nullptr);
Tensor rand_like(const Tensor& like, Generator* generator = nullptr);
Tensor randn_like(const Tensor& like, Generator* generator = nullptr);

}  // namespace ember

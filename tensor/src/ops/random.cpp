// Random tensors. Every draw reserves a fresh counter range from its generator, so repeated
// calls differ, and a seed reproduces a run exactly on any thread count or device.
#include "ember/tensor/random.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "kernels/backend.h"
#include "kernels/philox.h"
#include "ops/elementwise_support.h"

namespace ember {

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard lock(mutex_);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::advance(uint64_t count) {
  std::lock_guard lock(mutex_);
  const uint64_t first = offset_;
  offset_ += count;
  return first;
}

Generator::State Generator::state() const {
  std::lock_guard lock(mutex_);
  return {seed_, offset_};
}

void Generator::set_state(State state) {
  std::lock_guard lock(mutex_);
  seed_ = state.seed;
  offset_ = state.offset;
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {

// Fills `target` (any layout) with a fresh draw.
Tensor& draw(Tensor& target, kernels::Distribution distribution, double a, double b, Generator* generator) {
  Generator& source = generator ? *generator : default_generator();
  const uint64_t offset = source.advance(static_cast<uint64_t>(target.numel()));
  target.bump_version();
  if (target.numel() == 0) return target;
  Tensor dense = target.is_contiguous() ? target : empty(target.sizes(), target.options());
  kernels::backend(target.device()).fill_random(dense, distribution, a, b, source.seed(), offset);
  if (!dense.is_same(target)) target.copy_(dense);
  return target;
}

void check_floating(const Tensor& tensor, const char* op) {
  EMBER_CHECK(tensor.is_floating_point(), "{}: expects a floating point tensor, got {}", op, name(tensor.dtype()));
}

}  // namespace

namespace {
// Random in-place fills follow the in-place rules (a leaf that requires grad is refused with grad
// mode on); on a non-leaf the old values get no gradient.
void record_overwrite(Tensor& self, const char* op, const char* node_name) {
  if (!ops::check_inplace(self, {}, op)) return;
  autograd::record_backward(node_name, self, {&self}, [](const Tensor&) { return autograd::TensorList{Tensor()}; });
}
}  // namespace

Tensor& Tensor::uniform_(double low, double high, Generator* generator) {
  check_floating(*this, "uniform_");
  record_overwrite(*this, "uniform_", "UniformBackward0");
  EMBER_CHECK(low <= high, "uniform_: expects low <= high, got low={} high={}", low, high);
  return draw(*this, kernels::Distribution::Uniform, low, high, generator);
}

Tensor& Tensor::normal_(double mean, double std, Generator* generator) {
  check_floating(*this, "normal_");
  EMBER_CHECK(std >= 0, "normal_: expects std >= 0, got {}", std);
  record_overwrite(*this, "normal_", "NormalBackward0");
  return draw(*this, kernels::Distribution::Normal, mean, std, generator);
}

Tensor& Tensor::bernoulli_(double p, Generator* generator) {
  EMBER_CHECK(p >= 0 && p <= 1, "bernoulli_: expects 0 <= p <= 1, got {}", p);
  record_overwrite(*this, "bernoulli_", "BernoulliBackward0");
  return draw(*this, kernels::Distribution::Bernoulli, p, 0.0, generator);
}

Tensor rand(IntArrayRef sizes, TensorOptions options, Generator* generator) {
  Tensor result = empty(sizes, options);
  return result.uniform_(0.0, 1.0, generator);
}

Tensor randn(IntArrayRef sizes, TensorOptions options, Generator* generator) {
  Tensor result = empty(sizes, options);
  return result.normal_(0.0, 1.0, generator);
}

Tensor rand_like(const Tensor& like, Generator* generator) { return rand(like.sizes(), like.options(), generator); }
Tensor randn_like(const Tensor& like, Generator* generator) { return randn(like.sizes(), like.options(), generator); }

Tensor randint(int64_t low, int64_t high, IntArrayRef sizes, TensorOptions options, Generator* generator) {
  EMBER_CHECK(low < high, "randint: expects low < high, got low={} high={}", low, high);
  // Uniform doubles in [0, high - low) truncated, then shifted: 53 random bits keep the bias
  // negligible for any range a tensor index can take.
  const double range = static_cast<double>(high - low);
  Tensor uniform = empty(sizes, TensorOptions(kFloat64).device(options.device_value));
  draw(uniform, kernels::Distribution::Uniform, 0.0, range, generator);
  return add(clamp(uniform, std::nullopt, range - 1).to(kInt64), low).to(options.dtype_value);
}

Tensor bernoulli(const Tensor& probabilities, Generator* generator) {
  EMBER_CHECK(probabilities.is_floating_point(), "bernoulli: expects floating point probabilities, got {}",
              name(probabilities.dtype()));
  Tensor uniform = empty(probabilities.sizes(), probabilities.options());
  uniform.uniform_(0.0, 1.0, generator);
  return lt(uniform, probabilities).to(probabilities.dtype());
}

Tensor randperm(int64_t n, TensorOptions options, Generator* generator) {
  EMBER_CHECK(n >= 0, "randperm: n must be non-negative, got {}", n);
  Generator& source = generator ? *generator : default_generator();
  const uint64_t offset = source.advance(static_cast<uint64_t>(n));
  const uint64_t seed = source.seed();
  // Fisher-Yates on the host, draw i from counter offset + i: the same permutation everywhere.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) {
    const double u = kernels::uniform_double(kernels::philox(seed, offset + static_cast<uint64_t>(i)));
    const int64_t j = std::min<int64_t>(static_cast<int64_t>(u * static_cast<double>(i + 1)), i);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return tensor(order).to(options);
}

}  // namespace ember

// libtorch's side of the benchmark table: the same ops at the same sizes and thread counts as
// bench/ember_bench.cpp. Built only when libtorch-dev is installed.
//
// The single ops run under c10::InferenceMode, libtorch's fastest eager path (no autograd
// bookkeeping), as Ember's plain ops record nothing either; the training steps and the small
// autograd graph run with autograd, as a user's training loop does.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <string>

#include "sizes.h"

namespace ember::bench {
namespace {

// at::set_num_threads sets OpenMP's (and MKL's) threads, but Debian's libtorch multiplies
// matrices with OpenBLAS, whose thread pool is separate; set it too when it is loaded.
void set_threads(int threads, int blas_threads) {
  at::set_num_threads(threads);
  using SetBlasThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_blas(blas_threads);
  }
}
void set_threads(int threads) { set_threads(threads, threads); }

at::Tensor uniform(at::IntArrayRef sizes) { return at::rand(sizes, at::kFloat); }

void torch_matmul(benchmark::State& state, int threads) {
  c10::InferenceMode inference;
  set_threads(threads);
  const at::Tensor a = uniform({kGemmSize, kGemmSize}), b = uniform({kGemmSize, kGemmSize});
  for (auto _ : state) benchmark::DoNotOptimize(at::matmul(a, b));
  state.counters["work"] = kGemmFlops;
}

void torch_add(benchmark::State& state) {
  c10::InferenceMode inference;
  set_threads(kThreads);
  const at::Tensor a = uniform({kElementwiseCount}), b = uniform({kElementwiseCount});
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
  state.counters["work"] = kAddBytes;
}

void torch_add_out(benchmark::State& state) {
  c10::InferenceMode inference;
  set_threads(kThreads);
  const at::Tensor a = uniform({kElementwiseCount}), b = uniform({kElementwiseCount});
  at::Tensor out = at::empty({kElementwiseCount}, at::kFloat);
  for (auto _ : state) {
    at::add_out(out, a, b);
    benchmark::ClobberMemory();
  }
  state.counters["work"] = kAddBytes;
}

void torch_softmax(benchmark::State& state) {
  c10::InferenceMode inference;
  set_threads(kThreads);
  const at::Tensor input = at::randn({kSoftmaxRows, kSoftmaxColumns}, at::kFloat);
  for (auto _ : state) benchmark::DoNotOptimize(at::softmax(input, 1));
  state.counters["work"] = kSoftmaxBytes;
}

void torch_small_add(benchmark::State& state) {
  c10::InferenceMode inference;
  set_threads(kThreads);
  const at::Tensor a = uniform({kSmallSide, kSmallSide}), b = uniform({kSmallSide, kSmallSide});
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
}

// One SGD-with-momentum training step of `model` on a fixed batch, as in bench/pytorch_bench.py.
void train_steps(benchmark::State& state, torch::nn::Sequential model, const at::Tensor& inputs, int threads,
                 int blas_threads, double flops) {
  set_threads(threads, blas_threads);
  const at::Tensor labels = at::randint(0, 10, {inputs.size(0)}, at::kLong);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  for (auto _ : state) {
    optimizer.zero_grad();
    at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(inputs), labels);
    loss.backward();
    optimizer.step();
  }
  state.counters["work"] = flops;
}

void torch_mlp_step(benchmark::State& state, int threads, int blas_threads) {
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(kMlpSizes[0], kMlpSizes[1]), torch::nn::ReLU(),
                              torch::nn::Linear(kMlpSizes[1], kMlpSizes[2]), torch::nn::ReLU(),
                              torch::nn::Linear(kMlpSizes[2], kMlpSizes[3]));
  train_steps(state, model, at::rand({kMlpBatch, kMlpSizes[0]}), threads, blas_threads, kMlpStepFlops);
}

void torch_cnn_step(benchmark::State& state, int threads, int blas_threads) {
  torch::manual_seed(0);
  namespace nn = torch::nn;
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Flatten(), nn::Linear(3136, 1024), nn::ReLU(), nn::Linear(1024, 10));
  train_steps(state, model, at::rand({kCnnBatch, 1, 28, 28}), threads, blas_threads, kCnnStepFlops);
}

void torch_autograd_4op(benchmark::State& state) {
  set_threads(1);
  const at::Tensor x = at::rand({kSmallSide, kSmallSide}).requires_grad_();
  for (auto _ : state) ((x * 2 + 1).relu()).sum().backward();
}

template <class Function, class... Args>
void add(const std::string& name, Function function, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), function, args...)->UseRealTime();
}

void register_all() {
  for (int threads : {1, kThreads}) add("libtorch/matmul/threads:" + std::to_string(threads), torch_matmul, threads);
  add("libtorch/add", torch_add);
  add("libtorch/add_out", torch_add_out);
  add("libtorch/softmax", torch_softmax);
  add("libtorch/small_add", torch_small_add);
  // Both pools at 2 threads oversubscribe two cores; the report takes the fastest setting.
  for (const auto& [threads, blas_threads] : {std::pair{1, 1}, {2, 2}, {2, 1}, {1, 2}}) {
    const int row_threads = std::max(threads, blas_threads);
    const std::string suffix = "/threads:" + std::to_string(row_threads) + "/torch:" + std::to_string(threads) +
                               "/blas:" + std::to_string(blas_threads);
    add("libtorch/mlp_step" + suffix, torch_mlp_step, threads, blas_threads);
    add("libtorch/cnn_step" + suffix, torch_cnn_step, threads, blas_threads);
  }
  add("libtorch/autograd_4op", torch_autograd_4op);
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) {
  ember::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Ember's side of the benchmark table, beside the limits it is judged against: cblas_sgemm
// called directly for matmul, and OpenMP copy/add loops for memory bandwidth. libtorch's side
// is bench/libtorch_bench.cpp, a separate executable so that this one never depends on it.
// Every benchmark reports its work per iteration (flops or bytes) in the "work" counter;
// bench/report.py turns that and the measured time into GFLOP/s or GB/s.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <ember/ember.h>

#include <memory>
#include <string>

#include "sizes.h"

namespace ember::bench {
namespace {

// Run before the timed loop: a pending or failing op becomes a skipped row with its message.
template <class Op>
bool runs(benchmark::State& state, const Op& op) {
  try {
    op();
    return true;
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return false;
  }
}

void ember_matmul(benchmark::State& state, int threads) {
  set_num_threads(threads);
  const Tensor a = rand({kGemmSize, kGemmSize}), b = rand({kGemmSize, kGemmSize});
  if (!runs(state, [&] { matmul(a, b); })) return;
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b));
  state.counters["work"] = kGemmFlops;
}

void cblas_reference(benchmark::State& state, int threads) {
  // OpenBLAS's own threads, as a program calling cblas_sgemm directly would use them (Ember keeps
  // OpenBLAS single-threaded and splits products over its OpenMP threads; restored below).
  openblas_set_num_threads(threads);
  const Tensor a = rand({kGemmSize, kGemmSize}), b = rand({kGemmSize, kGemmSize});
  Tensor c = empty({kGemmSize, kGemmSize});
  const int size = static_cast<int>(kGemmSize);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0f, a.data_ptr<float>(), size,
                b.data_ptr<float>(), size, 0.0f, c.data_ptr<float>(), size);
    benchmark::ClobberMemory();
  }
  state.counters["work"] = kGemmFlops;
  openblas_set_num_threads(1);
}

void ember_add(benchmark::State& state) {
  set_num_threads(kThreads);
  const Tensor a = rand({kElementwiseCount}), b = rand({kElementwiseCount});
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
  state.counters["work"] = kAddBytes;
}

void ember_add_out(benchmark::State& state) {
  set_num_threads(kThreads);
  const Tensor a = rand({kElementwiseCount}), b = rand({kElementwiseCount});
  Tensor out = zeros({kElementwiseCount});  // touched once here, as the loops' buffers are
  for (auto _ : state) {
    add_out(out, a, b);
    benchmark::ClobberMemory();
  }
  state.counters["work"] = kAddBytes;
}

// Buffers first touched by the threads that will use them, as STREAM does.
std::unique_ptr<float[]> parallel_buffer(float value) {
  std::unique_ptr<float[]> buffer(new float[kElementwiseCount]);
  float* data = buffer.get();
#pragma omp parallel for num_threads(kThreads) schedule(static)
  for (int64_t i = 0; i < kElementwiseCount; ++i) data[i] = value;
  return buffer;
}

void copy_loop(benchmark::State& state) {
  const auto source = parallel_buffer(1.0f), target = parallel_buffer(0.0f);
  const float* from = source.get();
  float* to = target.get();
  for (auto _ : state) {
#pragma omp parallel for num_threads(kThreads) schedule(static)
    for (int64_t i = 0; i < kElementwiseCount; ++i) to[i] = from[i];
    benchmark::ClobberMemory();
  }
  state.counters["work"] = kCopyBytes;
}

void add_loop(benchmark::State& state) {
  const auto left = parallel_buffer(1.0f), right = parallel_buffer(2.0f), target = parallel_buffer(0.0f);
  const float* a = left.get();
  const float* b = right.get();
  float* c = target.get();
  for (auto _ : state) {
#pragma omp parallel for num_threads(kThreads) schedule(static)
    for (int64_t i = 0; i < kElementwiseCount; ++i) c[i] = a[i] + b[i];
    benchmark::ClobberMemory();
  }
  state.counters["work"] = kAddBytes;
}

void ember_softmax(benchmark::State& state) {
  set_num_threads(kThreads);
  const Tensor input = randn({kSoftmaxRows, kSoftmaxColumns});
  if (!runs(state, [&] { softmax(input, 1); })) return;
  for (auto _ : state) benchmark::DoNotOptimize(softmax(input, 1));
  state.counters["work"] = kSoftmaxBytes;
}

void ember_small_add(benchmark::State& state) {
  set_num_threads(kThreads);
  const Tensor a = rand({kSmallSide, kSmallSide}), b = rand({kSmallSide, kSmallSide});
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
}

// One SGD-with-momentum training step on a fixed batch: the loop of the PyTorch seeds' examples.
void train_steps(benchmark::State& state, nn::Sequential model, const Tensor& inputs, double flops) {
  const Tensor labels = randint(0, 10, {inputs.size(0)});
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  auto step = [&] {
    optimizer.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model->forward(inputs), labels);
    loss.backward();
    optimizer.step();
  };
  if (!runs(state, step)) return;
  for (auto _ : state) step();
  state.counters["work"] = flops;
}

void ember_mlp_step(benchmark::State& state, int threads) {
  set_num_threads(threads);
  manual_seed(0);
  nn::Sequential model(nn::Linear(kMlpSizes[0], kMlpSizes[1]), nn::ReLU(), nn::Linear(kMlpSizes[1], kMlpSizes[2]),
                       nn::ReLU(), nn::Linear(kMlpSizes[2], kMlpSizes[3]));
  train_steps(state, model, rand({kMlpBatch, kMlpSizes[0]}), kMlpStepFlops);
}

void ember_cnn_step(benchmark::State& state, int threads) {
  set_num_threads(threads);
  manual_seed(0);
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(1, 32, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Flatten(), nn::Linear(3136, 1024), nn::ReLU(), nn::Linear(1024, 10));
  train_steps(state, model, rand({kCnnBatch, 1, 28, 28}), kCnnStepFlops);
}

void ember_autograd_4op(benchmark::State& state) {
  set_num_threads(1);
  const Tensor x = rand({kSmallSide, kSmallSide}).requires_grad_();
  for (auto _ : state) ((x * 2 + 1).relu()).sum().backward();
}

// Parallel work is timed on the wall clock: CPU time would count only the calling thread.
template <class Function, class... Args>
void add(const std::string& name, Function function, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), function, args...)->UseRealTime();
}

void register_all() {
  for (int threads : {1, kThreads}) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    add("ember/matmul" + suffix, ember_matmul, threads);
    add("cblas/sgemm" + suffix, cblas_reference, threads);
  }
  add("ember/add", ember_add);
  add("ember/add_out", ember_add_out);
  add("openmp/copy_loop", copy_loop);
  add("openmp/add_loop", add_loop);
  add("ember/softmax", ember_softmax);
  add("ember/small_add", ember_small_add);
  for (int threads : {1, kThreads}) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    add("ember/mlp_step" + suffix, ember_mlp_step, threads);
    add("ember/cnn_step" + suffix, ember_cnn_step, threads);
  }
  add("ember/autograd_4op", ember_autograd_4op);
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

// libtorch's side of the benchmark table: the same ops at the same sizes and thread counts as
// bench/ember_bench.cpp. Built only when libtorch-dev is installed.
//
// Every op runs under c10::InferenceMode, libtorch's fastest eager path (no autograd
// bookkeeping), since Ember's tensor library has no autograd layer either.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <dlfcn.h>

#include <string>

#include "sizes.h"

namespace ember::bench {
namespace {

// at::set_num_threads sets OpenMP's (and MKL's) threads, but Debian's libtorch multiplies
// matrices with OpenBLAS, whose thread pool is separate; set it too when it is loaded.
void set_threads(int threads) {
  at::set_num_threads(threads);
  using SetBlasThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_blas(threads);
  }
}

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

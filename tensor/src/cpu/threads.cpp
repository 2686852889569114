#include <omp.h>

#include <cstdlib>
#include <thread>

#include "ember/tensor/error.h"
#include "ember/tensor/parallel.h"

extern "C" void openblas_set_num_threads(int threads);

namespace ember {
namespace {

int threads_from_environment() {
  for (const char* variable : {"EMBER_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* value = std::getenv(variable)) {
      const int parsed = std::atoi(value);
      if (parsed > 0) return parsed;
    }
  }
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

// OpenBLAS always runs on the calling thread: cpu/blas.cpp splits products across our OpenMP
// threads itself, so that one pool, not two competing ones, owns the cores.
int& thread_setting() {
  static int threads = [] {
    openblas_set_num_threads(1);
    return threads_from_environment();
  }();
  return threads;
}

}  // namespace

int num_threads() { return thread_setting(); }

void set_num_threads(int threads) {
  EMBER_CHECK(threads > 0, "set_num_threads: thread count must be positive, got {}", threads);
  thread_setting() = threads;
}

}  // namespace ember

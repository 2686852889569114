#pragma once
// Splits [0, count) across the OpenMP threads. Work below `grain` items runs on the calling
// thread; chunks are contiguous so that results never depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>

#include "ember/tensor/parallel.h"

namespace ember::cpu {

inline constexpr int64_t kElementwiseGrain = 32768;

template <class Body>
void parallel_for(int64_t count, int64_t grain, const Body& body) {
  if (count <= 0) return;
  const int64_t max_threads = std::min<int64_t>(num_threads(), (count + grain - 1) / grain);
  if (max_threads <= 1 || omp_in_parallel()) {
    body(int64_t{0}, count);
    return;
  }
  std::exception_ptr failure;
#pragma omp parallel num_threads(static_cast<int>(max_threads))
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t chunk = (count + threads - 1) / threads;
    const int64_t begin = omp_get_thread_num() * chunk;
    const int64_t end = std::min(count, begin + chunk);
    if (begin < end) {
      try {
        body(begin, end);
      } catch (...) {
#pragma omp critical(ember_parallel_failure)
        failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace ember::cpu

#include "cpu/cpu_backend.h"
#include "cpu/loops.h"
#include "kernels/element.h"

namespace ember::cpu {

void CpuBackend::fill_random(const Tensor& output, kernels::Distribution distribution, double a, double b,
                             uint64_t seed, uint64_t offset) {
  visit_dtype(output.dtype(), [&]<class T>(TypeTag<T>) {
    T* out = static_cast<T*>(output.data_ptr());
    parallel_for(output.numel(), kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        out[i] = kernels::random_element<T>(distribution, a, b, seed, offset + static_cast<uint64_t>(i));
      }
    });
  });
}

void CpuBackend::fill_range(const Tensor& output, double start, double step, int64_t split, double end) {
  const int64_t numel = output.numel();
  visit_dtype(output.dtype(), [&]<class T>(TypeTag<T>) {
    T* out = static_cast<T*>(output.data_ptr());
    parallel_for(numel, kElementwiseGrain, [&](int64_t begin, int64_t stop) {
      for (int64_t i = begin; i < stop; ++i) out[i] = kernels::range_element<T>(i, numel, start, step, split, end);
    });
  });
}

}  // namespace ember::cpu

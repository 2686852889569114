#include "cpu/cpu_backend.h"
#include "cpu/loops.h"
#include "kernels/philox.h"

namespace ember::cpu {

void CpuBackend::fill_random(const Tensor& output, kernels::Distribution distribution, double a, double b,
                             uint64_t seed, uint64_t offset) {
  visit_dtype(output.dtype(), [&]<class T>(TypeTag<T>) {
    T* out = static_cast<T*>(output.data_ptr());
    parallel_for(output.numel(), kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const kernels::PhiloxOutput bits = kernels::philox(seed, offset + static_cast<uint64_t>(i));
        double value;
        switch (distribution) {
          case kernels::Distribution::Uniform: value = a + (b - a) * kernels::uniform_double(bits); break;
          case kernels::Distribution::Normal: value = a + b * kernels::normal_double(bits); break;
          default: value = kernels::uniform_double(bits) < a ? 1.0 : 0.0; break;
        }
        out[i] = convert<T>(value);
        // Rounding to a narrower type can reach the open upper bound; map it to the lower one.
        if (distribution == kernels::Distribution::Uniform && static_cast<double>(out[i]) >= b && b > a) {
          out[i] = convert<T>(a);
        }
      }
    });
  });
}

void CpuBackend::fill_range(const Tensor& output, double start, double step, int64_t split, double end) {
  const int64_t numel = output.numel();
  visit_dtype(output.dtype(), [&]<class T>(TypeTag<T>) {
    T* out = static_cast<T*>(output.data_ptr());
    parallel_for(numel, kElementwiseGrain, [&](int64_t begin, int64_t stop) {
      for (int64_t i = begin; i < stop; ++i) {
        const double value = (split > 0 && i >= split) ? end - static_cast<double>(numel - 1 - i) * step
                                                       : start + static_cast<double>(i) * step;
        out[i] = convert<T>(value);
      }
    });
  });
}

}  // namespace ember::cpu

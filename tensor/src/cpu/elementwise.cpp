#include "cpu/cpu_backend.h"
#include "cpu/loops.h"
#include "cpu/vector_math.h"

namespace ember::cpu {

using kernels::ElementwisePlan;

void CpuBackend::unary(kernels::UnaryOp op, const kernels::OpParams& params, const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      // Dense float runs of the transcendental ops go to SLEEF's vector functions (see
      // cpu/vector_math.h); every other case takes the generic loop over the shared functors.
      const vector_math::Kernel<T> kernel = vector_math::find<T>(op);
      constexpr int64_t item = sizeof(T);
      const bool dense = plan.ndim == 1 && plan.byte_strides[0][0] == item && plan.byte_strides[1][0] == item;
      if (kernel != nullptr && dense) {
        T* out = reinterpret_cast<T*>(plan.data[0]);
        const T* in = reinterpret_cast<const T*>(plan.data[1]);
        parallel_for(plan.numel, kElementwiseGrain,
                     [&](int64_t begin, int64_t end) { kernel(in + begin, out + begin, end - begin); });
        return;
      }
    }
    kernels::visit_unary<compute_t<T>>(op, params, [&](const auto& f) { elementwise_loop<T, T>(plan, f); });
  });
}

void CpuBackend::binary(kernels::BinaryOp op, const kernels::OpParams& params, const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[1], [&]<class T>(TypeTag<T>) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      // The backward passes that call exp, erf or tanh: SLEEF on dense runs, as for unary.
      const vector_math::BinaryKernel<T> kernel = vector_math::find<T>(op);
      constexpr int64_t item = sizeof(T);
      const bool dense = plan.ndim == 1 && plan.byte_strides[0][0] == item && plan.byte_strides[1][0] == item &&
                         plan.byte_strides[2][0] == item;
      if (kernel != nullptr && dense) {
        T* out = reinterpret_cast<T*>(plan.data[0]);
        const T* grad = reinterpret_cast<const T*>(plan.data[1]);
        const T* x = reinterpret_cast<const T*>(plan.data[2]);
        parallel_for(plan.numel, kElementwiseGrain,
                     [&](int64_t begin, int64_t end) { kernel(grad + begin, x + begin, out + begin, end - begin); });
        return;
      }
    }
    using C = compute_t<T>;
    kernels::visit_binary<C>(op, params, [&](const auto& f) {
      using Result = decltype(f(C{}, C{}));
      using Out = std::conditional_t<std::is_same_v<Result, bool>, bool, T>;
      elementwise_loop<Out, T, T>(plan, f);
    });
  });
}

void CpuBackend::where(const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    elementwise_loop<T, bool, T, T>(plan, kernels::Where<compute_t<T>>{});
  });
}

void CpuBackend::copy(const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class Out>(TypeTag<Out>) {
    visit_dtype(plan.dtypes[1], [&]<class In>(TypeTag<In>) {
      elementwise_loop<Out, In>(plan, kernels::Pass<compute_t<In>>{});
    });
  });
}

void CpuBackend::fill(const ElementwisePlan& plan, const Scalar& value) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    const T converted = value.to<T>("fill_");
    elementwise_loop<T>(plan, kernels::Constant<compute_t<T>>{static_cast<compute_t<T>>(converted)});
  });
}

}  // namespace ember::cpu

#include "cpu/cpu_backend.h"
#include "cpu/loops.h"

namespace ember::cpu {

using kernels::ElementwisePlan;

void CpuBackend::unary(kernels::UnaryOp op, const kernels::OpParams& params, const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    kernels::visit_unary<compute_t<T>>(op, params, [&](const auto& f) { elementwise_loop<T, T>(plan, f); });
  });
}

void CpuBackend::binary(kernels::BinaryOp op, const kernels::OpParams& params, const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[1], [&]<class T>(TypeTag<T>) {
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
    const T converted = value.to<T>();
    elementwise_loop<T>(plan, kernels::Constant<compute_t<T>>{static_cast<compute_t<T>>(converted)});
  });
}

}  // namespace ember::cpu

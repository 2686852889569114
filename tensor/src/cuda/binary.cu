// Binary elementwise ops and where: one kernel per op and dtype, the functors shared with the CPU.
#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"

namespace ember::cuda {

void CudaBackend::binary(kernels::BinaryOp op, const kernels::OpParams& params, const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[1], [&]<class T>(TypeTag<T>) {
    using C = compute_t<T>;
    kernels::visit_binary<C>(op, params, [&](const auto& f) {
      using Result = decltype(f(C{}, C{}));
      using Out = std::conditional_t<std::is_same_v<Result, bool>, bool, T>;
      launch_elementwise<Out, T, T>(plan, f, "binary");
    });
  });
}

void CudaBackend::where(const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    launch_elementwise<T, bool, T, T>(plan, kernels::Where<compute_t<T>>{}, "where");
  });
}

}  // namespace ember::cuda

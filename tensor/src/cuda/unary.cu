// Unary elementwise ops: one kernel per op and dtype, the functors shared with the CPU.
#include "cuda/cuda_backend.h"
#include "cuda/launch.cuh"

namespace ember::cuda {

void CudaBackend::unary(kernels::UnaryOp op, const kernels::OpParams& params, const ElementwisePlan& plan) {
  visit_dtype(plan.dtypes[0], [&]<class T>(TypeTag<T>) {
    kernels::visit_unary<compute_t<T>>(op, params, [&](const auto& f) { launch_elementwise<T, T>(plan, f, "unary"); });
  });
}

}  // namespace ember::cuda

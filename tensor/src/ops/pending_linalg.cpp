// TEMPORARY: replaced by ops/linalg.cpp and cpu/blas.cpp. Delete when those land.
#include "cpu/cpu_backend.h"
#include "ember/tensor/linalg.h"
namespace ember {
#define EMBER_PENDING fail("linalg: not implemented yet")
Tensor matmul(const Tensor&, const Tensor&) { EMBER_PENDING; }
Tensor mm(const Tensor&, const Tensor&) { EMBER_PENDING; }
Tensor bmm(const Tensor&, const Tensor&) { EMBER_PENDING; }
Tensor dot(const Tensor&, const Tensor&) { EMBER_PENDING; }
Tensor addmm(const Tensor&, const Tensor&, const Tensor&, const Scalar&, const Scalar&) { EMBER_PENDING; }
namespace cpu {
void CpuBackend::gemm(const kernels::GemmArgs&) { EMBER_PENDING; }
}  // namespace cpu
}  // namespace ember

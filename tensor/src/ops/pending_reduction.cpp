// TEMPORARY: replaced by ops/reduction.cpp and cpu/reduce.cpp. Delete when those land.
#include "cpu/cpu_backend.h"
#include "ember/tensor/reduction.h"
namespace ember {
#define EMBER_PENDING fail("reduction: not implemented yet")
Tensor sum(const Tensor&, IntArrayRef, bool) { EMBER_PENDING; }
Tensor mean(const Tensor&, IntArrayRef, bool) { EMBER_PENDING; }
Tensor prod(const Tensor&, IntArrayRef, bool) { EMBER_PENDING; }
Tensor amax(const Tensor&, IntArrayRef, bool) { EMBER_PENDING; }
Tensor amin(const Tensor&, IntArrayRef, bool) { EMBER_PENDING; }
std::pair<Tensor, Tensor> max(const Tensor&, int64_t, bool) { EMBER_PENDING; }
std::pair<Tensor, Tensor> min(const Tensor&, int64_t, bool) { EMBER_PENDING; }
Tensor max(const Tensor&) { EMBER_PENDING; }
Tensor min(const Tensor&) { EMBER_PENDING; }
Tensor argmax(const Tensor&, std::optional<int64_t>, bool) { EMBER_PENDING; }
Tensor argmin(const Tensor&, std::optional<int64_t>, bool) { EMBER_PENDING; }
Tensor var(const Tensor&, IntArrayRef, bool, bool) { EMBER_PENDING; }
Tensor std(const Tensor&, IntArrayRef, bool, bool) { EMBER_PENDING; }
Tensor norm(const Tensor&, double, IntArrayRef, bool) { EMBER_PENDING; }
Tensor logsumexp(const Tensor&, IntArrayRef, bool) { EMBER_PENDING; }
Tensor softmax(const Tensor&, int64_t) { EMBER_PENDING; }
Tensor log_softmax(const Tensor&, int64_t) { EMBER_PENDING; }
Tensor all(const Tensor&) { EMBER_PENDING; }
Tensor all(const Tensor&, int64_t, bool) { EMBER_PENDING; }
Tensor any(const Tensor&) { EMBER_PENDING; }
Tensor any(const Tensor&, int64_t, bool) { EMBER_PENDING; }
namespace cpu {
void CpuBackend::reduce(kernels::ReduceOp, const kernels::ReducePlan&) { EMBER_PENDING; }
void CpuBackend::arg_reduce(kernels::ArgReduceOp, const kernels::ReducePlan&, const Tensor&) { EMBER_PENDING; }
}  // namespace cpu
}  // namespace ember

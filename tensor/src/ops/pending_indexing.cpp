// TEMPORARY: replaced by ops/indexing.cpp, ops/print.cpp and cpu/index.cpp. Delete when those land.
#include "cpu/cpu_backend.h"
#include "ember/tensor/indexing.h"
namespace ember {
#define EMBER_PENDING fail("indexing: not implemented yet")
Tensor index_select(const Tensor&, int64_t, const Tensor&) { EMBER_PENDING; }
Tensor gather(const Tensor&, int64_t, const Tensor&) { EMBER_PENDING; }
Tensor scatter_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { EMBER_PENDING; }
Tensor index_add(const Tensor&, int64_t, const Tensor&, const Tensor&) { EMBER_PENDING; }
Tensor cat(const std::vector<Tensor>&, int64_t) { EMBER_PENDING; }
Tensor stack(const std::vector<Tensor>&, int64_t) { EMBER_PENDING; }
std::vector<Tensor> split(const Tensor&, int64_t, int64_t) { EMBER_PENDING; }
std::vector<Tensor> split(const Tensor&, const std::vector<int64_t>&, int64_t) { EMBER_PENDING; }
std::vector<Tensor> chunk(const Tensor&, int64_t, int64_t) { EMBER_PENDING; }
Tensor one_hot(const Tensor&, int64_t) { EMBER_PENDING; }
std::ostream& operator<<(std::ostream&, const Tensor&) { EMBER_PENDING; }
void print(const Tensor&) { EMBER_PENDING; }
std::string Tensor::to_string() const { EMBER_PENDING; }
namespace cpu {
void CpuBackend::index_select(const kernels::IndexArgs&) { EMBER_PENDING; }
void CpuBackend::gather(const kernels::IndexArgs&) { EMBER_PENDING; }
void CpuBackend::scatter_add(const kernels::IndexArgs&) { EMBER_PENDING; }
void CpuBackend::index_add(const kernels::IndexArgs&) { EMBER_PENDING; }
}  // namespace cpu
}  // namespace ember

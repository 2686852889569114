// Picks the backend for a device. Built without CUDA, CUDA requests fail with the reason.
#include "cpu/cpu_backend.h"
#include "kernels/backend.h"
#include "kernels/device_copy.h"

#if EMBER_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace ember::kernels {

Backend& backend(Device device) {
  if (device.is_cpu()) {
    static cpu::CpuBackend cpu_backend;
    return cpu_backend;
  }
#if EMBER_WITH_CUDA
  return cuda::backend_for(device.index);
#else
  fail("{}: Ember was built without CUDA (configure with -DEMBER_WITH_CUDA=ON where the toolkit is installed)",
       device.str());
#endif
}

}  // namespace ember::kernels

#if !EMBER_WITH_CUDA
namespace ember {

bool cuda_is_available() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "Ember was built without CUDA"; }
Allocator& pinned_allocator() { return cpu_allocator(); }

namespace kernels {
void copy_between_devices(const Tensor& destination, const Tensor& source, bool) {
  fail("copy: cannot copy from {} to {}: Ember was built without CUDA", source.device().str(),
       destination.device().str());
}
}  // namespace kernels

}  // namespace ember
#endif

// Bytes between host and device, or between two devices, on the current stream.
#include "cuda/runtime.h"
#include "kernels/device_copy.h"

namespace ember::kernels {
namespace {

// Page-locked memory (pin_memory) lets the copy run while the host goes on.
bool is_pinned(const void* pointer) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeHost;
}

}  // namespace

void copy_between_devices(const Tensor& destination, const Tensor& source, bool non_blocking) {
  const size_t bytes = static_cast<size_t>(source.nbytes());
  EMBER_CHECK(destination.nbytes() == source.nbytes() && destination.is_contiguous() && source.is_contiguous(),
              "copy: cross-device copies move whole contiguous tensors ({} bytes to {} bytes)", source.nbytes(),
              destination.nbytes());
  if (bytes == 0) return;
  const Device to = destination.device(), from = source.device();
  const std::string what = fmt::format("copy: {} -> {}", from.str(), to.str());
  if (to.is_cuda() && from.is_cuda()) {
    cuda::check_device_index(to.index, what.c_str());
    cuda::check_device_index(from.index, what.c_str());
    {
      // Work queued on the destination's stream may still read what is about to be overwritten.
      cuda::DeviceGuard guard(to.index);
      cuda::check(cudaStreamSynchronize(cuda::current_stream_handle(to.index)), what.c_str());
    }
    cuda::DeviceGuard guard(from.index);
    const cudaStream_t stream = cuda::current_stream_handle(from.index);
    cuda::check(cudaMemcpyPeerAsync(destination.data_ptr(), to.index, source.data_ptr(), from.index, bytes, stream),
                what.c_str());
    cuda::check(cudaStreamSynchronize(stream), what.c_str());
    return;
  }
  const bool to_device = to.is_cuda();
  const int device = to_device ? to.index : from.index;
  cuda::check_device_index(device, what.c_str());
  cuda::DeviceGuard guard(device);
  const cudaStream_t stream = cuda::current_stream_handle(device);
  cuda::check(cudaMemcpyAsync(destination.data_ptr(), source.data_ptr(), bytes,
                              to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, stream),
              what.c_str());
  const void* host = to_device ? source.data_ptr() : destination.data_ptr();
  // Without the wait a pageable host buffer could be reused, or read, before the copy is done.
  if (!(non_blocking && is_pinned(host))) cuda::check(cudaStreamSynchronize(stream), what.c_str());
}

}  // namespace ember::kernels

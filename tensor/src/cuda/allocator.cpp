// Device memory through the caching allocator, page-locked host memory, and the memory
// counters of ember/tensor/cuda.h.
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/runtime.h"
#include "ember/tensor/cuda.h"
#include "kernels/caching_allocator.h"

namespace ember {
namespace cuda {
namespace {

class DeviceCachingAllocator final : public Allocator {
 public:
  explicit DeviceCachingAllocator(int device)
      : device_(device), cache_([device](size_t bytes) { return raw_allocate(device, bytes); },
                                [device](void* pointer) { raw_free(device, pointer); }) {}

  DataPtr allocate(size_t bytes) override {
    if (bytes == 0) return DataPtr();
    // Blocks are reused only for the stream current when they were allocated (see cuda.h).
    const auto stream = reinterpret_cast<uintptr_t>(current_stream_handle(device_));
    void* pointer = cache_.allocate(bytes, stream);
    if (pointer == nullptr) {
      const kernels::CachingAllocatorStats stats = cache_.stats();
      fail("empty: CUDA out of memory allocating {} bytes on cuda:{} ({} bytes in tensors, {} bytes reserved by Ember)",
           bytes, device_, stats.allocated_bytes, stats.reserved_bytes);
    }
    return DataPtr(pointer, this, [](void* context, void* data) {
      static_cast<DeviceCachingAllocator*>(context)->cache_.free(data);
    });
  }

  kernels::CachingAllocator& cache() { return cache_; }

 private:
  static void* raw_allocate(int device, size_t bytes) {
    try {
      DeviceGuard guard(device);
      void* pointer = nullptr;
      if (cudaMalloc(&pointer, bytes) != cudaSuccess) {
        cudaGetLastError();  // out of memory is not sticky; clear it for the retry
        return nullptr;
      }
      return pointer;
    } catch (const Error&) {
      return nullptr;
    }
  }

  static void raw_free(int device, void* pointer) {
    try {
      DeviceGuard guard(device);
      // A kernel queued before the block's last tensor was released may still use it.
      cudaDeviceSynchronize();
      cudaFree(pointer);
    } catch (const Error&) {
      // Freeing during teardown after a device fault: nothing useful is left to do.
    }
  }

  int device_;
  kernels::CachingAllocator cache_;
};

DeviceCachingAllocator& device_cache(int device) {
  // One per device, made on first use and never destroyed, so tensors that outlive main()
  // (static ones) can still free their blocks.
  static const std::vector<DeviceCachingAllocator*> allocators = [] {
    std::vector<DeviceCachingAllocator*> all;
    for (int index = 0; index < cuda_device_count(); ++index) all.push_back(new DeviceCachingAllocator(index));
    return all;
  }();
  return *allocators[device];
}

class PinnedAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t bytes) override {
    if (bytes == 0) return DataPtr();
    void* pointer = nullptr;
    // Portable: pinned for every device, so any device can copy from it asynchronously.
    check(cudaHostAlloc(&pointer, bytes, cudaHostAllocPortable), "pin_memory: cudaHostAlloc");
    return DataPtr(pointer, nullptr, [](void*, void* data) { cudaFreeHost(data); });
  }
};

}  // namespace

Allocator& device_allocator(int device) {
  check_device_index(device, "cuda allocator");
  return device_cache(device);
}

size_t memory_allocated(int device) {
  return device_cache(resolve_device(device, "cuda::memory_allocated")).cache().stats().allocated_bytes;
}

size_t max_memory_allocated(int device) {
  return device_cache(resolve_device(device, "cuda::max_memory_allocated")).cache().stats().peak_allocated_bytes;
}

size_t memory_reserved(int device) {
  return device_cache(resolve_device(device, "cuda::memory_reserved")).cache().stats().reserved_bytes;
}

void reset_peak_memory_stats(int device) {
  device_cache(resolve_device(device, "cuda::reset_peak_memory_stats")).cache().reset_peak();
}

void empty_cache() {
  require_available("cuda::empty_cache");
  for (int device = 0; device < cuda_device_count(); ++device) device_cache(device).cache().empty_cache();
}

}  // namespace cuda

Allocator& pinned_allocator() {
  if (!cuda_is_available()) return cpu_allocator();
  static cuda::PinnedAllocator allocator;
  return allocator;
}

}  // namespace ember

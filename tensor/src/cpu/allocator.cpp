#include <cstdlib>
#include <new>

#include "ember/tensor/error.h"
#include "ember/tensor/storage.h"
#include "kernels/backend.h"
#include "kernels/caching_allocator.h"

namespace ember {
namespace {

// Small blocks come from malloc (its fast path dominates tiny-op cost). Large ones come from the
// same caching allocator the CUDA backend uses, over 64-byte aligned host memory: a training
// step frees and re-requests the same large sizes every iteration, and fresh pages from the
// kernel would cost a page fault per 4 KiB on first touch, every time.
class CpuAllocator final : public Allocator {
 public:
  static constexpr size_t kSmallBlock = 1024;
  static constexpr size_t kCachedBlock = size_t{1} << 20;

  DataPtr allocate(size_t bytes) override {
    if (bytes == 0) return DataPtr();
    if (bytes < kCachedBlock) {
      void* data = bytes <= kSmallBlock ? std::malloc(bytes) : std::aligned_alloc(64, (bytes + 63) / 64 * 64);
      EMBER_CHECK(data != nullptr, "empty: out of memory allocating {} bytes on cpu", bytes);
      return DataPtr(data, nullptr, [](void*, void* pointer) { std::free(pointer); });
    }
    void* data = cache().allocate(bytes);
    EMBER_CHECK(data != nullptr, "empty: out of memory allocating {} bytes on cpu ({} bytes cached)", bytes,
                cache().stats().reserved_bytes);
    return DataPtr(data, &cache(), [](void* context, void* pointer) {
      static_cast<kernels::CachingAllocator*>(context)->free(pointer);
    });
  }

  // Never destroyed: tensors held in static objects may free their blocks during exit.
  static kernels::CachingAllocator& cache() {
    static auto* allocator = new kernels::CachingAllocator(
        [](size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }, [](void* pointer) { std::free(pointer); });
    return *allocator;
  }
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator allocator;
  return allocator;
}

void empty_cpu_cache() { CpuAllocator::cache().empty_cache(); }

size_t cpu_cached_bytes() { return CpuAllocator::cache().stats().reserved_bytes; }

Storage make_storage(size_t nbytes, Device device) {
  auto storage = std::make_shared<StorageImpl>();
  if (device.is_cpu() && nbytes <= StorageImpl::kInlineBytes) {
    storage->data = DataPtr(storage->inline_bytes, nullptr, nullptr);
  } else {
    storage->data = kernels::backend(device).allocator().allocate(nbytes);
  }
  storage->nbytes = nbytes;
  storage->device = device;
  return storage;
}

}  // namespace ember

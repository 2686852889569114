#include <cstdlib>
#include <new>

#include "ember/tensor/error.h"
#include "ember/tensor/storage.h"
#include "kernels/backend.h"

namespace ember {
namespace {

class CpuAllocator final : public Allocator {
 public:
  static constexpr size_t kSmallBlock = 1024;
  DataPtr allocate(size_t bytes) override {
    // 64-byte alignment suits AVX-512 loads and keeps rows of different tensors off shared lines;
    // small blocks take malloc's faster path (16-byte aligned), which dominates tiny-op cost.
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* data = rounded == 0 ? nullptr : rounded <= kSmallBlock ? std::malloc(rounded) : std::aligned_alloc(64, rounded);
    EMBER_CHECK(rounded == 0 || data != nullptr, "empty: out of memory allocating {} bytes on cpu", bytes);
    return DataPtr(data, nullptr, [](void*, void* pointer) { std::free(pointer); });
  }
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator allocator;
  return allocator;
}

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

#pragma once
// Reference-counted memory shared by a tensor and all its views.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ember/tensor/device.h"

namespace ember {

// Owns one block of memory and knows how to give it back.
class DataPtr {
 public:
  using Deleter = void (*)(void* context, void* data);
  DataPtr() = default;
  DataPtr(void* data, void* context, Deleter deleter) : data_(data), context_(context), deleter_(deleter) {}
  DataPtr(DataPtr&& other) noexcept { *this = std::move(other); }
  DataPtr& operator=(DataPtr&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(context_, other.context_);
    std::swap(deleter_, other.deleter_);
    return *this;
  }
  DataPtr(const DataPtr&) = delete;
  DataPtr& operator=(const DataPtr&) = delete;
  ~DataPtr() {
    if (deleter_) deleter_(context_, data_);
  }
  void* get() const { return data_; }

 private:
  void* data_ = nullptr;
  void* context_ = nullptr;
  Deleter deleter_ = nullptr;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual DataPtr allocate(size_t bytes) = 0;
};

// Host memory: blocks of 1 MiB and more are 64-byte aligned and cached for reuse, as on the GPU.
Allocator& cpu_allocator();
// Returns cached host blocks that no tensor uses to the system.
void empty_cpu_cache();
// Bytes of host memory held by that cache (in use or free).
size_t cpu_cached_bytes();
// Page-locked host memory when CUDA is available (for fast, asynchronous copies), else cpu_allocator().
Allocator& pinned_allocator();

struct StorageImpl {
  // Tiny CPU tensors (scalars, 4x4 blocks) keep their bytes here, saving an allocation per op.
  static constexpr size_t kInlineBytes = 64;
  alignas(16) std::byte inline_bytes[kInlineBytes];  // 16: within operator new's default alignment

  DataPtr data;
  size_t nbytes = 0;
  Device device;
  // Bumped by every in-place write; autograd compares it against the value saved at forward time.
  std::atomic<uint32_t> version{0};
  // Bumped by in-place writes that autograd records (a new history for the written tensor): a
  // view made before such a write still carries the old history, so autograd refuses to use it.
  std::atomic<uint32_t> recorded_rewrites{0};
};

using Storage = std::shared_ptr<StorageImpl>;

Storage make_storage(size_t nbytes, Device device);

}  // namespace ember

#pragma once
// The bookkeeping of a caching device allocator, free of any device API so that a CPU test can
// drive it with a counting malloc. Asking the driver for memory (cudaMalloc) is slow and
// synchronises the device, and a training step frees and re-requests the same sizes every
// iteration, so freed blocks stay cached here and are handed out again.
//
// Policy (PyTorch's, simplified):
// - Requests round up to a multiple of kAlignment. Zero bytes give nullptr.
// - Requests up to kSmallRequest come from a small pool of kSmallSegment segments; larger ones
//   from a large pool of segments rounded up to a multiple of kLargeRounding. The pools never
//   share blocks, so small tensors cannot fragment the big segments.
// - A free block is taken best-fit (smallest that is large enough) and split when the rest is
//   worth keeping: at least kAlignment in the small pool, more than kSmallRequest in the large.
// - Freed blocks merge with free neighbours of the same segment.
// - Blocks are tied to the stream that was current when they were allocated and are reused
//   only for that stream, so stream order alone keeps a reused block's old and new users apart.
// - empty_cache() returns every segment that is wholly free to the raw allocator; a failing
//   raw allocation does the same and retries once before reporting failure (nullptr).
// All public methods are thread-safe.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <unordered_map>

namespace ember::kernels {

struct CachingAllocatorStats {
  size_t allocated_bytes = 0;       // blocks handed out and not yet freed, as rounded
  size_t peak_allocated_bytes = 0;  // the highest allocated_bytes so far
  size_t reserved_bytes = 0;        // segments held from the raw allocator
  size_t raw_allocations = 0;       // successful calls to the raw allocator
  size_t raw_frees = 0;             // segments given back
  size_t cache_hits = 0;            // allocations served from a cached block
  size_t retries = 0;               // raw allocations retried after releasing the cache
};

class CachingAllocator {
 public:
  static constexpr size_t kAlignment = 512;
  static constexpr size_t kSmallRequest = size_t{1} << 20;
  static constexpr size_t kSmallSegment = size_t{2} << 20;
  static constexpr size_t kLargeRounding = size_t{2} << 20;

  // RawAllocate returns nullptr when out of memory; it must not throw.
  using RawAllocate = std::function<void*(size_t bytes)>;
  using RawFree = std::function<void(void* pointer)>;

  CachingAllocator(RawAllocate raw_allocate, RawFree raw_free);
  // Gives every cached segment back. Blocks still allocated are left to their owners.
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // At least `bytes` usable bytes for work ordered on `stream`; nullptr when bytes is 0 or the
  // raw allocator fails even after the cache was released.
  void* allocate(size_t bytes, uintptr_t stream = 0);
  // Returns a block to the cache. nullptr is ignored; a pointer this allocator did not hand out
  // throws std::invalid_argument.
  void free(void* pointer);
  void empty_cache();
  CachingAllocatorStats stats() const;
  void reset_peak();

  // The size a request of `bytes` is served with (0 when it cannot be represented).
  static size_t round_size(size_t bytes);
  // The size of the segment obtained for a rounded request that no cached block fits.
  static size_t segment_size(size_t rounded);

 private:
  struct Block {
    char* pointer;
    size_t size;
    uintptr_t stream;
    bool small;
    bool allocated = false;
    Block* previous = nullptr;  // neighbours within the same segment
    Block* next = nullptr;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const;
  };
  using FreeList = std::set<Block*, BySize>;

  FreeList& pool(bool small) { return small ? small_free_ : large_free_; }
  Block* take_cached(size_t rounded, uintptr_t stream, bool small);
  Block* new_segment(size_t rounded, uintptr_t stream, bool small);
  void split(Block* block, size_t rounded);
  void release_free_segments();

  RawAllocate raw_allocate_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  FreeList small_free_, large_free_;
  std::unordered_map<void*, Block*> allocated_;
  CachingAllocatorStats stats_;
};

}  // namespace ember::kernels

// The caching device allocator's bookkeeping, driven by a malloc-backed raw allocator that
// counts its calls, so the policy the CUDA allocator runs is tested on every machine.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

// Private to ember_tensor; reached by path because the test target only sees public headers.
#include "kernels/caching_allocator.h"

namespace {

using ember::kernels::CachingAllocator;

constexpr size_t kMiB = size_t{1} << 20;

// malloc with a byte budget; remembers what is live so leaks and double frees show.
class CountingRawAllocator {
 public:
  explicit CountingRawAllocator(size_t budget = SIZE_MAX) : budget_(budget) {}

  void* allocate(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls;
    if (live_bytes + bytes > budget_) return nullptr;
    void* pointer = std::malloc(bytes);
    live_bytes += bytes;
    sizes_.push_back({pointer, bytes});
    return pointer;
  }
  void free(void* pointer) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = sizes_.begin(); it != sizes_.end(); ++it) {
      if (it->first == pointer) {
        live_bytes -= it->second;
        sizes_.erase(it);
        std::free(pointer);
        return;
      }
    }
    ADD_FAILURE() << "raw free of a pointer the raw allocator did not hand out";
  }
  size_t live_segments() const { return sizes_.size(); }
  CachingAllocator make() {
    return CachingAllocator([this](size_t bytes) { return allocate(bytes); }, [this](void* pointer) { free(pointer); });
  }

  size_t calls = 0;
  size_t live_bytes = 0;

 private:
  size_t budget_;
  std::mutex mutex_;
  std::vector<std::pair<void*, size_t>> sizes_;
};

char* as_bytes(void* pointer) { return static_cast<char*>(pointer); }

TEST(CachingAllocator, RoundsSizesAndPicksSegments) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(SIZE_MAX - 10), 0u);
  EXPECT_EQ(CachingAllocator::segment_size(512), 2 * kMiB);
  EXPECT_EQ(CachingAllocator::segment_size(kMiB), 2 * kMiB);
  EXPECT_EQ(CachingAllocator::segment_size(kMiB + 512), 2 * kMiB);
  EXPECT_EQ(CachingAllocator::segment_size(3 * kMiB), 4 * kMiB);
  EXPECT_EQ(CachingAllocator::segment_size(4 * kMiB), 4 * kMiB);
}

TEST(CachingAllocator, ReusesAFreedBlockWithoutAskingTheRawAllocator) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  void* first = cache.allocate(1000);
  ASSERT_NE(first, nullptr);
  auto stats = cache.stats();
  EXPECT_EQ(stats.allocated_bytes, 1024u);
  EXPECT_EQ(stats.reserved_bytes, 2 * kMiB);
  EXPECT_EQ(stats.raw_allocations, 1u);
  cache.free(first);
  stats = cache.stats();
  EXPECT_EQ(stats.allocated_bytes, 0u);
  EXPECT_EQ(stats.reserved_bytes, 2 * kMiB);  // kept, not returned
  EXPECT_EQ(raw.live_segments(), 1u);
  void* again = cache.allocate(900);
  EXPECT_EQ(again, first);
  stats = cache.stats();
  EXPECT_EQ(stats.raw_allocations, 1u);
  EXPECT_EQ(stats.cache_hits, 1u);
  EXPECT_EQ(raw.calls, 1u);
  cache.free(again);
}

TEST(CachingAllocator, SplitsSmallSegmentsAndMergesOnFree) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  void* a = cache.allocate(1000);
  void* b = cache.allocate(3000);
  void* c = cache.allocate(100);
  EXPECT_EQ(as_bytes(b), as_bytes(a) + 1024);
  EXPECT_EQ(as_bytes(c), as_bytes(b) + 3072);
  EXPECT_EQ(raw.calls, 1u);
  EXPECT_EQ(cache.stats().allocated_bytes, 1024u + 3072u + 512u);
  cache.free(a);
  cache.free(c);
  cache.free(b);  // merges with both neighbours: the segment is one free block again
  void* whole = cache.allocate(kMiB);
  EXPECT_EQ(whole, a);
  EXPECT_EQ(raw.calls, 1u);
  cache.free(whole);
  cache.empty_cache();
  EXPECT_EQ(raw.live_segments(), 0u);
  EXPECT_EQ(cache.stats().reserved_bytes, 0u);
  EXPECT_EQ(cache.stats().raw_frees, 1u);
}

TEST(CachingAllocator, LargePoolSplitsOnlyBigRemainders) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  // 3 MiB gets a 4 MiB segment; the 1 MiB left is not worth a block of its own.
  void* three = cache.allocate(3 * kMiB);
  EXPECT_EQ(cache.stats().allocated_bytes, 4 * kMiB);
  cache.free(three);
  cache.empty_cache();

  void* ten = cache.allocate(10 * kMiB);
  cache.free(ten);
  void* part = cache.allocate(3 * kMiB);  // from the cached 10 MiB, 7 MiB left over
  EXPECT_EQ(part, ten);
  EXPECT_EQ(cache.stats().allocated_bytes, 3 * kMiB);
  void* rest = cache.allocate(7 * kMiB);
  EXPECT_EQ(as_bytes(rest), as_bytes(ten) + 3 * kMiB);
  EXPECT_EQ(raw.calls, 2u);
  cache.free(part);
  cache.free(rest);
  cache.empty_cache();
  EXPECT_EQ(raw.live_segments(), 0u);
}

TEST(CachingAllocator, PoolsAndStreamsDoNotShareBlocks) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  void* large = cache.allocate(10 * kMiB, 1);
  cache.free(large);
  void* small = cache.allocate(1000, 1);  // the cached large block is not used for it
  EXPECT_EQ(raw.calls, 2u);
  cache.free(small);
  void* other_stream = cache.allocate(1000, 2);
  EXPECT_EQ(raw.calls, 3u);
  EXPECT_NE(other_stream, small);
  void* same_stream = cache.allocate(1000, 1);
  EXPECT_EQ(same_stream, small);
  EXPECT_EQ(raw.calls, 3u);
  cache.free(other_stream);
  cache.free(same_stream);
}

TEST(CachingAllocator, EmptyCacheReleasesOnlyWhollyFreeSegments) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  void* a = cache.allocate(1000);
  void* b = cache.allocate(1000);
  void* big = cache.allocate(6 * kMiB);
  cache.free(a);
  cache.free(big);
  cache.empty_cache();  // b still lives in the small segment
  auto stats = cache.stats();
  EXPECT_EQ(stats.raw_frees, 1u);
  EXPECT_EQ(stats.reserved_bytes, 2 * kMiB);
  EXPECT_EQ(raw.live_segments(), 1u);
  cache.free(b);
  cache.empty_cache();
  stats = cache.stats();
  EXPECT_EQ(stats.raw_frees, 2u);
  EXPECT_EQ(stats.reserved_bytes, 0u);
  EXPECT_EQ(raw.live_bytes, 0u);
}

TEST(CachingAllocator, ReleasesTheCacheAndRetriesWhenTheRawAllocatorFails) {
  CountingRawAllocator raw(8 * kMiB);
  CachingAllocator cache = raw.make();
  void* first = cache.allocate(6 * kMiB, 1);
  ASSERT_NE(first, nullptr);
  cache.free(first);
  // Another stream cannot reuse the cached block; the raw allocator has 2 MiB left.
  void* second = cache.allocate(4 * kMiB, 2);
  ASSERT_NE(second, nullptr);
  auto stats = cache.stats();
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.raw_frees, 1u);
  EXPECT_EQ(stats.reserved_bytes, 4 * kMiB);
  // Still too much with nothing left to release: failure is reported, not thrown.
  EXPECT_EQ(cache.allocate(6 * kMiB, 2), nullptr);
  EXPECT_EQ(cache.stats().retries, 2u);
  EXPECT_EQ(cache.stats().allocated_bytes, 4 * kMiB);
  cache.free(second);
}

TEST(CachingAllocator, ZeroBytesNullAndUnknownPointers) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  EXPECT_EQ(cache.allocate(0), nullptr);
  EXPECT_EQ(raw.calls, 0u);
  EXPECT_EQ(cache.allocate(SIZE_MAX - 1), nullptr);
  cache.free(nullptr);
  int local = 0;
  EXPECT_THROW(cache.free(&local), std::invalid_argument);
  void* block = cache.allocate(10);
  cache.free(block);
  EXPECT_THROW(cache.free(block), std::invalid_argument);  // double free
}

TEST(CachingAllocator, TracksPeakAllocation) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  void* a = cache.allocate(4 * kMiB);
  void* b = cache.allocate(2 * kMiB);
  cache.free(a);
  auto stats = cache.stats();
  EXPECT_EQ(stats.peak_allocated_bytes, 6 * kMiB);
  EXPECT_EQ(stats.allocated_bytes, 2 * kMiB);
  cache.reset_peak();
  EXPECT_EQ(cache.stats().peak_allocated_bytes, 2 * kMiB);
  cache.free(b);
}

TEST(CachingAllocator, DestructorReturnsCachedSegments) {
  CountingRawAllocator raw;
  {
    CachingAllocator cache = raw.make();
    cache.free(cache.allocate(1000));
    cache.free(cache.allocate(5 * kMiB));
    EXPECT_EQ(raw.live_segments(), 2u);
  }
  EXPECT_EQ(raw.live_segments(), 0u);
}

TEST(CachingAllocator, ConcurrentUseHandsOutDisjointBlocks) {
  CountingRawAllocator raw;
  CachingAllocator cache = raw.make();
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> corrupted(kThreads, 0);
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      std::mt19937 random(static_cast<unsigned>(thread));
      std::uniform_int_distribution<size_t> size(1, 3 * kMiB);
      std::vector<std::pair<void*, size_t>> held;
      for (int step = 0; step < 2000; ++step) {
        if (held.size() < 8 && random() % 2 == 0) {
          const size_t bytes = size(random);
          void* block = cache.allocate(bytes, static_cast<uintptr_t>(thread % 2));
          ASSERT_NE(block, nullptr);
          std::memset(block, thread + 1, bytes);
          held.push_back({block, bytes});
        } else if (!held.empty()) {
          auto [block, bytes] = held.back();
          held.pop_back();
          // Another thread writing into this block would have changed a byte.
          const char* bytes_view = static_cast<const char*>(block);
          if (bytes_view[0] != thread + 1 || bytes_view[bytes - 1] != thread + 1) ++corrupted[thread];
          cache.free(block);
        }
      }
      for (auto [block, bytes] : held) cache.free(block);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int thread = 0; thread < kThreads; ++thread) EXPECT_EQ(corrupted[thread], 0) << "thread " << thread;
  EXPECT_EQ(cache.stats().allocated_bytes, 0u);
  cache.empty_cache();
  EXPECT_EQ(raw.live_segments(), 0u);
  EXPECT_EQ(cache.stats().reserved_bytes, 0u);
}

}  // namespace

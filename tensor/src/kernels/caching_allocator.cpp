#include "kernels/caching_allocator.h"

#include <limits>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace ember::kernels {

bool CachingAllocator::BySize::operator()(const Block* a, const Block* b) const {
  return std::make_tuple(a->stream, a->size, reinterpret_cast<uintptr_t>(a->pointer)) <
         std::make_tuple(b->stream, b->size, reinterpret_cast<uintptr_t>(b->pointer));
}

CachingAllocator::CachingAllocator(RawAllocate raw_allocate, RawFree raw_free)
    : raw_allocate_(std::move(raw_allocate)), raw_free_(std::move(raw_free)) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
  // Free blocks of segments that still hold an allocated block: the segment stays with its
  // users, only the bookkeeping goes.
  for (FreeList* list : {&small_free_, &large_free_}) {
    for (Block* block : *list) delete block;
    list->clear();
  }
  for (auto& entry : allocated_) delete entry.second;
}

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes > std::numeric_limits<size_t>::max() - kLargeRounding) return 0;
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

size_t CachingAllocator::segment_size(size_t rounded) {
  if (rounded <= kSmallRequest) return kSmallSegment;
  return (rounded + kLargeRounding - 1) / kLargeRounding * kLargeRounding;
}

void* CachingAllocator::allocate(size_t bytes, uintptr_t stream) {
  if (bytes == 0) return nullptr;
  const size_t rounded = round_size(bytes);
  if (rounded == 0) return nullptr;
  const bool small = rounded <= kSmallRequest;
  std::lock_guard<std::mutex> lock(mutex_);
  Block* block = take_cached(rounded, stream, small);
  if (block != nullptr) {
    ++stats_.cache_hits;
  } else {
    block = new_segment(rounded, stream, small);
    if (block == nullptr) {
      // Cached but unused segments may be what stands in the way: give them back, try again.
      ++stats_.retries;
      release_free_segments();
      block = new_segment(rounded, stream, small);
      if (block == nullptr) return nullptr;
    }
  }
  split(block, rounded);
  block->allocated = true;
  allocated_.emplace(block->pointer, block);
  stats_.allocated_bytes += block->size;
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  return block->pointer;
}

CachingAllocator::Block* CachingAllocator::take_cached(size_t rounded, uintptr_t stream, bool small) {
  FreeList& list = pool(small);
  Block key{nullptr, rounded, stream, small};
  const auto found = list.lower_bound(&key);
  if (found == list.end() || (*found)->stream != stream) return nullptr;
  Block* block = *found;
  list.erase(found);
  return block;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t rounded, uintptr_t stream, bool small) {
  const size_t size = segment_size(rounded);
  void* memory = raw_allocate_(size);
  if (memory == nullptr) return nullptr;
  ++stats_.raw_allocations;
  stats_.reserved_bytes += size;
  return new Block{static_cast<char*>(memory), size, stream, small};
}

void CachingAllocator::split(Block* block, size_t rounded) {
  const size_t rest = block->size - rounded;
  const bool worth_keeping = block->small ? rest >= kAlignment : rest > kSmallRequest;
  if (!worth_keeping) return;
  Block* remainder = new Block{block->pointer + rounded, rest, block->stream, block->small};
  remainder->previous = block;
  remainder->next = block->next;
  if (block->next != nullptr) block->next->previous = remainder;
  block->next = remainder;
  block->size = rounded;
  pool(block->small).insert(remainder);
}

void CachingAllocator::free(void* pointer) {
  if (pointer == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = allocated_.find(pointer);
  if (found == allocated_.end()) throw std::invalid_argument("CachingAllocator::free: unknown pointer");
  Block* block = found->second;
  allocated_.erase(found);
  block->allocated = false;
  stats_.allocated_bytes -= block->size;
  FreeList& list = pool(block->small);
  // Merge with free neighbours so a later large request can use the space.
  if (Block* next = block->next; next != nullptr && !next->allocated) {
    list.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next != nullptr) next->next->previous = block;
    delete next;
  }
  if (Block* previous = block->previous; previous != nullptr && !previous->allocated) {
    list.erase(previous);
    previous->size += block->size;
    previous->next = block->next;
    if (block->next != nullptr) block->next->previous = previous;
    delete block;
    block = previous;
  }
  list.insert(block);
}

void CachingAllocator::release_free_segments() {
  for (FreeList* list : {&small_free_, &large_free_}) {
    for (auto it = list->begin(); it != list->end();) {
      Block* block = *it;
      // A free block with no neighbours spans its whole segment.
      if (block->previous == nullptr && block->next == nullptr) {
        raw_free_(block->pointer);
        ++stats_.raw_frees;
        stats_.reserved_bytes -= block->size;
        delete block;
        it = list->erase(it);
      } else {
        ++it;
      }
    }
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

CachingAllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
}

}  // namespace ember::kernels

#pragma once
// CUDA devices, streams, events and the caching allocator's memory counters.
//
// Every op on a CUDA tensor is queued on the calling thread's current stream of the tensor's
// device (the default stream unless changed with set_current_stream or StreamGuard), so ops
// from one thread run in the order they were called. Reading a result on the host (item(),
// to_vector(), cpu()) waits for it. Work on two streams runs in any order unless an Event
// orders it.
//
// Device memory is cached: a freed tensor's block is kept and reused for the next allocation
// on the stream that was current when it was allocated. A tensor used on a different stream
// than the one it was allocated on must be kept alive until that stream is done with it.
//
// Built without CUDA, or without a usable device, every function here throws ember::Error
// with the reason (the same text as ember::cuda_unavailable_reason()).
#include <cstddef>
#include <memory>
#include <utility>

#include "ember/tensor/device.h"

namespace ember::cuda {

class Stream {
 public:
  // A new stream on `device` (-1: the current device). It does not wait for the default
  // stream, nor the default stream for it: order them with an Event.
  static Stream create(int device = -1);
  // The legacy default stream of `device`.
  static Stream default_stream(int device = -1);

  int device() const { return device_; }
  // The cudaStream_t; nullptr for the default stream.
  void* handle() const { return handle_; }
  bool is_default() const { return handle_ == nullptr; }
  // Waits until everything queued on the stream so far has finished.
  void synchronize() const;
  // True when everything queued so far has finished.
  bool query() const;
  bool operator==(const Stream& other) const { return device_ == other.device_ && handle_ == other.handle_; }

 private:
  Stream(int device, std::shared_ptr<void> owner, void* handle)
      : device_(device), owner_(std::move(owner)), handle_(handle) {}
  int device_ = 0;
  std::shared_ptr<void> owner_;  // keeps a created stream alive while any copy exists
  void* handle_ = nullptr;
};

// The calling thread's current stream for `device` (-1: the current device).
Stream current_stream(int device = -1);
// Makes `stream` the calling thread's current stream for its device.
void set_current_stream(const Stream& stream);

// Makes a stream current for its device until the end of the scope.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  std::unique_ptr<Stream> previous_;
};

// A point in a stream's queue. Created on first record, on that stream's device.
class Event {
 public:
  explicit Event(bool enable_timing = false) : enable_timing_(enable_timing) {}

  // Marks the current end of `stream`'s queue (the current stream by default).
  void record();
  void record(const Stream& stream);
  // Work queued on `stream` after this call waits for the recorded point. No-op before record.
  void wait() const;
  void wait(const Stream& stream) const;
  // Blocks the host until the recorded point is reached. No-op before record.
  void synchronize() const;
  // True when the recorded point was reached (or nothing was recorded).
  bool query() const;
  // Milliseconds from this event to `end`; both recorded with enable_timing and reached.
  float elapsed_time(const Event& end) const;

 private:
  bool enable_timing_;
  int device_ = -1;
  std::shared_ptr<void> event_;
};

// Waits for all work on the current device.
void device_synchronize();
void set_device(int device);
int current_device();

// Bytes of device memory in tensors' blocks now / at most so far, and held by the cache
// (in use or not), on `device` (-1: the current device).
size_t memory_allocated(int device = -1);
size_t max_memory_allocated(int device = -1);
size_t memory_reserved(int device = -1);
void reset_peak_memory_stats(int device = -1);
// Gives cached blocks that no tensor uses back to the driver, on every device.
void empty_cache();

}  // namespace ember::cuda

// ember/tensor/cuda.h when Ember is built without CUDA: everything links and throws, naming the
// reason. (The device queries and copies fall back in registry.cpp.)
#if !EMBER_WITH_CUDA
#include "ember/tensor/cuda.h"
#include "ember/tensor/error.h"

namespace ember::cuda {
namespace {

[[noreturn]] void unavailable(const char* op) {
  fail("{}: CUDA is not available: {}", op, cuda_unavailable_reason());
}

}  // namespace

Stream Stream::create(int) { unavailable("cuda::Stream::create"); }
Stream Stream::default_stream(int) { unavailable("cuda::Stream::default_stream"); }
void Stream::synchronize() const { unavailable("cuda::Stream::synchronize"); }
bool Stream::query() const { unavailable("cuda::Stream::query"); }
Stream current_stream(int) { unavailable("cuda::current_stream"); }
void set_current_stream(const Stream&) { unavailable("cuda::set_current_stream"); }
StreamGuard::StreamGuard(const Stream&) { unavailable("cuda::StreamGuard"); }
StreamGuard::~StreamGuard() = default;

void Event::record() { unavailable("cuda::Event::record"); }
void Event::record(const Stream&) { unavailable("cuda::Event::record"); }
void Event::wait() const { unavailable("cuda::Event::wait"); }
void Event::wait(const Stream&) const { unavailable("cuda::Event::wait"); }
void Event::synchronize() const { unavailable("cuda::Event::synchronize"); }
bool Event::query() const { unavailable("cuda::Event::query"); }
float Event::elapsed_time(const Event&) const { unavailable("cuda::Event::elapsed_time"); }

void device_synchronize() { unavailable("cuda::device_synchronize"); }
void set_device(int) { unavailable("cuda::set_device"); }
int current_device() { unavailable("cuda::current_device"); }
size_t memory_allocated(int) { unavailable("cuda::memory_allocated"); }
size_t max_memory_allocated(int) { unavailable("cuda::max_memory_allocated"); }
size_t memory_reserved(int) { unavailable("cuda::memory_reserved"); }
void reset_peak_memory_stats(int) { unavailable("cuda::reset_peak_memory_stats"); }
void empty_cache() { unavailable("cuda::empty_cache"); }

}  // namespace ember::cuda
#endif

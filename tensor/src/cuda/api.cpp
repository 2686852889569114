// Streams, events and devices of ember/tensor/cuda.h (current streams live in runtime.cpp,
// memory counters in allocator.cpp).
#include "cuda/runtime.h"
#include "ember/tensor/cuda.h"

namespace ember::cuda {

Stream Stream::create(int device) {
  device = resolve_device(device, "cuda::Stream::create");
  DeviceGuard guard(device);
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cuda::Stream::create: cudaStreamCreateWithFlags");
  std::shared_ptr<void> owner(static_cast<void*>(stream),
                              [](void* handle) { cudaStreamDestroy(static_cast<cudaStream_t>(handle)); });
  return Stream(device, std::move(owner), stream);
}

Stream Stream::default_stream(int device) {
  return Stream(resolve_device(device, "cuda::Stream::default_stream"), nullptr, nullptr);
}

void Stream::synchronize() const {
  require_available("cuda::Stream::synchronize");
  DeviceGuard guard(device_);
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(handle_)), "cuda::Stream::synchronize");
}

bool Stream::query() const {
  require_available("cuda::Stream::query");
  DeviceGuard guard(device_);
  const cudaError_t status = cudaStreamQuery(static_cast<cudaStream_t>(handle_));
  if (status == cudaErrorNotReady) {
    cudaGetLastError();  // "not ready" is an answer, not an error
    return false;
  }
  check(status, "cuda::Stream::query");
  return true;
}

StreamGuard::StreamGuard(const Stream& stream)
    : previous_(std::make_unique<Stream>(current_stream(stream.device()))) {
  set_current_stream(stream);
}

StreamGuard::~StreamGuard() {
  try {
    set_current_stream(*previous_);
  } catch (const Error&) {
    // Only fails if CUDA became unusable; the guard cannot report it from a destructor.
  }
}

namespace {

cudaEvent_t event_handle(const std::shared_ptr<void>& event) { return static_cast<cudaEvent_t>(event.get()); }

}  // namespace

void Event::record() {
  require_available("cuda::Event::record");
  record(current_stream());
}

void Event::record(const Stream& stream) {
  require_available("cuda::Event::record");
  DeviceGuard guard(stream.device());
  if (!event_) {
    cudaEvent_t event = nullptr;
    check(cudaEventCreateWithFlags(&event, enable_timing_ ? cudaEventDefault : cudaEventDisableTiming),
          "cuda::Event::record: cudaEventCreateWithFlags");
    event_ = std::shared_ptr<void>(static_cast<void*>(event),
                                   [](void* handle) { cudaEventDestroy(static_cast<cudaEvent_t>(handle)); });
    device_ = stream.device();
  }
  EMBER_CHECK(device_ == stream.device(), "cuda::Event::record: the event belongs to cuda:{}, the stream to cuda:{}",
              device_, stream.device());
  check(cudaEventRecord(event_handle(event_), static_cast<cudaStream_t>(stream.handle())), "cuda::Event::record");
}

void Event::wait() const {
  require_available("cuda::Event::wait");
  wait(current_stream());
}

void Event::wait(const Stream& stream) const {
  require_available("cuda::Event::wait");
  if (!event_) return;
  DeviceGuard guard(stream.device());
  check(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream.handle()), event_handle(event_), 0),
        "cuda::Event::wait");
}

void Event::synchronize() const {
  require_available("cuda::Event::synchronize");
  if (!event_) return;
  check(cudaEventSynchronize(event_handle(event_)), "cuda::Event::synchronize");
}

bool Event::query() const {
  require_available("cuda::Event::query");
  if (!event_) return true;
  const cudaError_t status = cudaEventQuery(event_handle(event_));
  if (status == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  check(status, "cuda::Event::query");
  return true;
}

float Event::elapsed_time(const Event& end) const {
  require_available("cuda::Event::elapsed_time");
  EMBER_CHECK(event_ && end.event_, "cuda::Event::elapsed_time: both events must be recorded first");
  EMBER_CHECK(enable_timing_ && end.enable_timing_,
              "cuda::Event::elapsed_time: both events must be created with enable_timing = true");
  float milliseconds = 0.0f;
  check(cudaEventElapsedTime(&milliseconds, event_handle(event_), event_handle(end.event_)),
        "cuda::Event::elapsed_time");
  return milliseconds;
}

void device_synchronize() {
  require_available("cuda::device_synchronize");
  check(cudaDeviceSynchronize(), "cuda::device_synchronize");
}

void set_device(int device) {
  check_device_index(device, "cuda::set_device");
  check(cudaSetDevice(device), "cuda::set_device");
}

int current_device() { return resolve_device(-1, "cuda::current_device"); }

}  // namespace ember::cuda

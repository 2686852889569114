#include "cuda/runtime.h"

#include <mutex>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "ember/tensor/cuda.h"

namespace ember {
namespace {

struct Availability {
  int device_count = 0;
  std::string reason;  // empty when usable
};

// Asked once: the answer does not change while the process runs.
const Availability& availability() {
  static const Availability value = [] {
    Availability result;
    const cudaError_t status = cudaGetDeviceCount(&result.device_count);
    if (status != cudaSuccess) {
      cudaGetLastError();  // not sticky: clear it so later calls do not report it
      result.device_count = 0;
      result.reason = fmt::format("no CUDA device: {} ({})", cudaGetErrorString(status), cudaGetErrorName(status));
    } else if (result.device_count == 0) {
      result.reason = "no CUDA device: cudaGetDeviceCount found none";
    }
    return result;
  }();
  return value;
}

}  // namespace

bool cuda_is_available() { return availability().device_count > 0; }
int cuda_device_count() { return availability().device_count; }
std::string cuda_unavailable_reason() { return availability().reason; }

namespace cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  fail("{}: {} ({})", what, cudaGetErrorString(status), cudaGetErrorName(status));
}

void check(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail("{}: cuBLAS failed: {} ({})", what, cublasGetStatusString(status), static_cast<int>(status));
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

void require_available(const char* op) {
  EMBER_CHECK(cuda_is_available(), "{}: CUDA is not available: {}", op, cuda_unavailable_reason());
}

void check_device_index(int device, const char* op) {
  require_available(op);
  EMBER_CHECK(device >= 0 && device < cuda_device_count(), "{}: invalid CUDA device index {} ({} device(s) present)",
              op, device, cuda_device_count());
}

int resolve_device(int device, const char* op) {
  require_available(op);
  if (device == -1) {
    check(cudaGetDevice(&device), op);
    return device;
  }
  check_device_index(device, op);
  return device;
}

DeviceGuard::DeviceGuard(int device) {
  int current = 0;
  check(cudaGetDevice(&current), "cudaGetDevice");
  if (current != device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    previous_ = current;
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

// ---- current streams ----

namespace {

// Per thread, per device; an empty slot means the default stream. Holding the Stream keeps a
// created stream alive while it is current.
thread_local std::vector<Stream> current_streams;

Stream* current_slot(int device) {
  return device < static_cast<int>(current_streams.size()) && !current_streams[device].is_default()
             ? &current_streams[device]
             : nullptr;
}

}  // namespace

cudaStream_t current_stream_handle(int device) {
  const Stream* stream = current_slot(device);
  return stream == nullptr ? nullptr : static_cast<cudaStream_t>(stream->handle());
}

Stream current_stream(int device) {
  device = resolve_device(device, "cuda::current_stream");
  const Stream* stream = current_slot(device);
  return stream == nullptr ? Stream::default_stream(device) : *stream;
}

void set_current_stream(const Stream& stream) {
  check_device_index(stream.device(), "cuda::set_current_stream");
  if (static_cast<int>(current_streams.size()) <= stream.device()) {
    for (int device = static_cast<int>(current_streams.size()); device <= stream.device(); ++device) {
      current_streams.push_back(Stream::default_stream(device));
    }
  }
  current_streams[stream.device()] = stream;
}

// ---- cuBLAS handles ----

namespace {

// Handles are expensive to create and not meant for concurrent use from several threads, so
// each thread owns one per device and hands it back to this pool when it exits. Never
// destroyed: destroying handles during program exit races the runtime's own teardown.
struct HandlePool {
  std::mutex mutex;
  std::vector<std::vector<cublasHandle_t>> free_by_device;
};

HandlePool& handle_pool() {
  static HandlePool* pool = new HandlePool;
  return *pool;
}

struct ThreadHandles {
  std::vector<cublasHandle_t> by_device;
  ~ThreadHandles() {
    HandlePool& pool = handle_pool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    for (size_t device = 0; device < by_device.size(); ++device) {
      if (by_device[device] == nullptr) continue;
      if (pool.free_by_device.size() <= device) pool.free_by_device.resize(device + 1);
      pool.free_by_device[device].push_back(by_device[device]);
    }
  }
};

thread_local ThreadHandles thread_handles;

}  // namespace

cublasHandle_t blas_handle(int device, cudaStream_t stream) {
  std::vector<cublasHandle_t>& handles = thread_handles.by_device;
  if (static_cast<int>(handles.size()) <= device) handles.resize(device + 1, nullptr);
  if (handles[device] == nullptr) {
    {
      HandlePool& pool = handle_pool();
      std::lock_guard<std::mutex> lock(pool.mutex);
      if (device < static_cast<int>(pool.free_by_device.size()) && !pool.free_by_device[device].empty()) {
        handles[device] = pool.free_by_device[device].back();
        pool.free_by_device[device].pop_back();
      }
    }
    if (handles[device] == nullptr) {
      DeviceGuard guard(device);
      check(cublasCreate(&handles[device]), "gemm: cublasCreate");
    }
  }
  check(cublasSetStream(handles[device], stream), "gemm: cublasSetStream");
  return handles[device];
}

// ---- backends ----

CudaBackend::CudaBackend(int device) : device_(device), allocator_(&device_allocator(device)) {}

CudaBackend& backend_for(int index) {
  if (index < 0 || index >= cuda_device_count()) check_device_index(index, fmt::format("cuda:{}", index).c_str());
  // Made for every device at once on first use; never destroyed (see device_allocator).
  static const std::vector<CudaBackend*> backends = [] {
    std::vector<CudaBackend*> all;
    for (int device = 0; device < cuda_device_count(); ++device) all.push_back(new CudaBackend(device));
    return all;
  }();
  return *backends[index];
}

}  // namespace cuda
}  // namespace ember

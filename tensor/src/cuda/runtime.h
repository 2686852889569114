#pragma once
// The CUDA runtime as the backend uses it: errors turned into ember::Error, a guard that makes
// a device current for a scope, the calling thread's current stream per device, and cuBLAS
// handles. Host code only; included by the .cpp and .cu files of cuda/.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "ember/tensor/error.h"

namespace ember::cuda {

// Throws ember::Error "{what}: {CUDA's message}" unless status is cudaSuccess.
void check(cudaError_t status, const char* what);
void check(cublasStatus_t status, const char* what);
// After a kernel launch: reports a bad launch configuration or an earlier asynchronous fault.
void check_launch(const char* what);

// Throws, naming `op` and cuda_unavailable_reason(), unless CUDA can be used.
void require_available(const char* op);
// Throws unless 0 <= device < cuda_device_count().
void check_device_index(int device, const char* op);
// `device`, or the current device when it is -1.
int resolve_device(int device, const char* op);

// Makes `device` current until the end of the scope (no runtime call when it already is).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The calling thread's current stream for `device` (nullptr: the legacy default stream).
cudaStream_t current_stream_handle(int device);

// A cuBLAS handle for the current device, owned by the calling thread and bound to `stream`.
cublasHandle_t blas_handle(int device, cudaStream_t stream);

}  // namespace ember::cuda

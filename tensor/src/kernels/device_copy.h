#pragma once
// Moving bytes between host and device memory; implemented by the CUDA backend.
#include "ember/tensor/tensor.h"

namespace ember::kernels {

// destination and source: contiguous, same dtype and element count, on different devices.
void copy_between_devices(const Tensor& destination, const Tensor& source, bool non_blocking);

}  // namespace ember::kernels

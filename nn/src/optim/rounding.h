#pragma once
// PyTorch computes learning rates and step sizes in Python, where `a * b + c` rounds the product
// before the sum. GCC contracts such expressions into one fused multiply-add when the target has
// FMA (-march=native), which rounds once and can differ in the last bit; a schedule that is
// stepped recursively then drifts from PyTorch's. Passing the product through `rounded` keeps
// Python's two roundings.
namespace ember::optim {

inline double rounded(double value) {
  volatile double stored = value;
  return stored;
}

}  // namespace ember::optim

#pragma once
// How an elementwise kernel walks its operands. Built once on the host from tensors whose
// shapes already broadcast to the output's, then read by the CPU loop or passed by value to a
// CUDA kernel. Dims are stored innermost first and merged where memory allows.
#include <cstdint>
#include <initializer_list>

#include "ember/tensor/tensor.h"

namespace ember::kernels {

inline constexpr int kMaxDims = 16;
inline constexpr int kMaxOperands = 4;

// Arrays are filled only up to ndim and num_operands: no zero-initialisation on the hot path.
struct ElementwisePlan {
  int ndim = 0;
  int num_operands = 0;  // operand 0 is the output
  int64_t numel = 0;
  int64_t sizes[kMaxDims];
  int64_t byte_strides[kMaxOperands][kMaxDims];
  char* data[kMaxOperands];
  DType dtypes[kMaxOperands];
  // A 0-dim CPU operand (a C++ number wrapped as a tensor) of a CUDA op: the CUDA backend
  // passes its value to the kernel by value.
  bool on_host[kMaxOperands] = {};
  Device device;

  // Every operand dense along one merged dim with its own element size (or stride 0 for
  // broadcast scalars): the loops take their fastest path.
  bool is_flat() const { return ndim <= 1; }
};

// operands[0] is the output; inputs must broadcast to its shape (the caller has checked).
ElementwisePlan make_elementwise_plan(std::initializer_list<const Tensor*> operands);

// Reduction over some dims of `input`. `output` has input's rank with reduced dims of size 1.
struct ReducePlan {
  ElementwisePlan outer;   // operands {output, input}: iterates the kept dims (reduced dims have size 1)
  int reduced_ndim = 0;    // reduced dims, innermost first, merged where possible
  int64_t reduced_sizes[kMaxDims] = {};
  int64_t reduced_byte_strides[kMaxDims] = {};
  int64_t reduced_numel = 1;
};

ReducePlan make_reduce_plan(const Tensor& output, const Tensor& input);

}  // namespace ember::kernels

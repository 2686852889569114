#pragma once
// Shared by the elementwise front ends: promotion, broadcasting and launching a plan.
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "kernels/backend.h"

namespace ember::ops {

// A C++ number as a 0-dim CPU tensor of `dtype`, flagged so it promotes like PyTorch's wrapped numbers.
Tensor wrap_scalar(const Scalar& value, DType dtype, const char* op);

// The device an op runs on: the first operand that is not a 0-dim CPU tensor decides.
Device common_device(std::initializer_list<const Tensor*> operands, const char* op);

// The output of an op of `shape` and `dtype`: `out` when given (checked), else a new tensor.
Tensor prepare_output(const Tensor* out, IntArrayRef shape, DType dtype, Device device, const char* op);

// Converts to dtype, keeping wrapped scalars wrapped, and expands to shape.
Tensor as_operand(const Tensor& tensor, DType dtype, IntArrayRef shape);

// Runs op over inputs already in compute dtype, writing `output` (converting if its dtype differs).
void launch_binary(kernels::BinaryOp op, const kernels::OpParams& params, const Tensor& output, const Tensor& a,
                   const Tensor& b);

}  // namespace ember::ops

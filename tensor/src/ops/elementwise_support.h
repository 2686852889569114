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

// ---- internal copies: no autograd checks, nothing recorded (defined in tensor.cpp) ----

// Writes source (broadcast to destination's shape, converted to its dtype and device) into
// destination's elements and bumps its version: copy_ without autograd.
void copy_values(const Tensor& destination, const Tensor& source, bool non_blocking = false);
// `tensor` itself when it has `dtype` already, else a converted copy: to(dtype) without autograd.
Tensor convert(const Tensor& tensor, DType dtype);
// A contiguous copy: clone() without autograd (in-place ops keep the value they overwrite).
Tensor clone_values(const Tensor& tensor);

// ---- in-place ops and autograd (defined in elementwise.cpp) ----

// Called by every in-place op before it writes `self`: with grad mode on, refuses what PyTorch
// refuses (a leaf that requires grad) and what Ember cannot record (a view taking part in
// autograd: PyTorch rebases the view's history, Ember does not). True when the op must record a
// node, whose inputs are self's previous history and the operands.
bool check_inplace(const Tensor& self, std::initializer_list<const Tensor*> operands, const char* op);

}  // namespace ember::ops

#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_. Parameters without
// a gradient are skipped; the gradients are changed in place.
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember::nn {

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
// norm_type-norm of all gradients together (as if concatenated); norm_type may be any positive
// number or infinity. Returns total_norm. A non-finite total norm scales the gradients to NaN,
// as in PyTorch, or throws when error_if_nonfinite.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element to [-clip_value, clip_value]; clip_value must be >= 0.
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);
void clip_grad_value_(const Tensor& parameter, double clip_value);

}  // namespace ember::nn

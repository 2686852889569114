#pragma once
// Convolution and pooling with torch.nn.functional's semantics and argument order. Inputs are
// batched [N, C, ...] or unbatched [C, ...]; every spatial parameter takes one value for all
// spatial dims or one per dim. Floating dtypes only. Each op records its gradient (input, weight
// and bias, whichever are required).
//
// Convolutions unfold the input (im2col) and multiply by the weight with the device's GEMM;
// the gradients fold back (col2im). See ops/convolution.cpp for the shapes.
#include <optional>
#include <utility>

#include "ember/tensor/tensor.h"

namespace ember {

// input [N, C_in, L] or [C_in, L]; weight [C_out, C_in / groups, kernel]; bias [C_out] or undefined.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArrayRef stride = 1,
              IntArrayRef padding = 0, IntArrayRef dilation = 1, int64_t groups = 1);

// input [N, C_in, H, W] or [C_in, H, W]; weight [C_out, C_in / groups, kH, kW]; bias [C_out].
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArrayRef stride = 1,
              IntArrayRef padding = 0, IntArrayRef dilation = 1, int64_t groups = 1);

// The gradient of conv2d with respect to its input, as a layer. weight [C_in, C_out / groups,
// kH, kW]; output size (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArrayRef stride = 1,
                        IntArrayRef padding = 0, IntArrayRef output_padding = 0, int64_t groups = 1,
                        IntArrayRef dilation = 1);

// stride defaults (when empty) to kernel_size. Padding is at most half the kernel; padded
// positions never win. With ceil_mode the last window may hang over the edge but must start
// inside the input or its left padding.
Tensor max_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {}, IntArrayRef padding = 0,
                  IntArrayRef dilation = 1, bool ceil_mode = false);
// {values, indices}: indices (int64) are flat positions in each input H * W plane.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArrayRef kernel_size,
                                                  IntArrayRef stride = {}, IntArrayRef padding = 0,
                                                  IntArrayRef dilation = 1, bool ceil_mode = false);

Tensor avg_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {}, IntArrayRef padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

// Output cell (i, j) averages input rows [floor(i * H / oH), ceil((i + 1) * H / oH)) and the
// columns likewise, for any input size.
Tensor adaptive_avg_pool2d(const Tensor& input, IntArrayRef output_size);

}  // namespace ember

#pragma once
// The index arithmetic of im2col and col2im, shared verbatim by the CPU loops (cpu/im2col.cpp)
// and the CUDA kernels (cuda/im2col.cu), so that CPU tests exercise what the GPU runs.
//
// One image [channels, input_height, input_width] unfolds into a column matrix
// [channels * kernel_height * kernel_width, output_height * output_width]: row (c, i, j), column
// (oh, ow) holds image[c, oh * stride_height - pad_height + i * dilation_height,
//                        ow * stride_width - pad_width + j * dilation_width],
// or zero where that position lies in the padding. Several images sit side by side: row r of
// image n starts at r * row_stride + n * column_cols, so one GEMM covers them all.
// col2im is the adjoint: each image element becomes the sum of the column entries that read it,
// added in row order (so the CPU's row-by-row scatter and the per-element gather below produce
// the same bits).
#include <cstdint>

#include "ember/tensor/dtype.h"
#include "ember/tensor/macros.h"
#include "kernels/element.h"

namespace ember::kernels {

struct UnfoldGeometry {
  int64_t channels = 0;
  int64_t input_height = 0, input_width = 0;
  int64_t output_height = 0, output_width = 0;
  int64_t kernel_height = 1, kernel_width = 1;
  int64_t pad_height = 0, pad_width = 0;
  int64_t stride_height = 1, stride_width = 1;
  int64_t dilation_height = 1, dilation_width = 1;

  EMBER_INLINE int64_t image_numel() const { return channels * input_height * input_width; }
  EMBER_INLINE int64_t column_rows() const { return channels * kernel_height * kernel_width; }
  EMBER_INLINE int64_t column_cols() const { return output_height * output_width; }
  EMBER_INLINE int64_t columns_numel() const { return column_rows() * column_cols(); }
};

struct IndexRange {
  int64_t begin = 0, end = 0;
};

// Along one dim: the outputs o in [0, output_size) whose kernel tap `tap` reads inside the input,
// that is 0 <= o * stride - pad + tap * dilation < input_size. Outside it, the column holds zeros.
EMBER_INLINE IndexRange valid_outputs(int64_t input_size, int64_t output_size, int64_t pad, int64_t stride,
                                      int64_t dilation, int64_t tap) {
  const int64_t first_input = tap * dilation - pad;  // read by output 0
  int64_t begin = first_input >= 0 ? 0 : (-first_input + stride - 1) / stride;
  int64_t end = input_size - first_input <= 0 ? 0 : (input_size - first_input + stride - 1) / stride;
  if (begin > output_size) begin = output_size;
  if (end > output_size) end = output_size;
  if (end < begin) end = begin;
  return {begin, end};
}

// Element `linear` of one image's columns, counted row-major over [column_rows, column_cols].
template <class T>
EMBER_INLINE T im2col_element(const UnfoldGeometry& geometry, const T* image, int64_t linear) {
  const int64_t cols = geometry.column_cols();
  const int64_t row = linear / cols, position = linear - row * cols;
  const int64_t output_row = position / geometry.output_width;
  const int64_t output_col = position - output_row * geometry.output_width;
  const int64_t tap_col = row % geometry.kernel_width;
  const int64_t tap_row = (row / geometry.kernel_width) % geometry.kernel_height;
  const int64_t channel = row / (geometry.kernel_width * geometry.kernel_height);
  const int64_t input_row = output_row * geometry.stride_height - geometry.pad_height + tap_row * geometry.dilation_height;
  const int64_t input_col = output_col * geometry.stride_width - geometry.pad_width + tap_col * geometry.dilation_width;
  const bool inside =
      input_row >= 0 && input_row < geometry.input_height && input_col >= 0 && input_col < geometry.input_width;
  return inside ? image[(channel * geometry.input_height + input_row) * geometry.input_width + input_col]
                : convert<T>(0.0f);
}

// Image element `linear` (row-major over [channels, input_height, input_width]) folded back
// from one image's columns (rows `row_stride` apart): the sum, in the compute type, of every
// column entry that reads it.
template <class T>
EMBER_INLINE compute_t<T> col2im_element(const UnfoldGeometry& geometry, const T* columns, int64_t row_stride,
                                         int64_t linear) {
  using C = compute_t<T>;
  const int64_t plane = geometry.input_height * geometry.input_width;
  const int64_t channel = linear / plane;
  const int64_t input_row = (linear - channel * plane) / geometry.input_width;
  const int64_t input_col = linear - channel * plane - input_row * geometry.input_width;
  C sum = C(0);
  for (int64_t tap_row = 0; tap_row < geometry.kernel_height; ++tap_row) {
    const int64_t row_offset = input_row + geometry.pad_height - tap_row * geometry.dilation_height;
    if (row_offset < 0) break;  // larger taps land further above the image
    if (row_offset % geometry.stride_height != 0) continue;
    const int64_t output_row = row_offset / geometry.stride_height;
    if (output_row >= geometry.output_height) continue;
    for (int64_t tap_col = 0; tap_col < geometry.kernel_width; ++tap_col) {
      const int64_t col_offset = input_col + geometry.pad_width - tap_col * geometry.dilation_width;
      if (col_offset < 0) break;
      if (col_offset % geometry.stride_width != 0) continue;
      const int64_t output_col = col_offset / geometry.stride_width;
      if (output_col >= geometry.output_width) continue;
      const int64_t row = (channel * geometry.kernel_height + tap_row) * geometry.kernel_width + tap_col;
      sum += static_cast<C>(columns[row * row_stride + output_row * geometry.output_width + output_col]);
    }
  }
  return sum;
}

}  // namespace ember::kernels

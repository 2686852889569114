#pragma once
// The windows of 2-D max, average and adaptive average pooling, as functions of one output (the
// forwards) or one input element (the gradients, gathered over the outputs whose windows hold
// it). Shared verbatim by the CPU (cpu/pooling.cpp) and the CUDA kernels (cuda/pooling.cu), so
// CPU tests exercise what the GPU runs. Every function sees one contiguous plane.
//
// A gathered gradient adds its terms in output order, the order in which a scatter over the
// outputs would add them, so both ways of computing it give the same bits.
#include <cstdint>

#include "ember/tensor/dtype.h"
#include "ember/tensor/macros.h"
#include "kernels/element.h"

namespace ember::kernels {

struct PoolWindow {
  int64_t input_height = 0, input_width = 0;
  int64_t output_height = 0, output_width = 0;
  int64_t kernel_height = 1, kernel_width = 1;
  int64_t stride_height = 1, stride_width = 1;
  int64_t pad_height = 0, pad_width = 0;
  int64_t dilation_height = 1, dilation_width = 1;
  bool count_include_pad = true;  // average pooling
  int64_t divisor_override = 0;   // average pooling; 0 means none

  EMBER_INLINE int64_t input_plane() const { return input_height * input_width; }
  EMBER_INLINE int64_t output_plane() const { return output_height * output_width; }
};

struct WindowRange {
  int64_t begin = 0, end = 0;
};

EMBER_INLINE int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }

// ceil(numerator / denominator) for a positive denominator, or 0 when numerator <= 0.
EMBER_INLINE int64_t ceil_div_at_least_zero(int64_t numerator, int64_t denominator) {
  return numerator <= 0 ? 0 : (numerator + denominator - 1) / denominator;
}

// The outputs along one dim whose window [o * stride - pad, o * stride - pad + span) holds input
// position `input` (span is the window's extent, dilated for max pooling).
EMBER_INLINE WindowRange covering_outputs(int64_t input, int64_t output_size, int64_t pad, int64_t stride,
                                          int64_t span) {
  const int64_t begin = ceil_div_at_least_zero(input + pad - span + 1, stride);
  int64_t end = (input + pad) / stride + 1;
  if (end > output_size) end = output_size;
  return {begin, end < begin ? begin : end};
}

// ---- max pooling ----

// Output `position` of one plane: the window's maximum and its flat index into the plane. nan
// wins (the last one seen), and the index starts at the window's first element in the input.
template <class T>
EMBER_INLINE void max_pool_element(const PoolWindow& window, const T* input, int64_t position, T* value,
                                   int64_t* index) {
  using C = compute_t<T>;
  const int64_t output_row = position / window.output_width, output_col = position % window.output_width;
  int64_t row_begin = output_row * window.stride_height - window.pad_height;
  int64_t col_begin = output_col * window.stride_width - window.pad_width;
  const int64_t row_end = min_of(row_begin + (window.kernel_height - 1) * window.dilation_height + 1,
                                 window.input_height);
  const int64_t col_end = min_of(col_begin + (window.kernel_width - 1) * window.dilation_width + 1,
                                 window.input_width);
  if (row_begin < 0) row_begin += ceil_div_at_least_zero(-row_begin, window.dilation_height) * window.dilation_height;
  if (col_begin < 0) col_begin += ceil_div_at_least_zero(-col_begin, window.dilation_width) * window.dilation_width;
  C best = lowest_value<C>();
  int64_t best_index = row_begin * window.input_width + col_begin;
  for (int64_t row = row_begin; row < row_end; row += window.dilation_height) {
    for (int64_t col = col_begin; col < col_end; col += window.dilation_width) {
      const int64_t flat = row * window.input_width + col;
      const C candidate = static_cast<C>(input[flat]);
      // Selects rather than branches: on data the comparison is a coin toss.
      const bool take = candidate > best || candidate != candidate;
      best = take ? candidate : best;
      best_index = take ? flat : best_index;
    }
  }
  *value = convert<T>(best);
  *index = best_index;
}

// Input element `linear` of one plane: the sum of the output gradients whose recorded index is it.
template <class T>
EMBER_INLINE compute_t<T> max_pool_backward_element(const PoolWindow& window, const T* grad_output,
                                                    const int64_t* indices, int64_t linear) {
  using C = compute_t<T>;
  const int64_t input_row = linear / window.input_width, input_col = linear % window.input_width;
  const WindowRange rows = covering_outputs(input_row, window.output_height, window.pad_height, window.stride_height,
                                            (window.kernel_height - 1) * window.dilation_height + 1);
  const WindowRange cols = covering_outputs(input_col, window.output_width, window.pad_width, window.stride_width,
                                            (window.kernel_width - 1) * window.dilation_width + 1);
  C sum = C(0);
  for (int64_t row = rows.begin; row < rows.end; ++row) {
    for (int64_t col = cols.begin; col < cols.end; ++col) {
      const int64_t output = row * window.output_width + col;
      if (indices[output] == linear) sum += static_cast<C>(grad_output[output]);
    }
  }
  return sum;
}

// ---- average pooling ----

// The part of an output's window inside the input, and what its sum is divided by.
struct AverageWindow {
  int64_t row_begin, row_end, col_begin, col_end, divisor;
};

EMBER_INLINE AverageWindow average_window(const PoolWindow& window, int64_t output_row, int64_t output_col) {
  int64_t row_begin = output_row * window.stride_height - window.pad_height;
  int64_t col_begin = output_col * window.stride_width - window.pad_width;
  // The window may reach into the padding, never past it (ceil_mode's last window is cut there).
  int64_t row_end = min_of(row_begin + window.kernel_height, window.input_height + window.pad_height);
  int64_t col_end = min_of(col_begin + window.kernel_width, window.input_width + window.pad_width);
  const int64_t padded_size = (row_end - row_begin) * (col_end - col_begin);
  row_begin = row_begin < 0 ? 0 : row_begin;
  col_begin = col_begin < 0 ? 0 : col_begin;
  row_end = min_of(row_end, window.input_height);
  col_end = min_of(col_end, window.input_width);
  int64_t divisor = window.divisor_override;
  if (divisor == 0) divisor = window.count_include_pad ? padded_size : (row_end - row_begin) * (col_end - col_begin);
  return {row_begin, row_end, col_begin, col_end, divisor};
}

template <class T>
EMBER_INLINE T avg_pool_element(const PoolWindow& window, const T* input, int64_t position) {
  using C = compute_t<T>;
  const AverageWindow area = average_window(window, position / window.output_width, position % window.output_width);
  if (area.row_begin >= area.row_end || area.col_begin >= area.col_end) return convert<T>(0.0f);
  C sum = C(0);
  for (int64_t row = area.row_begin; row < area.row_end; ++row) {
    for (int64_t col = area.col_begin; col < area.col_end; ++col) sum += static_cast<C>(input[row * window.input_width + col]);
  }
  return convert<T>(sum / static_cast<C>(area.divisor));
}

template <class T>
EMBER_INLINE compute_t<T> avg_pool_backward_element(const PoolWindow& window, const T* grad_output, int64_t linear) {
  using C = compute_t<T>;
  const int64_t input_row = linear / window.input_width, input_col = linear % window.input_width;
  const WindowRange rows =
      covering_outputs(input_row, window.output_height, window.pad_height, window.stride_height, window.kernel_height);
  const WindowRange cols =
      covering_outputs(input_col, window.output_width, window.pad_width, window.stride_width, window.kernel_width);
  C sum = C(0);
  for (int64_t row = rows.begin; row < rows.end; ++row) {
    for (int64_t col = cols.begin; col < cols.end; ++col) {
      const AverageWindow area = average_window(window, row, col);
      sum += static_cast<C>(grad_output[row * window.output_width + col]) / static_cast<C>(area.divisor);
    }
  }
  return sum;
}

// ---- adaptive average pooling ----

// Output o of `outputs` covers inputs [floor(o * inputs / outputs), ceil((o + 1) * inputs / outputs)).
EMBER_INLINE WindowRange adaptive_bin(int64_t output, int64_t outputs, int64_t inputs) {
  return {output * inputs / outputs, ((output + 1) * inputs + outputs - 1) / outputs};
}

// The outputs whose bins hold input `input`: o with floor(o * inputs / outputs) <= input and
// ceil((o + 1) * inputs / outputs) > input, which solve to the range below.
EMBER_INLINE WindowRange adaptive_covering_outputs(int64_t input, int64_t outputs, int64_t inputs) {
  return {input * outputs / inputs, ((input + 1) * outputs + inputs - 1) / inputs};
}

template <class T>
EMBER_INLINE T adaptive_avg_pool_element(const PoolWindow& window, const T* input, int64_t position) {
  using C = compute_t<T>;
  const WindowRange rows = adaptive_bin(position / window.output_width, window.output_height, window.input_height);
  const WindowRange cols = adaptive_bin(position % window.output_width, window.output_width, window.input_width);
  C sum = C(0);
  for (int64_t row = rows.begin; row < rows.end; ++row) {
    for (int64_t col = cols.begin; col < cols.end; ++col) sum += static_cast<C>(input[row * window.input_width + col]);
  }
  return convert<T>(sum / static_cast<C>((rows.end - rows.begin) * (cols.end - cols.begin)));
}

template <class T>
EMBER_INLINE compute_t<T> adaptive_avg_pool_backward_element(const PoolWindow& window, const T* grad_output,
                                                             int64_t linear) {
  using C = compute_t<T>;
  const int64_t input_row = linear / window.input_width, input_col = linear % window.input_width;
  const WindowRange rows = adaptive_covering_outputs(input_row, window.output_height, window.input_height);
  const WindowRange cols = adaptive_covering_outputs(input_col, window.output_width, window.input_width);
  C sum = C(0);
  for (int64_t row = rows.begin; row < rows.end; ++row) {
    const WindowRange bin_rows = adaptive_bin(row, window.output_height, window.input_height);
    for (int64_t col = cols.begin; col < cols.end; ++col) {
      const WindowRange bin_cols = adaptive_bin(col, window.output_width, window.input_width);
      const int64_t count = (bin_rows.end - bin_rows.begin) * (bin_cols.end - bin_cols.begin);
      sum += static_cast<C>(grad_output[row * window.output_width + col]) / static_cast<C>(count);
    }
  }
  return sum;
}

}  // namespace ember::kernels

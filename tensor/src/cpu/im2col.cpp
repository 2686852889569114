// im2col and col2im on the CPU, row by row over the columns: for each kernel tap the shared
// valid_outputs (kernels/im2col_element.h) gives the outputs that read inside the image once, so
// a column row is zeros plus contiguous copies at stride 1 (strided ones otherwise), with no
// per-element bounds tests. Threads split (image, channel) pairs; a pair owns its
// kernel_height * kernel_width column rows and its image plane, so no two threads write one
// element, and col2im adds each plane's terms in row order as col2im_element does.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"

namespace ember::cpu {

using kernels::IndexRange;
using kernels::UnfoldArgs;
using kernels::UnfoldGeometry;
using kernels::valid_outputs;

namespace {

// (image, channel) pairs per thread chunk, so that small unfolds stay on the calling thread.
int64_t pair_grain(const UnfoldGeometry& geometry) {
  const int64_t work = std::max<int64_t>(1, geometry.kernel_height * geometry.kernel_width * geometry.column_cols());
  return std::max<int64_t>(1, kElementwiseGrain / work);
}

template <class T>
void zero(T* begin, int64_t count) {
  if (count > 0) std::memset(static_cast<void*>(begin), 0, static_cast<size_t>(count) * sizeof(T));
}

// One channel's plane [input_height, input_width] into its column rows (taps of them,
// `row_stride` apart, column_cols long).
template <class T>
void unfold_channel(const UnfoldGeometry& geometry, const T* plane, T* rows, int64_t row_stride) {
  const int64_t width = geometry.input_width, output_width = geometry.output_width;
  const int64_t cols = geometry.column_cols();
  for (int64_t tap_row = 0; tap_row < geometry.kernel_height; ++tap_row) {
    const IndexRange output_rows = valid_outputs(geometry.input_height, geometry.output_height, geometry.pad_height,
                                                 geometry.stride_height, geometry.dilation_height, tap_row);
    for (int64_t tap_col = 0; tap_col < geometry.kernel_width; ++tap_col) {
      const IndexRange output_cols = valid_outputs(width, output_width, geometry.pad_width, geometry.stride_width,
                                                   geometry.dilation_width, tap_col);
      T* row = rows + (tap_row * geometry.kernel_width + tap_col) * row_stride;
      const int64_t col_shift = tap_col * geometry.dilation_width - geometry.pad_width;
      // A tap that reads padding anywhere zeroes its whole row once, then copies the valid
      // parts: cheaper than many tiny fills at the edges of each output row.
      const bool reads_padding = output_rows.begin > 0 || output_rows.end < geometry.output_height ||
                                 output_cols.begin > 0 || output_cols.end < output_width;
      if (reads_padding) zero(row, cols);
      for (int64_t output_row = output_rows.begin; output_row < output_rows.end; ++output_row) {
        T* out = row + output_row * output_width;
        const int64_t input_row =
            output_row * geometry.stride_height - geometry.pad_height + tap_row * geometry.dilation_height;
        const T* in = plane + input_row * width + col_shift;
        if (geometry.stride_width == 1) {
          std::memcpy(static_cast<void*>(out + output_cols.begin), in + output_cols.begin,
                      static_cast<size_t>(output_cols.end - output_cols.begin) * sizeof(T));
        } else {
          for (int64_t col = output_cols.begin; col < output_cols.end; ++col) out[col] = in[col * geometry.stride_width];
        }
      }
    }
  }
}

// Adds one channel's column rows into its plane (already zeroed), accumulating in Acc.
template <class T, class Acc>
void fold_channel(const UnfoldGeometry& geometry, const T* rows, int64_t row_stride, Acc* plane) {
  const int64_t width = geometry.input_width, output_width = geometry.output_width;
  for (int64_t tap_row = 0; tap_row < geometry.kernel_height; ++tap_row) {
    const IndexRange output_rows = valid_outputs(geometry.input_height, geometry.output_height, geometry.pad_height,
                                                 geometry.stride_height, geometry.dilation_height, tap_row);
    for (int64_t tap_col = 0; tap_col < geometry.kernel_width; ++tap_col) {
      const IndexRange output_cols = valid_outputs(width, output_width, geometry.pad_width, geometry.stride_width,
                                                   geometry.dilation_width, tap_col);
      const T* row = rows + (tap_row * geometry.kernel_width + tap_col) * row_stride;
      const int64_t col_shift = tap_col * geometry.dilation_width - geometry.pad_width;
      for (int64_t output_row = output_rows.begin; output_row < output_rows.end; ++output_row) {
        const T* in = row + output_row * output_width;
        const int64_t input_row =
            output_row * geometry.stride_height - geometry.pad_height + tap_row * geometry.dilation_height;
        Acc* out = plane + input_row * width + col_shift;
        if (geometry.stride_width == 1) {
          for (int64_t col = output_cols.begin; col < output_cols.end; ++col) out[col] += static_cast<Acc>(in[col]);
        } else {
          for (int64_t col = output_cols.begin; col < output_cols.end; ++col) {
            out[col * geometry.stride_width] += static_cast<Acc>(in[col]);
          }
        }
      }
    }
  }
}

// Calls body(image_plane, first_column_row) for every (image, channel) pair, split across threads.
template <class T, class Body>
void for_each_channel(const UnfoldArgs& args, const Body& body) {
  const UnfoldGeometry& geometry = args.geometry;
  const int64_t channels = geometry.channels;
  const int64_t plane = geometry.input_height * geometry.input_width;
  const int64_t row_stride = args.images * geometry.column_cols();
  const int64_t rows_per_channel = geometry.kernel_height * geometry.kernel_width;
  T* image = static_cast<T*>(args.image);
  T* columns = static_cast<T*>(args.columns);
  parallel_for(args.images * channels, pair_grain(geometry), [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t index = pair / channels, channel = pair % channels;
      body(image + index * geometry.image_numel() + channel * plane,
           columns + channel * rows_per_channel * row_stride + index * geometry.column_cols());
    }
  });
}

template <class Visitor>
void visit_floating(DType dtype, const char* op, Visitor&& visitor) {
  visit_dtype(dtype, [&]<class T>(TypeTag<T> tag) {
    if constexpr (is_floating_v<T>) visitor(tag);
    else fail("{}: expected a floating dtype, got {}", op, name(dtype));
  });
}

}  // namespace

void CpuBackend::im2col(const UnfoldArgs& args) {
  if (args.images == 0 || args.geometry.columns_numel() == 0) return;
  const int64_t row_stride = args.images * args.geometry.column_cols();
  visit_floating(args.dtype, "im2col", [&]<class T>(TypeTag<T>) {
    for_each_channel<T>(args, [&](const T* plane, T* rows) { unfold_channel(args.geometry, plane, rows, row_stride); });
  });
}

void CpuBackend::col2im(const UnfoldArgs& args) {
  if (args.images == 0 || args.geometry.image_numel() == 0) return;
  const int64_t plane_size = args.geometry.input_height * args.geometry.input_width;
  const int64_t row_stride = args.images * args.geometry.column_cols();
  visit_floating(args.dtype, "col2im", [&]<class T>(TypeTag<T>) {
    for_each_channel<T>(args, [&](T* plane, const T* rows) {
      if constexpr (std::is_same_v<T, compute_t<T>>) {
        zero(plane, plane_size);
        fold_channel(args.geometry, rows, row_stride, plane);
      } else {
        // 16-bit floats: sum in float, round once, as col2im_element does.
        thread_local std::vector<float> sums;
        sums.assign(static_cast<size_t>(plane_size), 0.0f);
        fold_channel(args.geometry, rows, row_stride, sums.data());
        for (int64_t i = 0; i < plane_size; ++i) plane[i] = kernels::convert<T>(sums[static_cast<size_t>(i)]);
      }
    });
  });
}

}  // namespace ember::cpu

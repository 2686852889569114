// 2-D pooling on the CPU, plane by plane across threads. Max pooling walks each output row tap
// by tap with the outputs innermost (the loop vectorizes; a per-output window scan spends its
// time on mispredicted comparisons), visiting every window's taps in the order
// kernels::max_pool_element does and applying the same rule, so values and indices are those
// of the per-element code CUDA runs. Average pooling uses the per-element functions directly.
// The max-pooling gradient is one scatter over the outputs through the recorded indices, adding
// each input's terms in output order as the per-input gather does; the average gradients gather.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"

namespace ember::cpu {

using kernels::PoolArgs;
using kernels::PoolKind;
using kernels::PoolWindow;

namespace {

// Planes per thread chunk, from the reads a plane costs.
int64_t plane_grain(const PoolArgs& args) {
  const PoolWindow& window = args.window;
  const int64_t taps = args.kind == PoolKind::AdaptiveAverage
                           ? (window.input_height / std::max<int64_t>(window.output_height, 1) + 1) *
                                 (window.input_width / std::max<int64_t>(window.output_width, 1) + 1)
                           : window.kernel_height * window.kernel_width;
  const int64_t work = std::max<int64_t>(1, window.input_plane() + window.output_plane() * taps);
  return std::max<int64_t>(1, kElementwiseGrain / work);
}

template <class Visitor>
void visit_floating(DType dtype, const char* op, Visitor&& visitor) {
  visit_dtype(dtype, [&]<class T>(TypeTag<T> tag) {
    if constexpr (is_floating_v<T>) visitor(tag);
    else fail("{}: expected a floating dtype, got {}", op, name(dtype));
  });
}

// One kernel tap for the outputs `cols` of a row: output col reads input[shift + col * stride].
// Stride is a template argument for the common strides so that the loop vectorizes; the
// comparison uses | rather than || for the same reason.
template <int64_t Stride, class T, class C>
void max_tap(const T* __restrict input, int64_t runtime_stride, int64_t shift, kernels::IndexRange cols,
             C* __restrict best, int64_t* __restrict index) {
  const int64_t stride = Stride > 0 ? Stride : runtime_stride;
  for (int64_t col = cols.begin; col < cols.end; ++col) {
    const int64_t flat = shift + col * stride;
    const C candidate = static_cast<C>(input[flat]);
    const bool take = (candidate > best[col]) | (candidate != candidate);
    best[col] = take ? candidate : best[col];
    index[col] = take ? flat : index[col];
  }
}

// Max pooling plane by plane, with what depends only on the window worked out once: each tap's
// valid outputs along a row, each output's first column in the input, and a row of maxima.
template <class T>
class MaxPoolPlanes {
 public:
  using C = compute_t<T>;

  explicit MaxPoolPlanes(const PoolWindow& window) : window_(window) {
    for (int64_t tap = 0; tap < window.kernel_width; ++tap) {
      tap_cols_.push_back(kernels::valid_outputs(window.input_width, window.output_width, window.pad_width,
                                                 window.stride_width, window.dilation_width, tap));
    }
    for (int64_t col = 0; col < window.output_width; ++col) {
      const int64_t begin = col * window.stride_width - window.pad_width;
      first_col_.push_back(begin >= 0 ? begin
                                      : begin + kernels::ceil_div_at_least_zero(-begin, window.dilation_width) *
                                                    window.dilation_width);
    }
    best_.resize(static_cast<size_t>(window.output_width));
  }

  void operator()(const T* input, T* output, int64_t* indices) {
    const PoolWindow& window = window_;
    const int64_t width = window.input_width, output_width = window.output_width;
    C* best = best_.data();
    for (int64_t output_row = 0; output_row < window.output_height; ++output_row) {
      int64_t* index = indices + output_row * output_width;
      int64_t row_begin = output_row * window.stride_height - window.pad_height;
      const int64_t row_end =
          std::min(row_begin + (window.kernel_height - 1) * window.dilation_height + 1, window.input_height);
      if (row_begin < 0) {
        row_begin += kernels::ceil_div_at_least_zero(-row_begin, window.dilation_height) * window.dilation_height;
      }
      for (int64_t col = 0; col < output_width; ++col) {
        best[col] = kernels::lowest_value<C>();
        index[col] = row_begin * width + first_col_[static_cast<size_t>(col)];
      }
      for (int64_t row = row_begin; row < row_end; row += window.dilation_height) {
        for (int64_t tap = 0; tap < window.kernel_width; ++tap) {
          const kernels::IndexRange cols = tap_cols_[static_cast<size_t>(tap)];
          const int64_t shift = row * width + tap * window.dilation_width - window.pad_width;
          switch (window.stride_width) {
            case 1: max_tap<1>(input, 1, shift, cols, best, index); break;
            case 2: max_tap<2>(input, 2, shift, cols, best, index); break;
            default: max_tap<0>(input, window.stride_width, shift, cols, best, index); break;
          }
        }
      }
      T* out = output + output_row * output_width;
      for (int64_t col = 0; col < output_width; ++col) out[col] = kernels::convert<T>(best[col]);
    }
  }

 private:
  PoolWindow window_;
  std::vector<kernels::IndexRange> tap_cols_;
  std::vector<int64_t> first_col_;
  std::vector<C> best_;
};

// grad_input[indices[o]] += grad_output[o] over one plane's outputs, in output order.
template <class T, class Acc>
void scatter_max_gradient(const T* grad_output, const int64_t* indices, int64_t outputs, Acc* grad_input,
                          int64_t inputs) {
  std::memset(static_cast<void*>(grad_input), 0, static_cast<size_t>(inputs) * sizeof(Acc));
  for (int64_t output = 0; output < outputs; ++output) {
    grad_input[indices[output]] += static_cast<Acc>(grad_output[output]);
  }
}

}  // namespace

void CpuBackend::pool2d(const PoolArgs& args) {
  const PoolWindow& window = args.window;
  const int64_t input_plane = window.input_plane(), output_plane = window.output_plane();
  if (args.planes == 0 || output_plane == 0) return;
  visit_floating(args.input.dtype(), "pool2d", [&]<class T>(TypeTag<T>) {
    const T* input = static_cast<const T*>(args.input.data_ptr());
    T* output = static_cast<T*>(args.output.data_ptr());
    int64_t* indices = args.kind == PoolKind::Max ? static_cast<int64_t*>(args.indices.data_ptr()) : nullptr;
    parallel_for(args.planes, plane_grain(args), [&](int64_t begin, int64_t end) {
      if (args.kind == PoolKind::Max) {
        MaxPoolPlanes<T> max_pool(window);
        for (int64_t plane = begin; plane < end; ++plane) {
          max_pool(input + plane * input_plane, output + plane * output_plane, indices + plane * output_plane);
        }
        return;
      }
      for (int64_t plane = begin; plane < end; ++plane) {
        const T* in = input + plane * input_plane;
        T* out = output + plane * output_plane;
        if (args.kind == PoolKind::Average) {
          for (int64_t i = 0; i < output_plane; ++i) out[i] = kernels::avg_pool_element(window, in, i);
        } else {
          for (int64_t i = 0; i < output_plane; ++i) out[i] = kernels::adaptive_avg_pool_element(window, in, i);
        }
      }
    });
  });
}

void CpuBackend::pool2d_backward(const PoolArgs& args) {
  const PoolWindow& window = args.window;
  const int64_t input_plane = window.input_plane(), output_plane = window.output_plane();
  if (args.planes == 0 || input_plane == 0) return;
  visit_floating(args.input.dtype(), "pool2d_backward", [&]<class T>(TypeTag<T>) {
    T* grad_input = static_cast<T*>(args.input.data_ptr());
    const T* grad_output = static_cast<const T*>(args.output.data_ptr());
    const int64_t* indices = args.kind == PoolKind::Max ? static_cast<const int64_t*>(args.indices.data_ptr()) : nullptr;
    parallel_for(args.planes, plane_grain(args), [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        T* in = grad_input + plane * input_plane;
        const T* out = grad_output + plane * output_plane;
        if (args.kind == PoolKind::Max) {
          const int64_t* index = indices + plane * output_plane;
          if constexpr (std::is_same_v<T, compute_t<T>>) {
            scatter_max_gradient(out, index, output_plane, in, input_plane);
          } else {
            // 16-bit floats: sum in float, round once, as max_pool_backward_element does.
            thread_local std::vector<float> sums;
            sums.resize(static_cast<size_t>(input_plane));
            scatter_max_gradient(out, index, output_plane, sums.data(), input_plane);
            for (int64_t i = 0; i < input_plane; ++i) in[i] = kernels::convert<T>(sums[static_cast<size_t>(i)]);
          }
        } else if (args.kind == PoolKind::Average) {
          for (int64_t i = 0; i < input_plane; ++i) {
            in[i] = kernels::convert<T>(kernels::avg_pool_backward_element(window, out, i));
          }
        } else {
          for (int64_t i = 0; i < input_plane; ++i) {
            in[i] = kernels::convert<T>(kernels::adaptive_avg_pool_backward_element(window, out, i));
          }
        }
      }
    });
  });
}

}  // namespace ember::cpu

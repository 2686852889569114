// max_pool2d, avg_pool2d and adaptive_avg_pool2d, written once for every device on top of
// Backend::pool2d and Backend::pool2d_backward (windows in kernels/pooling_element.h). Inputs
// are [N, C, H, W] or [C, H, W], seen as N * C contiguous planes.
#include <tuple>
#include <utility>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/convolution.h"
#include "ember/tensor/factories.h"
#include "kernels/backend.h"

namespace ember {
namespace {

using autograd::SavedTensor;
using autograd::TensorList;
using kernels::PoolKind;
using kernels::PoolWindow;

struct Pooling {
  const char* op = "";
  PoolKind kind = PoolKind::Max;
  PoolWindow window;
  int64_t planes = 0;
  DimVector input_shape, output_shape;
};

// Checks the input and fills everything but the output size.
Pooling describe(const char* op, PoolKind kind, const Tensor& input) {
  EMBER_CHECK(input.defined(), "{}: the input is an undefined tensor", op);
  EMBER_CHECK(input.dim() == 3 || input.dim() == 4,
              "{}: expected a 3-D (unbatched) or 4-D (batched) input, but got input of size {}", op,
              to_string(input.sizes()));
  EMBER_CHECK(is_floating_point(input.dtype()), "{}: expected a floating-point input, got {}", op,
              name(input.dtype()));
  for (int64_t dim = input.dim() - 3; dim < input.dim(); ++dim) {
    EMBER_CHECK(input.size(dim) > 0, "{}: expected input to have non-zero size for non-batch dimensions, got {}",
                op, to_string(input.sizes()));
  }
  Pooling pool;
  pool.op = op;
  pool.kind = kind;
  pool.input_shape = input.shape();
  pool.planes = input.numel() / (input.size(-2) * input.size(-1));
  pool.window.input_height = input.size(-2);
  pool.window.input_width = input.size(-1);
  return pool;
}

// {height, width} from one value for both or one each.
std::pair<int64_t, int64_t> pair_of(IntArrayRef values, const char* op, const char* what) {
  EMBER_CHECK(values.size() == 1 || values.size() == 2, "{}: {} must be a single int or two ints, got {}", op, what,
              to_string(values));
  return {values[0], values.size() == 1 ? values[0] : values[1]};
}

// PyTorch's output size: the last window may hang over the edge in ceil_mode but must start
// inside the input or its left padding.
int64_t pooled_size(int64_t input, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation, bool ceil_mode) {
  const int64_t span = input + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  const int64_t floor_quotient = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  int64_t output = floor_quotient + 1;
  if (ceil_mode && (output - 1) * stride >= input + pad) --output;
  return output;
}

// The windowed pools (max and average): kernel, stride, padding, dilation and the output shape.
void set_windows(Pooling& pool, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                 IntArrayRef dilation, bool ceil_mode) {
  const char* op = pool.op;
  PoolWindow& window = pool.window;
  std::tie(window.kernel_height, window.kernel_width) = pair_of(kernel_size, op, "kernel_size");
  std::tie(window.stride_height, window.stride_width) =
      stride.empty() ? std::pair{window.kernel_height, window.kernel_width} : pair_of(stride, op, "stride");
  std::tie(window.pad_height, window.pad_width) = pair_of(padding, op, "padding");
  std::tie(window.dilation_height, window.dilation_width) = pair_of(dilation, op, "dilation");
  EMBER_CHECK(window.kernel_height > 0 && window.kernel_width > 0,
              "{}: kernel size should be greater than zero, got kernel_size={}", op, to_string(kernel_size));
  EMBER_CHECK(window.stride_height > 0 && window.stride_width > 0,
              "{}: stride should be greater than zero, got stride={}", op, to_string(stride));
  EMBER_CHECK(window.dilation_height > 0 && window.dilation_width > 0,
              "{}: dilation should be greater than zero, got dilation={}", op, to_string(dilation));
  EMBER_CHECK(window.pad_height >= 0 && window.pad_width >= 0 && window.pad_height <= window.kernel_height / 2 &&
                  window.pad_width <= window.kernel_width / 2,
              "{}: pad should be at most half of kernel size, but got padding={} and kernel_size={}", op,
              to_string(padding), to_string(kernel_size));
  window.output_height = pooled_size(window.input_height, window.kernel_height, window.pad_height,
                                     window.stride_height, window.dilation_height, ceil_mode);
  window.output_width = pooled_size(window.input_width, window.kernel_width, window.pad_width, window.stride_width,
                                    window.dilation_width, ceil_mode);
  EMBER_CHECK(window.output_height > 0 && window.output_width > 0,
              "{}: given input of size {}, the calculated output size {} x {} is too small (kernel_size={}, "
              "stride={}, padding={}, dilation={})",
              op, to_string(pool.input_shape), window.output_height, window.output_width, to_string(kernel_size),
              to_string(stride), to_string(padding), to_string(dilation));
  pool.output_shape = pool.input_shape;
  pool.output_shape[pool.output_shape.size() - 2] = window.output_height;
  pool.output_shape.back() = window.output_width;
}

kernels::PoolArgs pool_args(const Pooling& pool, const Tensor& input, const Tensor& output, const Tensor& indices) {
  kernels::PoolArgs args;
  args.kind = pool.kind;
  args.window = pool.window;
  args.planes = pool.planes;
  args.input = input;
  args.output = output;
  args.indices = indices;
  return args;
}

// The input's gradient from the output's: fresh, contiguous, in the input's shape.
Tensor pool_backward(const Pooling& pool, const Tensor& grad, const Tensor& indices) {
  Tensor grad_input = empty(pool.input_shape, grad.options());
  kernels::backend(grad.device()).pool2d_backward(pool_args(pool, grad_input, grad.contiguous(), indices));
  return grad_input;
}

// Runs an average pool (no indices) and records its gradient under `node_name`.
Tensor average(const Pooling& pool, const Tensor& input, const char* node_name) {
  Tensor output = empty(pool.output_shape, input.options());
  {
    autograd::NoGradGuard no_grad;  // the contiguous copy is internal
    kernels::backend(input.device()).pool2d(pool_args(pool, input.contiguous(), output, Tensor()));
  }
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward(node_name, output, {&input},
                              [pool](const Tensor& grad) { return TensorList{pool_backward(pool, grad, Tensor())}; });
  }
  return output;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                                                  IntArrayRef padding, IntArrayRef dilation, bool ceil_mode) {
  Pooling pool = describe("max_pool2d", PoolKind::Max, input);
  set_windows(pool, kernel_size, stride, padding, dilation, ceil_mode);
  Tensor values = empty(pool.output_shape, input.options());
  Tensor indices = empty(pool.output_shape, TensorOptions(kInt64).device(input.device()));
  {
    autograd::NoGradGuard no_grad;  // the contiguous copy is internal
    kernels::backend(input.device()).pool2d(pool_args(pool, input.contiguous(), values, indices));
  }
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward("MaxPool2DWithIndicesBackward0", values, {&input},
                              [pool, indices_saved = SavedTensor(indices)](const Tensor& grad) {
                                const Tensor saved = indices_saved.unpack("MaxPool2DWithIndicesBackward0");
                                return TensorList{pool_backward(pool, grad, saved)};
                              });
  }
  return {values, indices};
}

Tensor max_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                  IntArrayRef dilation, bool ceil_mode) {
  return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode).first;
}

Tensor avg_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                  bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  Pooling pool = describe("avg_pool2d", PoolKind::Average, input);
  set_windows(pool, kernel_size, stride, padding, 1, ceil_mode);
  EMBER_CHECK(!divisor_override || *divisor_override != 0, "avg_pool2d: divisor must be not zero");
  pool.window.count_include_pad = count_include_pad;
  pool.window.divisor_override = divisor_override.value_or(0);
  return average(pool, input, "AvgPool2DBackward0");
}

Tensor adaptive_avg_pool2d(const Tensor& input, IntArrayRef output_size) {
  Pooling pool = describe("adaptive_avg_pool2d", PoolKind::AdaptiveAverage, input);
  std::tie(pool.window.output_height, pool.window.output_width) =
      pair_of(output_size, "adaptive_avg_pool2d", "output_size");
  EMBER_CHECK(pool.window.output_height >= 0 && pool.window.output_width >= 0,
              "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0, got {}",
              to_string(output_size));
  pool.output_shape = pool.input_shape;
  pool.output_shape[pool.output_shape.size() - 2] = pool.window.output_height;
  pool.output_shape.back() = pool.window.output_width;
  return average(pool, input, "AdaptiveAvgPool2DBackward0");
}

}  // namespace ember

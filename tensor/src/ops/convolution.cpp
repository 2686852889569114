// conv1d, conv2d and conv_transpose2d, written once for every device on top of Backend::im2col,
// Backend::col2im and Backend::gemm. Everything is reduced to a 2-D convolution on contiguous
// [N, C, H, W] tensors (conv1d has a unit height, unbatched inputs a unit batch).
//
// One side of a convolution is the image that unfolds into columns (kernels/im2col_element.h):
// the input of conv2d, the output of conv_transpose2d. The other side has one value per column
// position and per row of the weight, which is a matrix [weight.size(0), K] per group. Images go
// in chunks of `count`, side by side in every matrix, so that each step is one large GEMM per
// group (BLAS spreads a large GEMM over every thread; per-image GEMMs of a small layer do not
// scale past one):
//   columns  [rows, count * P]      = im2col(image chunk)          or folded back by col2im
//   gathered [weight rows, count * P] = the other side's chunk, images moved next to each other
//   conv2d:                gathered = W @ columns (+ bias), then scattered into the output
//   its input gradient:    columns = W^T @ gathered(grad), then col2im
//   its weight gradient:   dW += gathered(grad) @ columns^T
// and conv_transpose2d runs the same steps with the roles of its input and output swapped.
// A chunk's columns take at most kColumnBytes (one image's when that is more): the unfolded
// batch would be hundreds of MB for a mid-sized layer, and a chunk stays in the last-level
// cache between the unfold and its GEMMs.
//
// CPU float32 convolutions go to oneDNN instead when Ember is built with it
// (cpu/dnnl_convolution.h): each direction that oneDNN takes skips its unfold steps here, and
// whatever it declines falls through to them. The autograd node is the same either way.
#include "ember/tensor/convolution.h"

#include <algorithm>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/factories.h"
#include "cpu/dnnl_convolution.h"
#include "ember/tensor/reduction.h"
#include "kernels/backend.h"

namespace ember {
namespace {

using autograd::SavedTensor;
using autograd::TensorList;
using kernels::UnfoldGeometry;

constexpr int64_t kColumnBytes = int64_t{4} << 20;

// A convolution reduced to 2-D, with everything the forward and the backward need.
struct Convolution {
  const char* op = "";
  bool transposed = false;
  int64_t groups = 1;
  UnfoldGeometry geometry;  // of the image side
  DimVector input_shape4, weight_shape4, output_shape4;
  DimVector output_shape;  // as returned: the caller's rank
};

// The scratch of one convolution and the steps it is made of, for the chunk [first, first + count).
class Chunks {
 public:
  // side_channels: the weight's rows (conv2d: output channels; conv_transpose2d: input channels).
  Chunks(const UnfoldGeometry& geometry, int64_t groups, int64_t side_channels, int64_t images,
         TensorOptions options)
      : geometry_(geometry), groups_(groups), side_channels_(side_channels), images_(images) {
    const int64_t image_bytes = std::max<int64_t>(1, geometry.columns_numel() * element_size(options.dtype_value));
    chunk_ = std::clamp<int64_t>(kColumnBytes / image_bytes, 1, std::max<int64_t>(images, 1));
    columns_ = empty({geometry.columns_numel() * chunk_}, options);
    gathered_ = empty({side_channels * geometry.column_cols() * chunk_}, options);
  }

  // Calls step() with first and count set to each chunk in turn.
  template <class Step>
  void for_each(const Step& step) {
    for (first_ = 0; first_ < images_; first_ += chunk_) {
      count_ = std::min(chunk_, images_ - first_);
      step();
    }
  }
  int64_t first() const { return first_; }
  int64_t count() const { return count_; }

  void unfold(const Tensor& image) { kernels::backend(image.device()).im2col(unfold_args(image)); }
  void fold(const Tensor& image) { kernels::backend(image.device()).col2im(unfold_args(image)); }

  // gathered = the chunk of `side` [N, side_channels, P], as [side_channels, count, P].
  void gather(const Tensor& side) { gathered().copy_(chunk_of(side).transpose(0, 1)); }
  void scatter(const Tensor& side) { chunk_of(side).copy_(gathered().transpose(0, 1)); }
  void fill_gathered(const Tensor& bias) {
    gathered().copy_(bias.view({side_channels_, 1, 1}).expand({side_channels_, count_, geometry_.column_cols()}));
  }

  // gathered = W @ columns + beta * gathered
  void multiply(const Tensor& weight, double beta) {
    gemm(false, false, side_rows(), width(), depth(), {weight, depth(), side_rows() * depth()},
         {columns_, width(), depth() * width()}, {gathered_, width(), side_rows() * width()}, beta);
  }
  // columns = W^T @ gathered
  void multiply_transposed(const Tensor& weight) {
    gemm(true, false, depth(), width(), side_rows(), {weight, depth(), side_rows() * depth()},
         {gathered_, width(), side_rows() * width()}, {columns_, width(), depth() * width()}, 0.0);
  }
  // weight_grad = gathered @ columns^T, plus what it held unless this is the first chunk.
  void accumulate_weight_grad(const Tensor& weight_grad) {
    gemm(false, true, side_rows(), depth(), width(), {gathered_, width(), side_rows() * width()},
         {columns_, width(), depth() * width()}, {weight_grad, depth(), side_rows() * depth()},
         first_ == 0 ? 0.0 : 1.0);
  }

 private:
  // A matrix per group: its tensor, leading dimension, and the elements between groups.
  struct Operand {
    const Tensor& tensor;
    int64_t leading, group_stride;
  };

  int64_t side_rows() const { return side_channels_ / groups_; }
  int64_t depth() const { return geometry_.column_rows() / groups_; }
  int64_t width() const { return count_ * geometry_.column_cols(); }

  Tensor gathered() const {
    return gathered_.narrow(0, 0, side_channels_ * width()).view({side_channels_, count_, geometry_.column_cols()});
  }
  Tensor chunk_of(const Tensor& side) const {
    return side.narrow(0, first_, count_).view({count_, side_channels_, geometry_.column_cols()});
  }

  kernels::UnfoldArgs unfold_args(const Tensor& image) const {
    kernels::UnfoldArgs args;
    args.dtype = image.dtype();
    args.geometry = geometry_;
    args.images = count_;
    args.image = static_cast<char*>(image.data_ptr()) + first_ * geometry_.image_numel() * image.element_size();
    args.columns = columns_.data_ptr();
    return args;
  }

  // C[g] = op(A[g]) @ op(B[g]) + beta * C[g] for every group g, in one batched call.
  void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, Operand a, Operand b, Operand c,
            double beta) const {
    kernels::GemmArgs args;
    args.dtype = c.tensor.dtype();
    args.transpose_a = transpose_a, args.transpose_b = transpose_b;
    args.m = m, args.n = n, args.k = k;
    args.beta = beta;
    args.a = a.tensor.data_ptr(), args.lda = a.leading, args.batch_stride_a = a.group_stride;
    args.b = b.tensor.data_ptr(), args.ldb = b.leading, args.batch_stride_b = b.group_stride;
    args.c = c.tensor.data_ptr(), args.ldc = c.leading, args.batch_stride_c = c.group_stride;
    args.batch = groups_;
    kernels::backend(c.tensor.device()).gemm(args);
  }

  UnfoldGeometry geometry_;
  int64_t groups_, side_channels_, images_;
  int64_t chunk_ = 1, first_ = 0, count_ = 0;
  Tensor columns_, gathered_;
};

// ---- shapes and checks ----

// One value per spatial dim (of the last `dims` of 2) from `values`: one for all, or one each.
void spread(IntArrayRef values, int64_t dims, const char* op, const char* what, int64_t* out) {
  EMBER_CHECK(values.size() == 1 || static_cast<int64_t>(values.size()) == dims,
              "{}: expected {} to be a single integer value or a list of {} values to match the convolution "
              "dimensions, but got {}={}",
              op, what, dims, what, to_string(values));
  for (int64_t dim = 0; dim < dims; ++dim) out[2 - dims + dim] = values.size() == 1 ? values[0] : values[dim];
}

struct ConvolutionParams {
  int64_t stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1}, output_padding[2] = {0, 0};
};

Convolution describe(const char* op, bool transposed, int64_t spatial_dims, const Tensor& input, const Tensor& weight,
                     const Tensor& bias, IntArrayRef stride, IntArrayRef padding, IntArrayRef dilation,
                     IntArrayRef output_padding, int64_t groups) {
  EMBER_CHECK(input.defined() && weight.defined(), "{}: the input or the weight is an undefined tensor", op);
  const int64_t batched_dims = spatial_dims + 2;
  EMBER_CHECK(input.dim() == batched_dims || input.dim() == batched_dims - 1,
              "{}: expected a {}-D (unbatched) or {}-D (batched) input, but got input of size {}", op,
              batched_dims - 1, batched_dims, to_string(input.sizes()));
  EMBER_CHECK(weight.dim() == batched_dims, "{}: expected a {}-D weight, but got weight of size {}", op, batched_dims,
              to_string(weight.sizes()));
  EMBER_CHECK(input.dtype() == weight.dtype(), "{}: input ({}) and weight ({}) must have the same dtype", op,
              name(input.dtype()), name(weight.dtype()));
  EMBER_CHECK(is_floating_point(input.dtype()), "{}: expected a floating-point input, got {}", op,
              name(input.dtype()));
  EMBER_CHECK(input.device() == weight.device(), "{}: input is on {} but weight is on {}", op, input.device().str(),
              weight.device().str());
  if (bias.defined()) {
    EMBER_CHECK(bias.dtype() == input.dtype() && bias.device() == input.device(),
                "{}: bias ({} on {}) must have the input's dtype and device ({} on {})", op, name(bias.dtype()),
                bias.device().str(), name(input.dtype()), input.device().str());
  }
  ConvolutionParams params;
  spread(stride, spatial_dims, op, "stride", params.stride);
  spread(padding, spatial_dims, op, "padding", params.padding);
  spread(dilation, spatial_dims, op, "dilation", params.dilation);
  spread(output_padding, spatial_dims, op, "output_padding", params.output_padding);
  for (int dim = 0; dim < 2; ++dim) {
    EMBER_CHECK(params.stride[dim] > 0, "{}: non-positive stride is not supported, got stride={}", op,
                to_string(stride));
    EMBER_CHECK(params.padding[dim] >= 0, "{}: negative padding is not supported, got padding={}", op,
                to_string(padding));
    EMBER_CHECK(params.dilation[dim] > 0, "{}: dilation should be greater than zero, got dilation={}", op,
                to_string(dilation));
    EMBER_CHECK(params.output_padding[dim] >= 0, "{}: negative output_padding is not supported, got {}", op,
                to_string(output_padding));
    EMBER_CHECK(params.output_padding[dim] < std::max(params.stride[dim], params.dilation[dim]),
                "{}: output padding must be smaller than either stride or dilation, but got output_padding={}, "
                "stride={}, dilation={}",
                op, to_string(output_padding), to_string(stride), to_string(dilation));
  }
  EMBER_CHECK(groups > 0, "{}: non-positive groups is not supported, got groups={}", op, groups);

  Convolution conv;
  conv.op = op;
  conv.transposed = transposed;
  conv.groups = groups;
  const bool batched = input.dim() == batched_dims;
  // [N, C, H, W] with a unit height for 1-D and a unit batch for unbatched inputs.
  conv.input_shape4 = {batched ? input.size(0) : 1, input.size(batched ? 1 : 0), 1, 1};
  conv.weight_shape4 = {weight.size(0), weight.size(1), 1, weight.size(-1)};
  for (int64_t dim = 0; dim < spatial_dims; ++dim) {
    conv.input_shape4[4 - spatial_dims + dim] = input.size(input.dim() - spatial_dims + dim);
    conv.weight_shape4[4 - spatial_dims + dim] = weight.size(2 + dim);
  }
  const int64_t channels = conv.input_shape4[1];
  EMBER_CHECK(weight.size(0) % groups == 0,
              "{}: given groups={}, expected weight to be divisible by {} at dimension 0, but got weight of size {}",
              op, groups, groups, to_string(weight.sizes()));
  const int64_t input_channels = transposed ? weight.size(0) : weight.size(1) * groups;
  EMBER_CHECK(channels == input_channels,
              "{}: given groups={}, weight of size {}, expected input{} to have {} channels, but got {} channels "
              "instead",
              op, groups, to_string(weight.sizes()), to_string(input.sizes()), input_channels, channels);
  const int64_t output_channels = transposed ? weight.size(1) * groups : weight.size(0);
  if (bias.defined()) {
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == output_channels,
                "{}: given weight of size {}, expected bias to be 1-dimensional with {} elements, but got bias of "
                "size {} instead",
                op, to_string(weight.sizes()), output_channels, to_string(bias.sizes()));
  }
  const int64_t kernel[2] = {conv.weight_shape4[2], conv.weight_shape4[3]};
  EMBER_CHECK(kernel[0] > 0 && kernel[1] > 0, "{}: the kernel must not be empty, got weight of size {}", op,
              to_string(weight.sizes()));

  int64_t sizes[2];  // the output's spatial sizes
  for (int dim = 0; dim < 2; ++dim) {
    const int64_t in = conv.input_shape4[2 + dim];
    const int64_t extent = params.dilation[dim] * (kernel[dim] - 1) + 1;
    if (transposed) {
      sizes[dim] = (in - 1) * params.stride[dim] - 2 * params.padding[dim] + extent + params.output_padding[dim];
    } else {
      EMBER_CHECK(in + 2 * params.padding[dim] >= extent,
                  "{}: the kernel (weight of size {}, dilation={}) is larger than the padded input (input of size "
                  "{}, padding={})",
                  op, to_string(weight.sizes()), to_string(dilation), to_string(input.sizes()), to_string(padding));
      sizes[dim] = (in + 2 * params.padding[dim] - extent) / params.stride[dim] + 1;
    }
  }
  EMBER_CHECK(sizes[0] > 0 && sizes[1] > 0,
              "{}: input of size {} with weight of size {}, stride={}, padding={}, dilation={}, output_padding={} "
              "gives an empty output",
              op, to_string(input.sizes()), to_string(weight.sizes()), to_string(stride), to_string(padding),
              to_string(dilation), to_string(output_padding));
  conv.output_shape4 = {conv.input_shape4[0], output_channels, sizes[0], sizes[1]};
  conv.output_shape = conv.output_shape4;
  if (spatial_dims == 1) conv.output_shape.erase(conv.output_shape.begin() + 2);
  if (!batched) conv.output_shape.erase(conv.output_shape.begin());

  // The image side of the unfold: the input of a convolution, the output of a transposed one.
  const DimVector& image = transposed ? conv.output_shape4 : conv.input_shape4;
  const DimVector& positions = transposed ? conv.input_shape4 : conv.output_shape4;
  UnfoldGeometry& geometry = conv.geometry;
  geometry.channels = image[1];
  geometry.input_height = image[2], geometry.input_width = image[3];
  geometry.output_height = positions[2], geometry.output_width = positions[3];
  geometry.kernel_height = kernel[0], geometry.kernel_width = kernel[1];
  geometry.pad_height = params.padding[0], geometry.pad_width = params.padding[1];
  geometry.stride_height = params.stride[0], geometry.stride_width = params.stride[1];
  geometry.dilation_height = params.dilation[0], geometry.dilation_width = params.dilation[1];
  return conv;
}

// ---- oneDNN ----

// Empty convolutions (no images, channels or outputs) stay with the unfold path, which handles
// them without a call.
bool takes_dnnl(const Convolution& conv, const Tensor& tensor) {
  return tensor.device().is_cpu() && tensor.dtype() == kFloat32 && cpu::dnnl_enabled() &&
         product(conv.input_shape4) > 0 && product(conv.weight_shape4) > 0 && product(conv.output_shape4) > 0;
}

cpu::DnnlConvolution dnnl_convolution(const Convolution& conv) {
  cpu::DnnlConvolution result;
  result.transposed = conv.transposed;
  result.groups = conv.groups;
  std::copy_n(conv.input_shape4.begin(), 4, result.input);
  std::copy_n(conv.weight_shape4.begin(), 4, result.weight);
  std::copy_n(conv.output_shape4.begin(), 4, result.output);
  const UnfoldGeometry& geometry = conv.geometry;
  result.stride[0] = geometry.stride_height, result.stride[1] = geometry.stride_width;
  result.padding[0] = geometry.pad_height, result.padding[1] = geometry.pad_width;
  result.dilation[0] = geometry.dilation_height, result.dilation[1] = geometry.dilation_width;
  return result;
}

// ---- forward and backward ----

Tensor bias_view(const Tensor& bias) { return bias.view({1, bias.size(0), 1, 1}); }

// conv2d's forward: side = W (*) image + bias.
void unfold_multiply(const Convolution& conv, const Tensor& image, const Tensor& weight, const Tensor& bias,
                     const Tensor& side) {
  Chunks chunks(conv.geometry, conv.groups, weight.size(0), image.size(0), image.options());
  chunks.for_each([&] {
    chunks.unfold(image);
    if (bias.defined()) chunks.fill_gathered(bias);
    chunks.multiply(weight, bias.defined() ? 1.0 : 0.0);
    chunks.scatter(side);
  });
}

// conv_transpose2d's forward: the adjoint of the above, plus bias.
void multiply_fold(const Convolution& conv, const Tensor& side, const Tensor& weight, const Tensor& bias,
                   const Tensor& image) {
  Chunks chunks(conv.geometry, conv.groups, weight.size(0), image.size(0), image.options());
  chunks.for_each([&] {
    chunks.gather(side);
    chunks.multiply_transposed(weight);
    chunks.fold(image);
    if (bias.defined()) image.narrow(0, chunks.first(), chunks.count()).add_(bias_view(bias));
  });
}

Tensor forward(const Convolution& conv, const Tensor& input, const Tensor& weight, const Tensor& bias) {
  autograd::NoGradGuard no_grad;
  Tensor output = empty(conv.output_shape, input.options());
  if (output.numel() == 0) return output;
  const Tensor output4 = output.view(conv.output_shape4);
  const Tensor image = input.reshape(conv.input_shape4).contiguous();
  const Tensor matrix = weight.contiguous();
  if (takes_dnnl(conv, input) && cpu::dnnl_convolution_forward(dnnl_convolution(conv), image, matrix,
                                                         bias.defined() ? bias.contiguous() : Tensor(), output4)) {
    return output;
  }
  if (!conv.transposed) unfold_multiply(conv, image, matrix, bias, output4);
  else multiply_fold(conv, image, matrix, bias, output4);
  return output;
}

// Fills input_grad4 and weight_grad where defined. Both share each chunk's gathered output
// gradient (conv2d) or unfolded output gradient (conv_transpose2d).
void unfold_backward(const Convolution& conv, const Tensor& grad4, const Tensor& input4, const Tensor& matrix,
                     const Tensor& input_grad4, const Tensor& weight_grad) {
  Chunks chunks(conv.geometry, conv.groups, conv.weight_shape4[0], conv.input_shape4[0], grad4.options());
  if (!conv.transposed) {
    chunks.for_each([&] {
      chunks.gather(grad4);
      if (weight_grad.defined()) {
        chunks.unfold(input4);
        chunks.accumulate_weight_grad(weight_grad);
      }
      if (input_grad4.defined()) {
        chunks.multiply_transposed(matrix);
        chunks.fold(input_grad4);
      }
    });
  } else {
    chunks.for_each([&] {
      chunks.unfold(grad4);
      if (input_grad4.defined()) {
        chunks.multiply(matrix, 0.0);
        chunks.scatter(input_grad4);
      }
      if (weight_grad.defined()) {
        chunks.gather(input4);
        chunks.accumulate_weight_grad(weight_grad);
      }
    });
  }
}

// The gradients the flags ask for, in the inputs' own shapes.
TensorList backward(const Convolution& conv, const Tensor& grad, const Tensor& input, const Tensor& weight,
                    bool input_grad, bool weight_grad, bool bias_grad, const DimVector& input_shape,
                    const DimVector& weight_shape) {
  const Tensor grad4 = grad.reshape(conv.output_shape4).contiguous();
  TensorList grads(3);
  if (input_grad) grads[0] = empty(input_shape, grad.options());
  if (weight_grad) grads[1] = empty(weight_shape, grad.options());
  if (conv.input_shape4[0] == 0) {
    if (weight_grad) grads[1].zero_();
    if (bias_grad) grads[2] = sum(grad4, {0, 2, 3});
    return grads;
  }
  const Tensor input4 = weight_grad ? input.reshape(conv.input_shape4).contiguous() : Tensor();
  const Tensor input_grad4 = input_grad ? grads[0].view(conv.input_shape4) : Tensor();
  const Tensor matrix = input_grad ? weight.contiguous() : Tensor();
  if (takes_dnnl(conv, grad)) {
    // oneDNN sums the bias gradient in the same pass over the output gradient.
    const Tensor dnnl_bias_grad = weight_grad && bias_grad ? empty({conv.output_shape4[1]}, grad.options()) : Tensor();
    const cpu::DnnlBackward done = cpu::dnnl_convolution_backward(dnnl_convolution(conv), grad4, input4, matrix,
                                                                  input_grad4, grads[1], dnnl_bias_grad);
    if (done.input) input_grad = false;
    if (done.weight) {
      weight_grad = false;
      if (bias_grad) grads[2] = dnnl_bias_grad, bias_grad = false;
    }
  }
  if (bias_grad) grads[2] = sum(grad4, {0, 2, 3});
  if (input_grad || weight_grad) {
    unfold_backward(conv, grad4, input4, matrix, input_grad ? input_grad4 : Tensor(),
                    weight_grad ? grads[1] : Tensor());
  }
  return grads;
}

Tensor convolution(const Convolution& conv, const Tensor& input, const Tensor& weight, const Tensor& bias) {
  Tensor result = forward(conv, input, weight, bias);
  if (autograd::requires_grad_any({&input, &weight, &bias})) {
    const bool input_grad = input.requires_grad(), weight_grad = weight.requires_grad();
    const bool bias_grad = bias.defined() && bias.requires_grad();
    autograd::record_backward(
        "ConvolutionBackward0", result, {&input, &weight, &bias},
        [conv, input_grad, weight_grad, bias_grad, input_shape = input.shape(), weight_shape = weight.shape(),
         input_saved = weight_grad ? SavedTensor(input) : SavedTensor(),
         weight_saved = input_grad ? SavedTensor(weight) : SavedTensor()](const Tensor& grad) {
          const Tensor saved_input = input_saved.unpack("ConvolutionBackward0");
          const Tensor saved_weight = weight_saved.unpack("ConvolutionBackward0");
          return backward(conv, grad, saved_input, saved_weight, input_grad, weight_grad, bias_grad, input_shape,
                          weight_shape);
        });
  }
  return result;
}

}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride, IntArrayRef padding,
              IntArrayRef dilation, int64_t groups) {
  return convolution(describe("conv1d", false, 1, input, weight, bias, stride, padding, dilation, 0, groups), input,
                     weight, bias);
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride, IntArrayRef padding,
              IntArrayRef dilation, int64_t groups) {
  return convolution(describe("conv2d", false, 2, input, weight, bias, stride, padding, dilation, 0, groups), input,
                     weight, bias);
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                        IntArrayRef padding, IntArrayRef output_padding, int64_t groups, IntArrayRef dilation) {
  return convolution(
      describe("conv_transpose2d", true, 2, input, weight, bias, stride, padding, dilation, output_padding, groups),
      input, weight, bias);
}

}  // namespace ember

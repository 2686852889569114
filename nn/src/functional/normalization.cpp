// batch_norm, layer_norm and group_norm. Each computes its forward from tensor ops without
// recording them and records one node, whose backward uses the closed form
//   d/dx [(x - mean) * invstd] . g = invstd * (g - mean(g) - xhat * mean(g * xhat))
// (means over the normalised dims), so the graph stays one node per layer.
#include "ember/nn/functional.h"
#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/reduction.h"

namespace ember::nn::functional {
namespace {

using autograd::SavedTensor;
using autograd::TensorList;

// The input gradient of xhat = (x - mean) * invstd, mean and invstd taken over dims.
Tensor normalize_backward(const Tensor& grad_xhat, const Tensor& xhat, const Tensor& invstd, IntArrayRef dims) {
  return invstd * (grad_xhat - grad_xhat.mean(dims, true) - xhat * (grad_xhat * xhat).mean(dims, true));
}

// Sums over dims; an empty list sums nothing (reductions read {} as "every dim").
Tensor sum_over(const Tensor& tensor, IntArrayRef dims) { return dims.empty() ? tensor : tensor.sum(dims); }

void check_vector(const Tensor& tensor, int64_t size, const char* op, const char* what) {
  EMBER_CHECK(!tensor.defined() || (tensor.dim() == 1 && tensor.size(0) == size),
              "{}: {} must have shape [{}], got {}", op, what, size, to_string(tensor.sizes()));
}

// For messages: "[2, 3]", or what is wrong when there is no shape.
std::string shape_of(const Tensor& tensor) {
  return tensor.defined() ? to_string(tensor.sizes()) : std::string("an undefined tensor");
}

// Every dim but 1 (the channels): where batch_norm's statistics and affine gradients reduce.
DimVector all_but_channels(int64_t ndim) {
  DimVector dims{0};
  for (int64_t d = 2; d < ndim; ++d) dims.push_back(d);
  return dims;
}

// [1, C, 1, ...]: a per-channel vector shaped to broadcast against the input.
DimVector channel_shape(int64_t ndim, int64_t channels) {
  DimVector shape(static_cast<size_t>(ndim), 1);
  shape[1] = channels;
  return shape;
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  constexpr const char* op = "batch_norm";
  EMBER_CHECK(input.defined() && input.dim() >= 2,
              "batch_norm: expected an input [N, C, ...] with at least 2 dims, got {}", shape_of(input));
  const int64_t channels = input.size(1);
  check_vector(weight, channels, op, "weight");
  check_vector(bias, channels, op, "bias");
  check_vector(running_mean, channels, op, "running_mean");
  check_vector(running_var, channels, op, "running_var");
  EMBER_CHECK(training || (running_mean.defined() && running_var.defined()),
              "batch_norm: running_mean and running_var are required when not training");
  const DimVector dims = all_but_channels(input.dim());
  const DimVector stat_shape = channel_shape(input.dim(), channels);
  const int64_t count = channels == 0 ? 0 : input.numel() / channels;
  EMBER_CHECK(!training || count > 1,
              "batch_norm: expected more than 1 value per channel when training, got input of shape {}",
              to_string(input.sizes()));

  Tensor mean, invstd, output;
  {
    autograd::NoGradGuard no_grad;
    Tensor variance;
    if (training) {
      mean = input.mean(dims, true);
      variance = var(input, dims, /*unbiased=*/false, /*keepdim=*/true);
      if (running_mean.defined()) {
        Tensor running = running_mean;
        running.mul_(1.0 - momentum).add_(mean.reshape({channels}), momentum);
      }
      if (running_var.defined()) {
        // Running variance is unbiased, as PyTorch keeps it.
        const double correction = static_cast<double>(count) / static_cast<double>(count - 1);
        Tensor running = running_var;
        running.mul_(1.0 - momentum).add_(variance.reshape({channels}), momentum * correction);
      }
    } else {
      mean = running_mean.reshape(stat_shape).clone();
      variance = running_var.reshape(stat_shape);
    }
    invstd = rsqrt(variance + eps);
    // y = x * scale + shift: two passes over the input instead of four.
    const Tensor scale = weight.defined() ? invstd * weight.reshape(stat_shape) : invstd;
    const Tensor shift = bias.defined() ? bias.reshape(stat_shape) - mean * scale : -(mean * scale);
    output = input * scale + shift;
  }
  if (autograd::requires_grad_any({&input, &weight, &bias})) {
    autograd::record_backward(
        "NativeBatchNormBackward0", output, {&input, &weight, &bias},
        [input_saved = SavedTensor(input), weight_saved = SavedTensor(weight), mean, invstd, dims, stat_shape,
         training, input_needs = input.requires_grad(), weight_needs = weight.defined() && weight.requires_grad(),
         bias_needs = bias.defined() && bias.requires_grad()](const Tensor& grad) {
          const Tensor x = input_saved.unpack("NativeBatchNormBackward0");
          const Tensor w = weight_saved.defined() ? weight_saved.unpack("NativeBatchNormBackward0").reshape(stat_shape)
                                                  : Tensor();
          const bool needs_xhat = weight_needs || (input_needs && training);
          const Tensor xhat = needs_xhat ? (x - mean) * invstd : Tensor();
          Tensor grad_input;
          if (input_needs) {
            const Tensor grad_xhat = w.defined() ? grad * w : grad;
            grad_input = training ? normalize_backward(grad_xhat, xhat, invstd, dims) : grad_xhat * invstd;
          }
          return TensorList{grad_input, weight_needs ? (grad * xhat).sum(dims) : Tensor(),
                            bias_needs ? grad.sum(dims) : Tensor()};
        });
  }
  return output;
}

Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  EMBER_CHECK(input.defined(), "layer_norm: the input is undefined");
  const int64_t normalized_dims = static_cast<int64_t>(normalized_shape.size());
  const int64_t leading_dims = input.dim() - normalized_dims;
  bool matches = normalized_dims >= 1 && leading_dims >= 0;
  for (int64_t d = 0; matches && d < normalized_dims; ++d) {
    matches = input.size(leading_dims + d) == normalized_shape[d];
  }
  const std::string shape_text = to_string(normalized_shape);  // "[3, 4]"
  EMBER_CHECK(matches,
              "layer_norm: given normalized_shape={}, expected input with shape [*, {}], got input of shape {}",
              shape_text, shape_text.substr(1, shape_text.size() - 2), to_string(input.sizes()));
  EMBER_CHECK(!weight.defined() || weight.sizes() == normalized_shape,
              "layer_norm: weight must have shape {}, got {}", to_string(normalized_shape), to_string(weight.sizes()));
  EMBER_CHECK(!bias.defined() || bias.sizes() == normalized_shape, "layer_norm: bias must have shape {}, got {}",
              to_string(normalized_shape), to_string(bias.sizes()));
  DimVector dims, outer_dims;
  for (int64_t d = 0; d < input.dim(); ++d) (d < leading_dims ? outer_dims : dims).push_back(d);

  Tensor mean, invstd, output;
  {
    autograd::NoGradGuard no_grad;
    mean = input.mean(dims, true);
    invstd = rsqrt(var(input, dims, /*unbiased=*/false, /*keepdim=*/true) + eps);
    output = (input - mean) * invstd;
    if (weight.defined()) output = output * weight;
    if (bias.defined()) output = output + bias;
  }
  if (autograd::requires_grad_any({&input, &weight, &bias})) {
    autograd::record_backward(
        "NativeLayerNormBackward0", output, {&input, &weight, &bias},
        [input_saved = SavedTensor(input), weight_saved = SavedTensor(weight), mean, invstd, dims, outer_dims,
         input_needs = input.requires_grad(), weight_needs = weight.defined() && weight.requires_grad(),
         bias_needs = bias.defined() && bias.requires_grad()](const Tensor& grad) {
          const Tensor x = input_saved.unpack("NativeLayerNormBackward0");
          const Tensor xhat = (x - mean) * invstd;
          Tensor grad_input;
          if (input_needs) {
            const Tensor grad_xhat =
                weight_saved.defined() ? grad * weight_saved.unpack("NativeLayerNormBackward0") : grad;
            grad_input = normalize_backward(grad_xhat, xhat, invstd, dims);
          }
          return TensorList{grad_input, weight_needs ? sum_over(grad * xhat, outer_dims) : Tensor(),
                            bias_needs ? sum_over(grad, outer_dims) : Tensor()};
        });
  }
  return output;
}

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  constexpr const char* op = "group_norm";
  EMBER_CHECK(input.defined() && input.dim() >= 2,
              "group_norm: expected an input [N, C, ...] with at least 2 dims, got {}", shape_of(input));
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  EMBER_CHECK(num_groups > 0 && channels % num_groups == 0,
              "group_norm: expected the number of channels to be divisible by num_groups, got input of shape {} and "
              "num_groups={}",
              to_string(input.sizes()), num_groups);
  check_vector(weight, channels, op, "weight");
  check_vector(bias, channels, op, "bias");
  const DimVector affine_dims = all_but_channels(input.dim());
  const DimVector stat_shape = channel_shape(input.dim(), channels);
  const DimVector grouped_shape{batch, num_groups, batch == 0 ? 0 : input.numel() / (batch * num_groups)};

  Tensor mean, invstd, output;
  {
    autograd::NoGradGuard no_grad;
    const Tensor grouped = input.reshape(grouped_shape);
    mean = grouped.mean({2}, true);
    invstd = rsqrt(var(grouped, {2}, /*unbiased=*/false, /*keepdim=*/true) + eps);
    output = ((grouped - mean) * invstd).view(input.sizes());
    if (weight.defined()) output = output * weight.reshape(stat_shape);
    if (bias.defined()) output = output + bias.reshape(stat_shape);
  }
  if (autograd::requires_grad_any({&input, &weight, &bias})) {
    autograd::record_backward(
        "NativeGroupNormBackward0", output, {&input, &weight, &bias},
        [input_saved = SavedTensor(input), weight_saved = SavedTensor(weight), mean, invstd, affine_dims, stat_shape,
         grouped_shape, input_needs = input.requires_grad(), weight_needs = weight.defined() && weight.requires_grad(),
         bias_needs = bias.defined() && bias.requires_grad()](const Tensor& grad) {
          const Tensor x = input_saved.unpack("NativeGroupNormBackward0");
          const Tensor xhat_grouped = (x.reshape(grouped_shape) - mean) * invstd;
          Tensor grad_input, grad_weight;
          if (input_needs) {
            const Tensor grad_xhat =
                weight_saved.defined()
                    ? grad * weight_saved.unpack("NativeGroupNormBackward0").reshape(stat_shape)
                    : grad;
            grad_input = normalize_backward(grad_xhat.reshape(grouped_shape), xhat_grouped, invstd, {2})
                             .view(x.sizes());
          }
          if (weight_needs) grad_weight = (grad * xhat_grouped.view(x.sizes())).sum(affine_dims);
          return TensorList{grad_input, grad_weight, bias_needs ? grad.sum(affine_dims) : Tensor()};
        });
  }
  return output;
}

}  // namespace ember::nn::functional

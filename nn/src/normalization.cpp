#include "ember/nn/normalization.h"

#include <ostream>

#include "ember/nn/functional.h"
#include "ember/nn/init.h"
#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/factories.h"

namespace ember::nn {
namespace {

const char* bool_text(bool value) { return value ? "true" : "false"; }

}  // namespace

BatchNormImplBase::BatchNormImplBase(const BatchNormOptions& options) : options(options) {
  const int64_t features = options.num_features();
  EMBER_CHECK(features > 0, "BatchNorm: num_features must be positive, got {}", features);
  if (options.affine()) {
    weight = register_parameter("weight", empty({features}));
    bias = register_parameter("bias", empty({features}));
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", zeros({features}));
    running_var = register_buffer("running_var", ones({features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
  reset_parameters();
}

void BatchNormImplBase::reset_running_stats() {
  if (!options.track_running_stats()) return;
  autograd::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void BatchNormImplBase::reset_parameters() {
  reset_running_stats();
  if (options.affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

Tensor BatchNormImplBase::forward(const Tensor& input) {
  check_input_dim(input);
  double momentum = options.momentum().value_or(0.0);
  if (is_training() && options.track_running_stats()) {
    {
      autograd::NoGradGuard no_grad;
      num_batches_tracked.add_(1);
    }
    // Without a momentum the running statistics are the mean over every batch so far.
    if (!options.momentum()) momentum = 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  // Eval mode without running statistics normalises by the batch, as PyTorch does.
  const bool use_batch_statistics = is_training() || !running_mean.defined();
  return functional::batch_norm(input, running_mean, running_var, weight, bias, use_batch_statistics, momentum,
                                options.eps());
}

void BatchNormImplBase::pretty_print(std::ostream& stream) const {
  stream << name() << "(" << options.num_features() << ", eps=" << fmt::format("{}", options.eps()) << ", momentum=";
  if (options.momentum()) stream << fmt::format("{}", *options.momentum());
  else stream << "None";
  stream << ", affine=" << bool_text(options.affine())
         << ", track_running_stats=" << bool_text(options.track_running_stats()) << ")";
}

void BatchNorm1dImpl::check_input_dim(const Tensor& input) const {
  EMBER_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3),
              "BatchNorm1d: expected 2D or 3D input (got {}D input of shape {})", input.defined() ? input.dim() : 0,
              input.defined() ? to_string(input.sizes()) : std::string("[]"));
}

void BatchNorm2dImpl::check_input_dim(const Tensor& input) const {
  EMBER_CHECK(input.defined() && input.dim() == 4, "BatchNorm2d: expected 4D input (got {}D input of shape {})",
              input.defined() ? input.dim() : 0, input.defined() ? to_string(input.sizes()) : std::string("[]"));
}

LayerNormImpl::LayerNormImpl(const LayerNormOptions& options) : options(options) {
  const std::vector<int64_t>& shape = options.normalized_shape();
  EMBER_CHECK(!shape.empty(), "LayerNorm: normalized_shape cannot be empty");
  for (int64_t size : shape) {
    EMBER_CHECK(size > 0, "LayerNorm: normalized_shape must be positive, got {}", to_string(shape));
  }
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", ember::empty(shape));
    bias = register_parameter("bias", ember::empty(shape));
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (!options.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNormImpl::forward(const Tensor& input) {
  return functional::layer_norm(input, options.normalized_shape(), weight, bias, options.eps());
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << "LayerNorm((";
  const std::vector<int64_t>& shape = options.normalized_shape();
  for (size_t i = 0; i < shape.size(); ++i) stream << (i ? ", " : "") << shape[i];
  stream << (shape.size() == 1 ? ",)" : ")") << ", eps=" << fmt::format("{}", options.eps())
         << ", elementwise_affine=" << bool_text(options.elementwise_affine()) << ")";
}

GroupNormImpl::GroupNormImpl(const GroupNormOptions& options) : options(options) {
  EMBER_CHECK(options.num_groups() > 0 && options.num_channels() % options.num_groups() == 0,
              "GroupNorm: num_channels ({}) must be divisible by num_groups ({})", options.num_channels(),
              options.num_groups());
  if (options.affine()) {
    weight = register_parameter("weight", empty({options.num_channels()}));
    bias = register_parameter("bias", empty({options.num_channels()}));
  }
  reset_parameters();
}

void GroupNormImpl::reset_parameters() {
  if (!options.affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor GroupNormImpl::forward(const Tensor& input) {
  EMBER_CHECK(input.defined() && input.dim() >= 2 && input.size(1) == options.num_channels(),
              "GroupNorm: expected input [N, {}, ...], got {}", options.num_channels(),
              input.defined() ? to_string(input.sizes()) : std::string("an undefined tensor"));
  return functional::group_norm(input, options.num_groups(), weight, bias, options.eps());
}

void GroupNormImpl::pretty_print(std::ostream& stream) const {
  stream << "GroupNorm(" << options.num_groups() << ", " << options.num_channels()
         << ", eps=" << fmt::format("{}", options.eps()) << ", affine=" << bool_text(options.affine()) << ")";
}

}  // namespace ember::nn

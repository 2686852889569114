#pragma once
// Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm and GroupNorm.
#include <cstdint>
#include <optional>
#include <vector>

#include "ember/nn/module.h"
#include "ember/nn/options.h"

namespace ember::nn {

struct BatchNormOptions {
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  EMBER_ARG(int64_t, num_features);
  EMBER_ARG(double, eps) = 1e-5;
  // Weight of the current batch in the running statistics; nullopt keeps a cumulative average
  // (momentum 1 / num_batches_tracked).
  EMBER_ARG(std::optional<double>, momentum) = 0.1;
  // Learnable per-channel weight (ones) and bias (zeros).
  EMBER_ARG(bool, affine) = true;
  // Keep running_mean, running_var and num_batches_tracked; without them eval mode normalises
  // by the batch's statistics too.
  EMBER_ARG(bool, track_running_stats) = true;
};
using BatchNorm1dOptions = BatchNormOptions;
using BatchNorm2dOptions = BatchNormOptions;

// Normalises each channel by the batch's statistics in training (updating the running ones)
// and by the running statistics in eval mode.
class BatchNormImplBase : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  void reset_running_stats();
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  BatchNormOptions options;
  Tensor weight;                // [C], when affine
  Tensor bias;                  // [C], when affine
  Tensor running_mean;          // [C], when tracking
  Tensor running_var;           // [C], when tracking
  Tensor num_batches_tracked;   // int64 0-dim, when tracking

 protected:
  explicit BatchNormImplBase(const BatchNormOptions& options);
  // Throws PyTorch's message for an input of the wrong rank.
  virtual void check_input_dim(const Tensor& input) const = 0;
};

// input [N, C] or [N, C, L].
class BatchNorm1dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm1dImpl(const BatchNormOptions& options) : BatchNormImplBase(options) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};
EMBER_MODULE(BatchNorm1d);

// input [N, C, H, W].
class BatchNorm2dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm2dImpl(const BatchNormOptions& options) : BatchNormImplBase(options) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};
EMBER_MODULE(BatchNorm2d);

struct LayerNormOptions {
  LayerNormOptions(std::vector<int64_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}
  LayerNormOptions(int64_t normalized_size) : normalized_shape_{normalized_size} {}
  // The trailing dims normalised over.
  EMBER_ARG(std::vector<int64_t>, normalized_shape);
  EMBER_ARG(double, eps) = 1e-5;
  // Learnable weight (ones) and bias (zeros) of shape normalized_shape.
  EMBER_ARG(bool, elementwise_affine) = true;
};

class LayerNormImpl : public Module {
 public:
  explicit LayerNormImpl(const LayerNormOptions& options);
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  LayerNormOptions options;
  Tensor weight;
  Tensor bias;
};
EMBER_MODULE(LayerNorm);

struct GroupNormOptions {
  GroupNormOptions(int64_t num_groups, int64_t num_channels) : num_groups_(num_groups), num_channels_(num_channels) {}
  EMBER_ARG(int64_t, num_groups);
  EMBER_ARG(int64_t, num_channels);
  EMBER_ARG(double, eps) = 1e-5;
  // Learnable per-channel weight (ones) and bias (zeros).
  EMBER_ARG(bool, affine) = true;
};

class GroupNormImpl : public Module {
 public:
  GroupNormImpl(int64_t num_groups, int64_t num_channels) : GroupNormImpl(GroupNormOptions(num_groups, num_channels)) {}
  explicit GroupNormImpl(const GroupNormOptions& options);
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  GroupNormOptions options;
  Tensor weight;
  Tensor bias;
};
EMBER_MODULE(GroupNorm);

}  // namespace ember::nn

#pragma once
// Loss modules, as torch.nn's: options structs with chainable setters, forward(input, target).
//
//   nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().label_smoothing(0.1));
//   Tensor loss = criterion(logits, labels);
//
// Class weights (and BCEWithLogitsLoss's pos_weight) are registered as buffers, as PyTorch's
// `_WeightedLoss` does, so they appear in state_dict under "weight" and move with to(). Modules
// print as PyTorch's do, by name alone: "CrossEntropyLoss()".
#include <cstdint>
#include <string_view>

#include "ember/nn/functional/loss.h"
#include "ember/nn/module.h"
#include "ember/nn/options.h"

// The reduction option, settable as an enum or by PyTorch's name: `.reduction("sum")`.
#define EMBER_REDUCTION_ARG                                          \
 public:                                                             \
  auto& reduction(std::string_view new_reduction) {                  \
    this->reduction_ = ::ember::nn::parse_reduction(new_reduction);  \
    return *this;                                                    \
  }                                                                  \
  EMBER_ARG(::ember::nn::Reduction, reduction) = ::ember::nn::Reduction::Mean

namespace ember::nn {

struct MSELossOptions {
  MSELossOptions() = default;
  MSELossOptions(Reduction reduction) : reduction_(reduction) {}
  EMBER_REDUCTION_ARG;
};

struct L1LossOptions {
  L1LossOptions() = default;
  L1LossOptions(Reduction reduction) : reduction_(reduction) {}
  EMBER_REDUCTION_ARG;
};

struct SmoothL1LossOptions {
  EMBER_REDUCTION_ARG;
  EMBER_ARG(double, beta) = 1.0;
};

struct HuberLossOptions {
  EMBER_REDUCTION_ARG;
  EMBER_ARG(double, delta) = 1.0;
};

struct NLLLossOptions {
  EMBER_ARG(Tensor, weight);
  EMBER_ARG(int64_t, ignore_index) = -100;
  EMBER_REDUCTION_ARG;
};

struct CrossEntropyLossOptions {
  EMBER_ARG(Tensor, weight);
  EMBER_ARG(int64_t, ignore_index) = -100;
  EMBER_REDUCTION_ARG;
  EMBER_ARG(double, label_smoothing) = 0.0;
};

struct BCELossOptions {
  EMBER_ARG(Tensor, weight);
  EMBER_REDUCTION_ARG;
};

struct BCEWithLogitsLossOptions {
  EMBER_ARG(Tensor, weight);
  EMBER_REDUCTION_ARG;
  EMBER_ARG(Tensor, pos_weight);
};

class MSELossImpl : public Module {
 public:
  explicit MSELossImpl(const MSELossOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target);
  MSELossOptions options;
};
EMBER_MODULE(MSELoss);

class L1LossImpl : public Module {
 public:
  explicit L1LossImpl(const L1LossOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target);
  L1LossOptions options;
};
EMBER_MODULE(L1Loss);

class SmoothL1LossImpl : public Module {
 public:
  explicit SmoothL1LossImpl(const SmoothL1LossOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target);
  SmoothL1LossOptions options;
};
EMBER_MODULE(SmoothL1Loss);

class HuberLossImpl : public Module {
 public:
  explicit HuberLossImpl(const HuberLossOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& input, const Tensor& target);
  HuberLossOptions options;
};
EMBER_MODULE(HuberLoss);

class NLLLossImpl : public Module {
 public:
  explicit NLLLossImpl(const NLLLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target);
  NLLLossOptions options;
  Tensor weight;  // the "weight" buffer; undefined without class weights
};
EMBER_MODULE(NLLLoss);

class CrossEntropyLossImpl : public Module {
 public:
  explicit CrossEntropyLossImpl(const CrossEntropyLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target);
  CrossEntropyLossOptions options;
  Tensor weight;  // the "weight" buffer; undefined without class weights
};
EMBER_MODULE(CrossEntropyLoss);

class BCELossImpl : public Module {
 public:
  explicit BCELossImpl(const BCELossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target);
  BCELossOptions options;
  Tensor weight;  // the "weight" buffer; undefined without weights
};
EMBER_MODULE(BCELoss);

class BCEWithLogitsLossImpl : public Module {
 public:
  explicit BCEWithLogitsLossImpl(const BCEWithLogitsLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target);
  BCEWithLogitsLossOptions options;
  Tensor weight;      // the "weight" buffer; undefined without weights
  Tensor pos_weight;  // the "pos_weight" buffer; undefined without it
};
EMBER_MODULE(BCEWithLogitsLoss);

}  // namespace ember::nn

#pragma once
// Activation layers: ReLU, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, Softmax and LogSoftmax.
#include <cstdint>
#include <string>

#include "ember/nn/module.h"
#include "ember/nn/options.h"

namespace ember::nn {

class ReLUImpl : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(ReLU);

struct LeakyReLUOptions {
  LeakyReLUOptions(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  EMBER_ARG(double, negative_slope);
};

class LeakyReLUImpl : public Module {
 public:
  explicit LeakyReLUImpl(const LeakyReLUOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& input) override;
  void pretty_print(std::ostream& stream) const override;

  LeakyReLUOptions options;
};
EMBER_MODULE(LeakyReLU);

struct GELUOptions {
  GELUOptions(std::string approximate = "none") : approximate_(std::move(approximate)) {}
  // "none" (exact, with erf) or "tanh".
  EMBER_ARG(std::string, approximate);
};

class GELUImpl : public Module {
 public:
  explicit GELUImpl(const GELUOptions& options = {});
  explicit GELUImpl(std::string approximate) : GELUImpl(GELUOptions(std::move(approximate))) {}
  Tensor forward(const Tensor& input) override;
  void pretty_print(std::ostream& stream) const override;

  GELUOptions options;
};
EMBER_MODULE(GELU);

class SiLUImpl : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(SiLU);

class SigmoidImpl : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(Sigmoid);

class TanhImpl : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(Tanh);

struct SoftmaxOptions {
  SoftmaxOptions(int64_t dim) : dim_(dim) {}
  EMBER_ARG(int64_t, dim);
};

using LogSoftmaxOptions = SoftmaxOptions;

// Softmax and LogSoftmax: normalise over options.dim().
class SoftmaxModule : public Module {
 public:
  explicit SoftmaxModule(const SoftmaxOptions& options) : options(options) {}
  // "Softmax(dim=1)".
  void pretty_print(std::ostream& stream) const override;

  SoftmaxOptions options;
};

class SoftmaxImpl : public SoftmaxModule {
 public:
  using SoftmaxModule::SoftmaxModule;
  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(Softmax);

class LogSoftmaxImpl : public SoftmaxModule {
 public:
  using SoftmaxModule::SoftmaxModule;
  Tensor forward(const Tensor& input) override;
};
EMBER_MODULE(LogSoftmax);

}  // namespace ember::nn

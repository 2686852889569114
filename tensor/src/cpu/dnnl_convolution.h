#pragma once
// CPU float32 convolutions through oneDNN, when Ember is built with it (EMBER_WITH_DNNL).
// ops/convolution.cpp decides when to come here and records the autograd node; these functions
// take its convolution reduced to 2-D over plain contiguous buffers ([N, C, H, W] images, the
// weight as Ember stores it) and write plain results, so that either path can serve either
// direction of one convolution. The header names no oneDNN type: nothing outside
// dnnl_convolution.cpp needs oneDNN's headers.
#include <cstdint>

#include "ember/tensor/tensor.h"

namespace ember::cpu {

// A convolution, or a transposed one, reduced to 2-D: conv1d has a unit height, an unbatched
// input a unit batch. The weight is [output channels, input channels / groups, KH, KW] for a
// convolution and [input channels, output channels / groups, KH, KW] for a transposed one.
struct DnnlConvolution {
  bool transposed = false;
  int64_t groups = 1;
  int64_t input[4] = {}, weight[4] = {}, output[4] = {};
  int64_t stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};

  bool operator==(const DnnlConvolution&) const = default;
};

// Whether this build has oneDNN at all.
bool dnnl_built();
// Whether convolutions take it: built, and not turned off by EMBER_DNNL=0 (read once).
bool dnnl_enabled();
// Turns the oneDNN path on or off (on only if built) and returns the previous setting, so that
// tests can run the im2col path on the same inputs.
bool set_dnnl_enabled(bool enabled);
// How many convolutions (of any direction) oneDNN has run in this process, so that tests can
// tell which path a convolution took.
int64_t dnnl_convolution_runs();

// Every tensor is contiguous float32 on the CPU and non-empty; bias is optional. Returns false
// without writing anything when oneDNN has no implementation for the convolution; the caller
// then takes its own path.
bool dnnl_convolution_forward(const DnnlConvolution& conv, const Tensor& input, const Tensor& weight,
                              const Tensor& bias, const Tensor& output);

// Which gradients dnnl_convolution_backward wrote.
struct DnnlBackward {
  bool input = false, weight = false;
};

// Writes grad_input and grad_weight (with grad_bias, when defined) where they are defined and
// oneDNN has an implementation; input is needed only for grad_weight, weight only for
// grad_input. One call, so that the output gradient is reordered once for both.
DnnlBackward dnnl_convolution_backward(const DnnlConvolution& conv, const Tensor& grad_output, const Tensor& input,
                                       const Tensor& weight, const Tensor& grad_input, const Tensor& grad_weight,
                                       const Tensor& grad_bias);

}  // namespace ember::cpu

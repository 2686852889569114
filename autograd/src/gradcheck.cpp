// Builds both Jacobians column by column: the numerical one by perturbing each input element in
// turn, the analytical one by backpropagating each one-hot output gradient with grad().
#include "ember/autograd/gradcheck.h"

#include <cmath>

#include "ember/autograd/autograd.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"

namespace ember::autograd {

namespace {

// The function's output, flattened to float64 values, evaluated without recording.
std::vector<double> evaluate(const std::function<Tensor(const std::vector<Tensor>&)>& function,
                             const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  return function(inputs).to(kFloat64).contiguous().to_vector<double>();
}

}  // namespace

void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& function, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options) {
  std::vector<Tensor> differentiable;
  std::vector<size_t> positions;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    EMBER_CHECK(inputs[i].dtype() == kFloat64, "gradcheck: input {} has dtype {}; gradcheck needs float64 inputs", i,
                name(inputs[i].dtype()));
    EMBER_CHECK(inputs[i].is_leaf(), "gradcheck: input {} must be a leaf tensor", i);
    differentiable.push_back(inputs[i]);
    positions.push_back(i);
  }
  EMBER_CHECK(!differentiable.empty(), "gradcheck: no input requires grad");

  Tensor output;
  {
    EnableGradGuard grad_mode;
    output = function(inputs);
  }
  EMBER_CHECK(output.is_floating_point(), "gradcheck: the function returned dtype {}", name(output.dtype()));
  const int64_t output_count = output.numel();

  // analytical[k][input][j] = d output_k / d input_j
  std::vector<std::vector<std::vector<double>>> analytical(static_cast<size_t>(output_count));
  if (output.requires_grad()) {
    for (int64_t k = 0; k < output_count; ++k) {
      Tensor one_hot = zeros({output_count}, output.options());
      one_hot.narrow(0, k, 1).fill_(1);
      const std::vector<Tensor> grads =
          grad({output}, differentiable, {one_hot.view(output.sizes())}, /*retain_graph=*/true, /*allow_unused=*/true);
      for (size_t i = 0; i < differentiable.size(); ++i) {
        analytical[k].push_back(grads[i].defined() ? grads[i].to(kFloat64).contiguous().to_vector<double>()
                                                   : std::vector<double>(differentiable[i].numel(), 0.0));
      }
    }
  }

  for (size_t i = 0; i < differentiable.size(); ++i) {
    // Perturb through a flat view of the leaf's own memory (not recorded).
    Tensor flat = differentiable[i].detach();
    EMBER_CHECK(flat.is_contiguous(), "gradcheck: input {} must be contiguous", positions[i]);
    flat = flat.view({-1});
    for (int64_t j = 0; j < flat.numel(); ++j) {
      Tensor element = flat.narrow(0, j, 1);
      const double original = element.item<double>();
      element.fill_(original + options.eps);
      const std::vector<double> plus = evaluate(function, inputs);
      element.fill_(original - options.eps);
      const std::vector<double> minus = evaluate(function, inputs);
      element.fill_(original);
      for (int64_t k = 0; k < output_count; ++k) {
        const double numerical = (plus[k] - minus[k]) / (2 * options.eps);
        const double computed = output.requires_grad() ? analytical[k][i][j] : 0.0;
        EMBER_CHECK(std::abs(numerical - computed) <= options.atol + options.rtol * std::abs(numerical),
                    "gradcheck: d output[{}] / d input {}[{}]: backward gives {:.10g}, finite differences give {:.10g}",
                    k, positions[i], j, computed, numerical);
      }
    }
  }
}

}  // namespace ember::autograd

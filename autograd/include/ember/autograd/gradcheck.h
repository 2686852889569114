#pragma once
// Finite-difference gradient checking: compares the engine's gradients of a function with
// central differences, element by element, in float64.
#include <functional>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember::autograd {

struct GradcheckOptions {
  double eps = 1e-6;   // the finite-difference step
  double atol = 1e-5;
  double rtol = 1e-3;
};

// Checks d(function(inputs))/d(inputs[i]) for every input that requires grad (they must be
// float64). Throws ember::Error naming the input, the output and input elements, and both
// values at the first mismatch. The function may return a tensor of any shape.
void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& function, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options = {});

}  // namespace ember::autograd

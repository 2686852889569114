#pragma once
// Reverse-mode automatic differentiation: the engine that walks the graph
// ops record (ember/tensor/autograd_graph.h, which also has NoGradGuard and EnableGradGuard).
// Tensor::backward() is defined here.
#include <vector>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/tensor.h"

namespace ember::autograd {

// Accumulates d(sum_i <tensors[i], grad_tensors[i]>)/d(leaf) into every leaf's .grad().
// `grad_tensors` may be empty when every tensor holds one element (their gradient is 1).
// Unless `retain_graph`, the graph's saved tensors are freed as it is walked.
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              bool retain_graph = false);

// Returns d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs[j]) without touching any .grad().
// An input the outputs do not depend on is an error unless `allow_unused` (then undefined).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

}  // namespace ember::autograd

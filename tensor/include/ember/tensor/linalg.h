#pragma once
// Matrix products: OpenBLAS on CPU, cuBLAS on CUDA. Transposed views go to BLAS without copies.
#include "ember/tensor/tensor.h"

namespace ember {

// torch.matmul: 1-D x 1-D dot, 2-D x 2-D mm, 1-D operands promoted and squeezed back,
// batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);
// beta * bias + alpha * (a @ b), bias broadcast to [n, m].
Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b, const Scalar& beta = 1, const Scalar& alpha = 1);

}  // namespace ember

#pragma once
// Transcendental unary ops over contiguous float32/float64 runs, through SLEEF's vector functions.
// GCC does not vectorize calls to std::exp and friends (glibc declares its vector variants only
// under -ffast-math), which made them the bottleneck of softmax and of the activations.
//
// Each function maps in[0, n) to out[0, n); in and out may be the same array (in-place ops) but
// must not otherwise overlap. An element's value depends on that element alone: SLEEF's
// deterministic variants compute each lane independently of its neighbours, and a short tail is
// padded to a full vector and goes through the same code. So results never depend on how
// parallel_for split the work. The formulas are those of kernels/functors.h with SLEEF's 1-ulp
// (u10) functions in place of std::'s.
#include <cstdint>

#include "kernels/functors.h"

namespace ember::cpu::vector_math {

template <class T>
using Kernel = void (*)(const T* in, T* out, int64_t n);

// Defined for T = float and T = double.
template <class T> void exp(const T* in, T* out, int64_t n);
template <class T> void log(const T* in, T* out, int64_t n);
template <class T> void log1p(const T* in, T* out, int64_t n);
template <class T> void sqrt(const T* in, T* out, int64_t n);
template <class T> void rsqrt(const T* in, T* out, int64_t n);
template <class T> void sin(const T* in, T* out, int64_t n);
template <class T> void cos(const T* in, T* out, int64_t n);
template <class T> void tanh(const T* in, T* out, int64_t n);
template <class T> void sigmoid(const T* in, T* out, int64_t n);
template <class T> void silu(const T* in, T* out, int64_t n);
template <class T> void gelu(const T* in, T* out, int64_t n);
template <class T> void gelu_tanh(const T* in, T* out, int64_t n);

// Activation backward passes whose formulas call exp, erf or tanh: out = f(grad, x) elementwise,
// the formulas of the *Backward functors in kernels/functors.h. out may be grad or x.
template <class T>
using BinaryKernel = void (*)(const T* grad, const T* x, T* out, int64_t n);
template <class T> void gelu_backward(const T* grad, const T* x, T* out, int64_t n);
template <class T> void gelu_tanh_backward(const T* grad, const T* x, T* out, int64_t n);
template <class T> void silu_backward(const T* grad, const T* x, T* out, int64_t n);

// The function for op, or nullptr when op has none here (the caller keeps the generic loop).
template <class T> Kernel<T> find(kernels::UnaryOp op);
template <class T> BinaryKernel<T> find(kernels::BinaryOp op);

// The SLEEF instruction set chosen at compile time: "avx512f", "avx2", "sse2" or "scalar".
const char* isa();

// Elements per vector for T under that instruction set (1 for "scalar").
template <class T> int lanes();

}  // namespace ember::cpu::vector_math

#include "cpu/vector_math.h"

#include <cmath>
#include <cstring>

#if defined(__SSE2__)
// GCC 12 flags the deliberately undefined pass-through operand inside _mm512_sqrt_ps.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <sleef.h>

namespace ember::cpu::vector_math {
namespace {

// Simd<T>: the vector type of the widest instruction set the compiler targets and SLEEF's
// functions on it. The x86 vector types are GCC vector extensions, so the formulas below are
// written once with ordinary operators and also compile for the scalar fallback (Vector = T).
//
// Only SLEEF's deterministic variants will do (prefix finz_ with FMA, cinz_ without): the plain
// ones pick a faster range reduction for sin and cos when every lane of a vector is small, so an
// element's value would depend on its neighbours, hence on where parallel_for's chunks begin.
// SLEEF names them Sleef_<finz|cinz>_<name><f|d><lanes>_<accuracy><isa>. Square roots use the
// instruction instead: IEEE sqrt is correctly rounded, hence the same as std::sqrt bit for bit.
template <class T>
struct Simd;

#define EMBER_SLEEF_SIMD(T, VectorType, prefix, type_and_lanes, isa_suffix, hardware_sqrt)           \
  template <>                                                                                       \
  struct Simd<T> {                                                                                  \
    using Vector = VectorType;                                                                      \
    static Vector exp(Vector x) { return Sleef_##prefix##_exp##type_and_lanes##_u10##isa_suffix(x); } \
    static Vector log(Vector x) { return Sleef_##prefix##_log##type_and_lanes##_u10##isa_suffix(x); } \
    static Vector log1p(Vector x) { return Sleef_##prefix##_log1p##type_and_lanes##_u10##isa_suffix(x); } \
    static Vector sqrt(Vector x) { return hardware_sqrt(x); }                                       \
    static Vector sin(Vector x) { return Sleef_##prefix##_sin##type_and_lanes##_u10##isa_suffix(x); } \
    static Vector cos(Vector x) { return Sleef_##prefix##_cos##type_and_lanes##_u10##isa_suffix(x); } \
    static Vector tanh(Vector x) { return Sleef_##prefix##_tanh##type_and_lanes##_u10##isa_suffix(x); } \
    static Vector erf(Vector x) { return Sleef_##prefix##_erf##type_and_lanes##_u10##isa_suffix(x); } \
  };

// SLEEF's avx2 and avx512f builds use FMA, which every CPU with those extensions has.
#if defined(__AVX512F__) && defined(__FMA__)
EMBER_SLEEF_SIMD(float, __m512, finz, f16, avx512f, _mm512_sqrt_ps)
EMBER_SLEEF_SIMD(double, __m512d, finz, d8, avx512f, _mm512_sqrt_pd)
constexpr const char* kIsa = "avx512f";
#elif defined(__AVX2__) && defined(__FMA__)
EMBER_SLEEF_SIMD(float, __m256, finz, f8, avx2, _mm256_sqrt_ps)
EMBER_SLEEF_SIMD(double, __m256d, finz, d4, avx2, _mm256_sqrt_pd)
constexpr const char* kIsa = "avx2";
#elif defined(__SSE2__)
EMBER_SLEEF_SIMD(float, __m128, cinz, f4, sse2, _mm_sqrt_ps)
EMBER_SLEEF_SIMD(double, __m128d, cinz, d2, sse2, _mm_sqrt_pd)
constexpr const char* kIsa = "sse2";
#else
EMBER_SLEEF_SIMD(float, float, cinz, f1, purec, std::sqrt)
EMBER_SLEEF_SIMD(double, double, cinz, d1, purec, std::sqrt)
constexpr const char* kIsa = "scalar";
#endif

#undef EMBER_SLEEF_SIMD

template <class T>
constexpr int64_t kLanes = sizeof(typename Simd<T>::Vector) / sizeof(T);

// Applies formula to whole vectors; a tail shorter than a vector is padded with zeros and goes
// through the same formula, so that no element's value depends on where its chunk began.
template <class T, class Formula>
void map(const T* in, T* out, int64_t n, const Formula& formula) {
  using Vector = typename Simd<T>::Vector;
  int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>) {
    Vector x;
    std::memcpy(&x, in + i, sizeof(Vector));  // an unaligned vector load
    const Vector y = formula(x);
    std::memcpy(out + i, &y, sizeof(Vector));
  }
  if (i == n) return;
  const size_t tail_bytes = static_cast<size_t>(n - i) * sizeof(T);
  T padded[kLanes<T>] = {};
  std::memcpy(padded, in + i, tail_bytes);
  Vector x;
  std::memcpy(&x, padded, sizeof(Vector));
  const Vector y = formula(x);
  std::memcpy(padded, &y, sizeof(Vector));
  std::memcpy(out + i, padded, tail_bytes);
}

// map for two inputs.
template <class T, class Formula>
void map2(const T* first, const T* second, T* out, int64_t n, const Formula& formula) {
  using Vector = typename Simd<T>::Vector;
  int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>) {
    Vector a, b;
    std::memcpy(&a, first + i, sizeof(Vector));
    std::memcpy(&b, second + i, sizeof(Vector));
    const Vector y = formula(a, b);
    std::memcpy(out + i, &y, sizeof(Vector));
  }
  if (i == n) return;
  const size_t tail_bytes = static_cast<size_t>(n - i) * sizeof(T);
  T padded_first[kLanes<T>] = {}, padded_second[kLanes<T>] = {};
  std::memcpy(padded_first, first + i, tail_bytes);
  std::memcpy(padded_second, second + i, tail_bytes);
  Vector a, b;
  std::memcpy(&a, padded_first, sizeof(Vector));
  std::memcpy(&b, padded_second, sizeof(Vector));
  const Vector y = formula(a, b);
  std::memcpy(padded_first, &y, sizeof(Vector));
  std::memcpy(out + i, padded_first, tail_bytes);
}

}  // namespace

// The composite formulas match kernels/functors.h operation for operation.
template <class T>
void exp(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return Simd<T>::exp(x); });
}
template <class T>
void log(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return Simd<T>::log(x); });
}
// SLEEF's log1p returns infinity above 1e38 (float) or 1e307 (double). Past 1e30, log(x) differs
// from log1p(x) by about 1/x, far below an ulp, so those lanes take log.
template <class T>
void log1p(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return x > T(1e30) ? Simd<T>::log(x) : Simd<T>::log1p(x); });
}
template <class T>
void sqrt(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return Simd<T>::sqrt(x); });
}
template <class T>
void rsqrt(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return T(1) / Simd<T>::sqrt(x); });
}
template <class T>
void sin(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return Simd<T>::sin(x); });
}
template <class T>
void cos(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return Simd<T>::cos(x); });
}
template <class T>
void tanh(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return Simd<T>::tanh(x); });
}
template <class T>
void sigmoid(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return T(1) / (T(1) + Simd<T>::exp(-x)); });
}
template <class T>
void silu(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return x / (T(1) + Simd<T>::exp(-x)); });
}
template <class T>
void gelu(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) { return T(0.5) * x * (T(1) + Simd<T>::erf(x * T(0.70710678118654752440))); });
}
template <class T>
void gelu_tanh(const T* in, T* out, int64_t n) {
  map(in, out, n, [](auto x) {
    const auto inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);  // sqrt(2/pi)
    return T(0.5) * x * (T(1) + Simd<T>::tanh(inner));
  });
}

template <class T>
void gelu_backward(const T* grad, const T* x, T* out, int64_t n) {
  map2(grad, x, out, n, [](auto g, auto v) {
    const auto cdf = T(0.5) * (T(1) + Simd<T>::erf(v * T(0.70710678118654752440)));
    const auto pdf = Simd<T>::exp(T(-0.5) * v * v) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
    return g * (cdf + v * pdf);
  });
}
template <class T>
void gelu_tanh_backward(const T* grad, const T* x, T* out, int64_t n) {
  map2(grad, x, out, n, [](auto g, auto v) {
    const T beta = T(0.79788456080286535588);  // sqrt(2/pi)
    const T kappa = T(0.044715);
    const auto v_squared = v * v;
    const auto tanh_inner = Simd<T>::tanh(beta * (v + kappa * v_squared * v));
    const auto left_derivative = T(0.5) * (T(1) + tanh_inner);
    const auto inner_derivative = beta * (T(1) + T(3) * kappa * v_squared);
    return g * (left_derivative + T(0.5) * v * (T(1) - tanh_inner * tanh_inner) * inner_derivative);
  });
}
template <class T>
void silu_backward(const T* grad, const T* x, T* out, int64_t n) {
  map2(grad, x, out, n, [](auto g, auto v) {
    const auto s = T(1) / (T(1) + Simd<T>::exp(-v));
    return g * s * (T(1) + v * (T(1) - s));
  });
}

template <class T>
BinaryKernel<T> find(kernels::BinaryOp op) {
  using kernels::BinaryOp;
  switch (op) {
    case BinaryOp::GeluBackward: return &gelu_backward<T>;
    case BinaryOp::GeluTanhBackward: return &gelu_tanh_backward<T>;
    case BinaryOp::SiluBackward: return &silu_backward<T>;
    default: return nullptr;
  }
}

template <class T>
Kernel<T> find(kernels::UnaryOp op) {
  using kernels::UnaryOp;
  switch (op) {
    case UnaryOp::Exp: return &exp<T>;
    case UnaryOp::Log: return &log<T>;
    case UnaryOp::Log1p: return &log1p<T>;
    case UnaryOp::Sqrt: return &sqrt<T>;
    case UnaryOp::Rsqrt: return &rsqrt<T>;
    case UnaryOp::Sin: return &sin<T>;
    case UnaryOp::Cos: return &cos<T>;
    case UnaryOp::Tanh: return &tanh<T>;
    case UnaryOp::Sigmoid: return &sigmoid<T>;
    case UnaryOp::Silu: return &silu<T>;
    case UnaryOp::Gelu: return &gelu<T>;
    case UnaryOp::GeluTanh: return &gelu_tanh<T>;
    default: return nullptr;
  }
}

const char* isa() { return kIsa; }

template <class T>
int lanes() {
  return static_cast<int>(kLanes<T>);
}

#define EMBER_VECTOR_MATH_INSTANTIATE(T)                   \
  template void exp<T>(const T*, T*, int64_t);             \
  template void log<T>(const T*, T*, int64_t);             \
  template void log1p<T>(const T*, T*, int64_t);           \
  template void sqrt<T>(const T*, T*, int64_t);            \
  template void rsqrt<T>(const T*, T*, int64_t);           \
  template void sin<T>(const T*, T*, int64_t);             \
  template void cos<T>(const T*, T*, int64_t);             \
  template void tanh<T>(const T*, T*, int64_t);            \
  template void sigmoid<T>(const T*, T*, int64_t);         \
  template void silu<T>(const T*, T*, int64_t);            \
  template void gelu<T>(const T*, T*, int64_t);            \
  template void gelu_tanh<T>(const T*, T*, int64_t);       \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t);      \
  template void gelu_tanh_backward<T>(const T*, const T*, T*, int64_t); \
  template void silu_backward<T>(const T*, const T*, T*, int64_t);      \
  template Kernel<T> find<T>(kernels::UnaryOp);            \
  template BinaryKernel<T> find<T>(kernels::BinaryOp);     \
  template int lanes<T>();

EMBER_VECTOR_MATH_INSTANTIATE(float)
EMBER_VECTOR_MATH_INSTANTIATE(double)

#undef EMBER_VECTOR_MATH_INSTANTIATE

}  // namespace ember::cpu::vector_math

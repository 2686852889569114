#pragma once
// The arithmetic of every elementwise op, written once for the CPU loops and the CUDA kernels.
// Functors take and return compute_t<T> (float for the 16-bit floats).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "ember/tensor/dtype.h"
#include "ember/tensor/macros.h"

namespace ember::kernels {

enum class UnaryOp : uint8_t {
  Neg, Abs, Sign, Square, Relu, LeakyRelu, Clamp,
  Exp, Log, Log1p, Sqrt, Rsqrt, Reciprocal, Sin, Cos, Tanh, Sigmoid, Gelu, GeluTanh, Silu,
  LogicalNot,
};

// The *Backward ops take (gradient, saved value) and give the input's gradient: each activation's
// backward is one pass over memory instead of a chain of temporaries. Comparisons stay last.
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,
  ThresholdBackward, ClampBackward, LeakyReluBackward, SigmoidBackward, TanhBackward, GeluBackward,
  GeluTanhBackward, SiluBackward,
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
};

// Parameters some ops take: add's alpha, clamp's bounds, leaky_relu's slope, threshold's threshold.
struct OpParams {
  double a = 0.0;
  double b = 0.0;
  bool has_a = false;
  bool has_b = false;
};

constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }
constexpr bool is_backward(BinaryOp op) { return op >= BinaryOp::ThresholdBackward && op <= BinaryOp::SiluBackward; }
// Ops defined only for floating inputs; the front end converts integer inputs first.
constexpr bool needs_floating(UnaryOp op) { return op >= UnaryOp::Exp && op <= UnaryOp::Silu; }

template <class T> struct Neg { EMBER_INLINE T operator()(T x) const { return -x; } };
template <> struct Neg<bool> { EMBER_INLINE bool operator()(bool x) const { return x; } };
template <class T> struct Abs {
  EMBER_INLINE T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T> || std::is_same_v<T, bool>) return x;
    else return x < T(0) ? -x : x;
  }
};
template <class T> struct Sign {
  EMBER_INLINE T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else return static_cast<T>((T(0) < x) - (x < T(0)));
  }
};
template <class T> struct Square {
  EMBER_INLINE T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else return x * x;
  }
};
template <class T> struct Relu { EMBER_INLINE T operator()(T x) const { return x > T(0) ? x : T(0); } };
// The product is computed for every element and then selected: GCC does not vectorize a
// multiply that only one branch performs (under -ftrapping-math it might trap).
template <class T> struct LeakyRelu {
  T slope;
  EMBER_INLINE T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) {
      return x;
    } else {
      const T scaled = x * slope;
      return x > T(0) ? x : scaled;
    }
  }
};
// NaN passes through, as in PyTorch.
template <class T> struct Clamp {
  T low, high;
  bool has_low, has_high;
  EMBER_INLINE T operator()(T x) const {
    if (has_low && x < low) x = low;
    if (has_high && x > high) x = high;
    return x;
  }
};
template <class T> struct LogicalNot { EMBER_INLINE T operator()(T x) const { return !x; } };

template <class T> struct Exp { EMBER_INLINE T operator()(T x) const { return std::exp(x); } };
template <class T> struct Log { EMBER_INLINE T operator()(T x) const { return std::log(x); } };
template <class T> struct Log1p { EMBER_INLINE T operator()(T x) const { return std::log1p(x); } };
template <class T> struct Sqrt { EMBER_INLINE T operator()(T x) const { return std::sqrt(x); } };
template <class T> struct Rsqrt { EMBER_INLINE T operator()(T x) const { return T(1) / std::sqrt(x); } };
template <class T> struct Reciprocal { EMBER_INLINE T operator()(T x) const { return T(1) / x; } };
template <class T> struct Sin { EMBER_INLINE T operator()(T x) const { return std::sin(x); } };
template <class T> struct Cos { EMBER_INLINE T operator()(T x) const { return std::cos(x); } };
template <class T> struct Tanh { EMBER_INLINE T operator()(T x) const { return std::tanh(x); } };
template <class T> struct Sigmoid { EMBER_INLINE T operator()(T x) const { return T(1) / (T(1) + std::exp(-x)); } };
template <class T> struct Gelu {
  EMBER_INLINE T operator()(T x) const { return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440))); }
};
template <class T> struct GeluTanh {
  EMBER_INLINE T operator()(T x) const {
    const T inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);  // sqrt(2/pi)
    return T(0.5) * x * (T(1) + std::tanh(inner));
  }
};
template <class T> struct Silu { EMBER_INLINE T operator()(T x) const { return x / (T(1) + std::exp(-x)); } };

template <class T> struct Add {
  T alpha;
  EMBER_INLINE T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return a || (alpha && b);
    else return a + alpha * b;
  }
};
template <class T> struct Sub {
  T alpha;
  EMBER_INLINE T operator()(T a, T b) const { return a - alpha * b; }
};
template <class T> struct Mul {
  EMBER_INLINE T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return a && b;
    else return a * b;
  }
};
template <class T> struct Div { EMBER_INLINE T operator()(T a, T b) const { return a / b; } };
template <class T> struct Pow {
  EMBER_INLINE T operator()(T base, T exponent) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(base, exponent);
    } else if constexpr (std::is_same_v<T, bool>) {
      return base || !exponent;
    } else {
      // Exponentiation by squaring. A negative exponent gives 1/base^n truncated: 0 unless
      // |base| is 1 (PyTorch's rule; the front end rejects negative number exponents).
      if constexpr (std::is_signed_v<T>) {
        if (exponent < 0) return base == 1 ? T(1) : base == -1 ? T((exponent & 1) ? -1 : 1) : T(0);
      }
      T result = 1;
      while (exponent > 0) {
        if (exponent & 1) result *= base;
        base *= base;
        exponent >>= 1;
      }
      return result;
    }
  }
};
template <class T> struct Maximum {
  EMBER_INLINE T operator()(T a, T b) const { return (a > b || a != a) ? a : b; }
};
template <class T> struct Minimum {
  EMBER_INLINE T operator()(T a, T b) const { return (a < b || a != a) ? a : b; }
};
template <class T> struct Eq { EMBER_INLINE bool operator()(T a, T b) const { return a == b; } };
template <class T> struct Ne { EMBER_INLINE bool operator()(T a, T b) const { return a != b; } };
template <class T> struct Lt { EMBER_INLINE bool operator()(T a, T b) const { return a < b; } };
template <class T> struct Le { EMBER_INLINE bool operator()(T a, T b) const { return a <= b; } };
template <class T> struct Gt { EMBER_INLINE bool operator()(T a, T b) const { return a > b; } };
template <class T> struct Ge { EMBER_INLINE bool operator()(T a, T b) const { return a >= b; } };
template <class T> struct LogicalAnd { EMBER_INLINE bool operator()(T a, T b) const { return a && b; } };
template <class T> struct LogicalOr { EMBER_INLINE bool operator()(T a, T b) const { return a || b; } };

// ---- activation backward: (gradient, saved value) -> input gradient, as PyTorch computes it ----

// relu's backward from its output: nothing flows where the value is at or below the threshold
// (NaN passes the gradient, as PyTorch's threshold_backward).
template <class T> struct ThresholdBackward {
  T threshold;
  EMBER_INLINE T operator()(T grad, T value) const { return value <= threshold ? T(0) : grad; }
};
// clamp's backward from its input: the gradient passes where low <= x <= high.
template <class T> struct ClampBackward {
  T low, high;
  bool has_low, has_high;
  EMBER_INLINE T operator()(T grad, T x) const {
    const bool blocked = (has_low && !(x >= low)) || (has_high && !(x <= high));
    return blocked ? T(0) : grad;
  }
};
template <class T> struct LeakyReluBackward {
  T slope;
  EMBER_INLINE T operator()(T grad, T x) const {
    const T scaled = grad * slope;  // unconditionally, as in LeakyRelu
    return x > T(0) ? grad : scaled;
  }
};
// From the output y = sigmoid(x): dy/dx = (1 - y) * y.
template <class T> struct SigmoidBackward {
  EMBER_INLINE T operator()(T grad, T y) const { return grad * (T(1) - y) * y; }
};
// From the output y = tanh(x): dy/dx = 1 - y^2.
template <class T> struct TanhBackward {
  EMBER_INLINE T operator()(T grad, T y) const { return grad * (T(1) - y * y); }
};
// d/dx x * Phi(x) = Phi(x) + x * phi(x).
template <class T> struct GeluBackward {
  EMBER_INLINE T operator()(T grad, T x) const {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
    return grad * (cdf + x * pdf);
  }
};
template <class T> struct GeluTanhBackward {
  EMBER_INLINE T operator()(T grad, T x) const {
    const T beta = T(0.79788456080286535588);  // sqrt(2/pi)
    const T kappa = T(0.044715);
    const T x_squared = x * x;
    const T tanh_inner = std::tanh(beta * (x + kappa * x_squared * x));
    const T left_derivative = T(0.5) * (T(1) + tanh_inner);
    const T inner_derivative = beta * (T(1) + T(3) * kappa * x_squared);
    return grad * (left_derivative + T(0.5) * x * (T(1) - tanh_inner * tanh_inner) * inner_derivative);
  }
};
// d/dx x * s(x) = s * (1 + x * (1 - s)) with s = sigmoid(x).
template <class T> struct SiluBackward {
  EMBER_INLINE T operator()(T grad, T x) const {
    const T s = T(1) / (T(1) + std::exp(-x));
    return grad * s * (T(1) + x * (T(1) - s));
  }
};

template <class T> struct Where {
  EMBER_INLINE T operator()(bool condition, T a, T b) const { return condition ? a : b; }
};

// Calls visitor(functor) with the functor for op over compute type C. Both backends use this,
// so an op added here runs on CPU and CUDA alike.
template <class C, class Visitor>
void visit_unary(UnaryOp op, const OpParams& params, Visitor&& visitor) {
  switch (op) {
    case UnaryOp::Neg: return visitor(Neg<C>{});
    case UnaryOp::Abs: return visitor(Abs<C>{});
    case UnaryOp::Sign: return visitor(Sign<C>{});
    case UnaryOp::Square: return visitor(Square<C>{});
    case UnaryOp::Relu: return visitor(Relu<C>{});
    case UnaryOp::LeakyRelu: return visitor(LeakyRelu<C>{static_cast<C>(params.a)});
    case UnaryOp::Clamp:
      return visitor(Clamp<C>{static_cast<C>(params.a), static_cast<C>(params.b), params.has_a, params.has_b});
    case UnaryOp::LogicalNot: return visitor(LogicalNot<C>{});
    default: break;
  }
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case UnaryOp::Exp: return visitor(Exp<C>{});
      case UnaryOp::Log: return visitor(Log<C>{});
      case UnaryOp::Log1p: return visitor(Log1p<C>{});
      case UnaryOp::Sqrt: return visitor(Sqrt<C>{});
      case UnaryOp::Rsqrt: return visitor(Rsqrt<C>{});
      case UnaryOp::Reciprocal: return visitor(Reciprocal<C>{});
      case UnaryOp::Sin: return visitor(Sin<C>{});
      case UnaryOp::Cos: return visitor(Cos<C>{});
      case UnaryOp::Tanh: return visitor(Tanh<C>{});
      case UnaryOp::Sigmoid: return visitor(Sigmoid<C>{});
      case UnaryOp::Gelu: return visitor(Gelu<C>{});
      case UnaryOp::GeluTanh: return visitor(GeluTanh<C>{});
      case UnaryOp::Silu: return visitor(Silu<C>{});
      default: break;
    }
  }
}

template <class C, class Visitor>
void visit_backward(BinaryOp op, const OpParams& params, Visitor&& visitor) {
  switch (op) {
    case BinaryOp::ThresholdBackward: return visitor(ThresholdBackward<C>{static_cast<C>(params.a)});
    case BinaryOp::ClampBackward:
      return visitor(ClampBackward<C>{static_cast<C>(params.a), static_cast<C>(params.b), params.has_a, params.has_b});
    case BinaryOp::LeakyReluBackward: return visitor(LeakyReluBackward<C>{static_cast<C>(params.a)});
    case BinaryOp::SigmoidBackward: return visitor(SigmoidBackward<C>{});
    case BinaryOp::TanhBackward: return visitor(TanhBackward<C>{});
    case BinaryOp::GeluBackward: return visitor(GeluBackward<C>{});
    case BinaryOp::GeluTanhBackward: return visitor(GeluTanhBackward<C>{});
    case BinaryOp::SiluBackward: return visitor(SiluBackward<C>{});
    default: break;
  }
}

// Arithmetic ops give C; comparisons and logical ops give bool.
template <class C, class Visitor>
void visit_binary(BinaryOp op, const OpParams& params, Visitor&& visitor) {
  switch (op) {
    case BinaryOp::Add: return visitor(Add<C>{static_cast<C>(params.a)});
    case BinaryOp::Sub:
      if constexpr (!std::is_same_v<C, bool>) return visitor(Sub<C>{static_cast<C>(params.a)});
      break;
    case BinaryOp::Mul: return visitor(Mul<C>{});
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<C>) return visitor(Div<C>{});
      break;
    case BinaryOp::Pow: return visitor(Pow<C>{});
    case BinaryOp::Maximum: return visitor(Maximum<C>{});
    case BinaryOp::Minimum: return visitor(Minimum<C>{});
    case BinaryOp::ThresholdBackward:
    case BinaryOp::ClampBackward:
    case BinaryOp::LeakyReluBackward:
    case BinaryOp::SigmoidBackward:
    case BinaryOp::TanhBackward:
    case BinaryOp::GeluBackward:
    case BinaryOp::GeluTanhBackward:
    case BinaryOp::SiluBackward:
      // Gradients are floating; the front end never asks for these on other types.
      if constexpr (std::is_floating_point_v<C>) return visit_backward<C>(op, params, visitor);
      break;
    case BinaryOp::Eq: return visitor(Eq<C>{});
    case BinaryOp::Ne: return visitor(Ne<C>{});
    case BinaryOp::Lt: return visitor(Lt<C>{});
    case BinaryOp::Le: return visitor(Le<C>{});
    case BinaryOp::Gt: return visitor(Gt<C>{});
    case BinaryOp::Ge: return visitor(Ge<C>{});
    case BinaryOp::LogicalAnd: return visitor(LogicalAnd<C>{});
    case BinaryOp::LogicalOr: return visitor(LogicalOr<C>{});
  }
}

}  // namespace ember::kernels

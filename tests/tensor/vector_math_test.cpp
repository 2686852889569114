// The SLEEF-backed CPU kernels of cpu/vector_math.h: accuracy against long-double std:: math over
// the whole float range, independence from where a run starts or is split, and their use by
// the dense path of the unary ops (thread counts, non-dense inputs).
#include <gtest/gtest.h>

#include <ember/ember.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/vector_math.h"

namespace ember {
namespace {

using kernels::UnaryOp;
namespace vm = cpu::vector_math;

constexpr long double kPi = 3.141592653589793238462643383279502884L;

// How much absolute error an op may add on top of the relative tolerance, for reasons the
// formula itself carries (shared with kernels/functors.h), not SLEEF.
enum class Floor {
  Subnormal,     // results in the subnormal range keep only a few significant bits
  ExpOverflow,   // exp(-x) overflows once the exact result underflows: sigmoid, silu
  Cancellation,  // 1 + erf or 1 + tanh cancels for negative x: gelu, gelu_tanh
};

struct OpCase {
  const char* name;
  UnaryOp op;
  long double (*reference)(long double);
  Floor floor;
};

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"exp", UnaryOp::Exp, [](long double x) { return std::exp(x); }, Floor::Subnormal},
      {"log", UnaryOp::Log, [](long double x) { return std::log(x); }, Floor::Subnormal},
      {"log1p", UnaryOp::Log1p, [](long double x) { return std::log1p(x); }, Floor::Subnormal},
      {"sqrt", UnaryOp::Sqrt, [](long double x) { return std::sqrt(x); }, Floor::Subnormal},
      {"rsqrt", UnaryOp::Rsqrt, [](long double x) { return 1 / std::sqrt(x); }, Floor::Subnormal},
      {"sin", UnaryOp::Sin, [](long double x) { return std::sin(x); }, Floor::Subnormal},
      {"cos", UnaryOp::Cos, [](long double x) { return std::cos(x); }, Floor::Subnormal},
      {"tanh", UnaryOp::Tanh, [](long double x) { return std::tanh(x); }, Floor::Subnormal},
      {"sigmoid", UnaryOp::Sigmoid, [](long double x) { return 1 / (1 + std::exp(-x)); }, Floor::ExpOverflow},
      {"silu", UnaryOp::Silu, [](long double x) { return x / (1 + std::exp(-x)); }, Floor::ExpOverflow},
      {"gelu", UnaryOp::Gelu, [](long double x) { return x / 2 * (1 + std::erf(x / std::sqrt(2.0L))); },
       Floor::Cancellation},
      {"gelu_tanh", UnaryOp::GeluTanh,
       [](long double x) { return x / 2 * (1 + std::tanh(std::sqrt(2 / kPi) * (x + 0.044715L * x * x * x))); },
       Floor::Cancellation},
  };
  return cases;
}

// Special values, every binary exponent from the subnormals to the largest finite numbers with
// both signs, and a dense random sample where the functions bend.
template <class T>
std::vector<T> wide_inputs() {
  using Limits = std::numeric_limits<T>;
  std::vector<T> inputs = {T(0),           T(-0.0),          Limits::infinity(), -Limits::infinity(),
                           Limits::quiet_NaN(), Limits::denorm_min(), -Limits::denorm_min(), Limits::min(),
                           -Limits::min(), Limits::min() / 8, -Limits::min() / 3, Limits::max(),
                           Limits::lowest(), Limits::epsilon(), T(1),  T(-1),
                           T(0.5),         T(-0.5),          T(-1 + Limits::epsilon()), T(-0.999),
                           T(kPi),         T(-kPi),          T(kPi / 2),     T(1e4),
                           T(88.7),        T(-87.3),         T(-89.5),       T(-103.5),
                           T(709.5),       T(-745.0),        T(-5),          T(-9.5),
                           // where SLEEF's own sin and cos change their range reduction
                           T(15),          std::nextafter(T(15), T(0)), T(125), std::nextafter(T(125), T(0)),
                           T(39000),       T(1e14),          std::nextafter(T(1e14), T(0)), T(1e30)};
  for (int exponent = Limits::min_exponent - Limits::digits; exponent < Limits::max_exponent; ++exponent) {
    inputs.push_back(std::ldexp(T(1.37), exponent));
    inputs.push_back(std::ldexp(T(-1.61), exponent));
  }
  std::mt19937 generator(20240611);
  std::uniform_real_distribution<double> near(-30.0, 30.0);
  for (int i = 0; i < 3000; ++i) inputs.push_back(static_cast<T>(near(generator)));
  return inputs;
}

// got (in T) against the long-double reference at input x, with a relative tolerance of 16 ulp.
template <class T>
::testing::AssertionResult close_to_reference(const OpCase& c, T x, T got) {
  using Limits = std::numeric_limits<T>;
  const long double reference = c.reference(x);
  auto failure = [&](const char* why) {
    return ::testing::AssertionFailure() << c.name << "(" << static_cast<double>(x)
                                         << ") = " << static_cast<double>(got) << ", reference "
                                         << static_cast<double>(reference) << ": " << why;
  };
  if (std::isnan(reference)) return std::isnan(got) ? ::testing::AssertionSuccess() : failure("expected nan");
  const T rounded = static_cast<T>(reference);
  if (std::isinf(rounded)) return got == rounded ? ::testing::AssertionSuccess() : failure("expected infinity");
  if (reference == 0) {
    const bool same = got == 0 && std::signbit(got) == std::signbit(reference);
    return same ? ::testing::AssertionSuccess() : failure("expected a zero of the same sign");
  }
  const long double magnitude = std::fabs(static_cast<long double>(x));
  long double floor = 2 * static_cast<long double>(Limits::denorm_min());
  if (c.floor == Floor::ExpOverflow) floor += Limits::min() * std::max(1.0L, magnitude);
  if (c.floor == Floor::Cancellation) floor += 2 * Limits::epsilon() * magnitude;
  const long double allowed = 16 * Limits::epsilon() * std::fabs(reference) + floor;
  if (!std::isfinite(got) || std::fabs(got - reference) > allowed) return failure("outside the tolerance");
  return ::testing::AssertionSuccess();
}

template <class T>
bool same_bits(const T* a, const T* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(T)) == 0;
}

template <class T>
void check_accuracy() {
  const std::vector<T> inputs = wide_inputs<T>();
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name);
    const vm::Kernel<T> kernel = vm::find<T>(c.op);
    ASSERT_NE(kernel, nullptr);
    std::vector<T> out(inputs.size());
    kernel(inputs.data(), out.data(), static_cast<int64_t>(inputs.size()));
    int failures = 0;
    for (size_t i = 0; i < inputs.size() && failures < 10; ++i) {
      const auto result = close_to_reference(c, inputs[i], out[i]);
      if (!result) ++failures;
      EXPECT_TRUE(result);
    }
  }
}

TEST(VectorMath, Float32MatchesLongDoubleReference) { check_accuracy<float>(); }
TEST(VectorMath, Float64MatchesLongDoubleReference) { check_accuracy<double>(); }

// The square root instruction is correctly rounded, so the dense path agrees with std::sqrt
// (and rsqrt with the functor's 1 / std::sqrt) bit for bit.
template <class T>
void check_square_roots_are_exact() {
  const std::vector<T> inputs = wide_inputs<T>();
  std::vector<T> roots(inputs.size()), reciprocal_roots(inputs.size());
  vm::sqrt(inputs.data(), roots.data(), static_cast<int64_t>(inputs.size()));
  vm::rsqrt(inputs.data(), reciprocal_roots.data(), static_cast<int64_t>(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const T root = std::sqrt(inputs[i]), reciprocal_root = T(1) / std::sqrt(inputs[i]);
    EXPECT_TRUE(same_bits(&roots[i], &root, 1) || (std::isnan(root) && std::isnan(roots[i]))) << inputs[i];
    EXPECT_TRUE(same_bits(&reciprocal_roots[i], &reciprocal_root, 1) ||
                (std::isnan(reciprocal_root) && std::isnan(reciprocal_roots[i])))
        << inputs[i];
  }
}

TEST(VectorMath, SquareRootsMatchStdSqrtExactly) {
  check_square_roots_are_exact<float>();
  check_square_roots_are_exact<double>();
}

TEST(VectorMath, FindCoversTheTranscendentalOpsOnly) {
  for (const OpCase& c : op_cases()) {
    EXPECT_NE(vm::find<float>(c.op), nullptr) << c.name;
    EXPECT_NE(vm::find<double>(c.op), nullptr) << c.name;
  }
  EXPECT_EQ(vm::find<float>(UnaryOp::Exp), &vm::exp<float>);
  EXPECT_EQ(vm::find<double>(UnaryOp::GeluTanh), &vm::gelu_tanh<double>);
  for (UnaryOp other : {UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Relu, UnaryOp::Clamp, UnaryOp::Reciprocal}) {
    EXPECT_EQ(vm::find<float>(other), nullptr);
    EXPECT_EQ(vm::find<double>(other), nullptr);
  }
  const std::string isa = vm::isa();
  EXPECT_TRUE(isa == "avx512f" || isa == "avx2" || isa == "sse2" || isa == "scalar") << isa;
  EXPECT_EQ(vm::lanes<float>(), isa == "scalar" ? 1 : 2 * vm::lanes<double>());
#if defined(__AVX512F__)
  EXPECT_EQ(isa, "avx512f");  // the build compiles the library and the tests with the same -march
#endif
}

// An element's value must not depend on the run it is computed in: its position inside a vector,
// an unaligned start, or a padded tail. Each length, start offset and split is compared bit for
// bit with the element computed on its own, and nothing past the run may be written.
template <class T>
void check_position_independence() {
  const std::vector<T> pool = wide_inputs<T>();
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name);
    const vm::Kernel<T> kernel = vm::find<T>(c.op);
    // Every sample value inside full vectors against the same value computed as a padded tail.
    std::vector<T> whole_pool(pool.size());
    kernel(pool.data(), whole_pool.data(), static_cast<int64_t>(pool.size()));
    for (size_t i = 0; i < pool.size(); ++i) {
      T alone;
      kernel(&pool[i], &alone, 1);
      ASSERT_TRUE(same_bits(&alone, &whole_pool[i], 1)) << "x = " << static_cast<double>(pool[i]);
    }
    for (int64_t length : {1, 7, 15, 17, 1000003}) {
      for (int64_t offset : {0, 1, 3}) {
        SCOPED_TRACE("length " + std::to_string(length) + " offset " + std::to_string(offset));
        std::vector<T> in(static_cast<size_t>(offset + length + 32));
        for (size_t i = 0; i < in.size(); ++i) in[i] = pool[(i * 7919) % pool.size()];
        const T sentinel = T(-12345.5);
        std::vector<T> whole(in.size(), sentinel);
        kernel(in.data() + offset, whole.data() + offset, length);
        for (int64_t i = 0; i < offset; ++i) ASSERT_EQ(whole[i], sentinel);
        for (size_t i = static_cast<size_t>(offset + length); i < whole.size(); ++i) ASSERT_EQ(whole[i], sentinel);
        if (length <= 17) {
          for (int64_t i = 0; i < length; ++i) {
            T alone;
            kernel(&in[offset + i], &alone, 1);
            ASSERT_TRUE(same_bits(&alone, &whole[offset + i], 1)) << "element " << i;
          }
        } else {
          // Split where no vector boundary falls, as parallel_for's chunks might.
          std::vector<T> pieces(in.size(), sentinel);
          const int64_t splits[] = {0, 5, 4099, length - 3, length};
          for (int piece = 0; piece + 1 < 5; ++piece) {
            const int64_t begin = offset + splits[piece];
            kernel(in.data() + begin, pieces.data() + begin, splits[piece + 1] - splits[piece]);
          }
          ASSERT_TRUE(same_bits(pieces.data(), whole.data(), pieces.size()));
        }
      }
    }
  }
}

TEST(VectorMath, Float32ResultsDoNotDependOnPosition) { check_position_independence<float>(); }
TEST(VectorMath, Float64ResultsDoNotDependOnPosition) { check_position_independence<double>(); }

TEST(VectorMath, KernelsWorkInPlace) {
  std::vector<float> data = wide_inputs<float>();
  std::vector<float> expected(data.size());
  vm::tanh(data.data(), expected.data(), static_cast<int64_t>(data.size()));
  vm::tanh(data.data(), data.data(), static_cast<int64_t>(data.size()));
  EXPECT_TRUE(same_bits(data.data(), expected.data(), data.size()));
}

Tensor apply(const OpCase& c, const Tensor& x) {
  switch (c.op) {
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Log1p: return log1p(x);
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Rsqrt: return rsqrt(x);
    case UnaryOp::Sin: return sin(x);
    case UnaryOp::Cos: return cos(x);
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Sigmoid: return sigmoid(x);
    case UnaryOp::Silu: return silu(x);
    case UnaryOp::Gelu: return gelu(x);
    case UnaryOp::GeluTanh: return gelu(x, "tanh");
    default: throw std::logic_error("no tensor op for this case");
  }
}

// Restores the thread count a test changed.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

// Through the tensor ops: a dense float tensor large enough for parallel_for to split gets the
// SLEEF kernel's values exactly, whatever the thread count.
template <class T>
void check_dense_path_across_threads() {
  ThreadCountGuard guard;
  const std::vector<T> pool = wide_inputs<T>();
  std::vector<T> values(300007);
  for (size_t i = 0; i < values.size(); ++i) values[i] = pool[(i * 104729) % pool.size()];
  const Tensor x = tensor(values);
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name);
    std::vector<T> direct(values.size());
    vm::find<T>(c.op)(values.data(), direct.data(), static_cast<int64_t>(values.size()));
    set_num_threads(1);
    const std::vector<T> one = apply(c, x).template to_vector<T>();
    set_num_threads(2);
    const std::vector<T> two = apply(c, x).template to_vector<T>();
    ASSERT_EQ(one.size(), values.size());
    EXPECT_TRUE(same_bits(one.data(), direct.data(), values.size()));
    EXPECT_TRUE(same_bits(two.data(), one.data(), values.size()));
  }
  // The in-place form takes the same path.
  set_num_threads(2);
  Tensor y = x.clone();
  y.exp_();
  std::vector<T> direct(values.size());
  vm::exp(values.data(), direct.data(), static_cast<int64_t>(values.size()));
  EXPECT_TRUE(same_bits(y.template to_vector<T>().data(), direct.data(), values.size()));
}

TEST(VectorMath, Float32TensorOpsAreThreadCountIndependent) { check_dense_path_across_threads<float>(); }
TEST(VectorMath, Float64TensorOpsAreThreadCountIndependent) { check_dense_path_across_threads<double>(); }

// Non-dense inputs keep the generic loop; the results must still be right, for both dtypes.
TEST(VectorMath, NonDenseInputsMatchReference) {
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor base = (arange(48 * 40, kFloat64).view({48, 40}) * 0.173 - 150.0).sin() * 12.0;
    const std::vector<std::pair<const char*, Tensor>> layouts = {
        {"transposed", base.to(dtype).t()},
        {"sliced_with_step", base.to(dtype).slice(1, 1, std::nullopt, 3)},
        {"expanded_row", base.to(dtype).select(0, 5).unsqueeze(0).expand({7, 40})},
        {"zero_dim", base.to(dtype).select(0, 2).select(0, 3)},
        {"zero_size", base.to(dtype).slice(0, 0, 0)},
    };
    for (const auto& [layout, x] : layouts) {
      for (const OpCase& c : op_cases()) {
        SCOPED_TRACE(std::string(layout) + " " + c.name + " " + std::string(name(dtype)));
        const Tensor result = apply(c, x);
        EXPECT_EQ(result.sizes(), x.sizes());
        EXPECT_EQ(result.dtype(), dtype);
        const std::vector<double> inputs = x.to_vector<double>();
        const std::vector<double> got = result.to_vector<double>();
        ASSERT_EQ(got.size(), inputs.size());
        for (size_t i = 0; i < got.size(); ++i) {
          if (dtype == kFloat32) {
            EXPECT_TRUE(close_to_reference(c, static_cast<float>(inputs[i]), static_cast<float>(got[i])));
          } else {
            EXPECT_TRUE(close_to_reference(c, inputs[i], got[i]));
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ember

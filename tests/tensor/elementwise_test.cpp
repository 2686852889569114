// Elementwise ops against double-precision references, over every layout the loops special-case.
#include <cmath>

#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::expect_values_near;
using testing::reference_binary;
using testing::values;

// Deterministic values in [-2, 2) with no exact zeros.
Tensor sample(IntArrayRef shape, DType dtype = kFloat32, double shift = 0.0) {
  const int64_t n = product(shape);
  Tensor base = (arange(n, kFloat64) * 0.37 + shift).sin() * 2.0 + 0.013;
  return base.to(dtype).view(shape);
}

struct Layout {
  const char* name;
  std::function<Tensor(Tensor)> make;  // turns a [4, 6] tensor into the layout (shape may change)
};

std::vector<Layout> layouts() {
  return {
      {"contiguous", [](Tensor t) { return t; }},
      {"transposed", [](Tensor t) { return t.t(); }},
      {"sliced_with_step", [](Tensor t) { return t.slice(1, 0, std::nullopt, 2); }},
      {"expanded_row", [](Tensor t) { return t.select(0, 1).unsqueeze(0).expand({3, 6}); }},
      {"zero_size", [](Tensor t) { return t.slice(0, 0, 0); }},
      {"zero_dim", [](Tensor t) { return t.select(0, 2).select(0, 3); }},
  };
}

TEST(Elementwise, BinaryOpsMatchReferenceOnEveryLayout) {
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> op;
    std::function<double(double, double)> reference;
  };
  const std::vector<Case> cases = {
      {"add", [](auto& a, auto& b) { return add(a, b); }, [](double x, double y) { return x + y; }},
      {"add_alpha", [](auto& a, auto& b) { return add(a, b, 2.5); }, [](double x, double y) { return x + 2.5 * y; }},
      {"sub", [](auto& a, auto& b) { return a - b; }, [](double x, double y) { return x - y; }},
      {"mul", [](auto& a, auto& b) { return a * b; }, [](double x, double y) { return x * y; }},
      {"div", [](auto& a, auto& b) { return a / b; }, [](double x, double y) { return x / y; }},
      {"pow", [](auto& a, auto& b) { return pow(abs(a), b); }, [](double x, double y) { return std::pow(std::abs(x), y); }},
      {"maximum", [](auto& a, auto& b) { return maximum(a, b); }, [](double x, double y) { return std::max(x, y); }},
      {"minimum", [](auto& a, auto& b) { return minimum(a, b); }, [](double x, double y) { return std::min(x, y); }},
      {"lt", [](auto& a, auto& b) { return lt(a, b); }, [](double x, double y) { return double(x < y); }},
      {"ge", [](auto& a, auto& b) { return ge(a, b); }, [](double x, double y) { return double(x >= y); }},
      {"eq", [](auto& a, auto& b) { return eq(a, a); }, [](double x, double) { return 1.0; }},
  };
  for (const Layout& layout : layouts()) {
    const Tensor a = layout.make(sample({4, 6}));
    const Tensor b = layout.make(sample({4, 6}, kFloat32, 1.0));
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(layout.name) + " " + c.name);
      const Tensor result = c.op(a, b);
      EXPECT_EQ(result.sizes(), a.sizes());
      expect_values_near(result, reference_binary(a, b, a.sizes(), c.reference), 1e-6);
    }
  }
}

TEST(Elementwise, BroadcastingFollowsNumpyRules) {
  const Tensor column = sample({3, 1});
  const Tensor row = sample({4}, kFloat32, 0.5);
  const Tensor result = column * row;
  EXPECT_EQ(result.sizes(), IntArrayRef({3, 4}));
  expect_values_near(result, reference_binary(column, row, {3, 4}, std::multiplies<>()), 1e-6);
  const Tensor batched = sample({2, 1, 4}) + sample({3, 1}, kFloat32, 2.0);
  EXPECT_EQ(batched.sizes(), IntArrayRef({2, 3, 4}));
  expect_values_near(batched, reference_binary(sample({2, 1, 4}), sample({3, 1}, kFloat32, 2.0), {2, 3, 4}, std::plus<>()),
                     1e-6);
  expect_error([] { add(zeros({2, 3}), zeros({4})); }, {"add: shapes [2, 3] and [4] cannot be broadcast"});
  expect_error([] { mul(zeros({2, 3}), zeros({3, 2})); }, {"mul", "[2, 3]", "[3, 2]"});
}

TEST(Elementwise, ScalarOperandsOnBothSides) {
  const Tensor x = sample({5});
  expect_values_near(x * 2 + 1, reference_binary(x, x, {5}, [](double v, double) { return v * 2 + 1; }), 1e-6);
  expect_values_near(1 - x, reference_binary(x, x, {5}, [](double v, double) { return 1 - v; }), 1e-6);
  expect_values_near(3.0 / x, reference_binary(x, x, {5}, [](double v, double) { return 3.0 / v; }), 1e-5);
  expect_values_near(pow(2.0, x), reference_binary(x, x, {5}, [](double v, double) { return std::pow(2.0, v); }), 1e-6);
  expect_values_near(pow(x, 2), reference_binary(x, x, {5}, [](double v, double) { return v * v; }), 1e-6);
}

TEST(Elementwise, TypePromotionFollowsPyTorch) {
  const Tensor i32 = ones({2}, kInt32), i64 = ones({2}, kInt64), u8 = ones({2}, kUInt8), b = ones({2}, kBool);
  const Tensor f16 = ones({2}, kFloat16), bf16 = ones({2}, kBFloat16), f32 = ones({2}), f64 = ones({2}, kFloat64);
  EXPECT_EQ((i32 + i64).dtype(), kInt64);
  EXPECT_EQ((u8 + i32).dtype(), kInt32);
  EXPECT_EQ((b + u8).dtype(), kUInt8);
  EXPECT_EQ((b + b).dtype(), kBool);
  EXPECT_EQ((f16 + bf16).dtype(), kFloat32);
  EXPECT_EQ((i64 + f16).dtype(), kFloat16);
  EXPECT_EQ((f32 + f64).dtype(), kFloat64);
  // numbers and 0-dim tensors only raise the category
  EXPECT_EQ((i32 + 2).dtype(), kInt32);
  EXPECT_EQ((i32 + 2.5).dtype(), kFloat32);
  EXPECT_EQ((f16 + 2.5).dtype(), kFloat16);
  EXPECT_EQ((b + 1).dtype(), kInt64);
  EXPECT_EQ((u8 + full({}, 1, kInt64)).dtype(), kUInt8);
  EXPECT_EQ((f32 + full({}, 1.0, kFloat64)).dtype(), kFloat32);
  EXPECT_EQ((i32 + full({}, 1.0, kFloat64)).dtype(), kFloat64);
  EXPECT_EQ((full({}, 1, kInt32) + full({}, 1, kInt64)).dtype(), kInt64);
  // true division of integers gives float32; comparisons give bool
  const Tensor seven = full({1}, 7, kInt64);
  EXPECT_EQ((seven / 2).dtype(), kFloat32);
  EXPECT_EQ((seven / 2).item<double>(), 3.5);
  EXPECT_EQ(lt(seven, 8.5).dtype(), kBool);
  EXPECT_EQ(exp(seven).dtype(), kFloat32);
  EXPECT_EQ(abs(seven).dtype(), kInt64);
  EXPECT_EQ(result_type(i32, Scalar(1.0)), kFloat32);
}

TEST(Elementwise, IntegerAndBoolArithmetic) {
  const Tensor a = tensor(std::vector<int64_t>{-7, 3, 0, 5});
  EXPECT_EQ((a * 3 - 1).to_vector<int64_t>(), (std::vector<int64_t>{-22, 8, -1, 14}));
  EXPECT_EQ(pow(a, 3).to_vector<int64_t>(), (std::vector<int64_t>{-343, 27, 0, 125}));
  EXPECT_EQ(abs(a).to_vector<int64_t>(), (std::vector<int64_t>{7, 3, 0, 5}));
  EXPECT_EQ(sign(a).to_vector<int64_t>(), (std::vector<int64_t>{-1, 1, 0, 1}));
  EXPECT_EQ(relu(a).to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 0, 5}));
  const Tensor flags = tensor(std::vector<bool>{true, false, true});
  const Tensor others = tensor(std::vector<bool>{true, true, false});
  EXPECT_EQ((flags + others).to_vector<bool>(), (std::vector<bool>{true, true, true}));
  EXPECT_EQ((flags * others).to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(logical_not(flags).to_vector<bool>(), (std::vector<bool>{false, true, false}));
  expect_error([&] { flags - others; }, {"sub", "bool"});
  expect_error([&] { neg(flags); }, {"neg", "bool"});
  expect_error([&] { pow(a, -1); }, {"pow", "negative", "-1"});
  // Integer tensors to negative tensor exponents truncate 1/base^n, as PyTorch: 0 unless |base| == 1.
  const Tensor bases = tensor(std::vector<int64_t>{2, 1, -1, -1, 0, 5});
  const Tensor exponents = tensor(std::vector<int64_t>{-1, -3, -3, -2, 2, 0});
  EXPECT_EQ(pow(bases, exponents).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, -1, 1, 0, 1}));
  EXPECT_EQ(pow(2, tensor(std::vector<int64_t>{-1, 2})).to_vector<int64_t>(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(square(flags).dtype(), kInt64);
  expect_error([&] { add(a, a, 0.5); }, {"add", "alpha", "0.5"});
}

TEST(Elementwise, UnaryOpsMatchStdMath) {
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> op;
    std::function<double(double)> reference;
  };
  const double pi = 3.14159265358979323846;
  const std::vector<Case> cases = {
      {"neg", [](auto& x) { return -x; }, [](double v) { return -v; }},
      {"abs", [](auto& x) { return abs(x); }, [](double v) { return std::abs(v); }},
      {"exp", [](auto& x) { return exp(x); }, [](double v) { return std::exp(v); }},
      {"log", [](auto& x) { return log(abs(x)); }, [](double v) { return std::log(std::abs(v)); }},
      {"log1p", [](auto& x) { return log1p(abs(x)); }, [](double v) { return std::log1p(std::abs(v)); }},
      {"sqrt", [](auto& x) { return sqrt(abs(x)); }, [](double v) { return std::sqrt(std::abs(v)); }},
      {"rsqrt", [](auto& x) { return rsqrt(abs(x)); }, [](double v) { return 1 / std::sqrt(std::abs(v)); }},
      {"sin", [](auto& x) { return sin(x); }, [](double v) { return std::sin(v); }},
      {"cos", [](auto& x) { return cos(x); }, [](double v) { return std::cos(v); }},
      {"tanh", [](auto& x) { return tanh(x); }, [](double v) { return std::tanh(v); }},
      {"sigmoid", [](auto& x) { return sigmoid(x); }, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"relu", [](auto& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0; }},
      {"gelu", [](auto& x) { return gelu(x); }, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"gelu_tanh", [](auto& x) { return gelu(x, "tanh"); },
       [=](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / pi) * (v + 0.044715 * v * v * v))); }},
      {"silu", [](auto& x) { return silu(x); }, [](double v) { return v / (1 + std::exp(-v)); }},
      {"sign", [](auto& x) { return sign(x); }, [](double v) { return double((v > 0) - (v < 0)); }},
      {"square", [](auto& x) { return square(x); }, [](double v) { return v * v; }},
      {"leaky_relu", [](auto& x) { return leaky_relu(x, 0.2); }, [](double v) { return v > 0 ? v : 0.2 * v; }},
      {"clamp", [](auto& x) { return clamp(x, -0.5, 1.0); }, [](double v) { return std::clamp(v, -0.5, 1.0); }},
  };
  for (const Layout& layout : layouts()) {
    for (DType dtype : {kFloat32, kFloat64}) {
      const Tensor x = layout.make(sample({4, 6}, dtype));
      for (const Case& c : cases) {
        SCOPED_TRACE(std::string(layout.name) + " " + c.name + " " + std::string(name(dtype)));
        const Tensor result = c.op(x);
        EXPECT_EQ(result.dtype(), dtype);
        std::vector<double> expected;
        for (double v : values(x)) expected.push_back(c.reference(v));
        expect_values_near(result, expected, dtype == kFloat64 ? 1e-12 : 2e-6);
      }
    }
  }
}

TEST(Elementwise, HalfAndBFloat16ComputeInFloat) {
  for (DType dtype : {kFloat16, kBFloat16}) {
    const Tensor x = sample({3, 5}, dtype);
    const Tensor y = sample({3, 5}, dtype, 1.0);
    const double tolerance = dtype == kFloat16 ? 1e-3 : 8e-3;
    // Reference: the same 16-bit inputs widened to double, result rounded once.
    std::vector<double> expected;
    const auto xv = values(x), yv = values(y);
    for (size_t i = 0; i < xv.size(); ++i) expected.push_back(std::exp(xv[i]) * yv[i]);
    const Tensor result = exp(x) * y;
    EXPECT_EQ(result.dtype(), dtype);
    expect_values_near(result, expected, tolerance * 4);
  }
}

TEST(Elementwise, HalfConversionRoundsToNearestEven) {
  // 2049 lies halfway between float16 values 2048 and 2050: ties go to the even mantissa.
  const Tensor values16 = tensor(std::vector<float>{2049.0f, 2051.0f, 65519.0f, 65520.0f, 1e-8f, -0.0f}).to(kFloat16);
  const std::vector<float> back = values16.to(kFloat32).to_vector<float>();
  EXPECT_EQ(back[0], 2048.0f);
  EXPECT_EQ(back[1], 2052.0f);
  EXPECT_EQ(back[2], 65504.0f);
  EXPECT_TRUE(std::isinf(back[3]));
  EXPECT_EQ(back[4], 0.0f);  // below half the smallest subnormal
  EXPECT_TRUE(std::signbit(back[5]));
  const Tensor nan16 = full({1}, NAN).to(kFloat16).to(kFloat32);
  EXPECT_TRUE(std::isnan(nan16.item<float>()));
  const Tensor bf = tensor(std::vector<float>{1.00390625f, 1.01171875f}).to(kBFloat16).to(kFloat32);
  EXPECT_EQ(bf.to_vector<float>(), (std::vector<float>{1.0f, 1.015625f}));
}

TEST(Elementwise, NanPropagatesThroughMaximumAndClamp) {
  const Tensor x = tensor(std::vector<float>{NAN, 1.0f, 3.0f});
  const Tensor y = tensor(std::vector<float>{0.0f, NAN, 2.0f});
  const auto maxima = maximum(x, y).to_vector<float>();
  EXPECT_TRUE(std::isnan(maxima[0]));
  EXPECT_TRUE(std::isnan(maxima[1]));
  EXPECT_EQ(maxima[2], 3.0f);
  EXPECT_TRUE(std::isnan(clamp(x, 0.0, 1.0).to_vector<float>()[0]));
}

TEST(Elementwise, WhereAndMaskedFill) {
  const Tensor condition = tensor(std::vector<bool>{true, false, true}).view({3, 1});
  const Tensor a = sample({3, 4});
  const Tensor result = where(condition, a, full({4}, 9.0));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      const double expected = i == 1 ? 9.0 : values(a)[i * 4 + j];
      EXPECT_NEAR(result.select(0, i).select(0, j).item<double>(), expected, 1e-6);
    }
  }
  EXPECT_EQ(where(condition, ones({1}, kInt32), 2.5).dtype(), kFloat32);
  Tensor filled = masked_fill(a, logical_not(condition), -1.0);
  EXPECT_EQ(values(filled.select(0, 1)), std::vector<double>(4, -1.0));
  Tensor in_place = a.clone();
  in_place.masked_fill_(lt(in_place, 0.0), 0.0);
  expect_values_near(in_place, values(relu(a)), 0);
  expect_error([&] { where(ones({3}), a, a); }, {"where", "bool", "float32"});
  expect_error([&] { masked_fill(zeros({3}), ones({2, 3}, kBool), 1.0); }, {"masked_fill", "[2, 3]", "[3]"});
}

TEST(Elementwise, InPlaceOpsWriteThroughViews) {
  Tensor matrix = zeros({3, 4});
  Tensor column = matrix.select(1, 2);
  column.add_(tensor({1.0f, 2.0f, 3.0f}));
  column.mul_(2);
  column.sub_(1);
  column.div_(tensor({1.0f, 3.0f, 5.0f}));
  EXPECT_EQ(values(matrix.select(1, 2)), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(values(matrix.select(1, 0)), (std::vector<double>{0, 0, 0}));
  Tensor x = sample({2, 3});
  Tensor expected = exp(x);
  x.exp_();
  expect_values_near(x, values(expected), 0);
  // in-place into a narrower dtype is allowed when the result can be cast
  Tensor half = ones({3}, kFloat16);
  half.add_(ones({3}, kFloat32));
  EXPECT_EQ(half.dtype(), kFloat16);
  EXPECT_EQ(values(half), (std::vector<double>{2, 2, 2}));
  Tensor integers = ones({3}, kInt64);
  expect_error([&] { integers.add_(0.5); }, {"add_", "float32", "int64"});
  expect_error([&] { integers.exp_(); }, {"exp_", "float32", "int64"});
  Tensor small = zeros({3});
  expect_error([&] { small.add_(zeros({2, 3})); }, {"add_", "[3]", "[2, 3]"});
  Tensor expanded = zeros({1}).expand({3});
  expect_error([&] { expanded.add_(1.0); }, {"add_", "share memory"});
}

TEST(Elementwise, InPlaceWithOverlappingInputReadsFirst) {
  Tensor x = arange(4, kFloat32);
  Tensor same_view = x.as_strided({4}, {1}, 0);  // same view: fine
  x.add_(same_view);
  EXPECT_EQ(values(x), (std::vector<double>{0, 2, 4, 6}));
  Tensor square = arange(9, kFloat32).view({3, 3});
  square.add_(square.t());  // overlapping but different layout
  EXPECT_EQ(values(square), (std::vector<double>{0, 4, 8, 4, 8, 12, 8, 12, 16}));
}

TEST(Elementwise, LargeTensorsGiveTheSameResultOnAnyThreadCount) {
  const Tensor a = sample({300, 1000});
  const Tensor b = sample({1000}, kFloat32, 0.3);
  set_num_threads(1);
  const std::vector<float> one = (a * b + a.t().contiguous().t()).to_vector<float>();
  set_num_threads(2);
  const std::vector<float> two = (a * b + a.t().contiguous().t()).to_vector<float>();
  EXPECT_EQ(one, two);
  expect_values_near(a * b, reference_binary(a, b, {300, 1000}, std::multiplies<>()), 1e-6);
}

TEST(Elementwise, AddOutWritesIntoExistingTensor) {
  Tensor out = empty({2, 3});
  const Tensor a = sample({2, 3}), b = sample({3});
  add_out(out, a, b, 2);
  expect_values_near(out, reference_binary(a, b, {2, 3}, [](double x, double y) { return x + 2 * y; }), 1e-6);
  Tensor wrong = empty({3, 2});
  expect_error([&] { add_out(wrong, a, b); }, {"add_out", "[3, 2]", "[2, 3]"});
}

TEST(Elementwise, AllcloseAndEqual) {
  const Tensor a = tensor({1.0f, 2.0f, INFINITY});
  EXPECT_TRUE(allclose(a, a + 1e-7));
  EXPECT_FALSE(allclose(a, a + 1e-3));
  EXPECT_TRUE(equal(a, a.clone()));
  EXPECT_FALSE(equal(a, zeros({3})));
  EXPECT_FALSE(equal(a, zeros({4})));
  EXPECT_FALSE(allclose(tensor({NAN}), tensor({NAN})));
}

}  // namespace
}  // namespace ember

// Reductions against references computed here with plain double loops, over contiguous,
// permuted, step-sliced and expanded inputs, every dims set and keepdim setting.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::expect_values_near;
using testing::unravel;
using testing::values;

using Fold = std::function<double(const std::vector<double>&)>;
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Deterministic values in [-3.5, 4] with repeats (so ties occur) and no pattern the kernels
// could exploit.
Tensor sample(IntArrayRef shape, DType dtype = kFloat32) {
  std::vector<double> data(static_cast<size_t>(product(shape)));
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<double>((i * 7919 + 13) % 61) / 8.0 - 3.5;
  return tensor(data, shape).to(dtype);
}

// Values close to 1 so that products of a hundred of them stay moderate.
Tensor near_one(IntArrayRef shape) { return sample(shape, kFloat64) / 40.0 + 1.0; }

struct Layout {
  const char* name;
  Tensor value;  // logical shape [4, 5, 6]
};

std::vector<Layout> layouts(const std::function<Tensor(IntArrayRef)>& make) {
  return {
      {"contiguous", make({4, 5, 6})},
      {"permuted", make({6, 4, 5}).permute({1, 2, 0})},
      {"transposed", make({6, 5, 4}).transpose(0, 2)},
      {"sliced_with_step", make({4, 5, 12}).slice(2, 1, std::nullopt, 2)},
      {"expanded", make({4, 1, 6}).expand({4, 5, 6})},
  };
}

const std::vector<std::vector<int64_t>> kDimSets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {2, 1}, {-3, 1}, {0, 1, 2}};

// Folds every group of input elements that reduce to one output (in row-major order within the
// group), giving outputs in row-major order.
std::vector<double> reference(const Tensor& input, std::vector<int64_t> dims, const Fold& fold) {
  const std::vector<double> data = values(input);
  const int64_t ndim = input.dim();
  std::vector<bool> reduced(static_cast<size_t>(ndim), dims.empty());
  for (int64_t dim : dims) reduced[static_cast<size_t>(dim < 0 ? dim + ndim : dim)] = true;
  int64_t outputs = 1;
  for (int64_t d = 0; d < ndim; ++d) outputs *= reduced[d] ? 1 : input.size(d);
  std::vector<std::vector<double>> groups(static_cast<size_t>(outputs));
  for (size_t i = 0; i < data.size(); ++i) {
    const std::vector<int64_t> index = unravel(static_cast<int64_t>(i), input.sizes());
    int64_t output = 0;
    for (int64_t d = 0; d < ndim; ++d) {
      if (!reduced[d]) output = output * input.size(d) + index[d];
    }
    groups[output].push_back(data[i]);
  }
  std::vector<double> result;
  for (const auto& group : groups) result.push_back(fold(group));
  return result;
}

DimVector reduced_shape(IntArrayRef shape, std::vector<int64_t> dims, bool keepdim) {
  const int64_t ndim = static_cast<int64_t>(shape.size());
  DimVector result;
  for (int64_t d = 0; d < ndim; ++d) {
    const bool reduced = dims.empty() || std::count_if(dims.begin(), dims.end(), [&](int64_t dim) {
                                           return (dim < 0 ? dim + ndim : dim) == d;
                                         }) > 0;
    if (!reduced) result.push_back(shape[d]);
    else if (keepdim) result.push_back(1);
  }
  return result;
}

double fold_sum(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return total;
}
double fold_prod(const std::vector<double>& v) {
  double total = 1;
  for (double x : v) total *= x;
  return total;
}
double fold_max(const std::vector<double>& v) {
  double best = -kInf;
  for (double x : v) best = (std::isnan(x) || std::isnan(best)) ? kNan : std::max(best, x);
  return best;
}
double fold_min(const std::vector<double>& v) {
  double best = kInf;
  for (double x : v) best = (std::isnan(x) || std::isnan(best)) ? kNan : std::min(best, x);
  return best;
}
double fold_mean(const std::vector<double>& v) { return fold_sum(v) / static_cast<double>(v.size()); }
Fold fold_var(bool unbiased) {
  return [unbiased](const std::vector<double>& v) {
    const double mean = fold_mean(v);
    double squares = 0;
    for (double x : v) squares += (x - mean) * (x - mean);
    return squares / (static_cast<double>(v.size()) - (unbiased ? 1.0 : 0.0));
  };
}
Fold fold_norm(double p) {
  return [p](const std::vector<double>& v) {
    if (std::isinf(p)) {
      double best = p > 0 ? 0.0 : kInf;
      for (double x : v) best = p > 0 ? std::max(best, std::abs(x)) : std::min(best, std::abs(x));
      return best;
    }
    double total = 0;
    for (double x : v) total += p == 0 ? double(x != 0) : std::pow(std::abs(x), p);
    return p == 0 ? total : std::pow(total, 1.0 / p);
  };
}
double fold_logsumexp(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += std::exp(x);
  return std::log(total);
}
// Index of the first maximum (or first NaN) within the group.
Fold fold_arg(bool maximum) {
  return [maximum](const std::vector<double>& v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i) {
      if (std::isnan(v[best])) break;
      if (std::isnan(v[i]) || (maximum ? v[i] > v[best] : v[i] < v[best])) best = i;
    }
    return static_cast<double>(best);
  };
}

struct Case {
  const char* name;
  std::function<Tensor(const Tensor&, IntArrayRef, bool)> op;
  Fold fold;
  double tolerance;
};

void check_over_layouts_and_dims(const Case& c, const std::function<Tensor(IntArrayRef)>& make) {
  for (const Layout& layout : layouts(make)) {
    for (const auto& dims : kDimSets) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(fmt::format("{} {} dims {} keepdim {}", c.name, layout.name, to_string(dims), keepdim));
        const Tensor result = c.op(layout.value, dims, keepdim);
        EXPECT_EQ(result.shape(), reduced_shape(layout.value.sizes(), dims, keepdim));
        expect_values_near(result, reference(layout.value, dims, c.fold), c.tolerance);
      }
    }
  }
}

TEST(ReductionBasic, MatchReferenceOnEveryLayoutAndDimSet) {
  const auto float32 = [](IntArrayRef shape) { return sample(shape); };
  const auto float64 = [](IntArrayRef shape) { return sample(shape, kFloat64); };
  check_over_layouts_and_dims({"sum", [](auto& x, auto d, bool k) { return sum(x, d, k); }, fold_sum, 1e-5}, float32);
  check_over_layouts_and_dims({"sum64", [](auto& x, auto d, bool k) { return sum(x, d, k); }, fold_sum, 1e-12}, float64);
  check_over_layouts_and_dims({"mean", [](auto& x, auto d, bool k) { return mean(x, d, k); }, fold_mean, 1e-5}, float32);
  check_over_layouts_and_dims({"amax", [](auto& x, auto d, bool k) { return amax(x, d, k); }, fold_max, 0}, float32);
  check_over_layouts_and_dims({"amin", [](auto& x, auto d, bool k) { return amin(x, d, k); }, fold_min, 0}, float64);
  check_over_layouts_and_dims({"prod", [](auto& x, auto d, bool k) { return prod(x, d, k); }, fold_prod, 1e-12},
                              near_one);
}

TEST(ReductionStatistics, VarStdNormLogsumexpMatchReference) {
  const auto float32 = [](IntArrayRef shape) { return sample(shape); };
  for (bool unbiased : {true, false}) {
    check_over_layouts_and_dims(
        {"var", [=](auto& x, auto d, bool k) { return var(x, d, unbiased, k); }, fold_var(unbiased), 1e-5}, float32);
    const Fold std_fold = [=](const std::vector<double>& v) { return std::sqrt(fold_var(unbiased)(v)); };
    check_over_layouts_and_dims(
        {"std", [=](auto& x, auto d, bool k) { return ember::std(x, d, unbiased, k); }, std_fold, 1e-5}, float32);
  }
  for (double p : {2.0, 1.0, 3.0, 0.5, 0.0, kInf, -kInf}) {
    check_over_layouts_and_dims(
        {"norm", [=](auto& x, auto d, bool k) { return norm(x, p, d, k); }, fold_norm(p), 1e-5}, float32);
  }
  check_over_layouts_and_dims(
      {"logsumexp", [](auto& x, auto d, bool k) { return logsumexp(x, d, k); }, fold_logsumexp, 1e-5}, float32);
}

TEST(ReductionLogical, AllAnyOverDimsAndDtypes) {
  // Every third element zero in some rows: mixed rows give all false, any true.
  const Tensor x = tensor(std::vector<float>{1, 2, 3, 0, 5, 6, 0, 0, 0, 7, NAN, 8}, {4, 3});
  EXPECT_EQ(values(all(x, 1)), (std::vector<double>{1, 0, 0, 1}));
  EXPECT_EQ(values(any(x, 1)), (std::vector<double>{1, 1, 0, 1}));
  EXPECT_EQ(values(all(x, 0, true)), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(all(x, 0, true).shape(), (DimVector{1, 3}));
  EXPECT_EQ(values(any(x.t(), -1)), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(all(x).dtype(), kBool);
  EXPECT_FALSE(all(x).item<bool>());
  EXPECT_TRUE(any(x).item<bool>());
  EXPECT_TRUE(all(x.slice(0, 3, 4)).item<bool>());  // the NaN row: NaN is true, as in PyTorch
  const Tensor ints = tensor(std::vector<int32_t>{3, 0, -1, 4}, {2, 2});
  EXPECT_EQ(values(all(ints, 0)), (std::vector<double>{1, 0}));
  EXPECT_EQ(values(any(ints, 1)), (std::vector<double>{1, 1}));
  const Tensor flags = tensor(std::vector<bool>{true, true, false, true}, {2, 2});
  EXPECT_EQ(values(all(flags.t(), 1)), (std::vector<double>{0, 1}));
  EXPECT_EQ(all(flags, 1).dtype(), kBool);
  EXPECT_TRUE(all(zeros({0, 3})).item<bool>());
  EXPECT_FALSE(any(zeros({0, 3})).item<bool>());
  EXPECT_EQ(values(all(zeros({2, 0}), 1)), (std::vector<double>{1, 1}));
  EXPECT_TRUE(all(scalar_tensor(2.0)).item<bool>());
  EXPECT_FALSE(any(scalar_tensor(0.0), 0).item<bool>());
  // Expanded: stride 0 over the reduced dim.
  EXPECT_EQ(values(any(tensor({0.0f, 1.0f}).expand({5, 2}), 0)), (std::vector<double>{0, 1}));
}

TEST(ReductionDtypes, IntegerAndBoolSumAndProdGiveInt64) {
  const Tensor ints = tensor(std::vector<int32_t>{2000000000, 2000000000, -5, 7}, {2, 2});
  EXPECT_EQ(sum(ints).dtype(), kInt64);
  EXPECT_EQ(sum(ints).item<int64_t>(), 4000000002);  // beyond int32, exact
  EXPECT_EQ(values(sum(ints, 0)), (std::vector<double>{1999999995, 2000000007}));
  EXPECT_EQ(prod(ints, 1).to_vector<int64_t>(), (std::vector<int64_t>{4000000000000000000, -35}));
  // int64 beyond 2^53 stays exact: a double accumulator would lose the trailing 1.
  const Tensor big = tensor(std::vector<int64_t>{int64_t{1} << 60, 1, 1, 1});
  EXPECT_EQ(sum(big).item<int64_t>(), (int64_t{1} << 60) + 3);
  const Tensor bytes = full({300}, 200, kUInt8);
  EXPECT_EQ(sum(bytes).item<int64_t>(), 60000);
  const Tensor flags = tensor(std::vector<bool>{true, false, true, true});
  EXPECT_EQ(sum(flags).dtype(), kInt64);
  EXPECT_EQ(sum(flags).item<int64_t>(), 3);
  EXPECT_EQ(prod(flags).item<int64_t>(), 0);
  EXPECT_EQ(amax(flags).dtype(), kBool);
  EXPECT_TRUE(amax(flags).item<bool>());
  EXPECT_FALSE(amin(flags).item<bool>());
  EXPECT_EQ(amax(tensor(std::vector<int32_t>{-7, 9, 3})).item<int64_t>(), 9);
  EXPECT_EQ(amin(bytes.slice(0, 0, std::nullopt, 7)).dtype(), kUInt8);
}

TEST(ReductionDtypes, HalfAndBFloat16AccumulateInFloat32) {
  // Accumulating in float16 would stall at 2048 (2048 + 1 rounds back to 2048).
  const Tensor halves = ones({4096}, kFloat16);
  EXPECT_EQ(sum(halves).dtype(), kFloat16);
  EXPECT_EQ(sum(halves).item<double>(), 4096.0);
  // bfloat16 stalls at 256 the same way.
  const Tensor brains = ones({1000}, kBFloat16);
  EXPECT_EQ(sum(brains).item<double>(), 1000.0);
  EXPECT_EQ(values(sum(ones({3, 600}, kBFloat16), 1)), (std::vector<double>{600, 600, 600}));
  EXPECT_EQ(values(sum(ones({600, 3}, kFloat16), 0)), (std::vector<double>{600, 600, 600}));
  for (DType dtype : {kFloat16, kBFloat16}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Tensor x = sample({6, 7}, dtype).t();
    expect_values_near(mean(x, 1), reference(x, {1}, fold_mean), 1e-2);
    expect_values_near(amax(x, 0), reference(x, {0}, fold_max), 0);
    expect_values_near(var(x, 0), reference(x, {0}, fold_var(true)), 1e-2);
    expect_values_near(norm(x, 2.0, 1), reference(x, {1}, fold_norm(2.0)), 1e-2);
    expect_values_near(logsumexp(x, 1), reference(x, {1}, fold_logsumexp), 1e-2);
    EXPECT_EQ(var(x).dtype(), dtype);
    EXPECT_EQ(norm(x).dtype(), dtype);
  }
  // Values from PyTorch 1.13, which divides the float16/bfloat16 sum by the count rounded to
  // the same dtype (257 -> 256 in bfloat16; 70000 -> inf in float16, so inf / inf).
  EXPECT_EQ(mean(arange(257, kFloat64).to(kBFloat16)).item<double>(), 128.0);
  EXPECT_TRUE(std::isnan(mean(ones({70000}, kFloat16)).item<double>()));
  EXPECT_NEAR(mean(full({3000}, 0.1, kFloat16)).item<double>(), 0.1, 1e-4);
  // The square is taken in float32: 300^2 fits there, not in float16 (whose max is 65504).
  EXPECT_NEAR(norm(tensor({30.0f, -40.0f}).to(kFloat16)).item<double>(), 50.0, 1e-2);
}

TEST(ReductionEmpty, ZeroSizeAndZeroDimInputs) {
  EXPECT_EQ(sum(zeros({0})).item<double>(), 0.0);
  EXPECT_EQ(prod(zeros({0})).item<double>(), 1.0);
  EXPECT_TRUE(std::isnan(mean(zeros({0})).item<double>()));
  EXPECT_EQ(values(sum(zeros({0, 3}), 0)), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(values(prod(zeros({0, 3}, kInt32), 0, true)), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(sum(zeros({0, 3}), 1).shape(), (DimVector{0}));
  EXPECT_EQ(amax(zeros({0, 3}), 1).shape(), (DimVector{0}));
  EXPECT_EQ(max(zeros({0, 3}), 1).second.shape(), (DimVector{0}));
  EXPECT_EQ(argmin(zeros({3, 0}), 0).shape(), (DimVector{0}));
  EXPECT_TRUE(std::isnan(var(zeros({3, 0}), 1).to_vector<double>()[2]));
  EXPECT_EQ(var(zeros({0, 3}), 1).shape(), (DimVector{0}));
  EXPECT_EQ(norm(zeros({0})).item<double>(), 0.0);
  EXPECT_EQ(norm(zeros({2, 0}), kInf, 1).to_vector<double>(), (std::vector<double>{0, 0}));
  EXPECT_EQ(values(logsumexp(zeros({2, 0}), 1)), (std::vector<double>{-kInf, -kInf}));
  EXPECT_EQ(softmax(zeros({0, 3}), 0).shape(), (DimVector{0, 3}));

  const Tensor scalar = scalar_tensor(2.5);
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{}, {0}, {-1}}) {
    for (bool keepdim : {false, true}) {
      EXPECT_EQ(sum(scalar, dims, keepdim).dim(), 0);
      EXPECT_EQ(sum(scalar, dims, keepdim).item<double>(), 2.5);
      EXPECT_EQ(amin(scalar, dims, keepdim).item<double>(), 2.5);
    }
  }
  EXPECT_EQ(max(scalar).item<double>(), 2.5);
  const auto [value, index] = max(scalar, 0, true);
  EXPECT_EQ(value.dim(), 0);
  EXPECT_EQ(index.item<int64_t>(), 0);
  EXPECT_EQ(argmax(scalar).item<int64_t>(), 0);
  EXPECT_TRUE(std::isnan(var(scalar).item<double>()));
  EXPECT_EQ(var(scalar, {}, false).item<double>(), 0.0);
  EXPECT_EQ(softmax(scalar, 0).item<double>(), 1.0);
  EXPECT_EQ(log_softmax(scalar, -1).item<double>(), 0.0);
  EXPECT_EQ(logsumexp(scalar, {0}).item<double>(), 2.5);
}

TEST(ReductionMaxMin, ValuesAndIndicesAlongADim) {
  for (const Layout& layout : layouts([](IntArrayRef shape) { return sample(shape); })) {
    for (int64_t dim : {0, 1, 2, -1}) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(fmt::format("{} dim {} keepdim {}", layout.name, dim, keepdim));
        const auto [max_values, max_indices] = max(layout.value, dim, keepdim);
        const auto [min_values, min_indices] = min(layout.value, dim, keepdim);
        const DimVector shape = reduced_shape(layout.value.sizes(), {dim}, keepdim);
        EXPECT_EQ(max_values.shape(), shape);
        EXPECT_EQ(max_indices.shape(), shape);
        EXPECT_EQ(max_indices.dtype(), kInt64);
        EXPECT_EQ(values(max_values), reference(layout.value, {dim}, fold_max));
        EXPECT_EQ(values(min_values), reference(layout.value, {dim}, fold_min));
        EXPECT_EQ(values(max_indices), reference(layout.value, {dim}, fold_arg(true)));
        EXPECT_EQ(values(min_indices), reference(layout.value, {dim}, fold_arg(false)));
        EXPECT_EQ(values(argmax(layout.value, dim, keepdim)), values(max_indices));
        EXPECT_EQ(values(argmin(layout.value, dim, keepdim)), values(min_indices));
      }
    }
  }
}

TEST(ReductionMaxMin, TiesGiveTheFirstIndexAndNanPropagates) {
  const Tensor ties = tensor(std::vector<float>{1, 5, 5, 2, 5}, {5});
  EXPECT_EQ(max(ties, 0).second.item<int64_t>(), 1);
  EXPECT_EQ(argmax(ties).item<int64_t>(), 1);
  EXPECT_EQ(argmin(tensor(std::vector<int64_t>{2, 1, 1, 3})).item<int64_t>(), 1);
  const Tensor with_nan = tensor(std::vector<float>{1, NAN, 3, NAN, 0, 2}, {2, 3});
  EXPECT_TRUE(std::isnan(max(with_nan).item<double>()));
  EXPECT_TRUE(std::isnan(min(with_nan).item<double>()));
  EXPECT_EQ(argmax(with_nan).item<int64_t>(), 1);
  EXPECT_EQ(argmin(with_nan).item<int64_t>(), 1);
  const auto [row_max, row_index] = max(with_nan, 1);
  EXPECT_TRUE(std::isnan(row_max.to_vector<double>()[0]));
  EXPECT_TRUE(std::isnan(row_max.to_vector<double>()[1]));
  EXPECT_EQ(values(row_index), (std::vector<double>{1, 0}));
  // Along dim 0 (the path that accumulates whole rows): NaN in either row wins.
  const auto [column_min, column_index] = min(with_nan, 0);
  EXPECT_EQ(values(column_index), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(column_min.to_vector<double>()[2], 2.0);
  EXPECT_TRUE(std::isnan(amax(with_nan, 0).to_vector<double>()[0]));
  // -inf everywhere: the index is still the first.
  EXPECT_EQ(argmax(full({4}, -INFINITY)).item<int64_t>(), 0);
  EXPECT_EQ(argmin(full({3, 4}, INFINITY), 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0, 0}));
  // Integer, bool and 16-bit dtypes.
  const Tensor ints = tensor(std::vector<int32_t>{4, -2, 9, 9, 0, -2}, {2, 3});
  EXPECT_EQ(max(ints, 1).first.dtype(), kInt32);
  EXPECT_EQ(values(max(ints, 1).first), (std::vector<double>{9, 9}));
  EXPECT_EQ(values(min(ints, 1).second), (std::vector<double>{1, 2}));
  EXPECT_EQ(values(max(ints, 0).second), (std::vector<double>{1, 1, 0}));
  EXPECT_EQ(values(min(ints, 0).second), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(values(max(full({3, 2}, 7, kInt64), 0).second), (std::vector<double>{0, 0}));
  const Tensor flags = tensor(std::vector<bool>{false, true, true});
  EXPECT_EQ(max(flags, 0).second.item<int64_t>(), 1);
  EXPECT_TRUE(max(flags, 0).first.item<bool>());
  const Tensor halves = sample({3, 5}, kFloat16);
  EXPECT_EQ(values(argmax(halves, 1)), reference(halves, {1}, fold_arg(true)));
  EXPECT_EQ(values(max(halves, 1).first), reference(halves, {1}, fold_max));
}

TEST(ReductionArgmax, WithoutDimIndexesTheFlattenedTensor) {
  const Tensor x = testing::transposed_matrix(5, 7);  // values fall row by row in memory order
  const std::vector<double> flat = values(x);
  const auto largest = std::max_element(flat.begin(), flat.end()) - flat.begin();
  const auto smallest = std::min_element(flat.begin(), flat.end()) - flat.begin();
  EXPECT_EQ(argmax(x).item<int64_t>(), largest);
  EXPECT_EQ(argmin(x).item<int64_t>(), smallest);
  EXPECT_EQ(argmax(x).dim(), 0);
  // PyTorch 1.13 keeps every dim (of size 1) for keepdim without a dim.
  EXPECT_EQ(argmax(x, std::nullopt, true).shape(), (DimVector{1, 1}));
  EXPECT_EQ(argmax(x, std::nullopt, true).to_vector<int64_t>()[0], largest);
  const Tensor expanded = tensor({1.0f, 3.0f, 2.0f}).expand({4, 3});
  EXPECT_EQ(argmax(expanded).item<int64_t>(), 1);
  EXPECT_EQ(argmin(expanded.slice(1, 0, std::nullopt, 2)).item<int64_t>(), 0);
}

TEST(ReductionSoftmax, MatchesReferenceAlongEveryDim) {
  for (const Layout& layout : layouts([](IntArrayRef shape) { return sample(shape); })) {
    for (int64_t dim : {0, 1, 2, -1}) {
      SCOPED_TRACE(fmt::format("{} dim {}", layout.name, dim));
      const Tensor probabilities = softmax(layout.value, dim);
      const Tensor logs = log_softmax(layout.value, dim);
      EXPECT_EQ(probabilities.shape(), layout.value.shape());
      // Reference: exp(x - logsumexp over the dim), each element against its own group.
      const std::vector<double> lse = reference(layout.value, {dim}, fold_logsumexp);
      const std::vector<double> data = values(layout.value);
      const int64_t wrapped = dim < 0 ? dim + 3 : dim;
      std::vector<double> expected_logs;
      for (size_t i = 0; i < data.size(); ++i) {
        const auto index = unravel(static_cast<int64_t>(i), layout.value.sizes());
        int64_t group = 0;
        for (int64_t d = 0; d < 3; ++d) {
          if (d != wrapped) group = group * layout.value.size(d) + index[d];
        }
        expected_logs.push_back(data[i] - lse[group]);
      }
      std::vector<double> expected_probabilities;
      for (double v : expected_logs) expected_probabilities.push_back(std::exp(v));
      expect_values_near(probabilities, expected_probabilities, 1e-6);
      expect_values_near(logs, expected_logs, 1e-5);
    }
  }
}

TEST(ReductionSoftmax, StableForLargeInputsAndInfinities) {
  const Tensor large = tensor(std::vector<float>{1000, 1001, 1002, -1000, 0, 1000}, {2, 3});
  const double total = 1 + std::exp(1.0) + std::exp(2.0);
  expect_values_near(softmax(large, 1),
                     {1 / total, std::exp(1.0) / total, std::exp(2.0) / total, 0, 0, 1}, 1e-6);
  expect_values_near(log_softmax(large, 1), {-std::log(total), 1 - std::log(total), 2 - std::log(total), -2000,
                                             -1000, 0}, 1e-5);
  expect_values_near(logsumexp(large, {1}), {1002 + std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1000}, 1e-6);
  // Values from PyTorch 1.13: a row of -inf gives nan for softmax and -inf for logsumexp; a +inf
  // gives nan for softmax and inf for logsumexp.
  const Tensor infinite = tensor(std::vector<float>{-INFINITY, -INFINITY, INFINITY, 1}, {2, 2});
  const std::vector<double> probabilities = values(softmax(infinite, 1));
  EXPECT_TRUE(std::all_of(probabilities.begin(), probabilities.end(), [](double v) { return std::isnan(v); }));
  EXPECT_EQ(values(logsumexp(infinite, {1})), (std::vector<double>{-kInf, kInf}));
  EXPECT_EQ(values(log_softmax(tensor({-INFINITY, 0.0f}), 0)), (std::vector<double>{-kInf, 0}));
  EXPECT_TRUE(std::isnan(logsumexp(tensor({NAN, 0.0f}), {0}).item<double>()));
}

TEST(ReductionSoftmax, DtypesPromoteLikePyTorch) {
  const Tensor ints = tensor(std::vector<int64_t>{1, 2, 3});
  EXPECT_EQ(softmax(ints, 0).dtype(), kFloat32);
  const double total = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_values_near(softmax(ints, 0), {std::exp(1.0) / total, std::exp(2.0) / total, std::exp(3.0) / total}, 1e-6);
  EXPECT_EQ(log_softmax(ints, 0).dtype(), kFloat32);
  EXPECT_EQ(logsumexp(ints, {0}).dtype(), kFloat32);
  expect_values_near(logsumexp(ints, {0}), {std::log(total)}, 1e-6);
  const Tensor halves = sample({3, 4}, kFloat16);
  EXPECT_EQ(softmax(halves, 1).dtype(), kFloat16);
  expect_values_near(softmax(halves, 1), values(softmax(halves.to(kFloat32), 1)), 1e-3);
  const Tensor doubles = sample({3, 4}, kFloat64);
  EXPECT_EQ(softmax(doubles, 0).dtype(), kFloat64);
  expect_values_near(sum(softmax(doubles, 0), {0}), {1, 1, 1, 1}, 1e-15);
}

TEST(ReductionPaths, LargeShapesHitChunkedAndRowPaths) {
  // Sum over dim 0 of a tall narrow matrix: few output tiles, so the rows split into chunks.
  const Tensor tall = sample({40000, 3}, kFloat64);
  expect_values_near(sum(tall, 0), reference(tall, {0}, fold_sum), 1e-12);
  // Wide rows spanning several tiles, one of them partial.
  const Tensor wide = sample({50, 300});
  expect_values_near(sum(wide, 0), reference(wide, {0}, fold_sum), 1e-5);
  expect_values_near(amax(wide.t(), 1), reference(wide.t(), {1}, fold_max), 0);
  // A single output over many chunks, dense and strided.
  const Tensor flat = sample({100003}, kFloat64);
  EXPECT_NEAR(sum(flat).item<double>(), fold_sum(values(flat)), 1e-9);
  const Tensor strided = sample({70000, 3}, kFloat64).t();
  expect_values_near(sum(strided, 1), reference(strided, {1}, fold_sum), 1e-12);
  // Two reduced dims that cannot merge, with chunk boundaries falling inside runs.
  const Tensor ragged = sample({400, 600}, kFloat64).narrow(1, 0, 299);
  EXPECT_NEAR(sum(ragged).item<double>(), fold_sum(values(ragged)), 1e-9);
  EXPECT_EQ(amin(ragged.unsqueeze(0), {1, 2}).item<double>(), fold_min(values(ragged)));
  // argmax across chunks: a tie in a later chunk keeps the earlier index, a NaN anywhere wins.
  Tensor peaks = zeros({100000});
  peaks.narrow(0, 40000, 1).fill_(5.0);
  peaks.narrow(0, 90000, 1).fill_(5.0);
  EXPECT_EQ(argmax(peaks).item<int64_t>(), 40000);
  peaks.narrow(0, 70000, 1).fill_(NAN);
  EXPECT_EQ(argmax(peaks).item<int64_t>(), 70000);
  EXPECT_EQ(argmin(peaks).item<int64_t>(), 70000);
  // argmax over dim 0 of a tall matrix (row accumulation with chunks).
  Tensor columns = zeros({50000, 2});
  columns.select(1, 1).narrow(0, 33333, 1).fill_(1.0);
  EXPECT_EQ(argmax(columns, 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 33333}));
}

TEST(ReductionThreads, ResultsAreBitIdenticalForAnyThreadCount) {
  const int previous = num_threads();
  const Tensor x = sample({1500, 1100}) * 1.37 + 0.1;
  auto run_all = [&] {
    std::vector<Tensor> results = {sum(x),          sum(x, 0),          sum(x, 1),      sum(x.t(), 1),
                                   mean(x.slice(1, 0, std::nullopt, 3)), sum(x.slice(0, 0, 3), 1),
                                   sum(x.slice(1, 0, 3), 0),             var(x, 0),      norm(x),
                                   logsumexp(x, {1}),                    softmax(x, 1),  log_softmax(x, 0),
                                   argmax(x),                            max(x, 0).second};
    return results;
  };
  set_num_threads(1);
  const std::vector<Tensor> single = run_all();
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    const std::vector<Tensor> multi = run_all();
    for (size_t i = 0; i < single.size(); ++i) {
      SCOPED_TRACE(fmt::format("result {} with {} threads", i, threads));
      ASSERT_EQ(single[i].nbytes(), multi[i].nbytes());
      EXPECT_EQ(std::memcmp(single[i].data_ptr(), multi[i].data_ptr(), single[i].nbytes()), 0);
    }
  }
  set_num_threads(previous);
}

TEST(ReductionErrors, BadInputsNameTheOp) {
  const Tensor x = sample({2, 3});
  EXPECT_THROW(sum(x, {2}), Error);
  expect_error([&] { sum(x, {2}); }, {"sum", "dim 2"});
  expect_error([&] { amax(x, {-3}); }, {"amax", "-3"});
  expect_error([&] { softmax(x, 2); }, {"softmax", "dim 2"});
  expect_error([&] { log_softmax(x, -3); }, {"log_softmax"});
  expect_error([&] { max(x, 5); }, {"max", "dim 5"});
  expect_error([&] { argmin(x, -4); }, {"argmin"});
  expect_error([&] { all(x, 2); }, {"all"});
  EXPECT_THROW(sum(x, {0, 0}), Error);
  expect_error([&] { sum(x, {0, 0}); }, {"sum", "appears multiple times"});
  expect_error([&] { var(x, {1, -1}); }, {"var", "appears multiple times"});
  expect_error([&] { logsumexp(x, {0, -2}); }, {"logsumexp", "appears multiple times"});
  expect_error([&] { prod(scalar_tensor(1.0), {0, -1}); }, {"prod", "appears multiple times"});
  EXPECT_THROW(max(zeros({0, 3})), Error);
  expect_error([&] { max(zeros({0, 3})); }, {"max", "[0, 3]"});
  expect_error([&] { amin(zeros({0})); }, {"amin", "empty"});
  expect_error([&] { amax(zeros({0, 3}), {0}); }, {"amax", "dim 0", "non-zero size"});
  expect_error([&] { max(zeros({2, 0}), 1); }, {"max", "dim 1"});
  expect_error([&] { argmax(zeros({0})); }, {"argmax", "empty"});
  expect_error([&] { argmin(zeros({0, 2}), 0); }, {"argmin", "dim 0"});
  EXPECT_THROW(mean(tensor(std::vector<int64_t>{1, 2})), Error);
  expect_error([&] { mean(tensor(std::vector<int64_t>{1, 2})); }, {"mean", "floating", "int64"});
  expect_error([&] { var(tensor(std::vector<int32_t>{1, 2})); }, {"var", "int32"});
  expect_error([&] { ember::std(tensor(std::vector<bool>{true})); }, {"std", "bool"});
  expect_error([&] { norm(tensor(std::vector<int64_t>{1, 2})); }, {"norm", "int64"});
  expect_error([&] { sum(Tensor()); }, {"sum", "undefined"});
}

}  // namespace
}  // namespace ember

// Gather, scatter and joining ops against plain loops over row-major values in double.
#include <algorithm>
#include <cmath>

#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::unravel;
using testing::values;

// Deterministic values, exact in every dtype: quarter steps for floats, small integers for
// integers, a pattern for bools.
Tensor sample(IntArrayRef shape, DType dtype = kFloat32) {
  const int64_t count = product(shape);
  if (dtype == kBool) {
    std::vector<bool> flags;
    for (int64_t i = 0; i < count; ++i) flags.push_back(i % 3 != 0);
    return tensor(flags, shape);
  }
  std::vector<double> data;
  for (int64_t i = 0; i < count; ++i) {
    data.push_back(is_floating_point(dtype) ? i * 0.25 - 10.0 : dtype == kUInt8 ? i % 250 : i % 120 - 60);
  }
  return tensor(data, shape).to(dtype);
}

Tensor indices(const std::vector<int64_t>& data, IntArrayRef shape) { return tensor(data, shape); }
Tensor indices(const std::vector<int64_t>& data) { return tensor(data); }

// The same values as sample(shape) in a non-contiguous layout: a transposed buffer.
Tensor transposed_sample(IntArrayRef shape, DType dtype = kFloat32) {
  DimVector reversed(shape.begin(), shape.end());
  std::reverse(reversed.begin(), reversed.end());
  DimVector order;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) order.push_back(d);
  const Tensor result = sample(shape, dtype).permute(order).contiguous().permute(order);
  EXPECT_FALSE(result.is_contiguous());
  return result;
}

// Row-major position of a multi-index in a shape.
int64_t flat(const std::vector<int64_t>& index, IntArrayRef shape) {
  int64_t position = 0;
  for (size_t d = 0; d < shape.size(); ++d) position = position * shape[d] + index[d];
  return position;
}

std::vector<int64_t> integers(const Tensor& tensor) { return tensor.to_vector<int64_t>(); }

// ---- references ----

std::vector<double> reference_gather(const Tensor& input, int64_t dim, const Tensor& index) {
  const std::vector<double> data = values(input);
  const std::vector<int64_t> where = integers(index);
  std::vector<double> result;
  for (int64_t i = 0; i < index.numel(); ++i) {
    std::vector<int64_t> position = unravel(i, index.sizes());
    position[dim] = where[i];
    result.push_back(data[flat(position, input.sizes())]);
  }
  return result;
}

std::vector<double> reference_index_select(const Tensor& input, int64_t dim, const std::vector<int64_t>& index) {
  const std::vector<double> data = values(input);
  DimVector shape = input.shape();
  shape[dim] = static_cast<int64_t>(index.size());
  std::vector<double> result;
  for (int64_t i = 0; i < product(shape); ++i) {
    std::vector<int64_t> position = unravel(i, shape);
    position[dim] = index[position[dim]];
    result.push_back(data[flat(position, input.sizes())]);
  }
  return result;
}

std::vector<double> reference_scatter_add(const Tensor& input, int64_t dim, const Tensor& index, const Tensor& source) {
  std::vector<double> result = values(input);
  const std::vector<double> added = values(source);
  const std::vector<int64_t> where = integers(index);
  for (int64_t i = 0; i < index.numel(); ++i) {
    std::vector<int64_t> position = unravel(i, index.sizes());
    const double value = added[flat(position, source.sizes())];
    position[dim] = where[i];
    result[flat(position, input.sizes())] += value;
  }
  return result;
}

std::vector<double> reference_index_add(const Tensor& input, int64_t dim, const std::vector<int64_t>& index,
                                        const Tensor& source) {
  std::vector<double> result = values(input);
  const std::vector<double> added = values(source);
  for (int64_t i = 0; i < source.numel(); ++i) {
    std::vector<int64_t> position = unravel(i, source.sizes());
    position[dim] = index[position[dim]];
    result[flat(position, input.sizes())] += added[i];
  }
  return result;
}

const std::vector<DType> kAllDTypes = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kUInt8, kBool};

// ---- index_select ----

TEST(IndexingIndexSelect, EveryDimAndDtypeMatchesLoop) {
  for (DType dtype : kAllDTypes) {
    const Tensor input = sample({3, 4, 5}, dtype);
    for (int64_t dim : {0, 1, 2, -1, -3}) {
      const int64_t wrapped = dim < 0 ? dim + 3 : dim;
      const int64_t size = input.size(wrapped);
      const std::vector<int64_t> index = {size - 1, 0, size - 1, 1 % size, 0};
      const Tensor result = index_select(input, dim, indices(index));
      EXPECT_EQ(result.dtype(), dtype);
      DimVector shape = input.shape();
      shape[wrapped] = 5;
      EXPECT_EQ(result.sizes(), IntArrayRef(shape));
      EXPECT_EQ(values(result), reference_index_select(input, wrapped, index)) << name(dtype) << " dim " << dim;
    }
  }
}

TEST(IndexingIndexSelect, NonContiguousInputsAndIndices) {
  const std::vector<int64_t> picks = {2, 0, 3, 3};
  // A stepped slice of a longer int32 tensor: non-contiguous and converted.
  const Tensor stepped_index = tensor(std::vector<int32_t>{2, 9, 0, 9, 3, 9, 3, 9}).slice(0, 0, std::nullopt, 2);
  ASSERT_FALSE(stepped_index.is_contiguous());
  const Tensor inputs[] = {transposed_sample({4, 6}), sample({4, 12}).slice(1, 0, std::nullopt, 2),
                           sample({1, 6}).expand({4, 6})};
  for (const Tensor& input : inputs) {
    EXPECT_EQ(values(index_select(input, 0, stepped_index)), reference_index_select(input, 0, picks));
    EXPECT_EQ(values(input.index_select(1, indices({5, 1}))), reference_index_select(input, 1, {5, 1}));
  }
}

TEST(IndexingIndexSelect, ZeroDimAndZeroSize) {
  const Tensor input = sample({3, 4});
  const Tensor scalar_index = index_select(input, 1, scalar_tensor(int64_t{2}));
  EXPECT_EQ(scalar_index.sizes(), IntArrayRef({3, 1}));
  EXPECT_EQ(values(scalar_index), reference_index_select(input, 1, {2}));
  const Tensor scalar = scalar_tensor(4.5);
  const Tensor picked = index_select(scalar, 0, indices({0}));
  EXPECT_EQ(picked.dim(), 0);
  EXPECT_EQ(picked.item<double>(), 4.5);
  EXPECT_EQ(index_select(input, 0, zeros({0}, kInt64)).sizes(), IntArrayRef({0, 4}));
  EXPECT_EQ(index_select(zeros({0, 4}), 1, indices({3, 1})).sizes(), IntArrayRef({0, 2}));
}

TEST(IndexingIndexSelect, LargeInputTakesTheParallelPath) {
  const Tensor input = sample({400, 300}, kFloat64);
  std::vector<int64_t> picks;
  for (int64_t i = 0; i < 200; ++i) picks.push_back((i * 37) % 300);
  EXPECT_EQ(values(index_select(input, 1, indices(picks))), reference_index_select(input, 1, picks));
}

TEST(IndexingIndexSelect, BadInputsThrowNamingTheValue) {
  const Tensor input = sample({2, 3});
  expect_error([&] { index_select(input, 1, indices({0, 3})); }, {"index_select", "index 3", "dim 1", "size 3"});
  expect_error([&] { index_select(input, 0, indices({-1})); }, {"index_select", "index -1", "dim 0", "size 2"});
  expect_error([&] { index_select(input, 0, tensor({0.0f})); }, {"index_select", "int64 or int32", "float32"});
  expect_error([&] { index_select(input, 0, indices({0, 1}, {1, 2})); }, {"index_select", "1-D", "[1, 2]"});
  expect_error([&] { index_select(input, 2, indices({0})); }, {"index_select", "dim 2"});
  expect_error([&] { index_select(scalar_tensor(1.0), 0, indices({0, 0})); }, {"index_select", "0-dim", "2"});
  expect_error([&] { index_select(scalar_tensor(1.0), 0, indices({1})); }, {"index_select", "index 1", "size 1"});
}

// ---- gather ----

TEST(IndexingGather, EveryDimAndDtypeMatchesLoop) {
  for (DType dtype : kAllDTypes) {
    const Tensor input = sample({3, 4, 5}, dtype);
    // The index may be smaller than the input off the gathered dim, and larger along it.
    const Tensor along0 = indices({2, 0, 1, 1, 0, 2, 2, 2}, {4, 2, 1});
    EXPECT_EQ(values(gather(input, 0, along0)), reference_gather(input, 0, along0)) << name(dtype);
    const Tensor along1 = indices({3, 0, 1, 2, 2, 3}, {1, 6, 1});
    EXPECT_EQ(values(input.gather(1, along1)), reference_gather(input, 1, along1)) << name(dtype);
    const Tensor along2 = indices({4, 4, 0, 1, 2, 3}, {2, 1, 3});
    const Tensor result = gather(input, -1, along2);
    EXPECT_EQ(result.sizes(), IntArrayRef({2, 1, 3}));
    EXPECT_EQ(result.dtype(), dtype);
    EXPECT_EQ(values(result), reference_gather(input, 2, along2)) << name(dtype);
  }
}

TEST(IndexingGather, NonContiguousZeroDimAndZeroSize) {
  const Tensor input = transposed_sample({4, 5});
  const Tensor index = indices({0, 3, 1, 2, 2, 0, 3, 3, 1, 0}, {5, 2}).t();  // [2, 5], transposed
  ASSERT_FALSE(index.is_contiguous());
  EXPECT_EQ(values(gather(input, 0, index)), reference_gather(input, 0, index.contiguous()));
  const Tensor int32_index = indices({4, 0, 2, 1}, {4, 1}).to(kInt32);
  EXPECT_EQ(values(gather(input, 1, int32_index)), reference_gather(input, 1, int32_index));
  EXPECT_EQ(gather(scalar_tensor(2.5), 0, scalar_tensor(int64_t{0})).item<double>(), 2.5);
  const Tensor one = gather(scalar_tensor(2.5), 0, indices({0}));
  EXPECT_EQ(one.sizes(), IntArrayRef({1}));
  EXPECT_EQ(values(one), std::vector<double>{2.5});
  EXPECT_EQ(gather(input, 0, zeros({0, 5}, kInt64)).sizes(), IntArrayRef({0, 5}));
}

TEST(IndexingGather, BadInputsThrowNamingTheValue) {
  const Tensor input = sample({2, 3});
  expect_error([&] { gather(input, 0, indices({2}, {1, 1})); }, {"gather", "index 2", "dim 0", "size 2"});
  expect_error([&] { gather(input, 1, indices({-4}, {1, 1})); }, {"gather", "index -4", "dim 1", "size 3"});
  expect_error([&] { gather(input, 1, indices({0, 2})); }, {"gather", "number of dims", "[2]", "[2, 3]"});
  expect_error([&] { gather(input, 0, indices({0, 1, 1, 0}, {1, 4})); }, {"gather", "[1, 4]", "[2, 3]", "dim 1"});
  expect_error([&] { gather(input, 0, tensor(std::vector<bool>{true}, {1, 1})); },
               {"gather", "int64 or int32", "bool"});
  expect_error([&] { gather(input, -3, indices({0}, {1, 1})); }, {"gather", "dim -3"});
}

// ---- scatter_add ----

// Small values, so that sums stay exact (and unwrapped) in every dtype.
Tensor small_values(IntArrayRef shape, DType dtype) {
  std::vector<double> data;
  for (int64_t i = 0; i < product(shape); ++i) data.push_back(static_cast<double>(i % 5) * 0.5 + 1.0);
  return tensor(data, shape).to(dtype);
}

TEST(IndexingScatterAdd, RepeatedIndicesAccumulateInEveryDtype) {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kUInt8}) {
    const Tensor input = sample({3, 4}, dtype);
    // Source larger than the index: only the covered part is added.
    const Tensor source = small_values({4, 5}, dtype);
    const Tensor along0 = indices({2, 2, 0, 1, 2, 2, 2, 0, 1}, {3, 3});
    const Tensor result = scatter_add(input, 0, along0, source);
    EXPECT_EQ(result.dtype(), dtype);
    EXPECT_EQ(values(result), reference_scatter_add(input, 0, along0, source)) << name(dtype);
    const Tensor along1 = indices({3, 3, 3, 0, 1, 0}, {2, 3});
    EXPECT_EQ(values(scatter_add(input, -1, along1, source)), reference_scatter_add(input, 1, along1, source))
        << name(dtype);
    EXPECT_EQ(values(input), values(sample({3, 4}, dtype))) << "out of place must leave the input alone";
  }
  // bool adds as logical or, as in PyTorch.
  const Tensor flags = tensor(std::vector<bool>{false, false, true});
  const Tensor added = scatter_add(flags, 0, indices({0, 0, 1}), tensor(std::vector<bool>{true, false, false}));
  EXPECT_EQ(added.to_vector<bool>(), (std::vector<bool>{true, false, true}));
}

TEST(IndexingScatterAdd, NonContiguousOperandsAndInPlace) {
  const Tensor input = transposed_sample({4, 3});
  const Tensor index = indices({0, 3, 3, 1, 2, 0}, {3, 2}).t();  // [2, 3], transposed
  const Tensor source = sample({3, 8}).slice(1, 0, std::nullopt, 2).t();  // [4, 3], stepped and transposed
  EXPECT_EQ(values(scatter_add(input, 0, index, source)), reference_scatter_add(input, 0, index.contiguous(), source));

  // In place into a stepped view: the base tensor changes exactly where the view lies.
  Tensor base = sample({3, 8});
  const std::vector<double> before = values(base);
  Tensor view = base.slice(1, 1, std::nullopt, 2);  // [3, 4]
  const std::vector<double> expected = reference_scatter_add(view, 1, index, source);
  view.scatter_add_(1, index, source);
  EXPECT_EQ(values(view), expected);
  const std::vector<double> after = values(base);
  for (int64_t i = 0; i < 24; ++i) {
    if (i % 2 == 0) EXPECT_EQ(after[i], before[i]) << "element " << i << " lies outside the view";
  }

  // A source that aliases the destination is read as it was before the call.
  Tensor aliased = sample({2, 3});
  const Tensor backwards = indices({2, 2, 2, 0, 0, 0}, {2, 3});
  const std::vector<double> aliased_expected = reference_scatter_add(aliased, 1, backwards, aliased);
  aliased.scatter_add_(1, backwards, aliased);
  EXPECT_EQ(values(aliased), aliased_expected);
}

TEST(IndexingScatterAdd, ZeroDimAndZeroSize) {
  EXPECT_EQ(scatter_add(scalar_tensor(1.5), 0, scalar_tensor(int64_t{0}), scalar_tensor(2.0)).item<double>(), 3.5);
  const Tensor input = sample({2, 3});
  EXPECT_EQ(values(scatter_add(input, 0, zeros({0, 3}, kInt64), sample({0, 3}))), values(input));
  EXPECT_EQ(scatter_add(zeros({0, 3}), 1, zeros({0, 2}, kInt64), zeros({0, 2})).sizes(), IntArrayRef({0, 3}));
}

TEST(IndexingScatterAdd, ParallelResultIsDeterministicAndCorrect) {
  // 64 rows of 6000 additions into 500 slots each: split across threads by row.
  std::vector<int64_t> where;
  for (int64_t i = 0; i < 64 * 6000; ++i) where.push_back((i * 7919) % 500);
  const Tensor index = indices(where, {64, 6000});
  const Tensor source = (arange(64 * 6000, kFloat64).view({64, 6000}) * 0.001).sin().to(kFloat32);
  const Tensor input = zeros({64, 500});
  const int threads = num_threads();
  set_num_threads(1);
  const Tensor serial = scatter_add(input, 1, index, source);
  set_num_threads(std::max(threads, 2));
  const Tensor parallel = scatter_add(input, 1, index, source);
  set_num_threads(threads);
  EXPECT_EQ(serial.to_vector<float>(), parallel.to_vector<float>());
  testing::expect_values_near(parallel, reference_scatter_add(input, 1, index, source), 1e-3);

  // Along dim 0 the threads split the columns and each walks the indices row by row.
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 600 * 640; ++i) rows.push_back((i * 7919) % 50);
  const Tensor row_index = indices(rows, {600, 640});
  const Tensor row_source = source.view({600, 640});
  const Tensor row_input = zeros({50, 640});
  set_num_threads(1);
  const Tensor rows_serial = scatter_add(row_input, 0, row_index, row_source);
  set_num_threads(std::max(threads, 2));
  const Tensor rows_parallel = scatter_add(row_input, 0, row_index, row_source);
  set_num_threads(threads);
  EXPECT_EQ(rows_serial.to_vector<float>(), rows_parallel.to_vector<float>());
  testing::expect_values_near(rows_parallel, reference_scatter_add(row_input, 0, row_index, row_source), 1e-3);
}

TEST(IndexingScatterAdd, BadInputsThrowNamingTheValue) {
  const Tensor input = zeros({2, 3});
  const Tensor source = ones({2, 3});
  expect_error([&] { scatter_add(input, 1, indices({0, 3}, {1, 2}), source); },
               {"scatter_add", "index 3", "dim 1", "size 3"});
  expect_error([&] { scatter_add(input, 0, indices({-1}, {1, 1}), source); },
               {"scatter_add", "index -1", "dim 0", "size 2"});
  expect_error([&] { scatter_add(input, 0, indices({0, 1}), source); }, {"scatter_add", "same number of dims", "[2]"});
  expect_error([&] { scatter_add(input, 0, zeros({1, 4}, kInt64), ones({2, 4})); }, {"scatter_add", "[1, 4]", "dim 1"});
  expect_error([&] { scatter_add(input, 0, zeros({3, 3}, kInt64), source); }, {"scatter_add", "[3, 3]", "[2, 3]"});
  expect_error([&] { scatter_add(input, 0, zeros({1, 1}), source); }, {"scatter_add", "int64 or int32", "float32"});
  expect_error([&] { scatter_add(input, 0, zeros({1, 1}, kInt64), source.to(kFloat64)); },
               {"scatter_add", "float64", "float32"});
  Tensor expanded = zeros({1, 3}).expand({2, 3});
  expect_error([&] { expanded.scatter_add_(0, zeros({1, 1}, kInt64), source); }, {"scatter_add_", "share memory"});
  Tensor target = zeros({2, 3});
  expect_error([&] { target.scatter_add_(1, indices({7}, {1, 1}), source); }, {"scatter_add_", "index 7"});
}

// ---- index_add ----

TEST(IndexingIndexAdd, RepeatedIndicesAccumulateInEveryDtype) {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kUInt8}) {
    const Tensor input = sample({3, 4, 2}, dtype);
    const std::vector<int64_t> along1 = {3, 0, 3, 3, 1};
    const Tensor source = small_values({3, 5, 2}, dtype);
    const Tensor result = index_add(input, 1, indices(along1), source);
    EXPECT_EQ(result.dtype(), dtype);
    EXPECT_EQ(values(result), reference_index_add(input, 1, along1, source)) << name(dtype);
    const std::vector<int64_t> along0 = {2, 2};
    const Tensor source0 = small_values({2, 4, 2}, dtype);
    EXPECT_EQ(values(index_add(input, -3, indices(along0).to(kInt32), source0)),
              reference_index_add(input, 0, along0, source0))
        << name(dtype);
  }
}

TEST(IndexingIndexAdd, NonContiguousInPlaceZeroDimAndZeroSize) {
  const Tensor source = transposed_sample({3, 4});
  const Tensor stepped = indices({1, 9, 0, 9, 1, 9, 2, 9}).slice(0, 0, std::nullopt, 2);  // {1, 0, 1, 2}
  Tensor base = zeros({5, 6});
  Tensor view = base.slice(1, 0, std::nullopt, 2).t();  // [3, 5]: every other column, transposed
  const std::vector<double> expected = reference_index_add(view, 1, {1, 0, 1, 2}, source);
  view.index_add_(1, stepped, source);
  EXPECT_EQ(values(view), expected);
  EXPECT_EQ(values(base.slice(1, 1, std::nullopt, 2)), std::vector<double>(15, 0.0));

  const Tensor expanded_source = sample({3, 1}).expand({3, 2});
  EXPECT_EQ(values(index_add(zeros({3, 4}), 1, indices({3, 3}), expanded_source)),
            reference_index_add(zeros({3, 4}), 1, {3, 3}, expanded_source));
  EXPECT_EQ(index_add(scalar_tensor(1.0), 0, scalar_tensor(int64_t{0}), scalar_tensor(2.0)).item<double>(), 3.0);
  EXPECT_EQ(values(index_add(ones({2, 2}), 0, zeros({0}, kInt64), zeros({0, 2}))), std::vector<double>(4, 1.0));
}

TEST(IndexingIndexAdd, BadInputsThrowNamingTheValue) {
  const Tensor input = zeros({3, 2});
  expect_error([&] { index_add(input, 0, indices({0, 5}), ones({2, 2})); },
               {"index_add", "index 5", "dim 0", "size 3"});
  expect_error([&] { index_add(input, 0, indices({-2}), ones({1, 2})); }, {"index_add", "index -2", "dim 0"});
  expect_error([&] { index_add(input, 0, indices({0, 0}), ones({3, 2})); }, {"index_add", "2 entries", "size 3"});
  expect_error([&] { index_add(input, 0, indices({0, 0}), ones({2, 3})); }, {"index_add", "[2, 3]", "[3, 2]"});
  expect_error([&] { index_add(input, 0, indices({0}), ones({2})); }, {"index_add", "number of dims", "[2]"});
  expect_error([&] { index_add(input, 0, indices({0}, {1, 1}), ones({1, 2})); }, {"index_add", "1-D", "[1, 1]"});
  expect_error([&] { index_add(input, 0, tensor({0.0f}), ones({1, 2})); }, {"index_add", "int64 or int32", "float32"});
  expect_error([&] { index_add(input, 0, indices({0}), ones({1, 2}, kInt64)); }, {"index_add", "int64", "float32"});
}

// ---- cat and stack ----

TEST(IndexingCat, MatchesLoopAlongEveryDim) {
  // Contiguous, permuted and stepped parts with distinct values.
  const Tensor parts[] = {sample({2, 3, 4}), (sample({4, 3, 2}) + 100).permute({2, 1, 0}),
                          (sample({2, 6, 4}) + 200).slice(1, 0, std::nullopt, 2)};
  for (int64_t dim : {0, 1, 2, -1}) {
    const int64_t wrapped = dim < 0 ? dim + 3 : dim;
    const Tensor result = cat({parts[0], parts[1], parts[2]}, dim);
    DimVector shape = parts[0].shape();
    shape[wrapped] *= 3;
    ASSERT_EQ(result.sizes(), IntArrayRef(shape));
    const std::vector<double> got = values(result);
    for (int64_t i = 0; i < result.numel(); ++i) {
      std::vector<int64_t> position = unravel(i, shape);
      const int64_t part = position[wrapped] / parts[0].size(wrapped);
      position[wrapped] %= parts[0].size(wrapped);
      EXPECT_EQ(got[i], values(parts[part])[flat(position, parts[part].sizes())]) << "dim " << dim << " at " << i;
    }
  }
}

TEST(IndexingCat, PromotesDtypesAndSkipsLegacyEmpty) {
  const Tensor mixed = cat({sample({2, 2}), sample({1, 2}, kFloat64)});
  EXPECT_EQ(mixed.dtype(), kFloat64);
  EXPECT_EQ(values(mixed), (std::vector<double>{-10, -9.75, -9.5, -9.25, -10, -9.75}));
  const Tensor flags = cat({tensor(std::vector<bool>{true, false}), tensor(std::vector<uint8_t>{7})});
  EXPECT_EQ(flags.dtype(), kUInt8);
  EXPECT_EQ(values(flags), (std::vector<double>{1, 0, 7}));
  EXPECT_EQ(cat({sample({2}, kInt32), sample({1}, kFloat16)}).dtype(), kFloat16);
  // A 1-D empty tensor is skipped whatever the others' shapes, but its dtype still counts.
  const Tensor skipped = cat({sample({2, 3}), zeros({0}, kFloat64), sample({2, 1})}, 1);
  EXPECT_EQ(skipped.dtype(), kFloat64);
  EXPECT_EQ(skipped.sizes(), IntArrayRef({2, 4}));
  EXPECT_EQ(cat({zeros({0}), zeros({0}, kInt32)}, 1).sizes(), IntArrayRef({0}));
  EXPECT_EQ(cat({zeros({2, 0}), sample({2, 3})}, 1).sizes(), IntArrayRef({2, 3}));
  EXPECT_EQ(cat({zeros({0, 3}), zeros({0, 3})}).sizes(), IntArrayRef({0, 3}));
  EXPECT_EQ(values(cat({sample({2, 3})}, -2)), values(sample({2, 3})));
}

TEST(IndexingCat, BadInputsThrowNamingTheShapes) {
  expect_error([] { cat({}); }, {"cat", "non-empty"});
  expect_error([] { cat({ones({2, 3}), ones({2, 4})}, 0); }, {"cat", "dim 0", "[2, 3]", "[2, 4]", "tensor 1"});
  expect_error([] { cat({ones({2, 3}), ones({2, 3, 4})}); }, {"cat", "number of dims", "[2, 3]", "[2, 3, 4]"});
  expect_error([] { cat({ones({2}), scalar_tensor(1.0)}); }, {"cat", "tensor 1", "0-dim"});
  expect_error([] { cat({ones({2, 3})}, 2); }, {"cat", "dim 2"});
  expect_error([] { cat({ones({2}), Tensor()}); }, {"cat", "tensor 1", "undefined"});
}

TEST(IndexingStack, NewDimAtEveryPosition) {
  const Tensor a = sample({2, 3}), b = (sample({3, 2}) * 2).t(), c = sample({2, 6}).slice(1, 0, std::nullopt, 2);
  const Tensor parts[] = {a, b, c};
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    const int64_t wrapped = dim < 0 ? dim + 3 : dim;
    const Tensor result = stack({a, b, c}, dim);
    DimVector shape = {2, 3};
    shape.insert(shape.begin() + wrapped, 3);
    ASSERT_EQ(result.sizes(), IntArrayRef(shape));
    const std::vector<double> got = values(result);
    for (int64_t i = 0; i < result.numel(); ++i) {
      std::vector<int64_t> position = unravel(i, shape);
      const int64_t part = position[wrapped];
      position.erase(position.begin() + wrapped);
      EXPECT_EQ(got[i], values(parts[part])[flat(position, {2, 3})]) << "dim " << dim;
    }
  }
  const Tensor scalars = stack({scalar_tensor(1.0), scalar_tensor(int64_t{2})});
  EXPECT_EQ(scalars.sizes(), IntArrayRef({2}));
  EXPECT_EQ(scalars.dtype(), kFloat32);
  EXPECT_EQ(values(scalars), (std::vector<double>{1, 2}));
  EXPECT_EQ(stack({zeros({0}), zeros({0})}, 1).sizes(), IntArrayRef({0, 2}));
}

TEST(IndexingStack, BadInputsThrowNamingTheShapes) {
  expect_error([] { stack({}); }, {"stack", "non-empty"});
  expect_error([] { stack({ones({2, 3}), ones({3, 2})}); }, {"stack", "[2, 3]", "[3, 2]", "tensor 1"});
  expect_error([] { stack({ones({2, 3})}, 3); }, {"stack", "dim 3"});
}

// ---- split and chunk ----

std::vector<std::vector<int64_t>> shapes_of(const std::vector<Tensor>& parts) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor& part : parts) shapes.push_back(part.sizes().vec());
  return shapes;
}

TEST(IndexingSplit, BySizeAndBySizesGiveViews) {
  const Tensor input = transposed_sample({10, 3});
  const std::vector<Tensor> parts = split(input, 4);
  EXPECT_EQ(shapes_of(parts), (std::vector<std::vector<int64_t>>{{4, 3}, {4, 3}, {2, 3}}));
  const std::vector<double> all = values(input);
  int64_t row = 0;
  for (const Tensor& part : parts) {
    EXPECT_TRUE(part.shares_storage_with(input));
    const std::vector<double> got = values(part);
    EXPECT_EQ(got, std::vector<double>(all.begin() + row * 3, all.begin() + (row + part.size(0)) * 3));
    row += part.size(0);
  }
  const std::vector<Tensor> columns = input.split(2, -1);
  EXPECT_EQ(shapes_of(columns), (std::vector<std::vector<int64_t>>{{10, 2}, {10, 1}}));
  EXPECT_EQ(values(columns[1]), values(input.select(1, 2)));
  const std::vector<Tensor> listed = split(input, std::vector<int64_t>{3, 0, 7});
  EXPECT_EQ(shapes_of(listed), (std::vector<std::vector<int64_t>>{{3, 3}, {0, 3}, {7, 3}}));
  EXPECT_EQ(values(listed[2]), std::vector<double>(all.begin() + 9, all.end()));
  EXPECT_EQ(shapes_of(split(zeros({0, 3}), 2)), (std::vector<std::vector<int64_t>>{{0, 3}}));
  EXPECT_EQ(shapes_of(split(zeros({0}), 0)), (std::vector<std::vector<int64_t>>{{0}}));
  EXPECT_EQ(split(input, 10).size(), 1u);
}

TEST(IndexingSplit, BadInputsThrowNamingTheValue) {
  expect_error([] { split(ones({10}), -1); }, {"split", "-1"});
  expect_error([] { split(ones({10}), 0); }, {"split", "size 10"});
  expect_error([] { split(ones({10}), std::vector<int64_t>{3, 6}); }, {"split", "[3, 6]", "9", "size 10"});
  expect_error([] { split(ones({10}), std::vector<int64_t>{3, -1, 8}); }, {"split", "-1"});
  expect_error([] { split(scalar_tensor(1.0), 1); }, {"split", "0-dim"});
  expect_error([] { split(ones({2}), 1, 1); }, {"split", "dim 1"});
}

TEST(IndexingChunk, CeilSizedChunksPossiblyFewer) {
  const Tensor input = arange(10);
  EXPECT_EQ(shapes_of(chunk(input, 4)), (std::vector<std::vector<int64_t>>{{3}, {3}, {3}, {1}}));
  EXPECT_EQ(shapes_of(input.chunk(6)), (std::vector<std::vector<int64_t>>{{2}, {2}, {2}, {2}, {2}}));
  EXPECT_EQ(shapes_of(chunk(arange(5), 4)), (std::vector<std::vector<int64_t>>{{2}, {2}, {1}}));
  EXPECT_EQ(shapes_of(chunk(zeros({0}), 3)), (std::vector<std::vector<int64_t>>{{0}, {0}, {0}}));
  const Tensor matrix = transposed_sample({2, 5});
  const std::vector<Tensor> halves = chunk(matrix, 2, -1);
  EXPECT_EQ(shapes_of(halves), (std::vector<std::vector<int64_t>>{{2, 3}, {2, 2}}));
  EXPECT_EQ(values(halves[1]), values(matrix.slice(1, 3)));
  expect_error([] { chunk(arange(10), 0); }, {"chunk", "positive", "0"});
  expect_error([] { chunk(scalar_tensor(1.0), 1); }, {"chunk", "0-dim"});
}

// ---- one_hot ----

TEST(IndexingOneHot, MatchesLoop) {
  const Tensor labels = indices({2, 0, 4, 1, 1, 3}, {3, 2}).t();  // non-contiguous [2, 3]
  for (int64_t classes : {-1, 5, 7}) {
    const Tensor encoded = one_hot(labels, classes);
    const int64_t width = classes == -1 ? 5 : classes;
    ASSERT_EQ(encoded.sizes(), IntArrayRef({2, 3, width}));
    EXPECT_EQ(encoded.dtype(), kInt64);
    const std::vector<int64_t> label_values = integers(labels);
    std::vector<int64_t> expected;
    for (int64_t label : label_values) {
      for (int64_t k = 0; k < width; ++k) expected.push_back(k == label ? 1 : 0);
    }
    EXPECT_EQ(integers(encoded), expected);
  }
  EXPECT_EQ(integers(one_hot(scalar_tensor(int64_t{2}), 4)), (std::vector<int64_t>{0, 0, 1, 0}));
  EXPECT_EQ(one_hot(zeros({0}, kInt64), 4).sizes(), IntArrayRef({0, 4}));
}

TEST(IndexingOneHot, BadInputsThrowNamingTheValue) {
  expect_error([] { one_hot(indices({0, -2, 1}), 5); }, {"one_hot", "-2", "negative"});
  expect_error([] { one_hot(indices({0, 2, 1}), 2); }, {"one_hot", "2", "num_classes 2"});
  expect_error([] { one_hot(indices({0, 2}).to(kInt32), 3); }, {"one_hot", "int64", "int32"});
  expect_error([] { one_hot(zeros({0}, kInt64)); }, {"one_hot", "empty"});
  expect_error([] { one_hot(indices({0}), -2); }, {"one_hot", "-2"});
}

}  // namespace
}  // namespace ember

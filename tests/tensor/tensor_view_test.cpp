// Views share storage and follow PyTorch's size/stride rules.
#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::values;

Tensor iota(IntArrayRef shape, DType dtype = kFloat32) { return arange(product(shape), dtype).view(shape); }

TEST(TensorView, ViewSharesStorageAndSeesWrites) {
  Tensor base = iota({2, 3});
  Tensor flat = base.view({6});
  flat.select(0, 4).fill_(100);
  EXPECT_EQ(base.select(0, 1).select(0, 1).item<float>(), 100.0f);
  EXPECT_TRUE(flat.shares_storage_with(base));
  EXPECT_EQ(base.view({-1, 2}).sizes(), IntArrayRef({3, 2}));
}

TEST(TensorView, ViewOfTransposeThrowsButReshapeCopies) {
  Tensor transposed = iota({2, 3}).t();
  EXPECT_FALSE(transposed.is_contiguous());
  expect_error([&] { transposed.view({6}); }, {"view", "[6]", "[3, 2]", "reshape"});
  Tensor reshaped = transposed.reshape({6});
  EXPECT_FALSE(reshaped.shares_storage_with(transposed));
  EXPECT_EQ(values(reshaped), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(TensorView, ReshapeIsAViewWhenStridesAllow) {
  Tensor base = iota({4, 6});
  Tensor reshaped = base.reshape({2, 2, 3, 2});
  EXPECT_TRUE(reshaped.shares_storage_with(base));
  // a column slice keeps rows contiguous: merging the two leading dims is still a view
  Tensor columns = iota({2, 3, 4}).slice(2, 0, 2);
  Tensor merged = columns.reshape({6, 2});
  EXPECT_TRUE(merged.shares_storage_with(columns));
  EXPECT_EQ(merged.strides(), IntArrayRef({4, 1}));
  EXPECT_EQ(values(merged), (std::vector<double>{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21}));
}

TEST(TensorView, BadViewShapes) {
  Tensor base = iota({2, 3});
  expect_error([&] { base.view({4, 2}); }, {"view", "[4, 2]", "6"});
  expect_error([&] { base.view({-1, -1}); }, {"view", "one dimension"});
  expect_error([&] { base.reshape({5, -1}); }, {"reshape", "[5, -1]", "6"});
}

TEST(TensorView, PermuteTransposeAndT) {
  Tensor base = iota({2, 3, 4});
  Tensor permuted = base.permute({2, 0, 1});
  EXPECT_EQ(permuted.sizes(), IntArrayRef({4, 2, 3}));
  EXPECT_EQ(permuted.strides(), IntArrayRef({1, 12, 4}));
  // element [k][i][j] of the permuted view is base[i][j][k]
  EXPECT_EQ(permuted.select(0, 3).select(0, 1).select(0, 2).item<float>(), 1 * 12 + 2 * 4 + 3);
  EXPECT_EQ(base.transpose(0, -1).sizes(), IntArrayRef({4, 3, 2}));
  EXPECT_EQ(iota({5}).t().sizes(), IntArrayRef({5}));
  expect_error([&] { base.permute({0, 0, 1}); }, {"permute", "repeat"});
  expect_error([&] { base.permute({0, 1}); }, {"permute", "2 dims", "3 dims"});
  expect_error([&] { base.t(); }, {"t:", "[2, 3, 4]"});
  expect_error([&] { base.transpose(0, 3); }, {"transpose", "dim 3", "out of range"});
}

TEST(TensorView, ExpandUsesZeroStrides) {
  Tensor column = iota({3, 1});
  Tensor expanded = column.expand({2, 3, 4});
  EXPECT_EQ(expanded.strides(), IntArrayRef({0, 1, 0}));
  EXPECT_EQ(values(expanded.contiguous()).size(), 24u);
  EXPECT_EQ(values(expanded.select(0, 1).select(1, 3)), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(column.expand({-1, 5}).sizes(), IntArrayRef({3, 5}));
  expect_error([&] { column.expand({4, 4}); }, {"expand", "4", "3"});
  expect_error([&] { column.expand({3}); }, {"expand", "[3]"});
}

TEST(TensorView, SqueezeAndUnsqueeze) {
  Tensor base = iota({1, 3, 1, 2});
  EXPECT_EQ(base.squeeze().sizes(), IntArrayRef({3, 2}));
  EXPECT_EQ(base.squeeze(2).sizes(), IntArrayRef({1, 3, 2}));
  EXPECT_EQ(base.squeeze(1).sizes(), IntArrayRef({1, 3, 1, 2}));  // size 3: unchanged, as PyTorch
  EXPECT_EQ(iota({3}).unsqueeze(0).sizes(), IntArrayRef({1, 3}));
  EXPECT_EQ(iota({3}).unsqueeze(-1).sizes(), IntArrayRef({3, 1}));
  Tensor scalar = full({}, 7.0);
  EXPECT_EQ(scalar.unsqueeze(0).sizes(), IntArrayRef({1}));
  expect_error([&] { iota({3}).unsqueeze(3); }, {"unsqueeze", "dim 3"});
}

TEST(TensorView, NarrowSliceWithStepAndSelect) {
  Tensor base = iota({4, 5});
  EXPECT_EQ(values(base.narrow(1, 1, 2).contiguous()), (std::vector<double>{1, 2, 6, 7, 11, 12, 16, 17}));
  Tensor stepped = base.slice(1, 0, std::nullopt, 2);
  EXPECT_EQ(stepped.sizes(), IntArrayRef({4, 3}));
  EXPECT_EQ(stepped.strides(), IntArrayRef({5, 2}));
  EXPECT_EQ(values(stepped.select(0, 1)), (std::vector<double>{5, 7, 9}));
  // Python rules: negative bounds count from the end, overlong bounds clamp, empty when start >= end
  EXPECT_EQ(values(base.select(0, 0).slice(0, -2)), (std::vector<double>{3, 4}));
  EXPECT_EQ(base.slice(0, 3, 100).size(0), 1);
  EXPECT_EQ(base.slice(0, 3, 1).size(0), 0);
  EXPECT_EQ(base.select(1, -1).to_vector<float>(), (std::vector<float>{4, 9, 14, 19}));
  expect_error([&] { base.select(0, 4); }, {"select", "index 4", "size 4"});
  expect_error([&] { base.narrow(1, 3, 3); }, {"narrow", "3", "size 5"});
  expect_error([&] { base.slice(0, 0, 2, 0); }, {"slice", "step"});
}

TEST(TensorView, FlattenUnflattenAsStrided) {
  Tensor base = iota({2, 3, 4});
  EXPECT_EQ(base.flatten().sizes(), IntArrayRef({24}));
  EXPECT_EQ(base.flatten(1).sizes(), IntArrayRef({2, 12}));
  EXPECT_EQ(base.flatten(0, 1).sizes(), IntArrayRef({6, 4}));
  EXPECT_EQ(base.unflatten(2, {2, -1}).sizes(), IntArrayRef({2, 3, 2, 2}));
  EXPECT_EQ(full({}, 1.0).flatten().sizes(), IntArrayRef({1}));
  Tensor diagonal = iota({3, 3}).as_strided({3}, {4}, 0);
  EXPECT_EQ(values(diagonal), (std::vector<double>{0, 4, 8}));
  expect_error([&] { iota({3, 3}).as_strided({3}, {5}, 0); }, {"as_strided", "storage of 9"});
}

TEST(TensorView, ContiguousDetection) {
  EXPECT_TRUE(iota({2, 3}).is_contiguous());
  EXPECT_FALSE(iota({2, 3}).t().is_contiguous());
  EXPECT_TRUE(iota({2, 1}).t().is_contiguous());  // size-1 dims do not matter
  EXPECT_TRUE(iota({0, 3}).t().is_contiguous());  // nor do empty tensors
  Tensor transposed = iota({2, 3}).t();
  Tensor dense = transposed.contiguous();
  EXPECT_TRUE(dense.is_contiguous());
  EXPECT_EQ(values(dense), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  Tensor already = iota({2, 3});
  EXPECT_TRUE(already.contiguous().is_same(already));
}

TEST(TensorView, ZeroSizeAndZeroDim) {
  Tensor empty_rows = zeros({0, 4});
  EXPECT_EQ(empty_rows.numel(), 0);
  EXPECT_EQ(empty_rows.view({4, 0}).sizes(), IntArrayRef({4, 0}));
  EXPECT_EQ(empty_rows.t().reshape({-1, 2}).sizes(), IntArrayRef({0, 2}));
  Tensor scalar = full({}, 2.5);
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.view({1, 1}).item<float>(), 2.5f);
  EXPECT_EQ(scalar.reshape({}).dim(), 0);
  expect_error([&] { scalar.select(0, 0); }, {"select", "0-dim"});
}

TEST(TensorView, CopyBetweenOverlappingViews) {
  // Writing a shifted view of itself must read the original values first.
  Tensor data = iota({6});
  data.slice(0, 1).copy_(data.slice(0, 0, 5));
  EXPECT_EQ(values(data), (std::vector<double>{0, 0, 1, 2, 3, 4}));
  Tensor square = iota({3, 3});
  square.copy_(square.t());
  EXPECT_EQ(values(square), (std::vector<double>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
}

TEST(TensorView, CopyBroadcastsAndConverts) {
  Tensor target = zeros({2, 3}, kInt32);
  target.copy_(tensor(std::vector<double>{1.9, -2.5, 3.0}));
  EXPECT_EQ(target.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, 1, -2, 3}));
  expect_error([&] { target.copy_(zeros({4})); }, {"copy_", "[4]", "[2, 3]"});
}

TEST(TensorView, VersionCounterCountsInPlaceWrites) {
  Tensor base = zeros({3});
  Tensor view = base.slice(0, 1);
  const uint32_t before = base.storage()->version.load();
  view.add_(1.0);
  base.mul_(2.0);
  view.fill_(3.0);
  EXPECT_EQ(base.storage()->version.load(), before + 3);
}

TEST(TensorView, OverflowingAndNegativeShapesAreRejected) {
  expect_error([] { iota({1}).expand({-2}); }, {"expand", "-2"});
  expect_error([] { arange(5.0).narrow(0, 2, INT64_MAX); }, {"narrow", "exceeds"});
  expect_error([] { empty({0}).view({int64_t{1} << 32, int64_t{1} << 32}); }, {"view", "overflow"});
  expect_error([] { ones({4}).as_strided({int64_t{1} << 62, 4}, {4, 1}, 0); }, {"as_strided"});
}

TEST(TensorView, CopyIntoAnExpandedDestinationIsRejected) {
  // Several destination elements share one memory location: the result would depend on order.
  Tensor destination = ones({1}).expand({3});
  expect_error([&] { destination.copy_(tensor({1.0f, 2.0f, 3.0f})); }, {"copy_", "share memory"});
}

TEST(TensorView, UndefinedTensorGivesError) {
  Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  expect_error([&] { undefined.sizes(); }, {"undefined"});
  expect_error([&] { add(undefined, ones({1})); }, {"add", "undefined"});
}

}  // namespace
}  // namespace ember

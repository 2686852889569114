// Factories, conversions and the random generator.
#include <cmath>
#include <numeric>
#include <set>

#include "tensor/test_util.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::values;

TEST(Factories, ConstantsAndLikes) {
  EXPECT_EQ(values(zeros({2, 2})), std::vector<double>(4, 0.0));
  EXPECT_EQ(values(ones({3}, kInt32)), std::vector<double>(3, 1.0));
  EXPECT_EQ(ones({3}, kInt32).dtype(), kInt32);
  EXPECT_EQ(values(full({2}, 2.5, kFloat64)), (std::vector<double>{2.5, 2.5}));
  const Tensor model = ones({2, 3}, kFloat16);
  EXPECT_EQ(zeros_like(model).dtype(), kFloat16);
  EXPECT_EQ(full_like(model, 4).sizes(), IntArrayRef({2, 3}));
  EXPECT_EQ(zeros({0, 5}).numel(), 0);
  EXPECT_EQ(full({}, 3).dim(), 0);
  expect_error([] { zeros({2, -1}); }, {"empty", "negative", "[2, -1]"});
  EXPECT_EQ(full({2}, 2.5, kInt64).to_vector<int64_t>(), (std::vector<int64_t>{2, 2}));  // truncates, as PyTorch
  EXPECT_EQ(full({1}, -1, kUInt8).to_vector<uint8_t>(), (std::vector<uint8_t>{255}));     // wraps, as PyTorch
}

TEST(Factories, ValuesThatDoNotFitTheDtypeAreRejected) {
  expect_error([] { full({2}, 1e10, kInt32); }, {"fill_", "int32", "overflow"});
  expect_error([] { full({2}, 300, kUInt8); }, {"fill_", "300", "uint8"});
  expect_error([] { full({2}, int64_t{1} << 40, kInt32); }, {"fill_", "int32"});
  expect_error([] { full({2}, NAN, kInt64); }, {"fill_", "nan", "int64"});
  expect_error([] { full({2}, 1e5, kFloat16); }, {"fill_", "float16"});
  EXPECT_TRUE(std::isinf(full({1}, INFINITY, kFloat16).item<float>()));  // infinity itself is representable
  const Tensor mask = tensor(std::vector<bool>{true, false});
  expect_error([&] { masked_fill(zeros({2}, kInt64), mask, NAN); }, {"masked_fill", "nan"});
  expect_error([&] { where(mask, tensor(std::vector<uint8_t>{1, 2}), 300); }, {"where", "300", "uint8"});
  expect_error([] { full({1}, NAN).item<int64_t>(); }, {"nan", "int64"});
  expect_error([] { ones({2}, kInt32) + (int64_t{1} << 40); }, {"add", "int32"});
}

TEST(Factories, ShapesWhoseSizeOverflowsAreRejected) {
  expect_error([] { empty({int64_t{1} << 61}, kFloat64); }, {"empty", "overflow"});
  expect_error([] { empty({int64_t{1} << 32, int64_t{1} << 32}); }, {"empty", "overflow"});
  EXPECT_EQ(empty({0, int64_t{1} << 62, int64_t{1} << 62}).numel(), 0);  // empty whatever the rest
  expect_error([] { arange(0.0, 1e19); }, {"arange", "overflow"});
  expect_error([] { eye(2, -5); }, {"eye", "-5"});
  float buffer[4] = {};
  expect_error([&] { from_blob(buffer, {int64_t{1} << 62, 4}, kFloat32); }, {"from_blob", "overflow"});
}

TEST(Factories, ArangeLinspaceEye) {
  EXPECT_EQ(arange(5).dtype(), kInt64);
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(0.0, 1.0, 0.25).dtype(), kFloat32);
  EXPECT_EQ(values(arange(0.0, 1.0, 0.25)), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(arange(10, 0, -3).to_vector<int64_t>(), (std::vector<int64_t>{10, 7, 4, 1}));
  EXPECT_EQ(arange(3, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(arange(2, 2).numel(), 0);
  expect_error([] { arange(0, 5, 0); }, {"arange", "step"});
  expect_error([] { arange(5, 0, 1); }, {"arange", "inconsistent"});
  const std::vector<double> spaced = values(linspace(-1.0, 1.0, 5, kFloat64));
  EXPECT_EQ(spaced, (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  const std::vector<float> tenths = linspace(0.0, 1.0, 11).to_vector<float>();
  EXPECT_EQ(tenths.back(), 1.0f);  // the last value is exactly the end
  EXPECT_FLOAT_EQ(tenths[3], 0.3f);
  EXPECT_EQ(linspace(2.0, 3.0, 1).to_vector<float>(), (std::vector<float>{2.0f}));
  EXPECT_EQ(values(eye(2, 3)), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(values(eye(3)), (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

TEST(Factories, FromBlobSharesMemoryAndCallsDeleter) {
  std::vector<float> buffer{1, 2, 3, 4, 5, 6};
  {
    Tensor view = from_blob(buffer.data(), {2, 3}, kFloat32);
    view.mul_(10);
  }
  EXPECT_EQ(buffer[5], 60.0f);
  Tensor strided = from_blob(buffer.data(), {3, 2}, {1, 3}, kFloat32);
  EXPECT_EQ(values(strided.contiguous()), (std::vector<double>{10, 40, 20, 50, 30, 60}));
  bool deleted = false;
  {
    float* owned = new float[2]{7, 8};
    Tensor adopted = from_blob(owned, {2}, kFloat32, [&](void* data) {
      delete[] static_cast<float*>(data);
      deleted = true;
    });
    Tensor alias = adopted.view({1, 2});
    adopted = Tensor();
    EXPECT_FALSE(deleted);  // a view keeps the memory alive
  }
  EXPECT_TRUE(deleted);
  expect_error([&] { from_blob(nullptr, {2}, kFloat32); }, {"from_blob", "null"});
}

TEST(Factories, FromVectorAndItem) {
  const Tensor ints = tensor(std::vector<int32_t>{1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(ints.dtype(), kInt32);
  EXPECT_EQ(ints.select(1, 1).to_vector<int32_t>(), (std::vector<int32_t>{2, 4}));
  EXPECT_EQ(full({}, 2.5).item<double>(), 2.5);
  EXPECT_TRUE(full({1, 1}, true, kBool).item().is_bool());
  EXPECT_EQ(full({}, 7, kInt64).item().to_int64(), 7);
  expect_error([] { tensor(std::vector<float>{1, 2, 3}, {2, 2}); }, {"tensor", "3 values", "[2, 2]"});
  expect_error([] { zeros({2}).item(); }, {"item", "2 elements"});
}

TEST(Factories, ConversionsBetweenAllDtypes) {
  const std::vector<double> source{-2.75, -1.0, 0.0, 1.5, 3.0, 200.0};
  const Tensor base = tensor(source);
  for (DType dtype : {kBool, kUInt8, kInt32, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Tensor converted = base.to(dtype);
    EXPECT_EQ(converted.dtype(), dtype);
    const std::vector<double> got = values(converted);
    for (size_t i = 0; i < source.size(); ++i) {
      double expected = source[i];
      if (dtype == kBool) expected = source[i] != 0;
      else if (dtype == kUInt8) expected = static_cast<double>(static_cast<uint8_t>(static_cast<int64_t>(source[i])));
      else if (is_integral(dtype)) expected = std::trunc(source[i]);
      EXPECT_EQ(got[i], expected) << "at " << i;
    }
  }
  const Tensor same = base.to(kFloat64);
  EXPECT_TRUE(same.is_same(base));  // no copy when nothing changes
}

TEST(Factories, CudaRequestsFailClearlyWithoutAGpu) {
  if (cuda_is_available()) GTEST_SKIP() << "a CUDA device is present; covered by the Cuda tests";
  EXPECT_FALSE(cuda_unavailable_reason().empty());
  expect_error([] { zeros({2}, kCUDA); }, {"cuda"});
  expect_error([] { ones({2}).to(kCUDA); }, {"cuda"});
  EXPECT_EQ(Device("cuda:1").index, 1);
  EXPECT_EQ(Device("cpu"), kCPU);
  expect_error([] { Device("tpu"); }, {"Device", "tpu"});
}

TEST(Random, SeedReproducesAndDrawsDiffer) {
  manual_seed(123);
  const std::vector<float> first = rand({1000}).to_vector<float>();
  const std::vector<float> second = rand({1000}).to_vector<float>();
  manual_seed(123);
  EXPECT_EQ(rand({1000}).to_vector<float>(), first);
  EXPECT_NE(first, second);
  Generator generator(5);
  Generator same(5);
  EXPECT_EQ(randn({64}, {}, &generator).to_vector<float>(), randn({64}, {}, &same).to_vector<float>());
}

TEST(Random, IndependentOfThreadCount) {
  Generator a(99), b(99);
  set_num_threads(1);
  const std::vector<float> one = randn({200000}, {}, &a).to_vector<float>();
  set_num_threads(2);
  const std::vector<float> two = randn({200000}, {}, &b).to_vector<float>();
  EXPECT_EQ(one, two);
}

TEST(Random, DistributionsHaveTheRightMoments) {
  Generator generator(2024);
  const int64_t n = 200000;
  auto moments = [](const std::vector<double>& v) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    double variance = 0;
    for (double x : v) variance += (x - mean) * (x - mean);
    return std::pair{mean, variance / static_cast<double>(v.size())};
  };
  const std::vector<double> uniform = values(rand({n}, kFloat64, &generator));
  const auto [u_mean, u_var] = moments(uniform);
  EXPECT_NEAR(u_mean, 0.5, 0.005);
  EXPECT_NEAR(u_var, 1.0 / 12, 0.002);
  EXPECT_GE(*std::min_element(uniform.begin(), uniform.end()), 0.0);
  EXPECT_LT(*std::max_element(uniform.begin(), uniform.end()), 1.0);
  Tensor shifted = empty({n});
  shifted.normal_(3.0, 2.0, &generator);
  const auto [n_mean, n_var] = moments(values(shifted));
  EXPECT_NEAR(n_mean, 3.0, 0.03);
  EXPECT_NEAR(n_var, 4.0, 0.08);
  const std::vector<double> integers = values(randint(-3, 4, {n}, kInt64, &generator));
  EXPECT_EQ(*std::min_element(integers.begin(), integers.end()), -3);
  EXPECT_EQ(*std::max_element(integers.begin(), integers.end()), 3);
  EXPECT_NEAR(moments(integers).first, 0.0, 0.03);
  const std::vector<double> coins = values(bernoulli(full({n}, 0.3), &generator));
  EXPECT_NEAR(moments(coins).first, 0.3, 0.005);
  Tensor strided = zeros({100, 100}).t();
  strided.uniform_(-1.0, 1.0, &generator);
  for (double v : values(strided)) EXPECT_TRUE(v >= -1.0 && v < 1.0);
}

TEST(Random, RandpermIsAPermutation) {
  Generator generator(7);
  const std::vector<int64_t> order = randperm(1000, kInt64, &generator).to_vector<int64_t>();
  std::set<int64_t> unique(order.begin(), order.end());
  EXPECT_EQ(unique.size(), 1000u);
  EXPECT_EQ(*unique.begin(), 0);
  EXPECT_EQ(*unique.rbegin(), 999);
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(order, identity);
  Generator replay(7);
  EXPECT_EQ(randperm(1000, kInt64, &replay).to_vector<int64_t>(), order);
  EXPECT_EQ(randperm(0).numel(), 0);
}

TEST(Random, BadArguments) {
  expect_error([] { randint(5, 5, {2}); }, {"randint", "low=5", "high=5"});
  expect_error([] { zeros({2}, kInt64).normal_(); }, {"normal_", "int64"});
  expect_error([] { zeros({2}).uniform_(1.0, 0.0); }, {"uniform_", "low=1"});
  expect_error([] { zeros({2}).normal_(0.0, -1.0); }, {"normal_", "std"});
  expect_error([] { randperm(-1); }, {"randperm", "-1"});
}

}  // namespace
}  // namespace ember

namespace ember {
namespace {

TEST(CpuAllocator, LargeBlocksAreReusedAndReleased) {
  empty_cpu_cache();
  const size_t before = cpu_cached_bytes();
  const void* first_address = nullptr;
  {
    Tensor big = empty({1 << 20});  // 4 MiB
    first_address = big.data_ptr();
    EXPECT_GE(cpu_cached_bytes(), before + (4u << 20));
  }
  Tensor again = empty({1 << 20});
  EXPECT_EQ(again.data_ptr(), first_address);  // the freed block came back
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.data_ptr()) % 64, 0u);
  again = Tensor();
  empty_cpu_cache();
  EXPECT_EQ(cpu_cached_bytes(), before);
}

}  // namespace
}  // namespace ember

// The CUDA backend. Two kinds of tests:
// - CudaHostLogic*: the per-element functions every CUDA kernel runs (tensor/src/cuda/*.h),
//   run on the CPU over every index of plans built from CPU tensors and compared with the CPU
//   backend. They need no GPU, so the index arithmetic the kernels use is tested everywhere.
// - Cuda*: each primitive on a GPU against the CPU result for the same inputs. Without a usable
//   device they skip with ember::cuda_unavailable_reason().
#include <ember/tensor/cuda.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "tensor/test_util.h"

// Private to ember_tensor; reached by path because the test target only sees public headers.
#include "cuda/element.h"
#include "kernels/backend.h"
#include "cuda/gemm_mapping.h"
#include "cuda/index_element.h"
#include "cuda/reduce_element.h"

namespace ember {
namespace {

using testing::expect_error;
using testing::expect_values_near;
using testing::transposed_matrix;
using testing::values;

// ---------------------------------------------------------------------------------------------
// CudaHostLogic: kernel element code run on the host.

// A [rows, cols] float tensor of distinct values, sliced with step 2 along dim 0 (not contiguous).
Tensor strided_input(int64_t rows, int64_t cols, DType dtype = kFloat32) {
  return (arange(2 * rows * cols, kFloat64).view({2 * rows, cols}) * 0.25 - 3.0).to(dtype).slice(0, 0, 2 * rows, 2);
}

TEST(CudaHostLogic, ElementwiseElementsMatchCpu) {
  const Tensor a = transposed_matrix(4, 6);                  // [4, 6], column-major
  const Tensor b = strided_input(1, 6).view({6}).expand({4, 6});  // broadcast rows
  Tensor out = empty({4, 6});
  const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&out, &a, &b});
  const cuda::HostOperands host = cuda::host_operands(plan);
  for (int64_t i = 0; i < plan.numel; ++i) {
    cuda::apply_element<float, float, float>(plan, host, i, kernels::Add<float>{2.0f});
  }
  expect_values_near(out, values(add(a, b, 2)), 0.0);
}

TEST(CudaHostLogic, HostOperandsAreReadFromTheArguments) {
  const Tensor a = strided_input(5, 1).view({5});
  const Tensor scalar = scalar_tensor(3.0, kFloat32);
  Tensor out = empty({5});
  kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&out, &a, &scalar});
  plan.on_host[2] = true;  // what a CUDA plan says of a 0-dim CPU operand
  const cuda::HostOperands host = cuda::host_operands(plan);
  plan.data[2] = nullptr;  // the kernel must not dereference the host pointer
  for (int64_t i = 0; i < plan.numel; ++i) cuda::apply_element<float, float, float>(plan, host, i, kernels::Mul<float>{});
  expect_values_near(out, values(mul(a, 3.0)), 0.0);
}

TEST(CudaHostLogic, ConversionsMatchCpuCopies) {
  const Tensor source = strided_input(3, 4, kFloat64);
  for (DType target : {kFloat16, kBFloat16, kInt32, kUInt8, kBool}) {
    Tensor out = empty({3, 4}, target);
    const kernels::ElementwisePlan plan = kernels::make_elementwise_plan({&out, &source});
    visit_dtype(target, [&]<class Out>(TypeTag<Out>) {
      for (int64_t i = 0; i < plan.numel; ++i) cuda::apply_element<Out, double>(plan, {}, i, cuda::Pass<double>{});
    });
    expect_values_near(out, values(source.to(target)), 0.0);
  }
}

// Runs a reducer's thread partials for `threads` threads and folds them, as a block does.
template <class T, class Reducer>
void reduce_on_host(const kernels::ReducePlan& plan, const Reducer& reducer, int64_t threads) {
  for (int64_t output = 0; output < plan.outer.numel; ++output) {
    const cuda::ReduceTarget target = cuda::reduce_target(plan, output);
    typename Reducer::Acc acc = reducer.identity();
    for (int64_t thread = 0; thread < threads; ++thread) {
      acc = reducer.combine(acc, cuda::thread_partial<T>(plan, reducer, target.input, thread, threads));
    }
    cuda::store_as(plan.outer.dtypes[0], target.output, acc);
  }
}

TEST(CudaHostLogic, ReductionPartialsMatchCpu) {
  const Tensor input = (arange(5 * 6 * 7, kFloat64).view({5, 6, 7}) * 0.5 - 20.0).permute({2, 0, 1});  // [7, 5, 6]
  Tensor sums = empty({7, 1, 6}, kFloat64);
  reduce_on_host<double>(kernels::make_reduce_plan(sums, input), cuda::SumReducer<double>{}, 4);
  expect_values_near(sums, values(sum(input, {1}, true)), 1e-12);

  Tensor whole = empty({1, 1, 1}, kFloat64);
  Tensor with_nan = input.clone();
  with_nan.select(0, 3).select(0, 2).fill_(std::nan(""));
  reduce_on_host<double>(kernels::make_reduce_plan(whole, with_nan), cuda::MaxReducer<double>{}, 3);
  EXPECT_TRUE(std::isnan(whole.item<double>()));

  const Tensor integers = input.to(kInt32);
  Tensor int_sums = empty({1, 5, 1}, kInt32);
  reduce_on_host<int32_t>(kernels::make_reduce_plan(int_sums, integers), cuda::SumReducer<int32_t>{}, 8);
  EXPECT_EQ(int_sums.to_vector<int64_t>(), sum(integers, {0, 2}, true).to_vector<int64_t>());

  const Tensor flags = gt(input, 0.0);
  Tensor any_rows = empty({7, 5, 1}, kBool), all_rows = empty({7, 5, 1}, kBool);
  reduce_on_host<bool>(kernels::make_reduce_plan(any_rows, flags), cuda::AnyReducer<bool>{}, 2);
  reduce_on_host<bool>(kernels::make_reduce_plan(all_rows, flags), cuda::AllReducer<bool>{}, 2);
  EXPECT_EQ(any_rows.to_vector<bool>(), any(flags, 2, true).to_vector<bool>());
  EXPECT_EQ(all_rows.to_vector<bool>(), all(flags, 2, true).to_vector<bool>());
}

TEST(CudaHostLogic, ArgPartialsPickTheFirstIndexOfTiesAndNan) {
  const double nan = std::nan("");
  const Tensor input = tensor(std::vector<double>{1, 5, 5, 2, 5, 0, 3, 3,  //
                                                  nan, 1, nan, 9, 9, 0, 0, 0,  //
                                                  -1, -1, -1, -1, -2, -2, 7, -2},
                              {3, 8})
                           .t()
                           .contiguous()
                           .t();  // column-major [3, 8]
  for (bool maximum : {true, false}) {
    Tensor best = empty({3, 1}, kFloat64);
    const Tensor indices = empty({3, 1}, kInt64);
    const kernels::ReducePlan plan = kernels::make_reduce_plan(best, input);
    for (int64_t output = 0; output < 3; ++output) {
      const cuda::ReduceTarget target = cuda::reduce_target(plan, output);
      cuda::ArgCandidate<double> result{0.0, std::numeric_limits<int64_t>::max()};
      for (int64_t thread = 0; thread < 3; ++thread) {
        const auto partial = maximum ? cuda::thread_arg_partial<double, true>(plan, target.input, thread, 3)
                                     : cuda::thread_arg_partial<double, false>(plan, target.input, thread, 3);
        result = thread == 0 ? partial
                 : maximum   ? cuda::better_of<true>(result, partial)
                             : cuda::better_of<false>(result, partial);
      }
      indices.data_ptr<int64_t>()[output] = result.index;
    }
    // From PyTorch 1.13: x.max(1).indices and x.min(1).indices of the same values.
    const std::vector<int64_t> expected = maximum ? std::vector<int64_t>{1, 0, 6} : std::vector<int64_t>{5, 0, 4};
    EXPECT_EQ(indices.to_vector<int64_t>(), expected) << (maximum ? "argmax" : "argmin");
  }
}

TEST(CudaHostLogic, GatherAndScatterElementsMatchCpu) {
  const Tensor source = transposed_matrix(4, 5);  // [4, 5], not contiguous
  const Tensor index = tensor(std::vector<int64_t>{4, 0, 0, 2});
  Tensor selected = empty({4, 4});
  const cuda::GatherPlan gather =
      cuda::make_gather_plan(source, cuda::spread_index(index, selected.sizes(), 1), selected, 1);
  for (int64_t i = 0; i < gather.plan.numel; ++i) cuda::gather_element<uint32_t>(gather, i);
  expect_values_near(selected, values(index_select(source, 1, index)), 0.0);

  const Tensor targets = tensor(std::vector<int64_t>{0, 2, 0, 1, 0, 2, 2, 1, 0, 0}, {2, 5});
  const Tensor contributions = strided_input(3, 5);  // only rows 0 and 1 are covered
  Tensor destination = zeros({3, 5});
  const Tensor covered = contributions.slice(0, 0, 2);
  const cuda::ScatterPlan scatter = cuda::make_scatter_plan(destination, targets, covered, 0);
  for (int64_t i = 0; i < scatter.plan.numel; ++i) cuda::scatter_add_position<float>(scatter, i);
  expect_values_near(destination, values(scatter_add(zeros({3, 5}), 0, targets, contributions)), 0.0);
}

enum class TestDistribution { Uniform, Normal, Bernoulli };  // kernels::Distribution's names

TEST(CudaHostLogic, RandomAndRangeElementsMatchCpu) {
  constexpr uint64_t kSeed = 99;
  Generator generator(kSeed);
  const Tensor uniform = empty({257}, kFloat64).uniform_(-2.0, 3.0, &generator);
  const Tensor normal = empty({257}, kFloat32).normal_(1.5, 0.5, &generator);
  const Tensor coins = empty({257}, kFloat16).bernoulli_(0.3, &generator);
  for (int64_t i = 0; i < 257; ++i) {
    const auto u = static_cast<uint64_t>(i);
    EXPECT_EQ(uniform.data_ptr<double>()[i],
              cuda::random_element<double>(TestDistribution::Uniform, -2.0, 3.0, kSeed, u))
        << i;
    EXPECT_EQ(normal.data_ptr<float>()[i],
              cuda::random_element<float>(TestDistribution::Normal, 1.5, 0.5, kSeed, 257 + u))
        << i;
    EXPECT_EQ(static_cast<float>(coins.data_ptr<Half>()[i]),
              static_cast<float>(cuda::random_element<Half>(TestDistribution::Bernoulli, 0.3, 0.0, kSeed, 514 + u)))
        << i;
  }
  const Tensor range = arange(-1.0, 2.0, 0.3, kFloat64);
  for (int64_t i = 0; i < range.numel(); ++i) {
    EXPECT_EQ(range.data_ptr<double>()[i], cuda::range_element<double>(i, range.numel(), -1.0, 0.3, 0, 2.0)) << i;
  }
  const Tensor spaced = linspace(-1.0, 2.0, 17, kFloat32);
  for (int64_t i = 0; i < 17; ++i) {
    EXPECT_EQ(spaced.data_ptr<float>()[i], cuda::range_element<float>(i, 17, -1.0, 3.0 / 16, 8, 2.0)) << i;
  }
}


// What cuBLAS computes (column-major, no alpha/beta), written plainly.
void column_major_gemm(const cuda::ColumnMajorGemm& gemm) {
  for (int64_t index = 0; index < gemm.batch; ++index) {
    const double* first = static_cast<const double*>(gemm.first) + index * gemm.stride_first;
    const double* second = static_cast<const double*>(gemm.second) + index * gemm.stride_second;
    double* output = static_cast<double*>(gemm.output) + index * gemm.stride_output;
    for (int64_t row = 0; row < gemm.rows; ++row) {
      for (int64_t col = 0; col < gemm.cols; ++col) {
        double total = 0.0;
        for (int64_t l = 0; l < gemm.inner; ++l) {
          const double x = gemm.transpose_first ? first[l + row * gemm.ld_first] : first[row + l * gemm.ld_first];
          const double y = gemm.transpose_second ? second[col + l * gemm.ld_second] : second[l + col * gemm.ld_second];
          total += x * y;
        }
        output[row + col * gemm.ld_output] = total;
      }
    }
  }
}

TEST(CudaHostLogic, GemmMappingComputesRowMajorProducts) {
  constexpr int64_t m = 3, n = 4, k = 5, batch = 2;
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      // A broadcast over the batch (stride 0); B and C batched; leading dims wider than rows.
      const int64_t lda = (transpose_a ? m : k) + 2, ldb = (transpose_b ? k : n) + 1, ldc = n + 3;
      std::vector<double> a((transpose_a ? k : m) * lda), b(batch * (transpose_b ? n : k) * ldb),
          c(batch * m * ldc, -7.0);
      for (size_t i = 0; i < a.size(); ++i) a[i] = 0.5 * static_cast<double>(i % 11) - 2.0;
      for (size_t i = 0; i < b.size(); ++i) b[i] = 0.25 * static_cast<double>(i % 13) - 1.0;
      kernels::GemmArgs args;
      args.dtype = kFloat64;
      args.transpose_a = transpose_a;
      args.transpose_b = transpose_b;
      args.m = m, args.n = n, args.k = k;
      args.a = a.data(), args.lda = lda;
      args.b = b.data(), args.ldb = ldb;
      args.c = c.data(), args.ldc = ldc;
      args.batch = batch;
      args.batch_stride_a = 0;
      args.batch_stride_b = static_cast<int64_t>(b.size() / batch);
      args.batch_stride_c = m * ldc;
      column_major_gemm(cuda::to_column_major(args));
      for (int64_t index = 0; index < batch; ++index) {
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double expected = 0.0;
            for (int64_t l = 0; l < k; ++l) {
              const double x = transpose_a ? a[l * lda + i] : a[i * lda + l];
              const double* bb = b.data() + index * args.batch_stride_b;
              const double y = transpose_b ? bb[j * ldb + l] : bb[l * ldb + j];
              expected += x * y;
            }
            EXPECT_DOUBLE_EQ(c[index * m * ldc + i * ldc + j], expected)
                << "transpose_a=" << transpose_a << " transpose_b=" << transpose_b << " at " << index << "," << i
                << "," << j;
          }
        }
      }
    }
  }
}


// ---------------------------------------------------------------------------------------------
// Cuda: the backend on a GPU, against the CPU.

#define EMBER_REQUIRE_CUDA()                                                             \
  do {                                                                                  \
    if (!cuda_is_available()) GTEST_SKIP() << "no usable CUDA: " << cuda_unavailable_reason(); \
  } while (false)

double tolerance_for(DType dtype) {
  switch (dtype) {
    case kFloat16: return 2e-3;
    case kBFloat16: return 1e-2;
    case kFloat32: return 2e-6;
    case kFloat64: return 1e-13;
    default: return 0.0;
  }
}

// Runs `op` on CPU inputs and on the same inputs moved to the GPU, except input `host_input`,
// which stays on the CPU as a C++ number would: the results must agree, or both must throw.
void expect_same_on_gpu(const std::function<Tensor(const std::vector<Tensor>&)>& op, const std::vector<Tensor>& inputs,
                        double tolerance, const std::string& label, int host_input = -1) {
  SCOPED_TRACE(label);
  std::vector<Tensor> on_gpu;
  for (size_t i = 0; i < inputs.size(); ++i) {
    on_gpu.push_back(static_cast<int>(i) == host_input ? inputs[i] : inputs[i].cuda());
  }
  Tensor expected;
  try {
    expected = op(inputs);
  } catch (const Error&) {
    EXPECT_THROW(op(on_gpu), Error);
    return;
  }
  const Tensor actual = op(on_gpu);
  ASSERT_TRUE(actual.is_cuda());
  EXPECT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.sizes(), expected.sizes());
  expect_values_near(actual, values(expected), tolerance);
}

using UnaryFunction = std::function<Tensor(const Tensor&)>;

TEST(Cuda, UnaryOpsMatchCpu) {
  EMBER_REQUIRE_CUDA();
  const std::vector<std::pair<const char*, UnaryFunction>> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"sign", [](const Tensor& x) { return sign(x); }},
      {"square", [](const Tensor& x) { return square(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -1, 2); }},
      {"logical_not", [](const Tensor& x) { return logical_not(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(abs(x) + 1); }},
      {"log1p", [](const Tensor& x) { return log1p(abs(x)); }},
      {"sqrt", [](const Tensor& x) { return sqrt(abs(x)); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(abs(x) + 1); }},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }},
      {"sin", [](const Tensor& x) { return sin(x); }},
      {"cos", [](const Tensor& x) { return cos(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, "tanh"); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
  };
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64, kUInt8, kBool}) {
    // Transposed, so the kernels walk a strided plan; with 0-dim and empty inputs too.
    const Tensor strided = is_floating_point(dtype) ? transposed_matrix(5, 7, dtype) : arange(35).view({7, 5}).t().to(dtype);
    for (const Tensor& input : {strided, strided.select(0, 2).select(0, 3), strided.slice(0, 0, 0)}) {
      for (const auto& [label, op] : ops) {
        expect_same_on_gpu([&](const std::vector<Tensor>& x) { return op(x[0]); }, {input},
                           std::max(tolerance_for(dtype), dtype == kFloat32 ? 1e-5 : 0.0),
                           fmt::format("{} {} {}", label, name(dtype), to_string(input.sizes())));
      }
    }
  }
}

TEST(Cuda, BinaryOpsBroadcastAndTakeCpuScalars) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kInt64, kInt32, kBool}) {
    const Tensor a = (arange(12, kFloat64).view({3, 1, 4}) * 0.75 - 2.0).to(dtype);
    const Tensor b = (arange(20, kFloat64).view({4, 5}) * 0.5 - 4.0).to(dtype).t();  // [5, 4], strided
    const double tolerance = std::max(tolerance_for(dtype), 1e-6);
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
        {"add", [](const Tensor& x, const Tensor& y) { return add(x, y, 2); }},
        {"sub", [](const Tensor& x, const Tensor& y) { return sub(x, y); }},
        {"mul", [](const Tensor& x, const Tensor& y) { return mul(x, y); }},
        {"div", [](const Tensor& x, const Tensor& y) { return div(x, add(abs(y), 1)); }},
        {"pow", [](const Tensor& x, const Tensor& y) { return pow(abs(x), clamp(y, 0, 3)); }},
        {"maximum", [](const Tensor& x, const Tensor& y) { return maximum(x, y); }},
        {"minimum", [](const Tensor& x, const Tensor& y) { return minimum(x, y); }},
        {"eq", [](const Tensor& x, const Tensor& y) { return eq(x, y); }},
        {"lt", [](const Tensor& x, const Tensor& y) { return lt(x, y); }},
        {"ge", [](const Tensor& x, const Tensor& y) { return ge(x, y); }},
        {"logical_and", [](const Tensor& x, const Tensor& y) { return logical_and(x, y); }},
        {"logical_or", [](const Tensor& x, const Tensor& y) { return logical_or(x, y); }},
    };
    for (const auto& [label, op] : ops) {
      expect_same_on_gpu([&](const std::vector<Tensor>& x) { return op(x[0], x[1]); }, {a, b}, tolerance,
                         fmt::format("{} {}", label, name(dtype)));
      // A 0-dim CPU tensor with a GPU tensor: its value travels in the kernel's arguments.
      expect_same_on_gpu([&](const std::vector<Tensor>& x) { return op(x[0], x[1]); }, {a, scalar_tensor(1.5, dtype)},
                         tolerance, fmt::format("{} {} with a CPU scalar", label, name(dtype)), 1);
    }
    expect_same_on_gpu([](const std::vector<Tensor>& x) { return x[0] * 2.5 + 3; }, {a}, tolerance, "wrapped numbers");
    expect_same_on_gpu([](const std::vector<Tensor>& x) { return 3 - x[0]; }, {b}, tolerance, "number minus tensor");
  }
}

TEST(Cuda, WhereAndMaskedFillMatchCpu) {
  EMBER_REQUIRE_CUDA();
  const Tensor condition = gt(sin(arange(20, kFloat32).view({4, 5})), 0.0);
  for (DType dtype : {kFloat32, kFloat16, kInt64, kBool}) {
    const Tensor a = transposed_matrix(4, 5, dtype);
    const Tensor b = arange(5, kFloat64).to(dtype);
    expect_same_on_gpu([](const std::vector<Tensor>& x) { return where(x[0], x[1], x[2]); }, {condition, a, b}, 0.0,
                       fmt::format("where {}", name(dtype)));
    expect_same_on_gpu([](const std::vector<Tensor>& x) { return where(x[0], x[1], 2.0); }, {condition, a}, 0.0,
                       fmt::format("where with a number {}", name(dtype)));
    expect_same_on_gpu([](const std::vector<Tensor>& x) { return masked_fill(x[0], x[1], -1); }, {a, condition}, 0.0,
                       fmt::format("masked_fill {}", name(dtype)));
  }
}

TensorOptions on_gpu(DType dtype) { return TensorOptions(dtype).device(kCUDA); }

TEST(Cuda, CopiesConvertBetweenDtypes) {
  EMBER_REQUIRE_CUDA();
  // Non-negative with fractions, so that every float-to-integer conversion is defined.
  const Tensor base = (arange(24, kFloat64).view({4, 6}) * 4.25).t();
  const DType dtypes[] = {kBool, kUInt8, kInt32, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64};
  for (DType from : dtypes) {
    for (DType to : dtypes) {
      expect_same_on_gpu([to](const std::vector<Tensor>& x) { return x[0].to(to); }, {base.to(from)}, 0.0,
                         fmt::format("{} -> {}", name(from), name(to)));
    }
  }
  Tensor strided_target = zeros({4, 6}, on_gpu(kFloat32)).t();
  strided_target.copy_(base.to(kFloat16).cuda());
  EXPECT_FALSE(strided_target.is_contiguous());
  expect_values_near(strided_target, values(base.to(kFloat16)), 0.0);
}

TEST(Cuda, FillsAndRangesMatchCpu) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {kBool, kUInt8, kInt32, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64}) {
    expect_values_near(full({3, 4}, 7, on_gpu(dtype)), values(full({3, 4}, 7, dtype)), 0.0);
    expect_values_near(zeros({2, 0}, on_gpu(dtype)), {}, 0.0);
    Tensor on_device = zeros({4, 6}, on_gpu(dtype));
    Tensor on_host = zeros({4, 6}, dtype);
    on_device.slice(1, 0, 6, 2).fill_(1);
    on_host.slice(1, 0, 6, 2).fill_(1);
    expect_values_near(on_device, values(on_host), 0.0);
  }
  // Same doubles, same fused multiply-add: bitwise equal.
  expect_values_near(arange(-1.0, 2.0, 0.3, on_gpu(kFloat64)), values(arange(-1.0, 2.0, 0.3, kFloat64)), 0.0);
  expect_values_near(linspace(-1.0, 2.0, 17, on_gpu(kFloat32)), values(linspace(-1.0, 2.0, 17, kFloat32)), 0.0);
  expect_values_near(arange(10, on_gpu(kInt64)), values(arange(10)), 0.0);
}

TEST(Cuda, RandomDrawsEqualCpuDraws) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
    Generator on_host(7), on_device(7);
    expect_values_near(rand({1000}, on_gpu(dtype), &on_device), values(rand({1000}, dtype, &on_host)), 0.0);
    // The device's log and cos may differ from the host's in the last bit of a double.
    expect_values_near(randn({1000}, on_gpu(dtype), &on_device), values(randn({1000}, dtype, &on_host)),
                       dtype == kFloat64 ? 1e-14 : tolerance_for(dtype));
    expect_values_near(empty({1000}, on_gpu(dtype)).bernoulli_(0.3, &on_device),
                       values(empty({1000}, dtype).bernoulli_(0.3, &on_host)), 0.0);
    Tensor strided_device = empty({6, 4}, on_gpu(dtype)).t();
    Tensor strided_host = empty({6, 4}, dtype).t();
    strided_device.uniform_(-1.0, 1.0, &on_device);
    strided_host.uniform_(-1.0, 1.0, &on_host);
    expect_values_near(strided_device, values(strided_host), 0.0);
  }
}

TEST(Cuda, ReductionsMatchCpu) {
  EMBER_REQUIRE_CUDA();
  const Tensor base = (arange(210, kFloat64).view({5, 6, 7}) * 0.37 - 30.0).permute({2, 0, 1});  // [7, 5, 6]
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64}) {
    const Tensor x = base.to(dtype);
    const Tensor small = is_floating_point(dtype) ? x * 0.01 + 1 : clamp(x, -2, 2);
    const double tolerance = std::max(tolerance_for(dtype), dtype == kFloat32 ? 1e-5 : 0.0);
    const auto check = [&](const char* label, const std::function<Tensor(const Tensor&)>& op, const Tensor& input) {
      expect_same_on_gpu([&](const std::vector<Tensor>& v) { return op(v[0]); }, {input}, tolerance,
                         fmt::format("{} {}", label, name(dtype)));
    };
    check("sum", [](const Tensor& v) { return sum(v); }, x);
    check("sum dim 1", [](const Tensor& v) { return sum(v, {1}); }, x);
    check("sum dims 0, 2 keepdim", [](const Tensor& v) { return sum(v, {0, 2}, true); }, x);
    check("prod dim 1", [](const Tensor& v) { return prod(v, {1}); }, small);
    check("amax dim 0", [](const Tensor& v) { return amax(v, {0}); }, x);
    check("amin dims 1, 2", [](const Tensor& v) { return amin(v, {1, 2}); }, x);
    check("max values", [](const Tensor& v) { return max(v, 1).first; }, x);
    check("max indices", [](const Tensor& v) { return max(v, 1).second; }, clamp(x, -3, 3));  // ties
    check("argmin keepdim", [](const Tensor& v) { return argmin(v, 2, true); }, clamp(x, -3, 3));
    check("argmax flat", [](const Tensor& v) { return argmax(v); }, x);
    if (is_floating_point(dtype)) check("mean dim 2", [](const Tensor& v) { return mean(v, {2}); }, x);
  }
  const Tensor flags = gt(sin(base), 0.5);
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return all(v[0], 1); }, {flags}, 0.0, "all");
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return any(v[0], 2, true); }, {flags}, 0.0, "any");
  Tensor with_nan = base.clone();
  with_nan.select(1, 2).select(1, 4).fill_(std::nan(""));
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return amax(v[0], {0}); }, {with_nan}, 0.0, "amax with NaN");
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return argmax(v[0], 0); }, {with_nan}, 0.0, "argmax with NaN");
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return sum(v[0], {0}); }, {zeros({0, 3})}, 0.0, "empty sum");
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return prod(v[0], {0}); }, {zeros({0, 3})}, 0.0, "empty prod");
  // Many elements per output: the whole block and the tree take part.
  expect_same_on_gpu([](const std::vector<Tensor>& v) { return sum(v[0], {1}); }, {full({3, 100000}, 0.1)}, 1e-5,
                     "long rows");
}

TEST(Cuda, MatmulMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    const double tolerance = dtype == kFloat64 ? 1e-12 : dtype == kFloat32 ? 1e-5 : tolerance_for(dtype) * 4;
    const Tensor a = transposed_matrix(5, 7, dtype);                                   // column-major
    const Tensor b = (arange(21, kFloat64).view({7, 3}) * 0.1 - 1.0).to(dtype);        // row-major
    const Tensor batch = (arange(70, kFloat64).view({2, 5, 7}) * 0.05 - 1.5).to(dtype);
    const Tensor batch_b = (arange(42, kFloat64).view({2, 3, 7}) * 0.05 - 1.0).to(dtype).transpose(1, 2);
    const auto check = [&](const char* label, const std::function<Tensor(const std::vector<Tensor>&)>& op,
                           const std::vector<Tensor>& inputs) {
      expect_same_on_gpu(op, inputs, tolerance, fmt::format("{} {}", label, name(dtype)));
    };
    check("mm transposed a", [](const std::vector<Tensor>& v) { return mm(v[0], v[1]); }, {a, b});
    check("mm transposed b", [](const std::vector<Tensor>& v) { return mm(v[0].contiguous(), v[1].t().contiguous().t()); },
          {a, b});
    check("batched, broadcast b", [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {batch, b});
    check("bmm, transposed batches", [](const std::vector<Tensor>& v) { return bmm(v[0], v[1]); }, {batch, batch_b});
    check("addmm", [](const std::vector<Tensor>& v) { return addmm(v[2], v[0], v[1], 0.5, 2); },
          {a, b, arange(3, kFloat64).to(dtype)});
    check("dot", [](const std::vector<Tensor>& v) { return dot(v[0], v[1]); }, {b.select(1, 0), a.select(0, 1)});
    check("empty inner dim", [](const std::vector<Tensor>& v) { return mm(v[0], v[1]); },
          {zeros({3, 0}, dtype), zeros({0, 4}, dtype)});
  }
  const Tensor integers = arange(6).view({2, 3}).cuda();
  expect_error([&] { (void)mm(integers, integers.t()); }, {"mm", "only supported on CPU"});
}

TEST(Cuda, IndexingMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  const Tensor targets = tensor(std::vector<int64_t>{0, 2, 0, 1, 0, 2, 2, 1, 0, 0}, {2, 5});
  for (DType dtype : {kFloat32, kFloat16, kInt64, kBool}) {
    const Tensor source = transposed_matrix(4, 5, kFloat64).to(dtype);
    const Tensor contributions = strided_input(3, 5, kFloat64).to(dtype);
    const auto check = [&](const char* label, const std::function<Tensor(const std::vector<Tensor>&)>& op,
                           const std::vector<Tensor>& inputs) {
      expect_same_on_gpu(op, inputs, 0.0, fmt::format("{} {}", label, name(dtype)));
    };
    check("index_select dim 1", [](const std::vector<Tensor>& v) { return index_select(v[0], 1, v[1]); },
          {source, tensor(std::vector<int64_t>{4, 0, 0, 2})});
    check("index_select dim 0", [](const std::vector<Tensor>& v) { return index_select(v[0], 0, v[1]); },
          {source, tensor(std::vector<int64_t>{3, 3, 1})});
    check("gather", [](const std::vector<Tensor>& v) { return gather(v[0], 0, v[1]); }, {source, targets});
    // Repeated targets: each destination adds its contributions in index order, as on the CPU.
    check("scatter_add", [](const std::vector<Tensor>& v) { return scatter_add(v[0], 0, v[1], v[2]); },
          {zeros({3, 5}, dtype), targets, contributions});
    check("index_add", [](const std::vector<Tensor>& v) { return index_add(v[0], 0, v[1], v[2]); },
          {zeros({3, 5}, dtype), tensor(std::vector<int64_t>{2, 0, 2}), contributions});
  }
}

TEST(Cuda, CachingAllocatorReusesFreedBlocks) {
  EMBER_REQUIRE_CUDA();
  cuda::empty_cache();
  const size_t allocated = cuda::memory_allocated();
  void* first = nullptr;
  {
    const Tensor block = empty({1000}, on_gpu(kFloat32));  // 4000 bytes, served as 4096
    first = block.data_ptr();
    EXPECT_EQ(cuda::memory_allocated(), allocated + 4096);
    EXPECT_GE(cuda::max_memory_allocated(), allocated + 4096);
    EXPECT_GE(cuda::memory_reserved(), cuda::memory_allocated());
  }
  EXPECT_EQ(cuda::memory_allocated(), allocated);
  const size_t reserved = cuda::memory_reserved();
  EXPECT_GT(reserved, 0u);  // the freed block stays cached
  {
    const Tensor again = empty({1024}, on_gpu(kFloat32));
    EXPECT_EQ(again.data_ptr(), first);
    EXPECT_EQ(cuda::memory_reserved(), reserved);
  }
  cuda::empty_cache();
  EXPECT_LT(cuda::memory_reserved(), reserved);
}

TEST(Cuda, StreamsAndEventsOrderWork) {
  EMBER_REQUIRE_CUDA();
  EXPECT_TRUE(cuda::current_stream().is_default());
  const cuda::Stream side = cuda::Stream::create();
  EXPECT_FALSE(side.is_default());
  const Tensor x = full({1 << 20}, 1.0, on_gpu(kFloat32));
  cuda::Event ready, done;
  ready.record();
  Tensor y = x;
  {
    cuda::StreamGuard guard(side);
    EXPECT_EQ(cuda::current_stream(), side);
    ready.wait(side);  // x's fill on the default stream comes first
    for (int i = 0; i < 50; ++i) y = y * 1.01f;
    done.record(side);
  }
  EXPECT_TRUE(cuda::current_stream().is_default());
  done.wait();  // the default stream waits for the side stream's work
  const Tensor z = y + 1;
  Tensor expected = full({1}, 1.0);
  for (int i = 0; i < 50; ++i) expected = expected * 1.01f;
  expected = expected + 1;
  const std::vector<float> result = z.to_vector<float>();
  for (size_t i = 0; i < result.size(); i += 4099) EXPECT_FLOAT_EQ(result[i], expected.item<float>()) << i;
  side.synchronize();
  EXPECT_TRUE(side.query());
  EXPECT_TRUE(done.query());

  cuda::Event start(true), end(true);
  start.record();
  const Tensor work = x * 2;
  end.record();
  end.synchronize();
  EXPECT_GE(start.elapsed_time(end), 0.0f);
  expect_error([&] { (void)done.elapsed_time(end); }, {"cuda::Event::elapsed_time", "enable_timing"});
  cuda::Event never;
  EXPECT_TRUE(never.query());
  never.synchronize();  // nothing recorded: nothing to wait for
  never.wait();
}

TEST(Cuda, HostDeviceCopiesKeepValues) {
  EMBER_REQUIRE_CUDA();
  const Tensor host = transposed_matrix(4, 6, kFloat64);  // not contiguous
  const Tensor device = host.cuda();
  EXPECT_TRUE(device.is_cuda());
  expect_values_near(device, values(host), 0.0);
  expect_values_near(device.t(), values(host.t()), 0.0);  // a strided device tensor back to the host
  expect_values_near(device.clone(), values(host), 0.0);
  Tensor strided_target = zeros({6, 4}, on_gpu(kFloat32)).t();
  strided_target.copy_(host);  // across devices, converting, into a strided destination
  expect_values_near(strided_target, values(host.to(kFloat32)), 0.0);

  const Tensor pinned = host.contiguous().pin_memory();
  const Tensor uploaded = pinned.to(kCUDA, true);
  Tensor downloaded = zeros({4, 6}, kFloat64).pin_memory();
  downloaded.copy_(uploaded, true);
  cuda::current_stream().synchronize();
  EXPECT_EQ(downloaded.to_vector<double>(), host.contiguous().to_vector<double>());

  EXPECT_EQ(scalar_tensor(3.5, kFloat64).cuda().item<double>(), 3.5);
  const Tensor nothing = zeros({0, 3}).cuda();
  EXPECT_EQ(nothing.cpu().sizes(), IntArrayRef({0, 3}));
}

TEST(Cuda, DevicesAreCheckedAndSelectable) {
  EMBER_REQUIRE_CUDA();
  const int count = cuda_device_count();
  EXPECT_TRUE(cuda_unavailable_reason().empty());
  const int device = cuda::current_device();
  EXPECT_GE(device, 0);
  EXPECT_LT(device, count);
  cuda::set_device(device);
  EXPECT_EQ(cuda::current_device(), device);
  expect_error([&] { cuda::set_device(count); }, {"cuda::set_device", "invalid CUDA device index"});
  expect_error([&] { (void)ones({2}).to(Device(DeviceType::CUDA, count)); },
               {fmt::format("cuda:{}", count), "invalid CUDA device index"});
  cuda::device_synchronize();
}

// Runs everywhere: without a usable device every entry point says why instead of crashing.
TEST(CudaApi, ReportsWhyCudaIsUnavailable) {
  if (cuda_is_available()) {
    EXPECT_TRUE(cuda_unavailable_reason().empty());
    EXPECT_GT(cuda_device_count(), 0);
    return;
  }
  const std::string reason = cuda_unavailable_reason();
  EXPECT_FALSE(reason.empty());
  EXPECT_EQ(cuda_device_count(), 0);
  expect_error([] { cuda::device_synchronize(); }, {"cuda::device_synchronize", reason});
  expect_error([] { (void)cuda::current_stream(); }, {"cuda::current_stream", reason});
  expect_error([] { (void)cuda::Stream::create(); }, {"cuda::Stream::create", reason});
  expect_error([] { cuda::Event().record(); }, {"cuda::Event::record", reason});
  expect_error([] { (void)cuda::memory_allocated(); }, {"cuda::memory_allocated", reason});
  expect_error([] { cuda::empty_cache(); }, {"cuda::empty_cache", reason});
  expect_error([] { cuda::set_device(0); }, {"cuda::set_device", reason});
  expect_error([] { (void)cuda::current_device(); }, {"cuda::current_device", reason});
  expect_error([] { (void)ones({2}).cuda(); }, {"cuda:0"});
  expect_error([] { (void)zeros({2}, kCUDA); }, {"cuda:0"});
  // Pinning falls back to ordinary host memory.
  EXPECT_EQ(arange(6, kFloat32).pin_memory().to_vector<float>(), arange(6, kFloat32).to_vector<float>());
}

}  // namespace
}  // namespace ember

#pragma once
// The CPU implementation of the kernel primitives. Its methods are defined by family:
// elementwise.cpp, random.cpp, reduce.cpp, softmax.cpp, blas.cpp, index.cpp,
// im2col.cpp, pooling.cpp.
#include "kernels/backend.h"

namespace ember::cpu {

class CpuBackend final : public kernels::Backend {
 public:
  Allocator& allocator() override { return cpu_allocator(); }
  void unary(kernels::UnaryOp op, const kernels::OpParams& params, const kernels::ElementwisePlan& plan) override;
  void binary(kernels::BinaryOp op, const kernels::OpParams& params, const kernels::ElementwisePlan& plan) override;
  void where(const kernels::ElementwisePlan& plan) override;
  void copy(const kernels::ElementwisePlan& plan) override;
  void fill(const kernels::ElementwisePlan& plan, const Scalar& value) override;
  void fill_random(const Tensor& output, kernels::Distribution distribution, double a, double b, uint64_t seed,
                   uint64_t offset) override;
  void fill_range(const Tensor& output, double start, double step, int64_t split, double end) override;
  void reduce(kernels::ReduceOp op, const kernels::ReducePlan& plan) override;
  void arg_reduce(kernels::ArgReduceOp op, const kernels::ReducePlan& plan, const Tensor& indices) override;
  void softmax(const Tensor& output, const Tensor& input, bool log) override;
  void gemm(const kernels::GemmArgs& args) override;
  void index_select(const kernels::IndexArgs& args) override;
  void gather(const kernels::IndexArgs& args) override;
  void scatter_add(const kernels::IndexArgs& args) override;
  void index_add(const kernels::IndexArgs& args) override;
  void im2col(const kernels::UnfoldArgs& args) override;
  void col2im(const kernels::UnfoldArgs& args) override;
  void pool2d(const kernels::PoolArgs& args) override;
  void pool2d_backward(const kernels::PoolArgs& args) override;
};

}  // namespace ember::cpu

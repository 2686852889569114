#pragma once
// The CUDA implementation of the kernel primitives, one instance per device. Methods are
// defined by family: elementwise.cu, fill.cu, reduce.cu, softmax.cu, index.cu, blas.cu,
// im2col.cu, pooling.cu. Every kernel is queued on the calling thread's current stream of the
// backend's device.
#include "kernels/backend.h"

namespace ember::cuda {

class CudaBackend final : public kernels::Backend {
 public:
  explicit CudaBackend(int device);
  int device() const { return device_; }

  Allocator& allocator() override { return *allocator_; }
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

 private:
  int device_;
  Allocator* allocator_;
};

// The backend of device `index`; throws when CUDA is unavailable or the index is out of range.
CudaBackend& backend_for(int index);

// The caching allocator of `device` (created on first use, never destroyed so that tensors
// released during program exit can still give their memory back).
Allocator& device_allocator(int device);

}  // namespace ember::cuda

#pragma once
// The few primitives a device must provide. Everything else in the tensor library (shape
// checks, broadcasting, type promotion, composite ops like softmax or cat) is written once
// above this interface, so the CPU tests exercise the logic CUDA runs too.
#include <cstdint>

#include "ember/tensor/scalar.h"
#include "ember/tensor/storage.h"
#include "kernels/functors.h"
#include "kernels/im2col_element.h"
#include "kernels/plan.h"
#include "kernels/pooling_element.h"

namespace ember::kernels {

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, All, Any };
enum class ArgReduceOp : uint8_t { ArgMax, ArgMin };
enum class Distribution : uint8_t { Uniform, Normal, Bernoulli };

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b], every matrix row-major with its leading
// dimension; op transposes when the flag is set. dtype is float16, bfloat16, float32 or float64;
// the CPU also takes uint8/int32/int64 (a plain loop that wraps like PyTorch), CUDA does not.
struct GemmArgs {
  DType dtype = kFloat32;
  bool transpose_a = false;
  bool transpose_b = false;
  int64_t m = 0, n = 0, k = 0;
  double alpha = 1.0, beta = 0.0;
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t ldb = 0;
  void* c = nullptr;
  int64_t ldc = 0;
  int64_t batch = 1;
  int64_t batch_stride_a = 0, batch_stride_b = 0, batch_stride_c = 0;  // in elements
};

// Gather/scatter along `dim`. The front end (ops/indexing.cpp) guarantees: every tensor is on
// this device, has 1 to kMaxDims dims (0-dim inputs arrive as [1]) and any strides; `index` is
// int64 with every value in [0, self.size(dim)); self and other share a dtype; nothing is empty.
//   index_select: index 1-D; other = self's shape with other.size(dim) == index.numel().
//     other[..., j, ...] = self[..., index[j], ...]
//   gather: index has self's rank, other has index's shape.
//     other[p] = self[p with index[p] along dim]
//   scatter_add: index, self, other share a rank; index.size(d) <= other.size(d) for every d and
//     <= self.size(d) for d != dim. Only the part of other that index covers is read.
//     self[p with index[p] along dim] += other[p]   for p over index's shape
//   index_add: index 1-D; other = self's shape with other.size(dim) == index.numel().
//     self[..., index[j], ...] += other[..., j, ...]
// For the two scatters self is written in place: it has no internal overlap and shares no
// memory with index or other. Repeated indices accumulate; the result must not depend on
// timing (the CPU adds each destination's contributions in index order).
struct IndexArgs {
  Tensor self;    // index_select/gather: the source; scatter_add/index_add: the destination
  Tensor index;   // int64
  Tensor other;   // index_select/gather: the output; scatter_add/index_add: the values added
  int64_t dim = 0;
};

// im2col and col2im over `images` images at once, laid out as kernels/im2col_element.h says.
// `image` is a contiguous [images, channels, input_height, input_width] and `columns` a contiguous
// [column_rows, images, column_cols] (the images side by side), both of the floating dtype
// `dtype` on this device, not overlapping. im2col overwrites columns; col2im overwrites image
// with the folded sums.
struct UnfoldArgs {
  DType dtype = kFloat32;
  UnfoldGeometry geometry;
  int64_t images = 0;
  void* image = nullptr;
  void* columns = nullptr;
};

enum class PoolKind : uint8_t { Max, Average, AdaptiveAverage };

// 2-D pooling over `planes` planes (kernels/pooling_element.h gives each window). input is a
// contiguous [planes, input_height, input_width], output a contiguous [planes, output_height,
// output_width], both of one floating dtype on this device; indices (Max only) is int64 shaped
// like output. pool2d writes output (and indices); pool2d_backward reads output as the output's
// gradient (and indices) and overwrites input with the input's gradient.
struct PoolArgs {
  PoolKind kind = PoolKind::Max;
  PoolWindow window;
  int64_t planes = 0;
  Tensor input;
  Tensor output;
  Tensor indices;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Allocator& allocator() = 0;

  // Elementwise; plan operand 0 is the output. unary: output and input share a dtype.
  // binary: both inputs share a dtype; the output has it too, or bool for comparisons.
  virtual void unary(UnaryOp op, const OpParams& params, const ElementwisePlan& plan) = 0;
  virtual void binary(BinaryOp op, const OpParams& params, const ElementwisePlan& plan) = 0;
  // {output, condition (bool), a, b}; output, a and b share a dtype.
  virtual void where(const ElementwisePlan& plan) = 0;
  // {output, input} on this device, converting dtype.
  virtual void copy(const ElementwisePlan& plan) = 0;
  virtual void fill(const ElementwisePlan& plan, const Scalar& value) = 0;
  // Writes element i of a contiguous output from (seed, offset + i): Uniform in [a, b),
  // Normal(mean a, std b), Bernoulli(p a).
  virtual void fill_random(const Tensor& output, Distribution distribution, double a, double b, uint64_t seed,
                           uint64_t offset) = 0;
  // Element i of a contiguous output = start + i * step; with split > 0, elements at or past
  // split are end - (numel - 1 - i) * step instead (as torch.linspace, so the last is exact).
  virtual void fill_range(const Tensor& output, double start, double step, int64_t split, double end) = 0;

  // Reductions; ReducePlan operand 0 is the output (keepdim shape). Sum and Prod accumulate in
  // float for 16-bit floats, in the type itself otherwise.
  virtual void reduce(ReduceOp op, const ReducePlan& plan) = 0;
  // Over exactly one reduced dim: values (plan's output) and int64 indices (same shape).
  virtual void arg_reduce(ArgReduceOp op, const ReducePlan& plan, const Tensor& indices) = 0;

  // Softmax (log_softmax when `log`) of each row. input and output are contiguous [rows, n] with
  // rows >= 1 and n >= 1, on this device, sharing a floating dtype. Numerically stable: the row
  // maximum is subtracted before exponentiating; float16 and bfloat16 compute in float32. nan
  // anywhere in a row, a +inf, or a row that is all -inf makes the whole row nan (as PyTorch).
  // Fused so that a row is read a few times while it is in cache, instead of the composite's
  // max, sub, exp, sum and div passes over memory.
  virtual void softmax(const Tensor& output, const Tensor& input, bool log) = 0;

  virtual void gemm(const GemmArgs& args) = 0;

  virtual void index_select(const IndexArgs& args) = 0;
  virtual void gather(const IndexArgs& args) = 0;
  virtual void scatter_add(const IndexArgs& args) = 0;
  virtual void index_add(const IndexArgs& args) = 0;

  virtual void im2col(const UnfoldArgs& args) = 0;
  virtual void col2im(const UnfoldArgs& args) = 0;
  virtual void pool2d(const PoolArgs& args) = 0;
  virtual void pool2d_backward(const PoolArgs& args) = 0;
};

Backend& backend(Device device);

}  // namespace ember::kernels

#include "kernels/plan.h"

#include <algorithm>
#include <numeric>

namespace ember::kernels {
namespace {

// Merges adjacent dims (innermost first) when every operand steps through them as one.
void coalesce(ElementwisePlan& plan) {
  if (plan.ndim <= 1) return;
  auto move_dim = [&](int from, int to) {
    plan.sizes[to] = plan.sizes[from];
    for (int op = 0; op < plan.num_operands; ++op) plan.byte_strides[op][to] = plan.byte_strides[op][from];
  };
  int kept = 0;
  for (int dim = 1; dim < plan.ndim; ++dim) {
    if (plan.sizes[dim] == 1) continue;  // contributes nothing
    if (plan.sizes[kept] == 1) {
      move_dim(dim, kept);
      continue;
    }
    bool mergeable = true;
    for (int op = 0; op < plan.num_operands && mergeable; ++op) {
      mergeable = plan.byte_strides[op][kept] * plan.sizes[kept] == plan.byte_strides[op][dim];
    }
    if (mergeable) {
      plan.sizes[kept] *= plan.sizes[dim];
    } else {
      move_dim(dim, ++kept);
    }
  }
  plan.ndim = kept + 1;
}

// Every operand dense with the output's element count, or a single broadcast element: the plan
// is one flat dim. Most ops take this path, so it skips the general stride bookkeeping.
bool fill_flat_plan(ElementwisePlan& plan, std::initializer_list<const Tensor*> operands) {
  const TensorImpl& output = (*operands.begin())->impl();
  int op = 0;
  for (const Tensor* operand : operands) {
    const TensorImpl& impl = operand->impl();
    const bool single = impl.numel == 1;
    if (!impl.is_contiguous || (!single && impl.sizes != output.sizes)) return false;
    const bool on_host = impl.storage->device != output.storage->device;
    if (on_host && !(impl.sizes.empty() && impl.storage->device.is_cpu())) return false;
    plan.on_host[op] = on_host;
    plan.data[op] = static_cast<char*>(impl.storage->data.get()) + impl.storage_offset * element_size(impl.dtype);
    plan.dtypes[op] = impl.dtype;
    plan.byte_strides[op][0] = single && output.numel != 1 ? 0 : element_size(impl.dtype);
    ++op;
  }
  plan.ndim = 1;
  plan.sizes[0] = output.numel;
  return true;
}

}  // namespace

ElementwisePlan make_elementwise_plan(std::initializer_list<const Tensor*> operands) {
  ElementwisePlan plan;
  const Tensor& output = **operands.begin();
  plan.num_operands = static_cast<int>(operands.size());
  plan.numel = output.numel();
  plan.device = output.device();
  if (fill_flat_plan(plan, operands)) return plan;
  const int ndim = static_cast<int>(output.dim());
  EMBER_CHECK(ndim <= kMaxDims, "elementwise: tensors of {} dims exceed the supported {}", ndim, kMaxDims);
  plan.ndim = ndim;
  for (int dim = 0; dim < ndim; ++dim) plan.sizes[dim] = output.sizes()[ndim - 1 - dim];
  int op = 0;
  for (const Tensor* operand : operands) {
    plan.on_host[op] = operand->device() != plan.device;
    EMBER_CHECK(!plan.on_host[op] || (operand->dim() == 0 && operand->device().is_cpu()),
                "elementwise: expected all tensors on {}, found one on {}", plan.device.str(),
                operand->device().str());
    plan.data[op] = static_cast<char*>(operand->data_ptr());
    plan.dtypes[op] = operand->dtype();
    // Operands of lower rank or with size-1 dims broadcast: they align right and step by 0.
    const int rank = static_cast<int>(operand->dim());
    const int64_t item = operand->element_size();
    for (int dim = 0; dim < ndim; ++dim) {
      const bool present = dim < rank && operand->sizes()[rank - 1 - dim] != 1;
      plan.byte_strides[op][dim] = present ? operand->strides()[rank - 1 - dim] * item : 0;
    }
    ++op;
  }
  if (ndim == 0) {
    plan.ndim = 1;
    plan.sizes[0] = 1;
    for (int i = 0; i < plan.num_operands; ++i) plan.byte_strides[i][0] = 0;
  }
  coalesce(plan);
  return plan;
}

ReducePlan make_reduce_plan(const Tensor& output, const Tensor& input) {
  ReducePlan plan;
  plan.outer = make_elementwise_plan({&output, &input});
  const int ndim = static_cast<int>(input.dim());
  const int64_t item = input.element_size();
  // Reduced dims ordered by stride, smallest first, so the innermost loop walks memory densely.
  int dims[kMaxDims];
  int count = 0;
  for (int dim = 0; dim < ndim; ++dim) {
    if (output.size(dim) == 1 && input.size(dim) != 1) dims[count++] = dim;
  }
  std::stable_sort(dims, dims + count, [&](int a, int b) { return input.stride(a) < input.stride(b); });
  plan.reduced_ndim = 0;
  for (int i = 0; i < count; ++i) {
    const int64_t size = input.size(dims[i]);
    const int64_t stride = input.stride(dims[i]) * item;
    const int last = plan.reduced_ndim - 1;
    if (last >= 0 && plan.reduced_byte_strides[last] * plan.reduced_sizes[last] == stride) {
      plan.reduced_sizes[last] *= size;
    } else {
      plan.reduced_sizes[plan.reduced_ndim] = size;
      plan.reduced_byte_strides[plan.reduced_ndim] = stride;
      ++plan.reduced_ndim;
    }
    plan.reduced_numel *= size;
  }
  if (input.numel() == 0) plan.reduced_numel = 0;
  return plan;
}

}  // namespace ember::kernels

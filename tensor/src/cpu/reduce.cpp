// CpuBackend::reduce and arg_reduce: the reducers plugged into the walks of cpu/reduce_loops.h.
#include "cpu/cpu_backend.h"
#include "cpu/loops.h"
#include "cpu/reduce_loops.h"
#include "cpu/reduce_ops.h"

namespace ember::cpu {

using kernels::ReducePlan;

namespace {

// sum, prod, max, min, all, any: Op folds compute_t<T> values (bool for all/any).
template <class T, class Op>
struct ValueReducer {
  using State = typename Op::value_type;
  Op op;

  State identity(int64_t) const { return Op::identity(); }
  State combine(State earlier, State later) const { return op(earlier, later); }
  void run(State& state, const char* data, int64_t length, int64_t stride, int64_t) const {
    const State part = stride == static_cast<int64_t>(sizeof(T))
                           ? reduce_ops::reduce_dense(reinterpret_cast<const T*>(data), length, op)
                           : reduce_ops::reduce_strided<T>(data, length, stride, op);
    state = op(state, part);
  }
  void row(State* states, const char* row, int64_t count, int64_t) const {
    reduce_ops::accumulate_row(states, reinterpret_cast<const T*>(row), count, op);
  }
  void store(char* output, State state) const { *reinterpret_cast<T*>(output) = convert<T>(state); }
};

// argmax/argmin along the single reduced dim; positions are indices along it. The indices
// tensor has the values' layout, so an output's element offset locates its index.
template <class T, bool kMax>
struct ArgReducer {
  using Value = compute_t<T>;
  struct State {
    Value value;
    int64_t index;
  };
  reduce_ops::ArgBetter<Value, kMax> better;
  const char* values_base;
  int64_t* indices;

  State identity(int64_t first_position) const { return {better.identity(), first_position}; }
  State combine(State earlier, State later) const { return better(later.value, earlier.value) ? later : earlier; }
  void run(State& state, const char* data, int64_t length, int64_t stride, int64_t first_position) const {
    for (int64_t i = 0; i < length; ++i) {
      const Value value = static_cast<Value>(*reinterpret_cast<const T*>(data + i * stride));
      if (better(value, state.value)) state = {value, first_position + i};
    }
  }
  void row(State* states, const char* row, int64_t count, int64_t position) const {
    const T* values = reinterpret_cast<const T*>(row);
    for (int64_t t = 0; t < count; ++t) {
      const Value value = static_cast<Value>(values[t]);
      if (better(value, states[t].value)) states[t] = {value, position};
    }
  }
  void store(char* output, State state) const {
    *reinterpret_cast<T*>(output) = convert<T>(state.value);
    indices[(output - values_base) / static_cast<int64_t>(sizeof(T))] = state.index;
  }
};

}  // namespace

void CpuBackend::reduce(kernels::ReduceOp op, const ReducePlan& plan) {
  EMBER_CHECK(plan.outer.dtypes[0] == plan.outer.dtypes[1], "reduce: output dtype {} differs from input dtype {}",
              name(plan.outer.dtypes[0]), name(plan.outer.dtypes[1]));
  visit_dtype(plan.outer.dtypes[1], [&]<class T>(TypeTag<T>) {
    using C = compute_t<T>;
    auto launch = [&](auto reduce_op) {
      reduce_loops::reduce_plan(plan, ValueReducer<T, decltype(reduce_op)>{reduce_op}, sizeof(T));
    };
    switch (op) {
      case kernels::ReduceOp::Sum: return launch(reduce_ops::Sum<C>{});
      case kernels::ReduceOp::Prod: return launch(reduce_ops::Prod<C>{});
      case kernels::ReduceOp::Max: return launch(reduce_ops::Max<C>{});
      case kernels::ReduceOp::Min: return launch(reduce_ops::Min<C>{});
      case kernels::ReduceOp::All: return launch(reduce_ops::All{});
      case kernels::ReduceOp::Any: return launch(reduce_ops::Any{});
    }
  });
}

void CpuBackend::arg_reduce(kernels::ArgReduceOp op, const ReducePlan& plan, const Tensor& indices) {
  EMBER_CHECK(plan.outer.dtypes[0] == plan.outer.dtypes[1], "arg_reduce: values dtype {} differs from input dtype {}",
              name(plan.outer.dtypes[0]), name(plan.outer.dtypes[1]));
  EMBER_CHECK(plan.reduced_ndim <= 1, "arg_reduce: expected one reduced dim, the plan has {}", plan.reduced_ndim);
  EMBER_CHECK(indices.dtype() == kInt64 && indices.is_contiguous() && indices.numel() == plan.outer.numel,
              "arg_reduce: indices must be a contiguous int64 tensor of {} elements", plan.outer.numel);
  EMBER_CHECK(plan.reduced_numel > 0 || plan.outer.numel == 0, "arg_reduce: the reduced dim is empty");
  int64_t* index_data = static_cast<int64_t*>(indices.data_ptr());
  visit_dtype(plan.outer.dtypes[1], [&]<class T>(TypeTag<T>) {
    if (op == kernels::ArgReduceOp::ArgMax) {
      reduce_loops::reduce_plan(plan, ArgReducer<T, true>{{}, plan.outer.data[0], index_data}, sizeof(T));
    } else {
      reduce_loops::reduce_plan(plan, ArgReducer<T, false>{{}, plan.outer.data[0], index_data}, sizeof(T));
    }
  });
}

}  // namespace ember::cpu

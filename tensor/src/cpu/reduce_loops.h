#pragma once
// How the CPU walks a ReducePlan. Work splits into items (a group of outputs x a chunk of the
// reduced positions) whose boundaries depend only on the shapes; each item runs serially and
// chunk results combine in chunk order, so results are bit-identical for every thread count.
//
// A Reducer provides:
//   State                                        per-output accumulator
//   State identity(int64_t first_position)       start of a chunk beginning at that position
//   State combine(State earlier, State later)
//   void run(State&, const char* data, int64_t length, int64_t byte_stride, int64_t first_position)
//   void row(State* states, const char* row, int64_t count, int64_t position)  // count dense inputs
//   void store(char* output, State)
#include <algorithm>
#include <cstdint>
#include <memory>

#include "cpu/parallel.h"
#include "kernels/plan.h"

namespace ember::cpu::reduce_loops {

// Reduced positions per chunk when one output's reduction is split.
inline constexpr int64_t kChunk = 32768;
// Outputs accumulated side by side when the reduced dims are outer to a dense kept dim.
inline constexpr int64_t kTile = 256;
// With this many independent output groups there is parallel work enough without splitting.
inline constexpr int64_t kManyGroups = 64;
// Elements of work below which a parallel loop stays on the calling thread.
inline constexpr int64_t kGrain = 32768;

struct Split {
  int64_t length;  // reduced positions per chunk
  int64_t chunks;
};

inline Split split_for(int64_t groups, int64_t reduced, int64_t chunk) {
  if (groups >= kManyGroups || reduced <= chunk) return {reduced, 1};
  return {chunk, (reduced + chunk - 1) / chunk};
}

inline int64_t run_stride(const kernels::ReducePlan& plan) {
  return plan.reduced_ndim > 0 ? plan.reduced_byte_strides[0] : 0;
}

// Byte offsets of output and input for output number `position` of the outer plan.
inline void locate(const kernels::ElementwisePlan& outer, int64_t position, int64_t& out_offset, int64_t& in_offset) {
  out_offset = in_offset = 0;
  for (int dim = 0; dim < outer.ndim; ++dim) {
    const int64_t index = position % outer.sizes[dim];
    position /= outer.sizes[dim];
    out_offset += index * outer.byte_strides[0][dim];
    in_offset += index * outer.byte_strides[1][dim];
  }
}

// f(position, output pointer, input pointer) for outputs [begin, end) in order.
template <class F>
void for_each_output(const kernels::ElementwisePlan& outer, int64_t begin, int64_t end, const F& f) {
  int64_t index[kernels::kMaxDims];
  int64_t remainder = begin;
  for (int dim = 0; dim < outer.ndim; ++dim) {
    index[dim] = remainder % outer.sizes[dim];
    remainder /= outer.sizes[dim];
  }
  int64_t out_offset, in_offset;
  locate(outer, begin, out_offset, in_offset);
  for (int64_t position = begin; position < end; ++position) {
    f(position, outer.data[0] + out_offset, static_cast<const char*>(outer.data[1] + in_offset));
    out_offset += outer.byte_strides[0][0];
    in_offset += outer.byte_strides[1][0];
    for (int dim = 0; dim + 1 < outer.ndim && ++index[dim] == outer.sizes[dim]; ++dim) {
      index[dim] = 0;
      out_offset += outer.byte_strides[0][dim + 1] - outer.sizes[dim] * outer.byte_strides[0][dim];
      in_offset += outer.byte_strides[1][dim + 1] - outer.sizes[dim] * outer.byte_strides[1][dim];
    }
  }
}

// f(byte offset, length, first position) for the reduced positions [begin, end), as runs along
// the innermost reduced dim (whose stride is run_stride(plan)).
template <class F>
void for_each_run(const kernels::ReducePlan& plan, int64_t begin, int64_t end, const F& f) {
  const int ndim = plan.reduced_ndim;
  if (ndim == 0 || (ndim == 1 && begin == 0 && end == plan.reduced_sizes[0])) {
    if (begin < end) f(int64_t{0}, end - begin, begin);
    return;
  }
  int64_t index[kernels::kMaxDims];
  int64_t offset = 0, remainder = begin;
  for (int dim = 0; dim < ndim; ++dim) {
    index[dim] = remainder % plan.reduced_sizes[dim];
    remainder /= plan.reduced_sizes[dim];
    offset += index[dim] * plan.reduced_byte_strides[dim];
  }
  while (begin < end) {
    const int64_t length = std::min(plan.reduced_sizes[0] - index[0], end - begin);
    f(offset, length, begin);
    begin += length;
    index[0] += length;
    offset += length * plan.reduced_byte_strides[0];
    for (int dim = 0; dim + 1 < ndim && index[dim] == plan.reduced_sizes[dim]; ++dim) {
      index[dim] = 0;
      ++index[dim + 1];
      offset += plan.reduced_byte_strides[dim + 1] - plan.reduced_sizes[dim] * plan.reduced_byte_strides[dim];
    }
  }
}

// One output at a time, each reduced along runs of the innermost reduced dim.
template <class Reducer>
void reduce_each(const kernels::ReducePlan& plan, const Reducer& reducer) {
  using State = typename Reducer::State;
  const kernels::ElementwisePlan& outer = plan.outer;
  const int64_t outputs = outer.numel, reduced = plan.reduced_numel, stride = run_stride(plan);
  auto reduce_range = [&](const char* input, int64_t begin, int64_t end) {
    State state = reducer.identity(begin);
    for_each_run(plan, begin, end, [&](int64_t offset, int64_t length, int64_t position) {
      reducer.run(state, input + offset, length, stride, position);
    });
    return state;
  };
  const Split split = split_for(outputs, reduced, kChunk);
  if (split.chunks == 1) {
    parallel_for(outputs, std::max<int64_t>(1, kGrain / reduced), [&](int64_t begin, int64_t end) {
      for_each_output(outer, begin, end, [&](int64_t, char* out, const char* in) {
        reducer.store(out, reduce_range(in, 0, reduced));
      });
    });
    return;
  }
  std::unique_ptr<State[]> partial(new State[outputs * split.chunks]);
  parallel_for(outputs * split.chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t output = item / split.chunks, first = item % split.chunks * split.length;
      int64_t out_offset, in_offset;
      locate(outer, output, out_offset, in_offset);
      partial[item] = reduce_range(outer.data[1] + in_offset, first, std::min(reduced, first + split.length));
    }
  });
  for_each_output(outer, 0, outputs, [&](int64_t output, char* out, const char*) {
    State state = partial[output * split.chunks];
    for (int64_t chunk = 1; chunk < split.chunks; ++chunk) {
      state = reducer.combine(state, partial[output * split.chunks + chunk]);
    }
    reducer.store(out, state);
  });
}

// Tiles of up to kTile neighbouring outputs (dense in the input), accumulating one input row per
// reduced position, so memory is read in order instead of by large strides.
template <class Reducer>
void reduce_rows(const kernels::ReducePlan& plan, const Reducer& reducer) {
  using State = typename Reducer::State;
  const kernels::ElementwisePlan& outer = plan.outer;
  const int64_t outputs = outer.numel, reduced = plan.reduced_numel, stride = run_stride(plan);
  const int64_t width = outer.sizes[0];
  const int64_t tile_width = std::min(width, kTile);
  const int64_t tiles_per_row = (width + kTile - 1) / kTile;
  const int64_t tiles = outputs / width * tiles_per_row;
  const Split split = split_for(tiles, reduced, std::max<int64_t>(1, kChunk / tile_width));
  std::unique_ptr<State[]> partial(split.chunks > 1 ? new State[outputs * split.chunks] : nullptr);
  const int64_t work = tile_width * split.length;
  parallel_for(tiles * split.chunks, std::max<int64_t>(1, kGrain / work), [&](int64_t begin, int64_t end) {
    State states[kTile];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t tile = item / split.chunks, chunk = item % split.chunks;
      const int64_t column = tile % tiles_per_row * kTile;
      const int64_t first_output = tile / tiles_per_row * width + column;
      const int64_t count = std::min(kTile, width - column);
      const int64_t first = chunk * split.length;
      int64_t out_offset, in_offset;
      locate(outer, first_output, out_offset, in_offset);
      const char* input = outer.data[1] + in_offset;
      std::fill(states, states + count, reducer.identity(first));
      for_each_run(plan, first, std::min(reduced, first + split.length),
                   [&](int64_t offset, int64_t length, int64_t position) {
                     for (int64_t step = 0; step < length; ++step) {
                       reducer.row(states, input + offset + step * stride, count, position + step);
                     }
                   });
      if (split.chunks == 1) {
        char* out = outer.data[0] + out_offset;
        for (int64_t t = 0; t < count; ++t) reducer.store(out + t * outer.byte_strides[0][0], states[t]);
      } else {
        std::copy(states, states + count, partial.get() + chunk * outputs + first_output);
      }
    }
  });
  if (split.chunks == 1) return;
  for_each_output(outer, 0, outputs, [&](int64_t output, char* out, const char*) {
    State state = partial[output];
    for (int64_t chunk = 1; chunk < split.chunks; ++chunk) state = reducer.combine(state, partial[chunk * outputs + output]);
    reducer.store(out, state);
  });
}

// The kept dim innermost in memory is dense in the input while the reduced positions are not.
inline bool reduces_rows(const kernels::ReducePlan& plan, int64_t item_size) {
  return plan.outer.sizes[0] > 1 && plan.outer.byte_strides[1][0] == item_size && run_stride(plan) != item_size;
}

template <class Reducer>
void reduce_plan(const kernels::ReducePlan& plan, const Reducer& reducer, int64_t item_size) {
  if (plan.outer.numel == 0) return;
  if (plan.reduced_numel == 0) {
    parallel_for(plan.outer.numel, kGrain, [&](int64_t begin, int64_t end) {
      for_each_output(plan.outer, begin, end, [&](int64_t, char* out, const char*) { reducer.store(out, reducer.identity(0)); });
    });
    return;
  }
  if (reduces_rows(plan, item_size)) reduce_rows(plan, reducer);
  else reduce_each(plan, reducer);
}

}  // namespace ember::cpu::reduce_loops

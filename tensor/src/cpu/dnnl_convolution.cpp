// Convolutions through oneDNN's convolution and deconvolution primitives.
//
// A primitive is created with format_tag::any for its images and weights, so that oneDNN picks
// the blocked layouts its fast kernels read (nChw16c, OIhw16i16o on AVX-512), and Ember's plain
// buffers are reordered into and out of them around each call: the reorders are memory-bound
// copies, small beside the convolution. Creating a primitive descriptor costs milliseconds (it
// tries implementations and generates code) while a training step asks for the same few shapes
// every step, so each "plan" (the primitive, the reorders around it, and its scratchpad size) is
// cached under the convolution, the direction, the bias and the thread count.
#include "cpu/dnnl_convolution.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if EMBER_WITH_DNNL
#include <omp.h>

#include <algorithm>
#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ember/tensor/factories.h"
#include "ember/tensor/parallel.h"
#endif

namespace ember::cpu {
namespace {

std::atomic<bool>& enabled_setting() {
  static std::atomic<bool> enabled = [] {
    const char* value = std::getenv("EMBER_DNNL");
    return dnnl_built() && !(value != nullptr && std::strcmp(value, "0") == 0);
  }();
  return enabled;
}

std::atomic<int64_t> runs{0};

}  // namespace

bool dnnl_built() { return EMBER_WITH_DNNL != 0; }
bool dnnl_enabled() { return enabled_setting().load(std::memory_order_relaxed); }
bool set_dnnl_enabled(bool enabled) { return enabled_setting().exchange(enabled && dnnl_built()); }
int64_t dnnl_convolution_runs() { return runs.load(std::memory_order_relaxed); }

#if EMBER_WITH_DNNL
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

enum class Direction { kForward, kBackwardData, kBackwardWeights };

// Everything a plan depends on. oneDNN splits work for omp_get_max_threads() threads when it
// creates a primitive, so the thread count is part of the key.
struct Key {
  DnnlConvolution conv;
  Direction direction = Direction::kForward;
  bool bias = false;
  int threads = 1;

  bool operator==(const Key&) const = default;
};

// One argument of a primitive: Ember's plain layout, the primitive's, and the reorder between
// them (plain to inner for inputs, inner to plain for outputs), empty when they are the same.
struct Operand {
  int argument = 0;
  bool output = false;
  memory::desc plain, inner;
  dnnl::reorder reorder;
};

// A primitive with its operands in the order the caller passes their buffers. An empty
// primitive records that oneDNN has no implementation, so that it is not asked again.
struct Plan {
  dnnl::primitive primitive;
  std::vector<Operand> operands;
  size_t scratchpad_bytes = 0;
};

const dnnl::engine& engine() {
  static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

// oneDNN runs on OpenMP's default team size, while Ember keeps its thread setting to itself
// (cpu/threads.cpp passes it to each parallel region): lend it to OpenMP for the call.
class ThreadScope {
 public:
  ThreadScope() : previous_(omp_get_max_threads()) { omp_set_num_threads(num_threads()); }
  ~ThreadScope() { omp_set_num_threads(previous_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_;
};

// ---- building plans ----

memory::desc described(const memory::dims& dims, Tag tag) { return memory::desc(dims, memory::data_type::f32, tag); }

memory::dims image_dims(const int64_t (&shape)[4]) { return {shape[0], shape[1], shape[2], shape[3]}; }

// oneDNN's weight is [O, I, KH, KW] (grouped: [G, O/G, I/G, KH, KW]) in the primitive's own
// output and input channels, whichever way Ember stores it.
memory::dims weight_dims(const DnnlConvolution& conv) {
  const int64_t out = conv.output[1], in = conv.input[1], groups = conv.groups;
  if (groups == 1) return {out, in, conv.weight[2], conv.weight[3]};
  return {groups, out / groups, in / groups, conv.weight[2], conv.weight[3]};
}

// Ember stores a transposed convolution's weight input channels first.
Tag weight_tag(const DnnlConvolution& conv) {
  if (conv.groups == 1) return conv.transposed ? Tag::iohw : Tag::oihw;
  return conv.transposed ? Tag::giohw : Tag::goihw;
}

struct Geometry {
  memory::dims strides, dilates, padding_l, padding_r;
};

Geometry geometry(const DnnlConvolution& conv) {
  Geometry result;
  for (int dim = 0; dim < 2; ++dim) {
    const int64_t extent = conv.dilation[dim] * (conv.weight[2 + dim] - 1) + 1;
    // Ember's output size floors (in + 2p - extent) / stride, as oneDNN's check does with equal
    // padding. A transposed convolution's output padding lengthens its output, which oneDNN
    // counts as that much less padding on the high side.
    int64_t padding_r = conv.padding[dim];
    if (conv.transposed) {
      const int64_t output_padding =
          conv.output[2 + dim] - ((conv.input[2 + dim] - 1) * conv.stride[dim] - 2 * conv.padding[dim] + extent);
      padding_r -= output_padding;
    }
    result.strides.push_back(conv.stride[dim]);
    result.dilates.push_back(conv.dilation[dim] - 1);  // oneDNN counts the gaps between taps
    result.padding_l.push_back(conv.padding[dim]);
    result.padding_r.push_back(padding_r);
  }
  return result;
}

class PlanBuilder {
 public:
  explicit PlanBuilder(Plan& plan) : plan_(plan) { attr_.set_scratchpad_mode(dnnl::scratchpad_mode::user); }

  const dnnl::primitive_attr& attr() const { return attr_; }

  void add(int argument, const memory::desc& plain, const memory::desc& inner, bool output) {
    Operand operand{argument, output, plain, inner, {}};
    if (plain != inner) {
      const dnnl::reorder::primitive_desc reorder =
          output ? dnnl::reorder::primitive_desc(engine(), inner, engine(), plain, attr_)
                 : dnnl::reorder::primitive_desc(engine(), plain, engine(), inner, attr_);
      need_scratchpad(reorder);
      operand.reorder = dnnl::reorder(reorder);
    }
    plan_.operands.push_back(std::move(operand));
  }

  template <class Primitive>
  void set_primitive(const typename Primitive::primitive_desc& descriptor) {
    need_scratchpad(descriptor);
    plan_.primitive = Primitive(descriptor);
  }

 private:
  void need_scratchpad(const dnnl::primitive_desc_base& descriptor) {
    plan_.scratchpad_bytes = std::max(plan_.scratchpad_bytes, descriptor.scratchpad_desc().get_size());
  }

  Plan& plan_;
  dnnl::primitive_attr attr_;
};

// The convolution and deconvolution primitives share their descriptors' signatures.
template <class Forward, class BackwardData, class BackwardWeights>
Plan make_plan(const Key& key, dnnl::algorithm algorithm) {
  const DnnlConvolution& conv = key.conv;
  const Geometry shape = geometry(conv);
  const memory::dims src = image_dims(conv.input), dst = image_dims(conv.output), weights = weight_dims(conv);
  const memory::dims bias = {conv.output[1]};
  const memory::desc plain_src = described(src, Tag::nchw), plain_dst = described(dst, Tag::nchw);
  const memory::desc plain_weights = described(weights, weight_tag(conv)), plain_bias = described(bias, Tag::x);
  const memory::desc any_src = described(src, Tag::any), any_dst = described(dst, Tag::any);
  const memory::desc any_weights = described(weights, Tag::any);
  const memory::desc no_bias;

  Plan plan;
  PlanBuilder builder(plan);
  const typename Forward::desc forward_desc(dnnl::prop_kind::forward_training, algorithm, any_src, any_weights,
                                            key.bias ? plain_bias : no_bias, any_dst, shape.strides, shape.dilates,
                                            shape.padding_l, shape.padding_r);
  const typename Forward::primitive_desc forward(forward_desc, builder.attr(), engine());
  switch (key.direction) {
    case Direction::kForward:
      builder.set_primitive<Forward>(forward);
      builder.add(DNNL_ARG_SRC, plain_src, forward.src_desc(), false);
      builder.add(DNNL_ARG_WEIGHTS, plain_weights, forward.weights_desc(), false);
      if (key.bias) builder.add(DNNL_ARG_BIAS, plain_bias, forward.bias_desc(), false);
      builder.add(DNNL_ARG_DST, plain_dst, forward.dst_desc(), true);
      break;
    case Direction::kBackwardData: {
      const typename BackwardData::desc desc(algorithm, any_src, any_weights, any_dst, shape.strides, shape.dilates,
                                             shape.padding_l, shape.padding_r);
      const typename BackwardData::primitive_desc backward(desc, builder.attr(), engine(), forward);
      builder.set_primitive<BackwardData>(backward);
      builder.add(DNNL_ARG_DIFF_DST, plain_dst, backward.diff_dst_desc(), false);
      builder.add(DNNL_ARG_WEIGHTS, plain_weights, backward.weights_desc(), false);
      builder.add(DNNL_ARG_DIFF_SRC, plain_src, backward.diff_src_desc(), true);
      break;
    }
    case Direction::kBackwardWeights: {
      const typename BackwardWeights::desc desc(algorithm, any_src, any_weights, key.bias ? plain_bias : no_bias,
                                                any_dst, shape.strides, shape.dilates, shape.padding_l,
                                                shape.padding_r);
      const typename BackwardWeights::primitive_desc backward(desc, builder.attr(), engine(), forward);
      builder.set_primitive<BackwardWeights>(backward);
      builder.add(DNNL_ARG_SRC, plain_src, backward.src_desc(), false);
      builder.add(DNNL_ARG_DIFF_DST, plain_dst, backward.diff_dst_desc(), false);
      builder.add(DNNL_ARG_DIFF_WEIGHTS, plain_weights, backward.diff_weights_desc(), true);
      if (key.bias) builder.add(DNNL_ARG_DIFF_BIAS, plain_bias, backward.diff_bias_desc(), true);
      break;
    }
  }
  return plan;
}

Plan make_plan(const Key& key) {
  ThreadScope threads;
  try {
    if (!key.conv.transposed) {
      return make_plan<dnnl::convolution_forward, dnnl::convolution_backward_data, dnnl::convolution_backward_weights>(
          key, dnnl::algorithm::convolution_direct);
    }
    return make_plan<dnnl::deconvolution_forward, dnnl::deconvolution_backward_data,
                     dnnl::deconvolution_backward_weights>(key, dnnl::algorithm::deconvolution_direct);
  } catch (const dnnl::error&) {
    // Unimplemented or rejected (an output padding of a dilated transposed convolution that
    // oneDNN's padding rules cannot express): the caller's own path handles it.
    return Plan();
  }
}

// ---- the cache ----

// Least recently used plans go first. A network has a few convolutions, each with three
// directions, and may see a second batch size (the last, short batch; evaluation).
class PlanCache {
 public:
  static constexpr size_t kCapacity = 64;

  std::shared_ptr<const Plan> find_or_make(const Key& key) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (Entry* entry = find(key)) {
        entry->last_used = ++clock_;
        return entry->plan;
      }
    }
    // Built unlocked so that other threads' convolutions do not wait for it; two threads racing
    // on one new key build it twice and keep the first.
    auto plan = std::make_shared<const Plan>(make_plan(key));
    const std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* entry = find(key)) return entry->plan;
    if (entries_.size() >= kCapacity) {
      entries_.erase(std::min_element(entries_.begin(), entries_.end(),
                                      [](const Entry& a, const Entry& b) { return a.last_used < b.last_used; }));
    }
    entries_.push_back({key, plan, ++clock_});
    return plan;
  }

 private:
  struct Entry {
    Key key;
    std::shared_ptr<const Plan> plan;
    uint64_t last_used = 0;
  };

  Entry* find(const Key& key) {
    for (Entry& entry : entries_) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }

  std::mutex mutex_;
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
};

PlanCache& plans() {
  static PlanCache cache;
  return cache;
}

// ---- running plans ----

// One call into oneDNN: one or two plans run on the calling thread's stream, with Ember's thread
// count, their operands in the layouts the primitives want (in scratch when those are not Ember's
// plain layouts). An input that two primitives of the call read in the same layout (the output
// gradient, for the input and weight gradients) is reordered once.
class Call {
 public:
  explicit Call(const DnnlConvolution& conv) : conv_(conv) {}

  std::shared_ptr<const Plan> plan(Direction direction, bool bias) const {
    return plans().find_or_make(Key{conv_, direction, bias, num_threads()});
  }

  void run(const Plan& plan, const std::vector<void*>& buffers) {
    try {
      execute(plan, buffers);
    } catch (const dnnl::error& error) {
      fail("convolution: oneDNN failed on input [{}, {}, {}, {}] with weight [{}, {}, {}, {}]: {}", conv_.input[0],
           conv_.input[1], conv_.input[2], conv_.input[3], conv_.weight[0], conv_.weight[1], conv_.weight[2],
           conv_.weight[3], error.what());
    }
    runs.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  struct Staged {
    const void* buffer;
    memory::desc layout;
    memory staged;
  };

  static dnnl::stream& stream() {
    thread_local dnnl::stream stream(engine());
    return stream;
  }

  // From Ember's allocator, which keeps large blocks between steps; aligned for oneDNN's vector
  // loads, since small host blocks come from malloc.
  void* take(size_t bytes) {
    constexpr size_t kAlignment = 64;
    blocks_.push_back(empty({static_cast<int64_t>(bytes + kAlignment)}, TensorOptions(kUInt8)));
    const auto address = reinterpret_cast<uintptr_t>(blocks_.back().data_ptr());
    return reinterpret_cast<void*>((address + kAlignment - 1) / kAlignment * kAlignment);
  }

  const memory* find_staged(const void* buffer, const memory::desc& layout) const {
    for (const Staged& input : inputs_) {
      if (input.buffer == buffer && input.layout == layout) return &input.staged;
    }
    return nullptr;
  }

  void execute(const Plan& plan, const std::vector<void*>& buffers) {
    std::unordered_map<int, memory> arguments;
    // Reorders and the primitive run one after another, so they share one scratchpad.
    const auto with_scratchpad = [&](std::unordered_map<int, memory> reorder_arguments) {
      if (plan.scratchpad_bytes > 0) reorder_arguments[DNNL_ARG_SCRATCHPAD] = arguments.at(DNNL_ARG_SCRATCHPAD);
      return reorder_arguments;
    };
    if (plan.scratchpad_bytes > 0) {
      const memory::desc bytes({static_cast<int64_t>(plan.scratchpad_bytes)}, memory::data_type::u8, Tag::x);
      arguments[DNNL_ARG_SCRATCHPAD] = memory(bytes, engine(), take(plan.scratchpad_bytes));
    }
    std::vector<std::pair<const Operand*, memory>> reordered_outputs;
    for (size_t index = 0; index < plan.operands.size(); ++index) {
      const Operand& operand = plan.operands[index];
      const memory user(operand.plain, engine(), buffers[index]);
      if (!operand.reorder) {
        arguments[operand.argument] = user;
        continue;
      }
      if (const memory* staged = operand.output ? nullptr : find_staged(buffers[index], operand.inner)) {
        arguments[operand.argument] = *staged;
        continue;
      }
      const memory inner(operand.inner, engine(), take(operand.inner.get_size()));
      if (operand.output) {
        reordered_outputs.emplace_back(&operand, user);
      } else {
        operand.reorder.execute(stream(), with_scratchpad({{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}}));
        inputs_.push_back({buffers[index], operand.inner, inner});
      }
      arguments[operand.argument] = inner;
    }
    plan.primitive.execute(stream(), arguments);
    for (const auto& [operand, user] : reordered_outputs) {
      operand->reorder.execute(
          stream(), with_scratchpad({{DNNL_ARG_FROM, arguments.at(operand->argument)}, {DNNL_ARG_TO, user}}));
    }
    stream().wait();
  }

  const DnnlConvolution& conv_;
  const ThreadScope threads_;
  std::vector<Tensor> blocks_;
  std::vector<Staged> inputs_;
};

}  // namespace

bool dnnl_convolution_forward(const DnnlConvolution& conv, const Tensor& input, const Tensor& weight,
                              const Tensor& bias, const Tensor& output) {
  Call call(conv);
  const std::shared_ptr<const Plan> plan = call.plan(Direction::kForward, bias.defined());
  if (!plan->primitive) return false;
  std::vector<void*> buffers = {input.data_ptr(), weight.data_ptr()};
  if (bias.defined()) buffers.push_back(bias.data_ptr());
  buffers.push_back(output.data_ptr());
  call.run(*plan, buffers);
  return true;
}

DnnlBackward dnnl_convolution_backward(const DnnlConvolution& conv, const Tensor& grad_output, const Tensor& input,
                                       const Tensor& weight, const Tensor& grad_input, const Tensor& grad_weight,
                                       const Tensor& grad_bias) {
  Call call(conv);
  DnnlBackward done;
  if (grad_input.defined()) {
    const std::shared_ptr<const Plan> plan = call.plan(Direction::kBackwardData, false);
    if (plan->primitive) {
      call.run(*plan, {grad_output.data_ptr(), weight.data_ptr(), grad_input.data_ptr()});
      done.input = true;
    }
  }
  if (grad_weight.defined()) {
    const std::shared_ptr<const Plan> plan = call.plan(Direction::kBackwardWeights, grad_bias.defined());
    if (plan->primitive) {
      std::vector<void*> buffers = {input.data_ptr(), grad_output.data_ptr(), grad_weight.data_ptr()};
      if (grad_bias.defined()) buffers.push_back(grad_bias.data_ptr());
      call.run(*plan, buffers);
      done.weight = true;
    }
  }
  return done;
}

#else

bool dnnl_convolution_forward(const DnnlConvolution&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  return false;
}
DnnlBackward dnnl_convolution_backward(const DnnlConvolution&, const Tensor&, const Tensor&, const Tensor&,
                                       const Tensor&, const Tensor&, const Tensor&) {
  return {};
}

#endif

}  // namespace ember::cpu

#include "ember/nn/functional/loss.h"

#include <string>

#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/indexing.h"
#include "ember/tensor/reduction.h"

namespace ember::nn {

Reduction parse_reduction(std::string_view name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  fail("loss: reduction '{}' is not one of 'none', 'mean', 'sum'", name);
}

std::string_view name(Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return "none";
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
  }
  return "mean";
}

}  // namespace ember::nn

namespace ember::nn::functional {
namespace {

using autograd::NoGradGuard;
using autograd::SavedTensor;
using autograd::TensorList;

Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return losses;
    case Reduction::Sum: return losses.sum();
    case Reduction::Mean: break;
  }
  return losses.mean();
}

// The gradient reaching each per-element loss, from the gradient of the reduced result: a
// 0-dim tensor (divided by the element count for the mean) that broadcasts, or the full one.
Tensor spread(const Tensor& grad, Reduction reduction, int64_t count) {
  if (reduction == Reduction::Mean) return grad / static_cast<double>(count);
  return grad;
}

void check_floating(const char* op, const char* what, const Tensor& tensor) {
  EMBER_CHECK(tensor.is_floating_point(), "{}: {} must be floating point, got dtype {}", op, what,
              name(tensor.dtype()));
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  EMBER_CHECK(input.sizes() == target.sizes(), "{}: target size {} must be the same as input size {}", op,
              to_string(target.sizes()), to_string(input.sizes()));
}

// A per-element weight must broadcast to the input without growing it.
void check_weight_broadcasts(const char* op, const char* what, const Tensor& weight, const Tensor& input) {
  if (!weight.defined()) return;
  const DimVector shape = broadcast_shapes(weight.sizes(), input.sizes(), op);
  EMBER_CHECK(IntArrayRef(shape) == input.sizes(), "{}: {} of shape {} does not broadcast to input shape {}", op,
              what, to_string(weight.sizes()), to_string(input.sizes()));
}

// Losses that depend on input - target alone: the gradient to the target is minus the input's.
template <class LossOf, class DerivativeOf>
Tensor difference_loss(const char* op, const char* node, const Tensor& input, const Tensor& target,
                       Reduction reduction, LossOf loss_of, DerivativeOf derivative_of) {
  check_floating(op, "input", input);
  check_floating(op, "target", target);
  broadcast_shapes(input.sizes(), target.sizes(), op);
  Tensor difference;
  Tensor result;
  {
    NoGradGuard no_grad;
    difference = input - target;
    result = reduce(loss_of(difference), reduction);
  }
  if (autograd::requires_grad_any({&input, &target})) {
    autograd::record_backward(
        node, result, {&input, &target},
        [node, difference = SavedTensor(difference), count = difference.numel(), reduction, derivative_of,
         input_needs = input.requires_grad(), target_needs = target.requires_grad()](const Tensor& grad) {
          const Tensor grad_input = derivative_of(difference.unpack(node)) * spread(grad, reduction, count);
          return TensorList{input_needs ? grad_input : Tensor(), target_needs ? -grad_input : Tensor()};
        });
  }
  return result;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return difference_loss(
      "mse_loss", "MseLossBackward0", input, target, reduction,
      [](const Tensor& difference) { return difference * difference; },
      [](const Tensor& difference) { return difference * 2.0; });
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return difference_loss(
      "l1_loss", "L1LossBackward0", input, target, reduction,
      [](const Tensor& difference) { return difference.abs(); },
      [](const Tensor& difference) { return difference.sign(); });
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  EMBER_CHECK(beta >= 0, "smooth_l1_loss: beta must be non-negative, got {}", beta);
  if (beta == 0.0) return l1_loss(input, target, reduction);
  return difference_loss(
      "smooth_l1_loss", "SmoothL1LossBackward0", input, target, reduction,
      [beta](const Tensor& difference) {
        const Tensor distance = difference.abs();
        return where(lt(distance, beta), distance * distance * (0.5 / beta), distance - 0.5 * beta);
      },
      [beta](const Tensor& difference) { return (difference / beta).clamp(-1.0, 1.0); });
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  EMBER_CHECK(delta > 0, "huber_loss: delta must be positive, got {}", delta);
  return difference_loss(
      "huber_loss", "HuberLossBackward0", input, target, reduction,
      [delta](const Tensor& difference) {
        const Tensor distance = difference.abs();
        return where(lt(distance, delta), distance * distance * 0.5, (distance - 0.5 * delta) * delta);
      },
      [delta](const Tensor& difference) { return difference.clamp(-delta, delta); });
}

namespace {

int64_t class_dim_of(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// Checks the shapes of input [N, C, d...] (or [C]) and target [N, d...] (or []) for a loss on class
// indices, and every target value against the class count. Returns whether any target is ignored.
bool check_class_targets(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight,
                         int64_t ignore_index) {
  check_floating(op, "input", input);
  EMBER_CHECK(input.dim() >= 1, "{}: input must have a class dim, got a 0-dim tensor", op);
  EMBER_CHECK(is_integral(target.dtype()), "{}: target must hold integer class indices, got dtype {}", op,
              name(target.dtype()));
  if (input.dim() == 1) {
    EMBER_CHECK(target.dim() == 0, "{}: an unbatched input of shape {} needs a 0-dim target, got shape {}", op,
                to_string(input.sizes()), to_string(target.sizes()));
  } else {
    EMBER_CHECK(target.dim() == input.dim() - 1, "{}: input of shape {} needs a target of {} dims, got shape {}", op,
                to_string(input.sizes()), input.dim() - 1, to_string(target.sizes()));
    EMBER_CHECK(input.size(0) == target.size(0), "{}: expected input batch_size ({}) to match target batch_size ({})",
                op, input.size(0), target.size(0));
    for (int64_t dim = 1; dim < target.dim(); ++dim) {
      EMBER_CHECK(target.size(dim) == input.size(dim + 1), "{}: input of shape {} does not match target of shape {}",
                  op, to_string(input.sizes()), to_string(target.sizes()));
    }
  }
  const int64_t classes = input.size(class_dim_of(input));
  if (weight.defined()) {
    EMBER_CHECK(weight.dim() == 1 && weight.numel() == classes,
                "{}: weight must hold one value for each of the {} classes, got shape {}", op, classes,
                to_string(weight.sizes()));
  }
  // Read on the host: an out-of-range class must be a clear error, not an out-of-bounds gather.
  const Tensor host = target.to(kCPU).to(kInt64).contiguous();
  const int64_t* values = host.data_ptr<int64_t>();
  bool any_ignored = false;
  for (int64_t i = 0; i < host.numel(); ++i) {
    const int64_t value = values[i];
    if (value == ignore_index) {
      any_ignored = true;
      continue;
    }
    EMBER_CHECK(value >= 0 && value < classes, "{}: target {} is out of bounds for {} classes", op, value, classes);
  }
  return any_ignored;
}

// weight reshaped to broadcast along the class dim of input.
Tensor class_weight_view(const Tensor& weight, const Tensor& input) {
  if (input.dim() == 1) return weight;
  DimVector shape(static_cast<size_t>(input.dim()), 1);
  shape[1] = weight.numel();
  return weight.view(shape);
}

// nll_loss once the targets are known to be valid.
Tensor checked_nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                        bool any_ignored, Reduction reduction) {
  const int64_t class_dim = class_dim_of(input);
  const char* node = input.dim() <= 2 ? "NllLossBackward0" : "NllLoss2DBackward0";
  Tensor index;            // target with ignored entries pointed at class 0, unsqueezed at class_dim
  Tensor term_weight;      // per-target weight, 0 where ignored; undefined means all 1
  Tensor total_weight;     // the mean's divisor when term_weight is defined
  const double count = static_cast<double>(target.numel());  // the divisor otherwise
  Tensor result;
  {
    NoGradGuard no_grad;
    const Tensor classes = target.to(kInt64);
    const Tensor ignored = any_ignored ? eq(classes, ignore_index) : Tensor();
    index = (any_ignored ? classes.masked_fill(ignored, 0) : classes).unsqueeze(class_dim);
    if (weight.defined()) {
      term_weight = index_select(weight.to(input.dtype()), 0, index.flatten()).view(target.sizes());
      if (any_ignored) term_weight = term_weight.masked_fill(ignored, 0);
    } else if (any_ignored) {
      term_weight = logical_not(ignored).to(input.dtype());
    }
    const Tensor picked = gather(input, class_dim, index).squeeze(class_dim);
    const Tensor losses = term_weight.defined() ? -(picked * term_weight) : -picked;
    switch (reduction) {
      case Reduction::None: result = losses; break;
      case Reduction::Sum: result = losses.sum(); break;
      case Reduction::Mean:
        if (term_weight.defined()) {
          total_weight = term_weight.sum();
          result = losses.sum() / total_weight;
        } else {
          result = losses.sum() / count;
        }
        break;
    }
  }
  if (autograd::requires_grad_any({&input})) {
    autograd::record_backward(
        node, result, {&input},
        [node, class_dim, reduction, count, input_sizes = input.shape(), target_sizes = target.shape(),
         options = input.options(), index = SavedTensor(index),
         term_weight = term_weight.defined() ? SavedTensor(term_weight) : SavedTensor(),
         total_weight = total_weight.defined() ? SavedTensor(total_weight) : SavedTensor()](const Tensor& grad) {
          // d loss / d input is -weight[t] at each target's class and 0 elsewhere.
          Tensor coefficient = -grad;
          if (reduction == Reduction::Mean) {
            coefficient = total_weight.defined() ? coefficient / total_weight.unpack(node) : coefficient / count;
          }
          if (term_weight.defined()) {
            const Tensor weights = term_weight.unpack(node);
            // Ignored targets get exactly zero, also when every target is ignored and the mean
            // divides by a total weight of 0 (PyTorch's gradient is 0 there, not NaN).
            coefficient = masked_fill(coefficient * weights, eq(weights, 0), 0);
          }
          coefficient = coefficient.expand(target_sizes).unsqueeze(class_dim);
          Tensor grad_input = zeros(input_sizes, options);
          grad_input.scatter_add_(class_dim, index.unpack(node), coefficient.to(options.dtype_value));
          return TensorList{grad_input};
        });
  }
  return result;
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  const bool any_ignored = check_class_targets("nll_loss", input, target, weight, ignore_index);
  return checked_nll_loss(input, target, weight, ignore_index, any_ignored, reduction);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  const char* op = "cross_entropy";
  EMBER_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be between 0.0 and 1.0, got {}", label_smoothing);
  check_floating(op, "input", input);
  EMBER_CHECK(input.dim() >= 1, "cross_entropy: input must have a class dim, got a 0-dim tensor");
  const int64_t class_dim = class_dim_of(input);
  const int64_t classes = input.size(class_dim);

  if (target.is_floating_point()) {
    // Class probabilities.
    EMBER_CHECK(ignore_index < 0, "cross_entropy: ignore_index ({}) is not supported for class-probability targets",
                ignore_index);
    check_same_shape(op, input, target);
    if (weight.defined()) {
      EMBER_CHECK(weight.dim() == 1 && weight.numel() == classes,
                  "cross_entropy: weight must hold one value for each of the {} classes, got shape {}", classes,
                  to_string(weight.sizes()));
    }
    const Tensor log_probabilities = log_softmax(input, class_dim);
    const Tensor smoothed =
        label_smoothing > 0 ? target * (1.0 - label_smoothing) + label_smoothing / static_cast<double>(classes) : target;
    Tensor product = log_probabilities * smoothed;
    if (weight.defined()) product = product * class_weight_view(weight, input);
    switch (reduction) {
      case Reduction::None: return -product.sum({class_dim});
      case Reduction::Sum: return -product.sum();
      case Reduction::Mean: break;
    }
    // The mean is over samples (and positions), not over classes.
    const int64_t samples = classes == 0 ? 0 : input.numel() / classes;
    return -product.sum() / static_cast<double>(samples);
  }

  const bool any_ignored = check_class_targets(op, input, target, weight, ignore_index);
  const Tensor log_probabilities = log_softmax(input, class_dim);
  const Tensor nll = checked_nll_loss(log_probabilities, target, weight, ignore_index, any_ignored, reduction);
  if (label_smoothing == 0.0) return nll;

  // The smoothing term: each kept target also pays label_smoothing / C of every class's
  // (weighted) negative log-probability.
  const Tensor ignored = eq(target.to(kInt64), ignore_index);
  Tensor all_classes = weight.defined() ? log_probabilities * class_weight_view(weight, input) : log_probabilities;
  const Tensor smooth = (-all_classes.sum({class_dim})).masked_fill(ignored, 0);
  Tensor smooth_reduced;
  switch (reduction) {
    case Reduction::None: smooth_reduced = smooth; break;
    case Reduction::Sum: smooth_reduced = smooth.sum(); break;
    case Reduction::Mean: {
      Tensor divisor;
      if (weight.defined()) {
        NoGradGuard no_grad;
        const Tensor safe = target.to(kInt64).masked_fill(ignored, 0).flatten();
        divisor = index_select(weight.to(input.dtype()), 0, safe).masked_fill(ignored.flatten(), 0).sum();
      } else {
        divisor = logical_not(ignored).sum().to(input.dtype());
      }
      smooth_reduced = smooth.sum() / divisor;
      break;
    }
  }
  return nll * (1.0 - label_smoothing) + smooth_reduced * (label_smoothing / static_cast<double>(classes));
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
  const char* op = "binary_cross_entropy";
  check_floating(op, "input", input);
  check_floating(op, "target", target);
  check_same_shape(op, input, target);
  check_weight_broadcasts(op, "weight", weight, input);
  Tensor result;
  {
    NoGradGuard no_grad;
    if (input.numel() > 0) {
      const double low = input.min().item<double>();
      const double high = input.max().item<double>();
      EMBER_CHECK(low >= 0.0 && high <= 1.0,
                  "binary_cross_entropy: all elements of input should be between 0 and 1, found values in [{}, {}]",
                  low, high);
    }
    // PyTorch clamps each log at -100 so that a saturated probability gives a large finite loss.
    const Tensor log_input = input.log().clamp(-100.0, std::nullopt);
    const Tensor log_complement = (-input).log1p().clamp(-100.0, std::nullopt);
    Tensor losses = (target - 1.0) * log_complement - target * log_input;
    if (weight.defined()) losses = losses * weight;
    result = reduce(losses, reduction);
  }
  if (autograd::requires_grad_any({&input, &target})) {
    const char* node = "BinaryCrossEntropyBackward0";
    autograd::record_backward(
        node, result, {&input, &target},
        [node, reduction, count = input.numel(), input_saved = SavedTensor(input), target_saved = SavedTensor(target),
         weight_saved = weight.defined() ? SavedTensor(weight) : SavedTensor(),
         input_needs = input.requires_grad(), target_needs = target.requires_grad()](const Tensor& grad) {
          Tensor scale = spread(grad, reduction, count);
          if (weight_saved.defined()) scale = scale * weight_saved.unpack(node);
          Tensor grad_input;
          Tensor grad_target;
          if (input_needs) {
            const Tensor x = input_saved.unpack(node);
            // The product is floored so that input 0 or 1 gives a finite gradient; the floor is
            // PyTorch's float constant 1e-12 (not the double), so saturated gradients agree.
            constexpr double kEpsilon = static_cast<float>(1e-12);
            grad_input = (x - target_saved.unpack(node)) / ((1.0 - x) * x).clamp(kEpsilon, std::nullopt) * scale;
          }
          // PyTorch does not clamp the logs here: input 0 or 1 gives an infinite target gradient.
          if (target_needs) {
            const Tensor x = input_saved.unpack(node);
            grad_target = ((-x).log1p() - x.log()) * scale;
          }
          return TensorList{grad_input, grad_target};
        });
  }
  return result;
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        Reduction reduction, const Tensor& pos_weight) {
  const char* op = "binary_cross_entropy_with_logits";
  check_floating(op, "input", input);
  check_floating(op, "target", target);
  check_same_shape(op, input, target);
  check_weight_broadcasts(op, "weight", weight, input);
  check_weight_broadcasts(op, "pos_weight", pos_weight, input);
  Tensor softplus_negative;  // log(1 + exp(-x)), written so that exp never overflows
  Tensor result;
  {
    NoGradGuard no_grad;
    softplus_negative = (-input.abs()).exp().log1p() + (-input).clamp(0.0, std::nullopt);
    Tensor losses = (1.0 - target) * input;
    if (pos_weight.defined()) {
      losses = losses + ((pos_weight - 1.0) * target + 1.0) * softplus_negative;
    } else {
      losses = losses + softplus_negative;
    }
    if (weight.defined()) losses = losses * weight;
    result = reduce(losses, reduction);
  }
  if (autograd::requires_grad_any({&input, &target})) {
    const char* node = "BinaryCrossEntropyWithLogitsBackward0";
    autograd::record_backward(
        node, result, {&input, &target},
        [node, reduction, count = input.numel(), input_saved = SavedTensor(input), target_saved = SavedTensor(target),
         weight_saved = weight.defined() ? SavedTensor(weight) : SavedTensor(),
         pos_weight_saved = pos_weight.defined() ? SavedTensor(pos_weight) : SavedTensor(),
         softplus_saved = target.requires_grad() && pos_weight.defined() ? SavedTensor(softplus_negative)
                                                                         : SavedTensor(),
         input_needs = input.requires_grad(), target_needs = target.requires_grad()](const Tensor& grad) {
          Tensor scale = spread(grad, reduction, count);
          if (weight_saved.defined()) scale = scale * weight_saved.unpack(node);
          const Tensor x = input_saved.unpack(node);
          Tensor grad_input;
          Tensor grad_target;
          if (input_needs) {
            const Tensor t = target_saved.unpack(node);
            if (pos_weight_saved.defined()) {
              const Tensor weighted_target = pos_weight_saved.unpack(node) * t;
              grad_input = ((weighted_target + 1.0 - t) * x.sigmoid() - weighted_target) * scale;
            } else {
              grad_input = (x.sigmoid() - t) * scale;
            }
          }
          if (target_needs) {
            grad_target = pos_weight_saved.defined()
                              ? ((pos_weight_saved.unpack(node) - 1.0) * softplus_saved.unpack(node) - x) * scale
                              : -x * scale;
          }
          return TensorList{grad_input, grad_target};
        });
  }
  return result;
}

}  // namespace ember::nn::functional

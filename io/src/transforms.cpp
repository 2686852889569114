#include "ember/io/transforms.h"

#include <algorithm>
#include <cstring>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"

namespace ember::io {
namespace {

uint64_t mix64(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// Both tensors must be what apply() promises: contiguous CPU memory of the agreed dtype.
void check_buffers(const Tensor& input, const Tensor& output, const char* op) {
  EMBER_CHECK(input.device().is_cpu() && output.device().is_cpu() && input.is_contiguous() && output.is_contiguous(),
              "{}: input and output must be contiguous CPU tensors", op);
}

// Width reversal on elements of one size: the element's bits are moved, never interpreted.
template <class Bits>
void reverse_rows(const std::byte* source, std::byte* destination, int64_t rows, int64_t width) {
  const Bits* in = reinterpret_cast<const Bits*>(source);
  Bits* out = reinterpret_cast<Bits*>(destination);
  for (int64_t row = 0; row < rows; ++row) {
    const Bits* in_row = in + row * width;
    Bits* out_row = out + row * width;
    for (int64_t column = 0; column < width; ++column) out_row[column] = in_row[width - 1 - column];
  }
}

std::string join_numbers(const std::vector<float>& values) {
  std::string text;
  for (size_t i = 0; i < values.size(); ++i) text += fmt::format("{}{}", i ? ", " : "", values[i]);
  return text;
}

}  // namespace

// ---- SampleRandom ----

SampleRandom SampleRandom::for_sample(uint64_t seed, int64_t epoch, int64_t position, int64_t index) {
  uint64_t key = mix64(seed + kGolden);
  key = mix64(key ^ (static_cast<uint64_t>(epoch) + kGolden));
  key = mix64(key ^ (static_cast<uint64_t>(position) * kGolden + 1));
  key = mix64(key ^ (static_cast<uint64_t>(index) * 0xD6E8FEB86659FD93ull + 2));
  return SampleRandom(key);
}

uint64_t SampleRandom::next() { return mix64(key_ + (++counter_) * kGolden); }

double SampleRandom::uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

int64_t SampleRandom::integer(int64_t low, int64_t high) {
  EMBER_CHECK(high > low, "SampleRandom::integer: empty range [{}, {})", low, high);
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  // Lemire's multiply-and-shift; values below `threshold` would favour some results, so redraw.
  const uint64_t threshold = (0 - range) % range;
  unsigned __int128 product;
  do {
    product = static_cast<unsigned __int128>(next()) * range;
  } while (static_cast<uint64_t>(product) < threshold);
  return low + static_cast<int64_t>(product >> 64);
}

// ---- Normalize ----

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) {
  EMBER_CHECK(!mean.empty() && mean.size() == std.size(),
              "Normalize: need as many std values as mean values (at least one), got {} mean and {} std", mean.size(),
              std.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    mean_.push_back(static_cast<float>(mean[c]));
    std_.push_back(static_cast<float>(std[c]));
    EMBER_CHECK(std_.back() != 0.0f, "Normalize: std[{}] is {} (zero as float32), which would divide by zero", c,
                std[c]);
  }
  uint8_table_.resize(256 * mean_.size());
  for (size_t c = 0; c < mean_.size(); ++c) {
    for (int value = 0; value < 256; ++value) {
      const float scaled = static_cast<float>(value) / 255.0f;
      uint8_table_[c * 256 + value] = (scaled - mean_[c]) / std_[c];
    }
  }
}

Field Normalize::output_field(const Field& input) const {
  EMBER_CHECK(input.dtype == kUInt8 || is_floating_point(input.dtype),
              "{} on field '{}': needs uint8 or floating-point samples, got {}", repr(), input.name,
              name(input.dtype));
  EMBER_CHECK(input.sample_shape.size() >= 3, "{} on field '{}': needs samples shaped [..., C, H, W], got {}", repr(),
              input.name, to_string(input.sample_shape));
  const int64_t channels = input.sample_shape[input.sample_shape.size() - 3];
  EMBER_CHECK(mean_.size() == 1 || static_cast<int64_t>(mean_.size()) == channels,
              "{} on field '{}': {} mean/std values for {} channels (shape {})", repr(), input.name, mean_.size(),
              channels, to_string(input.sample_shape));
  return Field{input.name, kFloat32, input.sample_shape};
}

void Normalize::apply(const Tensor& input, const Tensor& output, SampleRandom&) const {
  check_buffers(input, output, "Normalize");
  EMBER_CHECK(output.dtype() == kFloat32 && output.numel() == input.numel() && input.dim() >= 3,
              "Normalize: output must be float32 shaped like the input {}", to_string(input.sizes()));
  const int64_t channels = input.size(-3);
  const int64_t plane = input.size(-2) * input.size(-1);
  const int64_t images = channels == 0 || plane == 0 ? 0 : input.numel() / (channels * plane);
  float* out = output.data_ptr<float>();
  if (input.dtype() == kUInt8) {
    const uint8_t* in = input.data_ptr<uint8_t>();
    for (int64_t image = 0; image < images; ++image) {
      for (int64_t c = 0; c < channels; ++c) {
        const float* table = uint8_table_.data() + (mean_.size() == 1 ? 0 : c) * 256;
        const int64_t offset = (image * channels + c) * plane;
        for (int64_t i = 0; i < plane; ++i) out[offset + i] = table[in[offset + i]];
      }
    }
    return;
  }
  visit_dtype(input.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_floating_v<T>) {
      const T* in = static_cast<const T*>(input.data_ptr());
      for (int64_t image = 0; image < images; ++image) {
        for (int64_t c = 0; c < channels; ++c) {
          const size_t pair = mean_.size() == 1 ? 0 : static_cast<size_t>(c);
          const float mean = mean_[pair], deviation = std_[pair];
          const int64_t offset = (image * channels + c) * plane;
          for (int64_t i = 0; i < plane; ++i) out[offset + i] = (static_cast<float>(in[offset + i]) - mean) / deviation;
        }
      }
    } else {
      fail("Normalize: needs uint8 or floating-point samples, got {}", name(input.dtype()));
    }
  });
}

std::string Normalize::repr() const {
  return fmt::format("Normalize(mean=[{}], std=[{}])", join_numbers(mean_), join_numbers(std_));
}

// ---- RandomCrop ----

RandomCrop::RandomCrop(CropSize size, Padding padding, bool pad_if_needed)
    : size_(size), padding_(padding), pad_if_needed_(pad_if_needed) {
  EMBER_CHECK(size.height > 0 && size.width > 0, "RandomCrop: the crop size must be positive, got ({}, {})",
              size.height, size.width);
  EMBER_CHECK(padding.left >= 0 && padding.top >= 0 && padding.right >= 0 && padding.bottom >= 0,
              "RandomCrop: padding must not be negative, got (left {}, top {}, right {}, bottom {})", padding.left,
              padding.top, padding.right, padding.bottom);
}

namespace {

// The zero padding actually applied to an image of height x width: the configured padding plus,
// with pad_if_needed, torchvision's extra padding by the shortfall on both sides.
Padding effective_padding(const Padding& padding, bool pad_if_needed, const CropSize& size, int64_t height,
                          int64_t width) {
  Padding result = padding;
  const int64_t padded_width = width + padding.left + padding.right;
  const int64_t padded_height = height + padding.top + padding.bottom;
  if (pad_if_needed && padded_width < size.width) {
    result.left += size.width - padded_width;
    result.right += size.width - padded_width;
  }
  if (pad_if_needed && padded_height < size.height) {
    result.top += size.height - padded_height;
    result.bottom += size.height - padded_height;
  }
  return result;
}

}  // namespace

Field RandomCrop::output_field(const Field& input) const {
  const size_t dims = input.sample_shape.size();
  EMBER_CHECK(dims >= 2, "{} on field '{}': needs samples shaped [..., H, W], got {}", repr(), input.name,
              to_string(input.sample_shape));
  const int64_t height = input.sample_shape[dims - 2], width = input.sample_shape[dims - 1];
  const Padding pad = effective_padding(padding_, pad_if_needed_, size_, height, width);
  const int64_t padded_height = height + pad.top + pad.bottom, padded_width = width + pad.left + pad.right;
  EMBER_CHECK(padded_height >= size_.height && padded_width >= size_.width,
              "{} on field '{}': the crop ({}, {}) is larger than the padded image ({}, {}) of samples shaped {}",
              repr(), input.name, size_.height, size_.width, padded_height, padded_width,
              to_string(input.sample_shape));
  Field output = input;
  output.sample_shape[dims - 2] = size_.height;
  output.sample_shape[dims - 1] = size_.width;
  return output;
}

void RandomCrop::apply(const Tensor& input, const Tensor& output, SampleRandom& random) const {
  check_buffers(input, output, "RandomCrop");
  EMBER_CHECK(input.dim() >= 2 && output.dim() == input.dim() && output.dtype() == input.dtype() &&
                  output.size(-2) == size_.height && output.size(-1) == size_.width,
              "RandomCrop: output {} {} does not fit input {} {}", name(output.dtype()), to_string(output.sizes()),
              name(input.dtype()), to_string(input.sizes()));
  const int64_t height = input.size(-2), width = input.size(-1);
  const Padding pad = effective_padding(padding_, pad_if_needed_, size_, height, width);
  const int64_t padded_height = height + pad.top + pad.bottom, padded_width = width + pad.left + pad.right;
  EMBER_CHECK(padded_height >= size_.height && padded_width >= size_.width,
              "{}: the crop is larger than the padded image ({}, {})", repr(), padded_height, padded_width);
  int64_t top = 0, left = 0;  // of the crop, in padded coordinates
  if (padded_height != size_.height || padded_width != size_.width) {
    top = random.integer(0, padded_height - size_.height + 1);
    left = random.integer(0, padded_width - size_.width + 1);
  }
  const int64_t element = input.element_size();
  const int64_t planes = height * width == 0 ? 0 : input.numel() / (height * width);
  // Output columns [first, last) come from the image, the others from the zero padding; the
  // same for every row.
  const int64_t first = std::clamp(pad.left - left, int64_t{0}, size_.width);
  const int64_t last = std::clamp(pad.left - left + width, first, size_.width);
  const size_t row_bytes = static_cast<size_t>(size_.width * element);
  const std::byte* in = static_cast<const std::byte*>(input.data_ptr());
  std::byte* out = static_cast<std::byte*>(output.data_ptr());
  for (int64_t plane = 0; plane < planes; ++plane) {
    for (int64_t row = 0; row < size_.height; ++row) {
      std::byte* out_row = out + (plane * size_.height + row) * static_cast<int64_t>(row_bytes);
      const int64_t source_row = top + row - pad.top;
      if (source_row < 0 || source_row >= height || first == last) {
        std::memset(out_row, 0, row_bytes);
        continue;
      }
      const std::byte* in_row = in + ((plane * height + source_row) * width + (left + first - pad.left)) * element;
      std::memset(out_row, 0, static_cast<size_t>(first * element));
      std::memcpy(out_row + first * element, in_row, static_cast<size_t>((last - first) * element));
      std::memset(out_row + last * element, 0, static_cast<size_t>((size_.width - last) * element));
    }
  }
}

std::string RandomCrop::repr() const {
  return fmt::format("RandomCrop(size=({}, {}), padding=({}, {}, {}, {}){})", size_.height, size_.width, padding_.left,
                     padding_.top, padding_.right, padding_.bottom, pad_if_needed_ ? ", pad_if_needed=True" : "");
}

// ---- RandomHorizontalFlip ----

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "RandomHorizontalFlip: p must be in [0, 1], got {}", p);
}

Field RandomHorizontalFlip::output_field(const Field& input) const {
  EMBER_CHECK(!input.sample_shape.empty(), "{} on field '{}': needs samples with a width dimension, got shape []",
              repr(), input.name);
  return input;
}

void RandomHorizontalFlip::apply(const Tensor& input, const Tensor& output, SampleRandom& random) const {
  check_buffers(input, output, "RandomHorizontalFlip");
  EMBER_CHECK(input.dim() >= 1 && output.sizes() == input.sizes() && output.dtype() == input.dtype(),
              "RandomHorizontalFlip: output {} {} does not match input {} {}", name(output.dtype()),
              to_string(output.sizes()), name(input.dtype()), to_string(input.sizes()));
  const std::byte* in = static_cast<const std::byte*>(input.data_ptr());
  std::byte* out = static_cast<std::byte*>(output.data_ptr());
  if (!(random.uniform() < p_)) {
    if (input.nbytes() > 0) std::memcpy(out, in, static_cast<size_t>(input.nbytes()));
    return;
  }
  const int64_t width = input.size(-1);
  const int64_t rows = width == 0 ? 0 : input.numel() / width;
  switch (input.element_size()) {
    case 1: reverse_rows<uint8_t>(in, out, rows, width); break;
    case 2: reverse_rows<uint16_t>(in, out, rows, width); break;
    case 4: reverse_rows<uint32_t>(in, out, rows, width); break;
    default: reverse_rows<uint64_t>(in, out, rows, width); break;
  }
}

std::string RandomHorizontalFlip::repr() const { return fmt::format("RandomHorizontalFlip(p={})", p_); }

// ---- Compose ----

Compose::Compose(std::vector<std::shared_ptr<const Transform>> transforms) : transforms_(std::move(transforms)) {
  for (size_t i = 0; i < transforms_.size(); ++i) {
    EMBER_CHECK(transforms_[i] != nullptr, "Compose: transform {} of {} is null", i, transforms_.size());
  }
}

Field Compose::output_field(const Field& input) const {
  Field field = input;
  for (const auto& transform : transforms_) field = transform->output_field(field);
  return field;
}

void Compose::apply(const Tensor& input, const Tensor& output, SampleRandom& random) const {
  if (transforms_.empty()) {
    check_buffers(input, output, "Compose");
    EMBER_CHECK(output.nbytes() == input.nbytes(), "Compose: empty, so output must match input");
    if (input.nbytes() > 0) std::memcpy(output.data_ptr(), input.data_ptr(), static_cast<size_t>(input.nbytes()));
    return;
  }
  Tensor current = input;
  Field field{"sample", input.dtype(), input.shape()};
  for (size_t i = 0; i + 1 < transforms_.size(); ++i) {
    field = transforms_[i]->output_field(field);
    Tensor next = empty(field.sample_shape, field.dtype);
    transforms_[i]->apply(current, next, random);
    current = std::move(next);
  }
  transforms_.back()->apply(current, output, random);
}

std::string Compose::repr() const {
  std::string text = "Compose(";
  for (size_t i = 0; i < transforms_.size(); ++i) text += (i ? ", " : "") + transforms_[i]->repr();
  return text + ")";
}

Tensor apply_transform(const Transform& transform, const Tensor& sample, SampleRandom& random) {
  EMBER_CHECK(sample.defined() && sample.device().is_cpu(), "apply_transform: needs a defined CPU tensor");
  const Tensor input = sample.contiguous();
  const Field field = transform.output_field(Field{"sample", input.dtype(), input.shape()});
  Tensor output = empty(field.sample_shape, field.dtype);
  transform.apply(input, output, random);
  return output;
}

}  // namespace ember::io

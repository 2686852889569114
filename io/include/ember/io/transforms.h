#pragma once
// Per-sample transforms: what the DataLoader applies to one field of each sample after reading
// and before collation, with torchvision's semantics (Normalize, RandomCrop,
// RandomHorizontalFlip, Compose). A transform sees one sample ([C, H, W], or [..., H, W]), never
// the batch, and writes into memory the loader provides, so that the last transform of a field
// writes straight into the batch tensor.
//
// Randomness comes from a SampleRandom that the loader derives from (seed, epoch, the sample's
// position in the epoch, its dataset index): a sample gets the same crop and flip whichever
// worker thread transforms it, and a resumed run gets the same ones again.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ember/io/dataset.h"
#include "ember/tensor/tensor.h"

namespace ember::io {

// A counter-based random stream for one sample: SplitMix64 (Steele, Lea and Flood, 2014) keyed by
// a 64-bit hash, so draw n depends only on the key and n. Not ember's Philox Generator: that one
// is shared and locked, while thousands of samples per second each need a few independent draws.
class SampleRandom {
 public:
  explicit SampleRandom(uint64_t key) : key_(key) {}
  // The stream the DataLoader gives sample `index` at `position` of epoch `epoch`'s order.
  static SampleRandom for_sample(uint64_t seed, int64_t epoch, int64_t position, int64_t index);

  uint64_t next();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform in [low, high), exactly (by rejection); high > low.
  int64_t integer(int64_t low, int64_t high);

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

class Transform {
 public:
  virtual ~Transform() = default;
  // The field this transform makes from `input` (same name; dtype and per-sample shape may
  // change). Throws ember::Error, naming the transform, the field and its shape, when the input
  // is not one it accepts. The loader calls it once, when it is built.
  virtual Field output_field(const Field& input) const = 0;
  // Transforms one sample. `input` is contiguous CPU memory shaped like the field given to
  // output_field(); `output` is contiguous CPU memory shaped like its result, to be overwritten
  // (it is not zeroed). Called from several threads at once: it must not change the transform.
  virtual void apply(const Tensor& input, const Tensor& output, SampleRandom& random) const = 0;
  // "RandomCrop(size=(24, 24), padding=(4, 4, 4, 4))", for error messages.
  virtual std::string repr() const = 0;
};

// (x - mean[c]) / std[c] per channel c (dimension -3), as torchvision's Normalize, with a float32
// result. uint8 input is first scaled to [0, 1] (x / 255), as torchvision's ToTensor or
// ConvertImageDtype(torch.float) before Normalize, so the usual mean and std values apply as
// they are; other float dtypes are converted to float32 first. The arithmetic is float32's, in
// torchvision's order, so results match it bit for bit.
class Normalize final : public Transform {
 public:
  // One value per channel, or one value for all channels.
  Normalize(std::vector<double> mean, std::vector<double> std);
  Field output_field(const Field& input) const override;
  void apply(const Tensor& input, const Tensor& output, SampleRandom& random) const override;
  std::string repr() const override;

 private:
  std::vector<float> mean_;
  std::vector<float> std_;
  std::vector<float> uint8_table_;  // 256 results per mean/std pair, for uint8 input
};

// Crop height and width; one number for a square.
struct CropSize {
  CropSize(int64_t side) : height(side), width(side) {}
  CropSize(int64_t crop_height, int64_t crop_width) : height(crop_height), width(crop_width) {}
  int64_t height;
  int64_t width;
};

// Zero padding around the image, torchvision's forms: one number for every side, two for
// (left and right, top and bottom), four for (left, top, right, bottom).
struct Padding {
  Padding(int64_t all = 0) : left(all), top(all), right(all), bottom(all) {}
  Padding(int64_t horizontal, int64_t vertical) : left(horizontal), top(vertical), right(horizontal), bottom(vertical) {}
  Padding(int64_t left_side, int64_t top_side, int64_t right_side, int64_t bottom_side)
      : left(left_side), top(top_side), right(right_side), bottom(bottom_side) {}
  int64_t left, top, right, bottom;
};

// torchvision's RandomCrop with fill 0 and padding_mode "constant": pads with zeros, then takes
// the crop at an offset drawn uniformly over every valid position (no draw when the padded image
// is exactly the crop size). pad_if_needed pads an image smaller than the crop as torchvision
// does (by the shortfall on both sides). Any dtype; input [..., H, W].
class RandomCrop final : public Transform {
 public:
  explicit RandomCrop(CropSize size, Padding padding = {}, bool pad_if_needed = false);
  Field output_field(const Field& input) const override;
  void apply(const Tensor& input, const Tensor& output, SampleRandom& random) const override;
  std::string repr() const override;

 private:
  CropSize size_;
  Padding padding_;
  bool pad_if_needed_;
};

// Reverses the last dimension (width) with probability p, as torchvision's
// RandomHorizontalFlip (one uniform draw per sample, flipped when it is below p). Any dtype.
class RandomHorizontalFlip final : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Field output_field(const Field& input) const override;
  void apply(const Tensor& input, const Tensor& output, SampleRandom& random) const override;
  std::string repr() const override;

 private:
  double p_;
};

// Applies transforms in order, each drawing from the same sample stream in turn. The DataLoader
// unpacks a Compose into its steps so that their intermediate results reuse one buffer per batch.
class Compose final : public Transform {
 public:
  explicit Compose(std::vector<std::shared_ptr<const Transform>> transforms);
  Field output_field(const Field& input) const override;
  void apply(const Tensor& input, const Tensor& output, SampleRandom& random) const override;
  std::string repr() const override;
  const std::vector<std::shared_ptr<const Transform>>& transforms() const { return transforms_; }

 private:
  std::vector<std::shared_ptr<const Transform>> transforms_;
};

// Transforms one sample outside a loader: `sample` (any layout, CPU) becomes a new tensor. Field
// name "sample" in errors.
Tensor apply_transform(const Transform& transform, const Tensor& sample, SampleRandom& random);

}  // namespace ember::io

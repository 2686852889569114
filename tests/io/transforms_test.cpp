#include "ember/io/transforms.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "ember/tensor/factories.h"

namespace ember::io {
namespace {

Tensor uint8_tensor(const std::vector<uint8_t>& values, IntArrayRef sizes) { return tensor(values, sizes); }

TEST(TransformsTest, SampleRandomIsAFunctionOfItsKey) {
  SampleRandom first = SampleRandom::for_sample(7, 2, 30, 4);
  SampleRandom second = SampleRandom::for_sample(7, 2, 30, 4);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(first.next(), second.next());
  const uint64_t base = SampleRandom::for_sample(7, 2, 30, 4).next();
  EXPECT_NE(SampleRandom::for_sample(8, 2, 30, 4).next(), base);
  EXPECT_NE(SampleRandom::for_sample(7, 3, 30, 4).next(), base);
  EXPECT_NE(SampleRandom::for_sample(7, 2, 31, 4).next(), base);
  EXPECT_NE(SampleRandom::for_sample(7, 2, 30, 5).next(), base);
}

TEST(TransformsTest, SampleRandomIntegersCoverTheRangeEvenly) {
  std::map<int64_t, int> counts;
  for (int64_t position = 0; position < 6000; ++position) {
    SampleRandom random = SampleRandom::for_sample(1, 0, position, 0);
    const int64_t value = random.integer(-2, 4);
    ASSERT_GE(value, -2);
    ASSERT_LT(value, 4);
    ++counts[value];
    const double uniform = random.uniform();
    ASSERT_GE(uniform, 0.0);
    ASSERT_LT(uniform, 1.0);
  }
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [value, count] : counts) EXPECT_NEAR(count, 1000, 150) << "value " << value;
  SampleRandom random(0);
  EXPECT_THROW(random.integer(3, 3), Error);
}

TEST(TransformsTest, FlipWithProbabilityOneReversesEveryRow) {
  const Tensor image = uint8_tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 2, 3});
  SampleRandom random(5);
  const Tensor flipped = apply_transform(RandomHorizontalFlip(1.0), image, random);
  EXPECT_EQ(flipped.to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9}));
  EXPECT_EQ(flipped.sizes(), image.sizes());

  const Tensor floats = tensor(std::vector<float>{1.5f, -2.f, 3.f, 4.f}, {1, 2, 2});
  EXPECT_EQ(apply_transform(RandomHorizontalFlip(1.0), floats, random).to_vector<float>(),
            (std::vector<float>{-2.f, 1.5f, 4.f, 3.f}));
  const Tensor longs = tensor(std::vector<int64_t>{1, 2, 3}, {1, 1, 3});
  EXPECT_EQ(apply_transform(RandomHorizontalFlip(1.0), longs, random).to_vector<int64_t>(),
            (std::vector<int64_t>{3, 2, 1}));
}

TEST(TransformsTest, FlipWithProbabilityZeroCopies) {
  const Tensor image = uint8_tensor({0, 1, 2, 3, 4, 5}, {1, 2, 3});
  SampleRandom random(5);
  EXPECT_EQ(apply_transform(RandomHorizontalFlip(0.0), image, random).to_vector<int64_t>(),
            image.to_vector<int64_t>());
}

TEST(TransformsTest, FlipHappensWithProbabilityP) {
  const Tensor image = uint8_tensor({0, 1}, {1, 1, 2});
  const RandomHorizontalFlip flip(0.3);
  int flipped = 0;
  for (int64_t position = 0; position < 4000; ++position) {
    SampleRandom random = SampleRandom::for_sample(11, 0, position, position);
    flipped += apply_transform(flip, image, random).to_vector<int64_t>()[0] == 1;
  }
  EXPECT_NEAR(flipped, 1200, 120);
  EXPECT_THROW(RandomHorizontalFlip(1.5), Error);
}

TEST(TransformsTest, CropOfThePaddedSizeIsTheZeroPaddedImage) {
  const Tensor image = uint8_tensor({1, 2, 3, 4}, {1, 2, 2});
  SampleRandom random(3);
  const Tensor cropped = apply_transform(RandomCrop(4, 1), image, random);
  EXPECT_EQ(cropped.shape(), (DimVector{1, 4, 4}));
  EXPECT_EQ(cropped.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}));
}

TEST(TransformsTest, CropOffsetsAreUniformOverEveryValidPosition) {
  // 2 channels of 2x2 padded by 1: a 4x4 padded image and 9 positions of a 2x2 crop.
  const Tensor image = tensor(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  std::vector<float> padded(2 * 16, 0.f);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) padded[c * 16 + (y + 1) * 4 + (x + 1)] = static_cast<float>(c * 4 + y * 2 + x + 1);
  const RandomCrop crop(2, 1);
  std::map<std::pair<int, int>, int> counts;
  for (int64_t position = 0; position < 4500; ++position) {
    SampleRandom random = SampleRandom::for_sample(0, 0, position, 0);
    const std::vector<float> values = apply_transform(crop, image, random).to_vector<float>();
    ASSERT_EQ(values.size(), 8u);
    bool matched = false;
    for (int top = 0; top < 3 && !matched; ++top) {
      for (int left = 0; left < 3 && !matched; ++left) {
        bool same = true;
        for (int c = 0; c < 2; ++c)
          for (int y = 0; y < 2; ++y)
            for (int x = 0; x < 2; ++x) same = same && values[c * 4 + y * 2 + x] == padded[c * 16 + (top + y) * 4 + left + x];
        if (same) {
          ++counts[{top, left}];
          matched = true;
        }
      }
    }
    ASSERT_TRUE(matched) << "crop " << position << " is no window of the padded image (both channels alike)";
  }
  ASSERT_EQ(counts.size(), 9u);
  for (const auto& [offset, count] : counts) EXPECT_NEAR(count, 500, 90) << offset.first << "," << offset.second;
}

TEST(TransformsTest, CropWithUnevenPaddingAndPadIfNeeded) {
  // Padding (left 1, top 0, right 0, bottom 2) of a 1x2 image gives 3x3; a 3x3 crop is all of it.
  const Tensor image = uint8_tensor({7, 9}, {1, 1, 2});
  SampleRandom random(1);
  EXPECT_EQ(apply_transform(RandomCrop(3, Padding(1, 0, 0, 2)), image, random).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 7, 9, 0, 0, 0, 0, 0, 0}));
  // torchvision's pad_if_needed pads a 1x2 image by the shortfall on both sides: 1 + 2 * 2 rows and
  // 2 + 2 * 1 columns for a 3x3 crop.
  const RandomCrop padded_crop(CropSize(3, 3), Padding(0), true);
  EXPECT_EQ(padded_crop.output_field(Field{"images", kUInt8, {1, 1, 2}}).sample_shape, (DimVector{1, 3, 3}));
  for (int64_t position = 0; position < 50; ++position) {
    SampleRandom sample_random = SampleRandom::for_sample(2, 0, position, 0);
    const std::vector<int64_t> values = apply_transform(padded_crop, image, sample_random).to_vector<int64_t>();
    int64_t sum = 0;
    for (int64_t value : values) sum += value;
    EXPECT_TRUE(sum == 0 || sum == 7 || sum == 9 || sum == 16) << sum;
  }
}

TEST(TransformsTest, CropLargerThanThePaddedImageIsAnError) {
  try {
    RandomCrop(31, 1).output_field(Field{"images", kUInt8, {1, 28, 28}});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'images'"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("[1, 28, 28]"), std::string::npos) << error.what();
  }
  EXPECT_THROW(RandomCrop(0), Error);
  EXPECT_THROW(RandomCrop(2, -1), Error);
  EXPECT_THROW(RandomCrop(2).output_field(Field{"labels", kInt64, {}}), Error);
}

TEST(TransformsTest, NormalizeUint8MatchesTorchvision) {
  // torch: (x.float() / 255 - mean) / std with float32 mean and std.
  const Tensor image = uint8_tensor({0, 255, 51, 128, 1, 200}, {2, 1, 3});
  SampleRandom random(0);
  const Tensor normalized = apply_transform(Normalize({0.1307, 0.5}, {0.3081, 0.25}), image, random);
  EXPECT_EQ(normalized.dtype(), kFloat32);
  EXPECT_EQ(normalized.to_vector<float>(),
            (std::vector<float>{-0x1.b264e2p-2f, 0x1.69267ap+1f, 0x1.cca682p-3f, 0x1.0102p-7f, -0x1.fbfbfcp+0f,
                                0x1.232324p+0f}));
}

TEST(TransformsTest, NormalizeFloatMatchesTorchvision) {
  const Tensor image = tensor(std::vector<float>{0.5f, -1.25f, 3.f, 0.f}, {1, 2, 2});
  SampleRandom random(0);
  EXPECT_EQ(apply_transform(Normalize({0.2}, {0.7}), image, random).to_vector<float>(),
            (std::vector<float>{0.4285714626312256f, -2.0714287757873535f, 4.f, -0.2857142984867096f}));
  // float64 is rounded to float32 first.
  EXPECT_EQ(apply_transform(Normalize({0.2}, {0.7}), image.to(kFloat64), random).to_vector<float>()[2], 4.f);
}

TEST(TransformsTest, NormalizeRejectsBadInput) {
  EXPECT_THROW(Normalize({0.5, 0.5}, {0.5}), Error);
  EXPECT_THROW(Normalize({0.5}, {0.0}), Error);
  EXPECT_THROW(Normalize({0.5, 0.5}, {1, 1}).output_field(Field{"images", kUInt8, {3, 4, 4}}), Error);
  EXPECT_THROW(Normalize({0.5}, {1}).output_field(Field{"labels", kInt64, {1, 4, 4}}), Error);
  EXPECT_THROW(Normalize({0.5}, {1}).output_field(Field{"images", kFloat32, {4, 4}}), Error);
}

TEST(TransformsTest, ComposeChainsTheSampleStream) {
  const Tensor image = uint8_tensor({10, 20, 30, 40, 50, 60, 70, 80, 90}, {1, 3, 3});
  auto crop = std::make_shared<RandomCrop>(2, 1);
  auto flip = std::make_shared<RandomHorizontalFlip>(0.5);
  auto normalize = std::make_shared<Normalize>(std::vector<double>{0.5}, std::vector<double>{0.5});
  const Compose compose({crop, flip, normalize});
  const Field field = compose.output_field(Field{"images", kUInt8, {1, 3, 3}});
  EXPECT_EQ(field.dtype, kFloat32);
  EXPECT_EQ(field.sample_shape, (DimVector{1, 2, 2}));
  for (int64_t position = 0; position < 20; ++position) {
    SampleRandom composed = SampleRandom::for_sample(4, 1, position, 0);
    SampleRandom stepwise = SampleRandom::for_sample(4, 1, position, 0);
    const Tensor expected =
        apply_transform(*normalize, apply_transform(*flip, apply_transform(*crop, image, stepwise), stepwise), stepwise);
    EXPECT_EQ(apply_transform(compose, image, composed).to_vector<float>(), expected.to_vector<float>());
  }
  EXPECT_NE(compose.repr().find("RandomCrop(size=(2, 2), padding=(1, 1, 1, 1))"), std::string::npos);
  EXPECT_THROW(Compose({nullptr}), Error);
}

}  // namespace
}  // namespace ember::io

// Bad shard files must fail with an ember::Error that names the file and the dataset, never
// crash. (The IDX cases of this suite, which run the ember-data tool, are in ember_data_test.cpp.)
#include <hdf5.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>

#include "ember/io/shard_writer.h"
#include "ember/io/sharded_dataset.h"
#include "ember/tensor/ops.h"
#include "io/damage.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

// The message of the ember::Error that action throws ("" when it throws none).
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Expects action to throw an ember::Error whose message holds every one of parts.
void expect_error_naming(const std::function<void()>& action, const std::vector<std::string>& parts) {
  const std::string message = error_of(action);
  ASSERT_FALSE(message.empty()) << "no ember::Error thrown";
  for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

std::vector<int64_t> all_indices(const Dataset& dataset) {
  std::vector<int64_t> indices(static_cast<size_t>(dataset.size()));
  std::iota(indices.begin(), indices.end(), 0);
  return indices;
}

Tensor images(int64_t count, int64_t side = 4) {
  return (arange(count * side * side, kInt64).reshape({count, 1, side, side}) * 37).to(kUInt8);
}

TEST(DatasetBadInput, MissingFilesDirectoriesAndPatterns) {
  TempDir dir;
  expect_error_naming([&] { ShardedDataset(dir.file("absent.h5")); }, {"absent.h5", "does not exist"});
  expect_error_naming([&] { ShardedDataset(dir.file("train-*.h5")); }, {"train-*.h5", "matches no file"});
  expect_error_naming([&] { ShardedDataset(dir.path()); }, {dir.path(), "no *.h5 file"});
  expect_error_naming([&] { ShardedDataset(std::vector<std::string>{}); }, {"no shard files"});
  write_shards(dir.file("s"), {"x"}, {arange(4, kInt64)});
  expect_error_naming([&] { ShardedDataset(std::vector<std::string>{dir.path(), dir.file("s-00000-of-00001.h5")}); },
                      {"s-00000-of-00001.h5", "given twice"});
}

TEST(DatasetBadInput, MissingDatasetNamesTheFileAndTheDataset) {
  TempDir dir;
  write_shards(dir.file("a"), {"images"}, {images(5)});
  ShardedDatasetOptions options;
  options.fields = {FieldSpec{"images", {}, {}, {}}, FieldSpec{"labels", {}, {}, {}}};
  expect_error_naming([&] { ShardedDataset(dir.path(), options); },
                      {"a-00000-of-00001.h5", "no dataset 'labels'"});
  // Default fields: every shard must hold the same root datasets.
  write_shards(dir.file("b"), {"images", "labels"}, {images(5), arange(5, kInt64)});
  expect_error_naming([&] { ShardedDataset(dir.path()); }, {"b-00000-of-00001.h5", "[images, labels]", "[images]"});
  // A file without datasets, and a scalar where a field needs a sample axis.
  std::filesystem::create_directories(dir.file("empty"));
  std::filesystem::create_directories(dir.file("scalar"));
  { Hdf5File(dir.file("empty/e.h5"), FileMode::Create).create_group("group"); }
  expect_error_naming([&] { ShardedDataset(dir.file("empty")); }, {"e.h5", "no datasets"});
  {
    Hdf5File file(dir.file("scalar/s.h5"), FileMode::Create);
    file.write("value", scalar_tensor(3.0));
  }
  expect_error_naming([&] { ShardedDataset(dir.file("scalar")); }, {"s.h5", "'value'", "scalar"});
}

TEST(DatasetBadInput, ShardsThatDisagreeOnDtypeOrSampleShape) {
  TempDir dir;
  write_shards(dir.file("dtype/a"), {"images"}, {images(6)});
  write_shards(dir.file("dtype/b"), {"images"}, {images(6).to(kFloat32)});
  expect_error_naming([&] { ShardedDataset(dir.file("dtype")); },
                      {"'images'", "a-00000-of-00001.h5", "b-00000-of-00001.h5", "uint8", "float32", "[1, 4, 4]"});

  write_shards(dir.file("shape/a"), {"images"}, {images(6)});
  write_shards(dir.file("shape/b"), {"images"}, {images(6, 5)});
  expect_error_naming([&] { ShardedDataset(dir.file("shape")); },
                      {"'images'", "a-00000-of-00001.h5", "b-00000-of-00001.h5", "[1, 4, 4]", "[1, 5, 5]"});
}

TEST(DatasetBadInput, FieldsOfDifferentLengthsWithinAShard) {
  TempDir dir;
  {
    Hdf5File file(dir.file("s.h5"), FileMode::Create);
    file.write("images", images(10));
    file.write("labels", arange(9, kInt64));
  }
  expect_error_naming([&] { ShardedDataset(dir.file("s.h5")); }, {"s.h5", "'labels' has 9 samples", "'images' has 10"});
}

TEST(DatasetBadInput, TruncatedFilesAreRefusedNamingTheFile) {
  TempDir dir;
  const auto paths = write_shards(dir.file("whole"), {"images", "labels"}, {images(400, 8), arange(400, kInt64)},
                                  {.chunk_rows = 32, .deflate_level = 1});
  const auto size = std::filesystem::file_size(paths[0]);
  for (double fraction : {0.0, 0.001, 0.02, 0.3, 0.6, 0.95, 0.999}) {
    const std::string cut = dir.file(fmt::format("cut-{}/shard.h5", fraction));
    std::filesystem::create_directories(std::filesystem::path(cut).parent_path());
    std::filesystem::copy_file(paths[0], cut);
    std::filesystem::resize_file(cut, static_cast<uintmax_t>(static_cast<double>(size) * fraction));
    expect_error_naming(
        [&] {
          const ShardedDataset dataset(cut);
          dataset.read(all_indices(dataset));
        },
        {cut});
  }
}

TEST(DatasetBadInput, RandomBytesAreRefused) {
  TempDir dir;
  std::mt19937 random(1234);
  std::vector<char> noise(8192);
  for (char& byte : noise) byte = static_cast<char>(random());
  std::ofstream(dir.file("noise.h5"), std::ios::binary).write(noise.data(), static_cast<std::streamsize>(noise.size()));
  expect_error_naming([&] { ShardedDataset(dir.file("noise.h5")); }, {"noise.h5", "not an HDF5 file"});
  // Noise behind a valid signature gets past the signature check and fails on the superblock.
  const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::copy(signature, signature + 8, noise.begin());
  std::ofstream(dir.file("signed.h5"), std::ios::binary).write(noise.data(), static_cast<std::streamsize>(noise.size()));
  expect_error_naming([&] { ShardedDataset(dir.file("signed.h5")); }, {"signed.h5"});
  std::ofstream(dir.file("zero.h5")).close();
  expect_error_naming([&] { ShardedDataset(dir.file("zero.h5")); }, {"zero.h5", "not an HDF5 file"});
}

TEST(DatasetBadInput, DamagedChunkNamesTheFileFieldAndSample) {
  TempDir dir;
  const auto paths = write_shards(dir.file("d"), {"images", "labels"}, {images(64, 8), arange(64, kInt64)},
                                  {.shards = 2, .chunk_rows = 8, .deflate_level = 4});
  // Zeros over the second chunk of images in the second shard: no valid zlib stream starts with a
  // zero byte, so inflating it fails. Its first row is sample 32 + 8.
  EXPECT_EQ(zero_stored_chunk(paths[1], "images", 1), 8);
  const ShardedDataset dataset(dir.path(), {.preload_bytes = 0});
  EXPECT_EQ(dataset.read(std::vector<int64_t>{0, 31, 32, 39, 48})[0].size(0), 5);  // other chunks still read
  expect_error_naming([&] { dataset.read(std::vector<int64_t>{3, 33, 41, 44, 60}); },
                      {"sample 41", "'images'", paths[1]});
}

TEST(DatasetBadInput, EmptyDatasetIsValidAndReadsNothing) {
  // As in PyTorch: a dataset of 0 samples opens, and a loader over it yields nothing.
  TempDir dir;
  write_shards(dir.file("e"), {"images", "labels"}, {images(0), arange(0, kInt64)}, {.shards = 2, .chunk_rows = 4});
  const ShardedDataset dataset(dir.path());
  EXPECT_EQ(dataset.size(), 0);
  EXPECT_EQ(dataset.shard_count(), 2);
  EXPECT_EQ(dataset.fields()[0].sample_shape, (DimVector{1, 4, 4}));
  const std::vector<Tensor> batch = dataset.read({});
  EXPECT_EQ(batch[0].sizes(), IntArrayRef({0, 1, 4, 4}));
  EXPECT_EQ(batch[1].sizes(), IntArrayRef({0}));
  expect_error_naming([&] { dataset.read(std::vector<int64_t>{0}); }, {"sample index 0 is out of range (size 0)"});
}

TEST(DatasetBadInput, LabelOutOfRangeNamesTheFileFieldSampleAndValue) {
  TempDir dir;
  std::vector<int64_t> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  labels[7] = 10;
  const auto paths = write_shards(dir.file("l"), {"images", "labels"}, {images(10), tensor(labels)}, {.shards = 2});
  ShardedDatasetOptions options;
  options.preload_bytes = 0;  // checked per read; a preloaded dataset is checked once, at open
  options.fields = {FieldSpec{"images", {}, {}, {}}, FieldSpec{"labels", {}, {}, ValueRange{0, 10}}};
  const ShardedDataset dataset(dir.path(), options);
  EXPECT_EQ(dataset.read(std::vector<int64_t>{0, 6, 8, 9})[1].size(0), 4);
  expect_error_naming([&] { dataset.read(std::vector<int64_t>{1, 7, 9}); },
                      {"sample 7", "labels = 10", "[0, 10)", "row 2", paths[1]});
  labels[7] = 7;
  labels[2] = -1;
  write_shards(dir.file("m/l"), {"labels"}, {tensor(labels)});
  options.fields = {FieldSpec{"labels", {}, {}, ValueRange{0, 10}}};
  expect_error_naming([&] { ShardedDataset(dir.file("m"), options).read(std::vector<int64_t>{2}); },
                      {"sample 2", "labels = -1"});
}

}  // namespace
}  // namespace ember::io

#include "ember/io/sharded_dataset.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <random>

#include "ember/io/shard_writer.h"
#include "ember/tensor/ops.h"
#include "io/damage.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

// Samples that differ from each other byte by byte: images uint8 [n, 1, 4, 5], labels int64 [n].
struct Samples {
  Tensor images;
  Tensor labels;
};

Samples make_samples(int64_t count) {
  std::vector<uint8_t> pixels(static_cast<size_t>(count * 20));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7 + i / 20) % 251);
  std::vector<int64_t> labels(static_cast<size_t>(count));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i * 3 % 10);
  return {tensor(pixels, {count, 1, 4, 5}), tensor(labels)};
}

std::vector<std::string> write(const std::string& prefix, const Samples& samples, ShardWriterOptions options) {
  return write_shards(prefix, {"images", "labels"}, {samples.images, samples.labels}, options);
}

std::vector<Tensor> read_at(const Dataset& dataset, const std::vector<int64_t>& indices) {
  return dataset.read(indices);
}

Tensor rows_of(const Tensor& source, const std::vector<int64_t>& indices) {
  return index_select(source, 0, tensor(indices));
}

// Runs reader(seed) on four threads at once; each returns how many of its batches mismatched.
template <class Reader>
void expect_concurrent_readers_agree(const Reader& reader) {
  std::vector<std::future<int>> readers;
  for (unsigned seed = 1; seed <= 4; ++seed) readers.push_back(std::async(std::launch::async, reader, seed));
  for (std::future<int>& result : readers) {
    ASSERT_EQ(result.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "a reader did not finish";
    EXPECT_EQ(result.get(), 0);
  }
}

TEST(ShardedDataset, RoundTripsAcrossShardBoundaries) {
  TempDir dir;
  const Samples samples = make_samples(23);
  const std::vector<std::string> paths = write(dir.file("train"), samples, {.shards = 4, .chunk_rows = 4});
  ASSERT_EQ(paths.size(), 4u);
  EXPECT_EQ(paths[2], dir.file("train-00002-of-00004.h5"));

  const ShardedDataset dataset(dir.path(), {.preload_bytes = 0});
  EXPECT_EQ(dataset.size(), 23);
  EXPECT_EQ(dataset.shard_count(), 4);
  EXPECT_EQ(dataset.shard_size(0), 6);
  EXPECT_EQ(dataset.shard_size(3), 5);
  ASSERT_EQ(dataset.fields().size(), 2u);  // every root dataset, sorted by name
  EXPECT_EQ(dataset.fields()[0].name, "images");
  EXPECT_EQ(dataset.fields()[0].dtype, kUInt8);
  EXPECT_EQ(dataset.fields()[0].sample_shape, (DimVector{1, 4, 5}));
  EXPECT_EQ(dataset.fields()[1].name, "labels");
  EXPECT_TRUE(dataset.fields()[1].sample_shape.empty());
  EXPECT_EQ(dataset.locate(6), (std::pair<int64_t, int64_t>{1, 0}));
  EXPECT_EQ(dataset.locate(22), (std::pair<int64_t, int64_t>{3, 4}));

  // Rows on both sides of every boundary, in one call.
  const std::vector<int64_t> indices = {0, 5, 6, 7, 11, 12, 17, 18, 22};
  const std::vector<Tensor> batch = dataset.read(indices);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].sizes(), IntArrayRef({9, 1, 4, 5}));
  EXPECT_TRUE(equal(batch[0], rows_of(samples.images, indices)));
  EXPECT_TRUE(equal(batch[1], rows_of(samples.labels, indices)));

  std::vector<int64_t> all(23);
  std::iota(all.begin(), all.end(), 0);
  const std::vector<Tensor> everything = dataset.read(all);
  EXPECT_TRUE(equal(everything[0], samples.images));
  EXPECT_TRUE(equal(everything[1], samples.labels));
  EXPECT_EQ(dataset.read({})[0].sizes(), IntArrayRef({0, 1, 4, 5}));
}

TEST(ShardedDataset, OpensAListAGlobOrADirectoryInShardOrder) {
  TempDir dir;
  const Samples samples = make_samples(24);
  // Twelve shards: zero-padded names keep shard 10 after shard 9 when sorted.
  const std::vector<std::string> paths = write(dir.file("data/part"), samples, {.shards = 12});
  std::ofstream(dir.file("data/README.txt")) << "not a shard\n";

  std::vector<int64_t> all(24);
  std::iota(all.begin(), all.end(), 0);
  for (const std::vector<std::string>& sources : {std::vector<std::string>{dir.file("data")},
                                                 std::vector<std::string>{dir.file("data/part-*.h5")}, paths}) {
    const ShardedDataset dataset(sources);
    ASSERT_EQ(dataset.size(), 24) << sources[0];
    EXPECT_EQ(dataset.shard_path(10), paths[10]) << sources[0];
    EXPECT_TRUE(equal(dataset.read(all)[0], samples.images)) << sources[0];
  }

  // A list keeps the order given: the last shard first.
  const ShardedDataset reversed(std::vector<std::string>(paths.rbegin(), paths.rend()));
  EXPECT_TRUE(equal(read_at(reversed, {0, 1})[1], samples.labels.slice(0, 22, 24)));
  EXPECT_TRUE(equal(read_at(reversed, {22, 23})[1], samples.labels.slice(0, 0, 2)));
  // A mix of a pattern and a file is expanded in order.
  const ShardedDataset mixed(std::vector<std::string>{paths[11], dir.file("data/part-0000[0-1]-*.h5")});
  EXPECT_EQ(mixed.size(), 6);
  EXPECT_EQ(mixed.shard_path(1), paths[0]);
}

TEST(ShardedDataset, ReadsTheNamedFieldsInTheGivenOrderAndChecksExpectations) {
  TempDir dir;
  const Samples samples = make_samples(10);
  write_shards(dir.file("set"), {"images", "labels", "weights"},
               {samples.images, samples.labels, ones({10, 3}, kFloat32)}, {.shards = 2});
  ShardedDatasetOptions options;
  options.fields = {FieldSpec{"labels", kInt64, DimVector{}, ValueRange{0, 10}},
                    FieldSpec{"/images", kUInt8, DimVector{1, 4, 5}, std::nullopt}};
  const ShardedDataset dataset(dir.path(), options);
  ASSERT_EQ(dataset.fields().size(), 2u);
  EXPECT_EQ(dataset.fields()[0].name, "labels");
  EXPECT_EQ(dataset.fields()[1].name, "images");
  EXPECT_EQ(dataset.field_index("images"), 1u);
  const std::vector<Tensor> batch = read_at(dataset, {3, 4, 5});
  EXPECT_TRUE(equal(batch[0], samples.labels.slice(0, 3, 6)));
  EXPECT_TRUE(equal(batch[1], samples.images.slice(0, 3, 6)));
  EXPECT_EQ(ShardedDataset(dir.path()).fields().size(), 3u);

  options.fields = {FieldSpec{"images", kFloat32, std::nullopt, std::nullopt}};
  EXPECT_THROW(ShardedDataset(dir.path(), options), Error);
  options.fields = {FieldSpec{"images", std::nullopt, DimVector{4, 5}, std::nullopt}};
  EXPECT_THROW(ShardedDataset(dir.path(), options), Error);
  options.fields = {FieldSpec{"weights", std::nullopt, std::nullopt, ValueRange{0, 1}}};
  EXPECT_THROW(ShardedDataset(dir.path(), options), Error);  // a range on a float field
}

TEST(ShardedDataset, RejectsUnsortedRepeatedAndOutOfRangeIndices) {
  TempDir dir;
  const Samples samples = make_samples(8);
  write(dir.file("s"), samples, {.shards = 2});
  // Read through HDF5, a dataset takes ascending indices without repeats.
  const ShardedDataset through_hdf5(dir.path(), {.preload_bytes = 0, .direct_reads = false});
  EXPECT_FALSE(through_hdf5.reads_any_order());
  EXPECT_THROW(read_at(through_hdf5, {3, 2}), Error);
  EXPECT_THROW(read_at(through_hdf5, {2, 2}), Error);
  // Mapped (the default for uncompressed shards), any order and repeats are served.
  const ShardedDataset dataset(dir.path(), {.preload_bytes = 0});
  EXPECT_TRUE(dataset.reads_any_order());
  EXPECT_TRUE(equal(read_at(dataset, {5, 2, 5})[0], rows_of(samples.images, {5, 2, 5})));
  EXPECT_THROW(read_at(dataset, {-1}), Error);
  try {
    read_at(dataset, {1, 8});
    FAIL() << "index 8 of 8 was read";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("sample index 8 is out of range (size 8)"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(dataset.locate(8), Error);
}

TEST(ShardedDataset, ConcurrentReadsMatchTheSource) {
  TempDir dir;
  const Samples samples = make_samples(300);
  write(dir.file("c"), samples, {.shards = 3, .chunk_rows = 16, .deflate_level = 3});
  const ShardedDataset dataset(dir.path(), {.preload_bytes = 0});
  // Each thread reads its own random sorted batches (spanning shards) and checks every one.
  auto reader = [&](unsigned seed) {
    std::mt19937 random(seed);
    std::vector<int64_t> all(300);
    std::iota(all.begin(), all.end(), 0);
    int mismatches = 0;
    for (int batch = 0; batch < 60; ++batch) {
      std::shuffle(all.begin(), all.end(), random);
      std::vector<int64_t> indices(all.begin(), all.begin() + 32);
      std::sort(indices.begin(), indices.end());
      const std::vector<Tensor> read = dataset.read(indices);
      if (!equal(read[0], rows_of(samples.images, indices)) || !equal(read[1], rows_of(samples.labels, indices))) {
        ++mismatches;
      }
    }
    return mismatches;
  };
  expect_concurrent_readers_agree(reader);
}

TEST(ShardedDataset, CompressionOnAndOffGiveTheSameSamples) {
  TempDir dir;
  // Mostly zeros, as images are, so that deflate has something to gain.
  Samples samples = make_samples(400);
  samples.images = gt(samples.images, 200).to(kUInt8);
  const auto plain = write(dir.file("plain/s"), samples, {.shards = 2, .chunk_rows = 50});
  const auto packed = write(dir.file("packed/s"), samples, {.shards = 2, .chunk_rows = 50, .deflate_level = 6});
  const DatasetInfo info = Hdf5File(packed[0], FileMode::Read).info("images");
  EXPECT_EQ(info.chunk_shape, (DimVector{50, 1, 4, 5}));
  EXPECT_EQ(info.deflate_level, 6);
  EXPECT_EQ(Hdf5File(plain[0], FileMode::Read).info("images").deflate_level, 0);
  EXPECT_LT(std::filesystem::file_size(packed[0]), std::filesystem::file_size(plain[0]));

  const ShardedDataset uncompressed(dir.file("plain"), {.preload_bytes = 0});
  const ShardedDataset compressed(dir.file("packed"), {.preload_bytes = 0});
  const std::vector<int64_t> indices = {0, 49, 50, 51, 199, 200, 201, 333, 399};
  EXPECT_TRUE(equal(uncompressed.read(indices)[0], compressed.read(indices)[0]));
  EXPECT_TRUE(equal(compressed.read(indices)[0], rows_of(samples.images, indices)));
}

TEST(ShardedDataset, WriterRecordsAttributesAndLeavesNothingWhenAbandoned) {
  TempDir dir;
  const Samples samples = make_samples(10);
  const auto paths = write(dir.file("a/s"), samples, {.shards = 3});
  const Hdf5File shard(paths[1], FileMode::Read);
  EXPECT_EQ(shard.attribute_string("/", "format"), "ember-shard");
  EXPECT_EQ(shard.attribute_int("/", "shard_index"), 1);
  EXPECT_EQ(shard.attribute_int("/", "shard_count"), 3);
  EXPECT_EQ(shard.attribute_int("/", "sample_count"), 3);
  EXPECT_EQ(shard.attribute_int("/", "total_samples"), 10);
  // The default chunking: about 256 KiB per chunk, capped at the shard's rows.
  EXPECT_EQ(shard.info("images").chunk_shape, (DimVector{3, 1, 4, 5}));

  const std::vector<Field> fields = {Field{"images", kUInt8, DimVector{1, 4, 5}}, Field{"labels", kInt64, {}}};
  {
    ShardWriter writer(dir.file("b/s"), 10, fields, {.shards = 2});
    writer.append({samples.images.slice(0, 0, 7), samples.labels.slice(0, 0, 7)});
    EXPECT_EQ(writer.samples_written(), 7);
    EXPECT_THROW(writer.finish(), Error);  // 3 samples missing
    EXPECT_THROW(writer.append({samples.images, samples.labels}), Error);  // beyond 10
    EXPECT_THROW(writer.append({samples.labels, samples.images}), Error);  // fields swapped
    EXPECT_THROW(writer.append({samples.images.slice(0, 0, 2), samples.labels.slice(0, 0, 3)}), Error);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("b")));
  EXPECT_THROW(ShardWriter(dir.file("c/s"), 10, fields, {.shards = 0}), Error);
  EXPECT_THROW(ShardWriter(dir.file("c/s"), 10, fields, {.shards = 1, .deflate_level = 10}), Error);
}

TEST(ShardedDataset, MoreShardsThanSamplesGivesEmptyShards) {
  TempDir dir;
  const Samples samples = make_samples(2);
  write(dir.file("s"), samples, {.shards = 4, .chunk_rows = 8, .deflate_level = 1});
  const ShardedDataset dataset(dir.file("s-*.h5"), {.preload_bytes = 0});
  EXPECT_EQ(dataset.shard_count(), 4);
  EXPECT_EQ(dataset.size(), 2);
  EXPECT_EQ(dataset.shard_size(3), 0);
  EXPECT_EQ(dataset.locate(1), (std::pair<int64_t, int64_t>{1, 0}));
  EXPECT_TRUE(equal(read_at(dataset, {0, 1})[0], samples.images));
}

// Sorted random batches of `size` indices out of `total`, the same for every call with a seed.
std::vector<std::vector<int64_t>> random_batches(int64_t total, int64_t size, int count, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<int64_t> all(static_cast<size_t>(total));
  std::iota(all.begin(), all.end(), 0);
  std::vector<std::vector<int64_t>> batches;
  for (int b = 0; b < count; ++b) {
    std::shuffle(all.begin(), all.end(), random);
    std::vector<int64_t> indices(all.begin(), all.begin() + size);
    std::sort(indices.begin(), indices.end());
    batches.push_back(std::move(indices));
  }
  return batches;
}

TEST(ShardedDataset, PreloadedSamplesAreTheFileSamples) {
  TempDir dir;
  const Samples samples = make_samples(500);
  const Tensor flags = gt(samples.images.select(1, 0).select(1, 0).select(1, 0), 100);
  // Three shards and an empty one after them, every dtype kind: bool, uint8, int64.
  for (int deflate : {0, 5}) {
    const std::string prefix = dir.file(fmt::format("d{}/s", deflate));
    write_shards(prefix, {"flags", "images", "labels"}, {flags, samples.images, samples.labels},
                 {.shards = 3, .chunk_rows = 32, .deflate_level = deflate});
    write_shards(prefix + "-empty", {"flags", "images", "labels"},
                 {flags.slice(0, 0, 0), samples.images.slice(0, 0, 0), samples.labels.slice(0, 0, 0)});
    const std::string source = dir.file(fmt::format("d{}", deflate));
    const ShardedDataset from_files(source, {.preload_bytes = 0});
    const ShardedDataset in_memory(source, {.preload_bytes = int64_t{1} << 30});
    EXPECT_FALSE(from_files.preloaded());
    ASSERT_TRUE(in_memory.preloaded());
    EXPECT_EQ(in_memory.byte_size(), 500 * (1 + 20 + 8));
    EXPECT_EQ(from_files.byte_size(), in_memory.byte_size());
    EXPECT_EQ(in_memory.shard_count(), 4);
    EXPECT_EQ(in_memory.size(), 500);
    for (const std::vector<int64_t>& indices : random_batches(500, 37, 20, 5)) {
      const std::vector<Tensor> expected = from_files.read(indices);
      const std::vector<Tensor> actual = in_memory.read(indices);
      ASSERT_EQ(actual.size(), 3u);
      for (size_t f = 0; f < 3; ++f) {
        EXPECT_EQ(actual[f].sizes(), expected[f].sizes());
        EXPECT_EQ(actual[f].dtype(), expected[f].dtype());
        EXPECT_TRUE(equal(actual[f], expected[f])) << "field " << f << ", deflate " << deflate;
      }
      EXPECT_TRUE(equal(actual[1], rows_of(samples.images, indices)));
      EXPECT_TRUE(equal(actual[0], rows_of(flags, indices)));
    }
    std::vector<int64_t> all(500);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_TRUE(equal(in_memory.read(all)[2], samples.labels));
    EXPECT_EQ(in_memory.read({})[1].sizes(), IntArrayRef({0, 1, 4, 5}));
    EXPECT_THROW(in_memory.read(std::vector<int64_t>{3, 500}), Error);
    // In memory any order and repeats are served (reads_any_order), as the loader relies on.
    EXPECT_TRUE(in_memory.reads_any_order());
    EXPECT_TRUE(equal(in_memory.read(std::vector<int64_t>{4, 4})[1], rows_of(samples.images, {4, 4})));
  }
}

TEST(ShardedDataset, PreloadsOnlyWhenEverythingFitsTheBudget) {
  TempDir dir;
  const Samples samples = make_samples(30);
  write(dir.file("s"), samples, {.shards = 2});
  const int64_t bytes = 30 * (20 + 8);
  EXPECT_EQ(ShardedDataset(dir.path()).byte_size(), bytes);
  // By default a dataset of up to 256 MiB is held in memory, as torchvision holds MNIST.
  EXPECT_EQ(ShardedDatasetOptions{}.preload_bytes, int64_t{256} << 20);
  EXPECT_TRUE(ShardedDataset(dir.path()).preloaded());
  EXPECT_TRUE(ShardedDataset(dir.path(), {.preload_bytes = bytes}).preloaded());
  EXPECT_FALSE(ShardedDataset(dir.path(), {.preload_bytes = bytes - 1}).preloaded());
  EXPECT_FALSE(ShardedDataset(dir.path(), {.preload_bytes = 0}).preloaded());
  // Only the fields read count.
  ShardedDatasetOptions labels_only{.fields = {FieldSpec{"labels", {}, {}, {}}}, .preload_bytes = 30 * 8};
  EXPECT_TRUE(ShardedDataset(dir.path(), labels_only).preloaded());
  EXPECT_THROW(ShardedDataset(dir.path(), {.preload_bytes = -1}), Error);
  EXPECT_THROW(ShardedDataset(dir.path(), {.chunk_cache_bytes = -1}), Error);
}

TEST(ShardedDataset, PreloadChecksValidRangesOnceAtOpenNamingTheSample) {
  TempDir dir;
  std::vector<int64_t> labels(40);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  labels[27] = 12;
  const auto paths = write_shards(dir.file("l"), {"labels"}, {tensor(labels)}, {.shards = 2});
  ShardedDatasetOptions options{.fields = {FieldSpec{"labels", {}, {}, ValueRange{0, 10}}},
                                .preload_bytes = int64_t{1} << 20};
  try {
    ShardedDataset dataset(dir.path(), options);
    FAIL() << "label 12 of sample 27 was loaded";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string part : {"sample 27", "labels = 12", "[0, 10)", "row 7", paths[1].c_str()}) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
  options.fields[0].valid_range = ValueRange{0, 13};
  const ShardedDataset dataset(dir.path(), options);
  EXPECT_TRUE(dataset.preloaded());
  EXPECT_EQ(dataset.read(std::vector<int64_t>{26, 27})[0].select(0, 1).item<int64_t>(), 12);
}

TEST(ShardedDataset, ConcurrentPreloadedReadsMatchTheSource) {
  TempDir dir;
  const Samples samples = make_samples(300);
  write(dir.file("c"), samples, {.shards = 3, .chunk_rows = 16, .deflate_level = 3});
  const ShardedDataset dataset(dir.path(), {.preload_bytes = int64_t{1} << 20});
  ASSERT_TRUE(dataset.preloaded());
  auto reader = [&](unsigned seed) {
    int mismatches = 0;
    for (const std::vector<int64_t>& indices : random_batches(300, 32, 200, seed)) {
      const std::vector<Tensor> read = dataset.read(indices);
      if (!equal(read[0], rows_of(samples.images, indices)) || !equal(read[1], rows_of(samples.labels, indices))) {
        ++mismatches;
      }
    }
    return mismatches;
  };
  expect_concurrent_readers_agree(reader);
}

TEST(ShardedDataset, AnyChunkCacheSizeReadsTheSameSamples) {
  // From no cache (still one chunk per field and shard) to one holding everything.
  TempDir dir;
  Samples samples = make_samples(600);
  write(dir.file("s"), samples, {.shards = 2, .chunk_rows = 40, .deflate_level = 2});
  const auto batches = random_batches(600, 50, 10, 9);
  for (int64_t cache : {int64_t{0}, int64_t{5000}, int64_t{64} << 20}) {
    const ShardedDataset dataset(dir.path(), {.preload_bytes = 0, .chunk_cache_bytes = cache});
    for (const std::vector<int64_t>& indices : batches) {
      const std::vector<Tensor> read = dataset.read(indices);
      EXPECT_TRUE(equal(read[0], rows_of(samples.images, indices))) << "cache " << cache;
      EXPECT_TRUE(equal(read[1], rows_of(samples.labels, indices))) << "cache " << cache;
    }
  }
}

TEST(ShardedDataset, PreloadNamesTheFirstSampleADamagedChunkLoses) {
  TempDir dir;
  const Samples samples = make_samples(64);
  const auto paths = write(dir.file("d"), samples, {.shards = 2, .chunk_rows = 8, .deflate_level = 4});
  // Zeros over the third chunk of images in the second shard (rows 16-23, samples 48-55): no
  // zlib stream starts with a zero byte.
  ASSERT_EQ(zero_stored_chunk(paths[1], "images", 2), 16);
  try {
    ShardedDataset dataset(dir.path(), {.preload_bytes = int64_t{1} << 20});
    FAIL() << "a damaged chunk was loaded";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string part : {"sample 48", "row 16", "'images'", paths[1].c_str(), "into memory"}) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
  // The files still serve every sample outside that chunk.
  const ShardedDataset from_files(dir.path(), {.preload_bytes = 0});
  EXPECT_TRUE(equal(from_files.read(std::vector<int64_t>{0, 47, 56, 63})[0], rows_of(samples.images, {0, 47, 56, 63})));
}

}  // namespace
}  // namespace ember::io

namespace ember::io {
namespace {

TEST(ShardedDataset, DirectReadsGiveTheSamplesHdf5Gives) {
  TempDir dir;
  const Samples samples = make_samples(500);
  write_shards(dir.file("s"), {"images", "labels"}, {samples.images, samples.labels}, {.shards = 3, .chunk_rows = 32});
  const ShardedDataset direct(dir.path(), {.preload_bytes = 0});
  const ShardedDataset through_hdf5(dir.path(), {.preload_bytes = 0, .direct_reads = false});
  ASSERT_TRUE(direct.reads_any_order());
  ASSERT_FALSE(through_hdf5.reads_any_order());
  for (const std::vector<int64_t>& indices : random_batches(500, 64, 10, 11)) {
    const std::vector<Tensor> expected = through_hdf5.read(indices);
    const std::vector<Tensor> actual = direct.read(indices);
    for (size_t f = 0; f < 2; ++f) EXPECT_TRUE(equal(actual[f], expected[f])) << f;
    EXPECT_TRUE(equal(actual[0], rows_of(samples.images, indices)));
  }
}

TEST(ShardedDataset, AShardCutShortAfterOpeningIsAnErrorNamingTheFileAndTheSample) {
  TempDir dir;
  const Samples samples = make_samples(1000);
  const std::vector<std::string> paths =
      write_shards(dir.file("s"), {"images", "labels"}, {samples.images, samples.labels}, {.shards = 2, .chunk_rows = 100});
  const ShardedDataset dataset(dir.path(), {.preload_bytes = 0});
  ASSERT_TRUE(dataset.reads_any_order());  // read from the mapped files
  std::filesystem::resize_file(paths[1], 4096);
  // Samples of the intact first shard still read.
  EXPECT_TRUE(equal(dataset.read(std::vector<int64_t>{3, 1})[0], rows_of(samples.images, {3, 1})));
  try {
    dataset.read(std::vector<int64_t>{2, 999});
    FAIL() << "a sample past the end of a cut file was read";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("sample 999 (row 499)"), std::string::npos) << message;
    EXPECT_NE(message.find(paths[1]), std::string::npos) << message;
    EXPECT_NE(message.find("the file ends there (4096 bytes now)"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace ember::io

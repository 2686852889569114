#include "ember/io/hdf5_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ember/tensor/ops.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

TEST(Hdf5File, TensorsOfEveryDtypeRoundTripBitForBit) {
  TempDir dir;
  const std::string path = dir.file("all.h5");
  const std::vector<DType> dtypes = {kBool, kUInt8, kInt32, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64};
  {
    Hdf5File file(path, FileMode::Create);
    for (DType dtype : dtypes) {
      const Tensor values = (arange(-6, 6, 1, kFloat64).reshape({3, 4}) * 1.37).to(dtype);
      file.write(fmt::format("group/{}", name(dtype)), values);
    }
    file.write("scalar", full({}, 2.5, kFloat64));
    file.close();
  }
  Hdf5File file(path, FileMode::Read);
  for (DType dtype : dtypes) {
    const Tensor expected = (arange(-6, 6, 1, kFloat64).reshape({3, 4}) * 1.37).to(dtype);
    const Tensor actual = file.read(fmt::format("group/{}", name(dtype)));
    EXPECT_EQ(actual.dtype(), dtype) << name(dtype);
    EXPECT_TRUE(equal(actual, expected)) << name(dtype);
  }
  const Tensor scalar = file.read("scalar");
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<double>(), 2.5);
  EXPECT_EQ(file.children("group").size(), dtypes.size());
  EXPECT_TRUE(file.is_dataset("group/float32"));
  EXPECT_FALSE(file.is_dataset("group"));
  EXPECT_FALSE(file.has("missing/deeper/name"));
}

TEST(Hdf5File, NonContiguousTensorsAreWrittenInLogicalOrder) {
  TempDir dir;
  Hdf5File file(dir.file("t.h5"), FileMode::Create);
  const Tensor base = arange(12, kFloat32).reshape({3, 4});
  file.write("transposed", base.t());
  EXPECT_TRUE(equal(file.read("transposed"), base.t().contiguous()));
}

TEST(Hdf5File, AttributesOfEachKindRoundTripAndReplace) {
  TempDir dir;
  Hdf5File file(dir.file("a.h5"), FileMode::Create);
  file.set_attribute("/", "format", "ember-checkpoint");
  file.set_attribute("/", "step", int64_t{41});
  file.set_attribute("/", "step", int64_t{42});
  file.set_attribute("/", "lr", 0.125);
  EXPECT_EQ(file.attribute_string("/", "format"), "ember-checkpoint");
  EXPECT_EQ(file.attribute_int("/", "step"), 42);
  EXPECT_EQ(file.attribute_double("/", "lr"), 0.125);
  EXPECT_TRUE(file.has_attribute("/", "lr"));
  EXPECT_FALSE(file.has_attribute("/", "missing"));
  EXPECT_THROW(file.attribute_int("/", "format"), Error);
  EXPECT_THROW(file.attribute_int("/", "missing"), Error);
}

TEST(Hdf5File, SortedRowsAreReadWithOneHyperslabPerRun) {
  TempDir dir;
  Hdf5File file(dir.file("rows.h5"), FileMode::Create);
  const Tensor images = arange(100 * 6, kFloat32).reshape({100, 2, 3}).to(kUInt8);
  file.write("images", images, DatasetLayout{.chunk_rows = 16, .deflate_level = 4});
  Hdf5Dataset dataset = file.dataset("images");
  EXPECT_EQ(dataset.info().chunk_shape, (DimVector{16, 2, 3}));
  EXPECT_EQ(dataset.info().deflate_level, 4);
  EXPECT_EQ(dataset.row_bytes(), 6);

  const std::vector<int64_t> rows = {3, 4, 5, 17, 40, 41, 99};
  Tensor batch = empty({7, 2, 3}, kUInt8);
  EXPECT_EQ(dataset.read_rows(rows, batch.data_ptr()), 4);
  EXPECT_TRUE(equal(batch, index_select(images, 0, tensor(rows))));

  Tensor range = empty({10, 2, 3}, kUInt8);
  dataset.read_rows(90, 10, range.data_ptr());
  EXPECT_TRUE(equal(range, images.slice(0, 90, 100)));
}

TEST(Hdf5File, SortedRowsReadTheSameWhateverTheLayoutAndChunkCache) {
  // Rows alone, in runs, a few apart in one chunk (merged into one read) and across chunk
  // boundaries, from contiguous, chunked and compressed datasets with and without a chunk cache.
  TempDir dir;
  Hdf5File file(dir.file("layouts.h5"), FileMode::Create);
  const Tensor images = (arange(3000 * 12, kInt64).reshape({3000, 3, 4}) * 7).to(kUInt8);
  const Tensor labels = arange(3000, kInt64) * 3 - 100;
  const Tensor flags = gt((arange(3000, kInt64) * 37).to(kUInt8), 128);
  file.write("contiguous", images);
  file.write("chunked", images, DatasetLayout{.chunk_rows = 100});
  file.write("compressed", images, DatasetLayout{.chunk_rows = 100, .deflate_level = 3});
  file.write("labels", labels, DatasetLayout{.chunk_rows = 1000});
  file.write("flags", flags, DatasetLayout{.chunk_rows = 64, .deflate_level = 1});
  EXPECT_FALSE(file.info("chunked").filtered);
  EXPECT_TRUE(file.info("compressed").filtered);

  const std::vector<int64_t> rows = {0, 1, 2, 5, 97, 99, 100, 101, 150, 199, 200, 900, 2000, 2003, 2999};
  const Tensor index = tensor(rows);
  for (int64_t cache : {int64_t{-1}, int64_t{0}, int64_t{1} << 20}) {
    for (const char* name : {"contiguous", "chunked", "compressed"}) {
      const Hdf5Dataset dataset = file.dataset(name, DatasetAccess{.chunk_cache_bytes = cache});
      Tensor batch = full({static_cast<int64_t>(rows.size()), 3, 4}, 255, kUInt8);
      EXPECT_EQ(dataset.read_rows(rows, batch.data_ptr()), 10) << name;  // runs of consecutive rows
      EXPECT_TRUE(equal(batch, index_select(images, 0, index))) << name << ", cache " << cache;
    }
    const Hdf5Dataset label_rows = file.dataset("labels", DatasetAccess{.chunk_cache_bytes = cache});
    Tensor batch = empty({static_cast<int64_t>(rows.size())}, kInt64);
    label_rows.read_rows(rows, batch.data_ptr());
    EXPECT_TRUE(equal(batch, index_select(labels, 0, index))) << "cache " << cache;
    const Hdf5Dataset flag_rows = file.dataset("flags", DatasetAccess{.chunk_cache_bytes = cache});
    Tensor flag_batch = empty({static_cast<int64_t>(rows.size())}, kBool);
    flag_rows.read_rows(rows, flag_batch.data_ptr());
    EXPECT_TRUE(equal(flag_batch, index_select(flags, 0, index))) << "cache " << cache;
  }
  // A whole read with no cache, and a dataset reopened while another handle is open.
  const Hdf5Dataset open = file.dataset("compressed");
  EXPECT_TRUE(equal(file.dataset("compressed", DatasetAccess{.chunk_cache_bytes = 0}).read(), images));
  EXPECT_TRUE(equal(open.read(), images));
}

TEST(Hdf5File, BadRowRequestsNameTheDatasetAndRows) {
  TempDir dir;
  Hdf5File file(dir.file("rows.h5"), FileMode::Create);
  file.write("labels", arange(10, kInt64));
  Hdf5Dataset labels = file.dataset("labels");
  Tensor out = empty({3}, kInt64);
  try {
    labels.read_rows(std::vector<int64_t>{1, 5, 10}, out.data_ptr());
    FAIL() << "row 10 of 10 was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("row 10 of 'labels' is out of range (shape [10])"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(labels.read_rows(std::vector<int64_t>{5, 1}, out.data_ptr()), Error);
  EXPECT_THROW(labels.read_rows(8, 3, out.data_ptr()), Error);
  EXPECT_THROW(file.write("labels", arange(3, kInt64)), Error);
}

TEST(Hdf5File, MissingEmptyAndForeignFilesGiveClearErrors) {
  TempDir dir;
  try {
    Hdf5File file(dir.file("absent.h5"), FileMode::Read);
    FAIL() << "a missing file opened";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("absent.h5' does not exist"), std::string::npos) << error.what();
  }
  std::ofstream(dir.file("text.h5")) << "this is not HDF5\n";
  try {
    Hdf5File file(dir.file("text.h5"), FileMode::Read);
    FAIL() << "a text file opened";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("is not an HDF5 file"), std::string::npos) << error.what();
  }
  std::ofstream(dir.file("empty.h5")).close();
  EXPECT_THROW(Hdf5File(dir.file("empty.h5"), FileMode::Read), Error);
  EXPECT_THROW(Hdf5File(dir.path(), FileMode::Read), Error);

  Hdf5File file(dir.file("ok.h5"), FileMode::Create);
  try {
    file.read("no/such/dataset");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no dataset 'no/such/dataset'"), std::string::npos) << error.what();
  }
}

TEST(Hdf5File, TruncatedFileIsRefusedOrFailsOnReadNeverCrashes) {
  TempDir dir;
  const std::string path = dir.file("whole.h5");
  {
    Hdf5File file(path, FileMode::Create);
    file.write("weights", randn({256, 64}));
    file.set_attribute("/", "format", "ember-checkpoint");
    file.close();
  }
  const auto size = std::filesystem::file_size(path);
  for (double fraction : {0.0, 0.01, 0.1, 0.5, 0.9, 0.999}) {
    const std::string cut = dir.file(fmt::format("cut-{}.h5", fraction));
    std::filesystem::copy_file(path, cut);
    std::filesystem::resize_file(cut, static_cast<uintmax_t>(static_cast<double>(size) * fraction));
    bool failed = false;
    try {
      Hdf5File file(cut, FileMode::Read);
      file.read("weights");
    } catch (const Error& error) {
      failed = true;
      EXPECT_NE(std::string(error.what()).find("cut-"), std::string::npos) << error.what();
    }
    EXPECT_TRUE(failed) << "a file cut to " << fraction << " of its size read without error";
  }
}

}  // namespace
}  // namespace ember::io

namespace ember::io {
namespace {

// The bytes of `count` rows of `row_bytes` at `stored`'s addresses, read from the file itself.
std::vector<uint8_t> bytes_at(const std::string& path, const StoredRows& stored, const std::vector<int64_t>& rows) {
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> bytes(rows.size() * static_cast<size_t>(stored.row_bytes));
  for (size_t i = 0; i < rows.size(); ++i) {
    file.seekg(static_cast<std::streamoff>(stored.address(rows[i])));
    file.read(reinterpret_cast<char*>(bytes.data() + i * static_cast<size_t>(stored.row_bytes)), stored.row_bytes);
  }
  EXPECT_TRUE(file.good()) << path;
  return bytes;
}

TEST(Hdf5File, StoredRowsLocateEveryRowOfPlainDatasetsInTheFile) {
  TempDir dir;
  const std::string path = dir.file("stored.h5");
  Hdf5File file(path, FileMode::Create);
  const Tensor images = randint(0, 256, {300, 2, 3}, kUInt8);
  const Tensor labels = randint(0, 1000, {300}, kInt64);
  const Tensor values = randn({300, 5});
  file.write("contiguous", images);
  file.write("chunked", images, DatasetLayout{.chunk_rows = 7});
  file.write("labels", labels, DatasetLayout{.chunk_rows = 64});
  file.write("values", values, DatasetLayout{.chunk_rows = 100});
  file.write("compressed", images, DatasetLayout{.chunk_rows = 7, .deflate_level = 1});
  file.write("flags", gt(labels, 500));
  file.write("empty", empty({0, 4}, kUInt8));
  file.close();

  Hdf5File reader(path, FileMode::Read);
  // Rows inside a chunk, rows either side of chunk boundaries, the first and the last row.
  const std::vector<int64_t> rows = {0, 1, 2, 5, 6, 7, 8, 13, 14, 63, 64, 65, 100, 150, 151, 152, 299};
  const uint64_t file_bytes = std::filesystem::file_size(path);
  for (const char* name : {"contiguous", "chunked", "labels", "values"}) {
    const Hdf5Dataset dataset = reader.dataset(name);
    const std::optional<StoredRows> stored = dataset.stored_rows();
    ASSERT_TRUE(stored.has_value()) << name;
    EXPECT_EQ(stored->row_bytes, dataset.row_bytes()) << name;
    EXPECT_LE(stored->end, file_bytes) << name;
    EXPECT_GE(stored->end, stored->address(299) + static_cast<uint64_t>(stored->row_bytes)) << name;
    const Tensor expected = index_select(reader.read(name), 0, tensor(rows)).contiguous();
    const auto* expected_bytes = static_cast<const uint8_t*>(expected.data_ptr());
    const std::vector<uint8_t> actual = bytes_at(path, *stored, rows);
    EXPECT_TRUE(std::equal(actual.begin(), actual.end(), expected_bytes)) << name;
  }
  // Compressed bytes and enum-typed bools are not what a read returns; an empty dataset has no rows.
  for (const char* name : {"compressed", "flags", "empty"}) EXPECT_FALSE(reader.dataset(name).stored_rows()) << name;
}

}  // namespace
}  // namespace ember::io

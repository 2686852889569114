// Runs the built ember-data tool on IDX and CSV files written here and on the Fashion-MNIST files
// of Debian's dataset-fashion-mnist package. The suite DatasetBadInputIdx holds the IDX cases of
// the bad-input tests, which need the same helpers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "ember/io/sharded_dataset.h"
#include "ember/tensor/ops.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

#ifdef EMBER_DATA_TOOL

namespace fs = std::filesystem;

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  const std::string text = read_text(path);
  return std::vector<uint8_t>(text.begin(), text.end());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

// Runs a shell command line; true when it exits with 0.
bool shell(const std::string& command) { return std::system(command.c_str()) == 0; }

// gzip is part of every Debian system (Essential: yes).
std::string gzip_copy(const std::string& path) {
  EXPECT_TRUE(shell("gzip -cn " + shell_quote(path) + " > " + shell_quote(path + ".gz")));
  return path + ".gz";
}

std::vector<uint8_t> gunzip(const std::string& path, const TempDir& dir) {
  const std::string out = dir.file(fs::path(path).stem().string());
  EXPECT_TRUE(shell("gzip -dc " + shell_quote(path) + " > " + shell_quote(out)));
  return read_bytes(out);
}

struct ToolRun {
  int status = -1;  // the exit code; 128 + n when signal n killed the tool
  std::string out;
  std::string err;
};

ToolRun run_tool(const TempDir& dir, const std::vector<std::string>& args) {
  std::string command = shell_quote(EMBER_DATA_TOOL);
  for (const std::string& arg : args) command += " " + shell_quote(arg);
  const std::string out = dir.file("tool.out"), err = dir.file("tool.err");
  command += " > " + shell_quote(out) + " 2> " + shell_quote(err);
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

// An IDX file: magic 0x0000 08 <rank>, big-endian sizes, then the payload.
std::vector<uint8_t> idx_file(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t size : dims) {
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>(size >> shift));
  }
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

// n images of rows x columns and their labels, as IDX files in dir.
struct IdxPair {
  std::string images;
  std::string labels;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> classes;
};

IdxPair write_idx_pair(const TempDir& dir, const std::string& stem, uint32_t count, uint32_t rows = 5,
                       uint32_t columns = 7) {
  IdxPair pair{dir.file(stem + "-images-idx3-ubyte"), dir.file(stem + "-labels-idx1-ubyte"), {}, {}};
  for (uint32_t i = 0; i < count * rows * columns; ++i) pair.pixels.push_back(static_cast<uint8_t>((i * 13 + i / 35) % 256));
  for (uint32_t i = 0; i < count; ++i) pair.classes.push_back(static_cast<uint8_t>(i * 7 % 10));
  write_bytes(pair.images, idx_file({count, rows, columns}, pair.pixels));
  write_bytes(pair.labels, idx_file({count}, pair.classes));
  return pair;
}

// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320), written here to check the tool.
uint32_t crc32_of(const uint8_t* data, size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> values{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      values[n] = c;
    }
    return values;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::string hex(uint32_t value) { return fmt::format("{:08x}", value); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<int64_t> range(int64_t count) {
  std::vector<int64_t> values(static_cast<size_t>(count));
  std::iota(values.begin(), values.end(), 0);
  return values;
}

// The shard files in a directory, and any partial ones.
std::vector<std::string> files_in(const std::string& directory) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) names.push_back(entry.path().filename().string());
  return names;
}

TEST(EmberData, ConvertsPlainAndGzippedIdxIntoShards) {
  TempDir dir;
  const IdxPair pair = write_idx_pair(dir, "train", 25);
  const Tensor expected_images = tensor(pair.pixels, {25, 1, 5, 7});
  std::vector<int64_t> wide(pair.classes.begin(), pair.classes.end());
  const Tensor expected_labels = tensor(wide);
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {pair.images, pair.labels}, {gzip_copy(pair.images), gzip_copy(pair.labels)}};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string out = dir.file(fmt::format("out{}/", i));
    const ToolRun run = run_tool(dir, {"convert-idx", "--images", inputs[i].first, "--labels", inputs[i].second,
                                       "--out", out, "--shards", "3"});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_TRUE(contains(run.out, "wrote 25 samples into 3 shard(s)")) << run.out;
    const ShardedDataset dataset(out);
    ASSERT_EQ(dataset.size(), 25);
    EXPECT_EQ(dataset.shard_size(0), 9);
    EXPECT_EQ(dataset.shard_size(2), 8);
    EXPECT_EQ(dataset.shard_path(1), out + "shard-00001-of-00003.h5");
    const std::vector<Tensor> all = dataset.read(range(25));
    EXPECT_TRUE(equal(all[0], expected_images)) << inputs[i].first;
    EXPECT_TRUE(equal(all[1], expected_labels)) << inputs[i].first;
  }
}

TEST(EmberData, ConvertHonoursChunkRowsAndDeflateAndInspectShowsThem) {
  TempDir dir;
  const IdxPair pair = write_idx_pair(dir, "t", 10);
  ToolRun run = run_tool(dir, {"convert-idx", "--images", pair.images, "--labels", pair.labels, "--out",
                               dir.file("data/small"), "--shards", "2", "--chunk-rows", "4", "--deflate", "5"});
  ASSERT_EQ(run.status, 0) << run.err;
  const DatasetInfo info = Hdf5File(dir.file("data/small-00000-of-00002.h5"), FileMode::Read).info("images");
  EXPECT_EQ(info.chunk_shape, (DimVector{4, 1, 5, 7}));
  EXPECT_EQ(info.deflate_level, 5);

  run = run_tool(dir, {"inspect", dir.file("data/small-*.h5")});
  ASSERT_EQ(run.status, 0) << run.err;
  const std::vector<int64_t> labels(pair.classes.begin(), pair.classes.end());
  const auto* label_bytes = reinterpret_cast<const uint8_t*>(labels.data());
  const std::string expected = fmt::format(
      "{0}-00000-of-00002.h5: 5 samples (shard 0 of 2)\n"
      "  images  uint8  shape [5, 1, 5, 7]  chunks [4, 1, 5, 7]  compression deflate-5  crc32 {1}\n"
      "  labels  int64  shape [5]  chunks [4]  compression deflate-5  crc32 {2}\n"
      "{0}-00001-of-00002.h5: 5 samples (shard 1 of 2)\n"
      "  images  uint8  shape [5, 1, 5, 7]  chunks [4, 1, 5, 7]  compression deflate-5  crc32 {3}\n"
      "  labels  int64  shape [5]  chunks [4]  compression deflate-5  crc32 {4}\n"
      "total: 2 shards, 10 samples\n"
      "  images  uint8  sample shape [1, 5, 7]  crc32 {5}\n"
      "  labels  int64  sample shape []  crc32 {6}\n",
      dir.file("data/small"), hex(crc32_of(pair.pixels.data(), 175)), hex(crc32_of(label_bytes, 40)),
      hex(crc32_of(pair.pixels.data() + 175, 175)), hex(crc32_of(label_bytes + 40, 40)),
      hex(crc32_of(pair.pixels.data(), 350)), hex(crc32_of(label_bytes, 80)));
  EXPECT_EQ(run.out, expected);
  // The same shards named as a directory or a list give the same report.
  EXPECT_EQ(run_tool(dir, {"inspect", dir.file("data")}).out, expected);
  EXPECT_EQ(run_tool(dir, {"inspect", dir.file("data/small-00000-of-00002.h5"), dir.file("data/small-00001-of-00002.h5")})
                .out,
            expected);
}

TEST(EmberData, FashionMnistConvertsToThreeShards) {
  const std::string source = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(source + "t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist; ./ember test installs it)";
  }
  TempDir dir;
  for (const auto& [stem, count] : {std::pair<std::string, int64_t>{"train", 60000}, {"t10k", 10000}}) {
    const std::string images = source + stem + "-images-idx3-ubyte.gz";
    const std::string labels = source + stem + "-labels-idx1-ubyte.gz";
    const std::string out = dir.file(stem + "/");
    ToolRun run = run_tool(dir, {"convert-idx", "--images", images, "--labels", labels, "--out", out, "--shards", "3"});
    ASSERT_EQ(run.status, 0) << run.err;

    const std::vector<uint8_t> image_file = gunzip(images, dir);
    const std::vector<uint8_t> label_file = gunzip(labels, dir);
    ASSERT_EQ(static_cast<int64_t>(image_file.size()), 16 + count * 784);
    const ShardedDataset dataset(out);
    ASSERT_EQ(dataset.size(), count);
    EXPECT_EQ(dataset.shard_size(0), count / 3 + (count % 3 > 0));
    // Known samples: the first of each set is an ankle boot (class 9).
    const std::vector<int64_t> picks = {0, 1, count / 3 - 1, count / 3, count / 2, count - 1};
    const std::vector<Tensor> read = dataset.read(picks);
    EXPECT_EQ(read[1].data_ptr<int64_t>()[0], 9);
    for (size_t i = 0; i < picks.size(); ++i) {
      const auto pick = static_cast<size_t>(picks[i]);
      EXPECT_EQ(read[1].data_ptr<int64_t>()[i], label_file[8 + pick]) << stem << " sample " << pick;
      EXPECT_EQ(std::memcmp(read[0].data_ptr<uint8_t>() + i * 784, image_file.data() + 16 + pick * 784, 784), 0)
          << stem << " sample " << pick;
    }
    // inspect: every shard, and totals whose checksum is the CRC of the IDX payload.
    run = run_tool(dir, {"inspect", out});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_TRUE(contains(run.out, fmt::format("shard-00002-of-00003.h5: {} samples (shard 2 of 3)", count / 3)))
        << run.out;
    EXPECT_TRUE(contains(run.out, fmt::format("images  uint8  shape [{}, 1, 28, 28]", count / 3))) << run.out;
    EXPECT_TRUE(contains(run.out, fmt::format("total: 3 shards, {} samples", count))) << run.out;
    const uint32_t payload_crc = crc32_of(image_file.data() + 16, image_file.size() - 16);
    EXPECT_TRUE(contains(run.out, "images  uint8  sample shape [1, 28, 28]  crc32 " + hex(payload_crc))) << run.out;
    const std::vector<int64_t> wide(label_file.begin() + 8, label_file.end());
    const uint32_t label_crc = crc32_of(reinterpret_cast<const uint8_t*>(wide.data()), wide.size() * 8);
    EXPECT_TRUE(contains(run.out, "labels  int64  sample shape []  crc32 " + hex(label_crc))) << run.out;
  }
}

TEST(EmberData, ConvertsCsvWithTheLabelColumnByNameOrIndex) {
  TempDir dir;
  std::ofstream(dir.file("with-header.csv")) << "width, label,height\n1.5,2,-3\n\n4e2,0,+0.25\r\n7,1,8\n";
  std::ofstream(dir.file("bare.csv")) << "2,1.5,-3\n0,4e2,0.25\n1,7,8\n";
  const Tensor features = tensor(std::vector<float>{1.5f, -3.f, 400.f, 0.25f, 7.f, 8.f}, {3, 2});
  const Tensor labels = tensor(std::vector<int64_t>{2, 0, 1});
  const std::vector<std::vector<std::string>> commands = {
      {"convert-csv", "--input", dir.file("with-header.csv"), "--header", "--label-column", "label", "--out",
       dir.file("named/"), "--shards", "2"},
      {"convert-csv", "--input", dir.file("bare.csv"), "--label-column", "0", "--out", dir.file("indexed/"),
       "--shards", "2"}};
  for (const auto& command : commands) {
    const ToolRun run = run_tool(dir, command);
    ASSERT_EQ(run.status, 0) << run.err;
    const ShardedDataset dataset(command[command.size() - 3]);
    ASSERT_EQ(dataset.size(), 3);
    EXPECT_EQ(dataset.fields()[0].name, "features");
    const std::vector<Tensor> all = dataset.read(range(3));
    EXPECT_TRUE(equal(all[0], features)) << command[2];
    EXPECT_TRUE(equal(all[1], labels)) << command[2];
  }
}

TEST(EmberData, CsvErrorsNameTheLineAndColumn) {
  TempDir dir;
  const auto convert = [&](const std::string& text, const std::string& label, bool header) {
    std::ofstream(dir.file("in.csv")) << text;
    std::vector<std::string> args = {"convert-csv", "--input", dir.file("in.csv"), "--label-column", label,
                                     "--out", dir.file("out/")};
    if (header) args.push_back("--header");
    return run_tool(dir, args);
  };
  ToolRun run = convert("a,b,y\n1,2,0\n3,4x,1\n", "y", true);
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "line 3, column 2 ('b'): '4x' is not a finite number")) << run.err;
  run = convert("1,2,0\n3,4\n", "2", false);
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "line 2 has 2 columns but the first line has 3")) << run.err;
  run = convert("1,2,0.5\n", "2", false);
  EXPECT_TRUE(contains(run.err, "line 1, column 3: the label '0.5' is not an integer")) << run.err;
  run = convert("1,nan,0\n", "2", false);
  EXPECT_TRUE(contains(run.err, "line 1, column 2: 'nan' is not a finite number")) << run.err;
  run = convert("a,b\n1,2\n", "c", true);
  EXPECT_TRUE(contains(run.err, "no column named 'c' (columns: a, b)")) << run.err;
  run = convert("1,2\n", "5", false);
  EXPECT_TRUE(contains(run.err, "label column 5 is out of range (2 columns)")) << run.err;
  run = convert("a,b\n", "a", true);
  EXPECT_TRUE(contains(run.err, "holds no data rows")) << run.err;
  EXPECT_TRUE(files_in(dir.file("out")).empty());
}

TEST(EmberData, BadCommandLinesAndMissingInputsExitNonZero) {
  TempDir dir;
  const IdxPair pair = write_idx_pair(dir, "p", 4);
  EXPECT_GT(run_tool(dir, {}).status, 0);
  ToolRun run = run_tool(dir, {"convert-idx", "--images", pair.images, "--out", dir.file("o/")});
  EXPECT_GT(run.status, 0);
  EXPECT_LT(run.status, 128);
  EXPECT_TRUE(contains(run.err, "--labels")) << run.err;
  run = run_tool(dir, {"convert-idx", "--images", pair.images, "--labels", pair.labels, "--out", dir.file("o/"),
                       "--shards", "0"});
  EXPECT_GT(run.status, 0);
  EXPECT_LT(run.status, 128);
  run = run_tool(dir, {"inspect", dir.file("absent.h5")});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "ember-data: error: sharded dataset: shard file '" + dir.file("absent.h5") +
                                    "' does not exist"))
      << run.err;
  run = run_tool(dir, {"convert-idx", "--images", dir.file("none"), "--labels", pair.labels, "--out", dir.file("o/")});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, dir.file("none") + "' does not exist")) << run.err;
}

// Converts and expects the tool to fail with exit code 1, a message holding every part, and no
// shard (finished or partial) left behind.
void expect_conversion_fails(const TempDir& dir, const std::string& images, const std::string& labels,
                             const std::vector<std::string>& parts) {
  const std::string out = dir.file("out/");
  const ToolRun run = run_tool(dir, {"convert-idx", "--images", images, "--labels", labels, "--out", out,
                                     "--shards", "2", "--deflate", "1"});
  EXPECT_EQ(run.status, 1) << run.err;
  for (const std::string& part : parts) EXPECT_TRUE(contains(run.err, part)) << "'" << part << "' not in: " << run.err;
  EXPECT_TRUE(files_in(out).empty()) << images;
}

TEST(DatasetBadInputIdx, BadMagicIsRefusedNamingTheFile) {
  TempDir dir;
  const IdxPair pair = write_idx_pair(dir, "m", 6);
  std::vector<uint8_t> bytes = read_bytes(pair.images);
  bytes[0] = 0x1f;  // as if the first bytes of another format
  write_bytes(dir.file("bad-images"), bytes);
  expect_conversion_fails(dir, dir.file("bad-images"), pair.labels, {"bad-images", "bad magic number 0x1f000803"});
  expect_conversion_fails(dir, gzip_copy(dir.file("bad-images")), pair.labels, {"bad-images.gz", "bad magic"});
  bytes = read_bytes(pair.images);
  bytes[2] = 0x0d;  // float elements
  write_bytes(dir.file("float-images"), bytes);
  expect_conversion_fails(dir, dir.file("float-images"), pair.labels, {"float-images", "element type 0x0d"});
  // Images and labels swapped.
  expect_conversion_fails(dir, pair.labels, pair.images, {pair.labels, "images need at least 2 dimensions"});
  write_bytes(dir.file("short"), {0, 0});
  expect_conversion_fails(dir, dir.file("short"), pair.labels, {"short", "ends after 2 bytes"});
}

TEST(DatasetBadInputIdx, TruncatedPayloadIsRefusedAndLeavesNoShards) {
  TempDir dir;
  const IdxPair pair = write_idx_pair(dir, "t", 40);
  const std::vector<uint8_t> whole = read_bytes(pair.images);
  for (size_t cut : {size_t{6}, size_t{15}, size_t{16}, size_t{17}, whole.size() / 2, whole.size() - 1}) {
    const std::string path = dir.file(fmt::format("cut-{}", cut));
    write_bytes(path, std::vector<uint8_t>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
    expect_conversion_fails(dir, path, pair.labels, {path});
    if (cut >= 16) expect_conversion_fails(dir, path, pair.labels, {"truncated", "40 images of shape [5, 7]"});
  }
  // Gzipped: the size is only known at the end, so the partial shards written so far are removed.
  const std::string cut = dir.file("cut-gz");
  write_bytes(cut, std::vector<uint8_t>(whole.begin(), whole.end() - 35));
  expect_conversion_fails(dir, gzip_copy(cut), pair.labels, {"cut-gz.gz", "truncated", "ends after 1365 bytes"});
  // A damaged gzip stream (the compressed file itself cut short).
  const std::vector<uint8_t> packed = read_bytes(gzip_copy(pair.images));
  write_bytes(dir.file("damaged.gz"), std::vector<uint8_t>(packed.begin(), packed.begin() + packed.size() / 2));
  expect_conversion_fails(dir, dir.file("damaged.gz"), pair.labels, {"damaged.gz"});
}

TEST(DatasetBadInputIdx, CountMismatchAndTrailingBytesAreRefused) {
  TempDir dir;
  const IdxPair pair = write_idx_pair(dir, "a", 6);
  const IdxPair other = write_idx_pair(dir, "b", 5);
  expect_conversion_fails(dir, pair.images, other.labels, {pair.images, "6 images", other.labels, "5 labels"});
  std::vector<uint8_t> bytes = read_bytes(pair.images);
  bytes.insert(bytes.end(), {1, 2, 3});
  write_bytes(dir.file("long"), bytes);
  expect_conversion_fails(dir, dir.file("long"), pair.labels, {"long", "3 bytes follow the 6 images"});
  expect_conversion_fails(dir, gzip_copy(dir.file("long")), pair.labels, {"long.gz", "3 bytes follow the 6 images"});
}

#else

TEST(EmberData, NeedsTheTool) { GTEST_SKIP() << "ember-data was not built (io/tools/ember_data.cpp or CLI11 missing)"; }

#endif

}  // namespace
}  // namespace ember::io

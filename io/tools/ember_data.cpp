// ember-data: turns MNIST-style IDX files and numeric CSV files into HDF5 shards that
// io::ShardedDataset reads, and describes existing shards.
//
//   ember-data convert-idx --images X --labels Y --out DIR/|PREFIX --shards N [--chunk-rows R] [--deflate L]
//   ember-data convert-csv --input F --label-column NAME|INDEX [--header] --out DIR/|PREFIX --shards N ...
//   ember-data inspect PATH...   (shard files, glob patterns or directories)
//
// --out names a directory (an existing one, or any path ending in '/'), which receives
// shard-00000-of-0000N.h5 ..., or a prefix: data/train gives data/train-00000-of-0000N.h5 ...
//
// IDX files may be gzipped or not. Images (element type 0x08, unsigned byte) of 3 dimensions
// [n, rows, columns] become /images uint8 [n, 1, rows, columns] (other ranks are kept as they
// are); labels (0x08, 1 dimension) become /labels int64 [n]. The header's magic and dimensions are
// checked, and the payload must hold exactly the bytes the header announces.
//
// A CSV holds numbers separated by commas, one sample per line (blank lines are skipped). The
// label column (a header name, or a 0-based index) must hold integers and becomes /labels int64
// [n]; the other columns, in order, become /features float32 [n, k]. Non-finite values are errors.
//
// inspect prints, per shard, the sample count and, for each root dataset, its dtype, shape, chunk
// shape, compression and checksum, then totals. The checksum is CRC-32 (zlib's, the same as
// Python's zlib.crc32) over the dataset's elements in C order as little-endian values of their
// dtype's width, i.e. zlib.crc32(h5py.File(path)[name][()].tobytes()). The total per field
// continues the CRC across shards in order, so it equals the CRC of all samples concatenated
// (for convert-idx images: the CRC of the IDX payload).
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "ember/io/hdf5_file.h"
#include "ember/io/shard_writer.h"
#include "ember/io/sharded_dataset.h"
#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"

namespace {

using namespace ember;
using namespace ember::io;
namespace fs = std::filesystem;

struct OutputOptions {
  std::string out;
  int64_t shards = 1;
  int64_t chunk_rows = 0;
  int deflate = 0;

  ShardWriterOptions writer() const { return ShardWriterOptions{shards, chunk_rows, deflate}; }
  std::string prefix() const {
    std::error_code error;
    if (!out.empty() && (out.back() == '/' || fs::is_directory(out, error))) return (fs::path(out) / "shard").string();
    return out;
  }
};

void report_written(const std::vector<std::string>& paths, int64_t samples) {
  fmt::print("wrote {} samples into {} shard(s):\n", samples, paths.size());
  for (const std::string& path : paths) fmt::print("  {}\n", path);
  // Shards of an earlier conversion (another --shards, another prefix) would be read along with
  // these when the directory is opened as a dataset.
  const fs::path directory = fs::path(paths.front()).parent_path();
  int64_t others = 0;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory.empty() ? "." : directory, error)) {
    if (entry.path().extension() == ".h5" &&
        std::find(paths.begin(), paths.end(), entry.path().string()) == paths.end()) {
      ++others;
    }
  }
  if (others > 0) {
    fmt::print(stderr, "ember-data: note: '{}' holds {} other .h5 file(s); opening the directory reads them too\n",
               directory.string(), others);
  }
}

// Reads a file that may be gzipped (zlib reads a plain file as it is).
class InputFile {
 public:
  explicit InputFile(std::string path) : path_(std::move(path)) {
    std::error_code error;
    EMBER_CHECK(fs::exists(path_, error), "'{}' does not exist", path_);
    EMBER_CHECK(!fs::is_directory(path_, error), "'{}' is a directory, not a file", path_);
    file_ = gzopen(path_.c_str(), "rb");
    EMBER_CHECK(file_ != nullptr, "cannot open '{}'", path_);
    gzbuffer(file_, 1 << 18);
  }
  ~InputFile() { gzclose(file_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  bool compressed() const { return gzdirect(file_) == 0; }
  // Reads up to size bytes; fewer only at the end of the data.
  int64_t read(void* destination, int64_t size) {
    int64_t done = 0;
    while (done < size) {
      const auto want = static_cast<unsigned>(std::min<int64_t>(size - done, 1 << 30));
      const int got = gzread(file_, static_cast<char*>(destination) + done, want);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        fail("'{}' cannot be read: {} (a damaged gzip stream?)", path_, message != nullptr ? message : "zlib error");
      }
      if (got == 0) break;
      done += got;
    }
    return done;
  }
  // The bytes left to read (for a message about trailing data).
  int64_t remaining() {
    std::vector<char> buffer(1 << 16);
    int64_t total = 0;
    while (int64_t got = read(buffer.data(), static_cast<int64_t>(buffer.size()))) total += got;
    return total;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

// An IDX file: a big-endian header (two zero bytes, an element type, a dimension count, then one
// 32-bit size per dimension) and the elements in C order.
struct IdxHeader {
  std::vector<int64_t> dims;
  int64_t header_bytes = 0;
  int64_t sample_bytes = 1;  // the product of the sizes after the first
};

IdxHeader read_idx_header(InputFile& file, const char* role) {
  uint8_t magic[4] = {};
  const int64_t got = file.read(magic, 4);
  EMBER_CHECK(got == 4, "idx '{}': the file ends after {} bytes, inside the 4-byte magic number", file.path(), got);
  const uint32_t value = (uint32_t{magic[0]} << 24) | (uint32_t{magic[1]} << 16) | (uint32_t{magic[2]} << 8) | magic[3];
  EMBER_CHECK(magic[0] == 0 && magic[1] == 0 && magic[3] >= 1 && magic[3] <= 8,
              "idx '{}': bad magic number 0x{:08x}; an IDX file starts with two zero bytes, an element type and a "
              "dimension count (0x00000803 for images, 0x00000801 for labels)",
              file.path(), value);
  EMBER_CHECK(magic[2] == 0x08,
              "idx '{}': element type 0x{:02x} is not supported; {} must be unsigned bytes (type 0x08, magic "
              "0x{:08x})",
              file.path(), magic[2], role, value);
  IdxHeader header;
  header.header_bytes = 4 + 4 * int64_t{magic[3]};
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t size[4] = {};
    EMBER_CHECK(file.read(size, 4) == 4, "idx '{}': the file ends inside its header ({} dimensions announced)",
                file.path(), magic[3]);
    header.dims.push_back((int64_t{size[0]} << 24) | (int64_t{size[1]} << 16) | (int64_t{size[2]} << 8) | size[3]);
    if (d > 0) {
      // A sample is capped at 2 GiB, so sample count (< 2^32) times sample bytes fits int64.
      const bool fits = !__builtin_mul_overflow(header.sample_bytes, header.dims.back(), &header.sample_bytes) &&
                        header.sample_bytes <= (int64_t{1} << 31);
      EMBER_CHECK(fits, "idx '{}': samples of shape {} are too large", file.path(),
                  to_string(IntArrayRef(header.dims.data() + 1, header.dims.size() - 1)));
    }
  }
  return header;
}

std::string sample_shape_text(const IdxHeader& header) {
  return to_string(IntArrayRef(header.dims.data() + 1, header.dims.size() - 1));
}

// Reads exactly size bytes of payload or fails naming how far the payload went.
void read_payload(InputFile& file, const IdxHeader& header, void* destination, int64_t size, int64_t done_bytes,
                  const char* what) {
  const int64_t got = file.read(destination, size);
  if (got == size) return;
  const int64_t expected = header.dims[0] * header.sample_bytes;
  fail("idx '{}': truncated: the header announces {} {} of shape {} ({} payload bytes) but the payload ends after {} "
       "bytes",
       file.path(), header.dims[0], what, sample_shape_text(header), expected, done_bytes + got);
}

void check_no_trailing_bytes(InputFile& file, const IdxHeader& header, const char* what) {
  const int64_t extra = file.remaining();
  EMBER_CHECK(extra == 0, "idx '{}': {} bytes follow the {} {} the header announces (a wrong header?)", file.path(),
              extra, header.dims[0], what);
}

// A plain (not gzipped) file's size is checked before anything is written.
void check_plain_size(InputFile& file, const IdxHeader& header, const char* what) {
  if (file.compressed()) return;
  std::error_code error;
  const auto size = static_cast<int64_t>(fs::file_size(file.path(), error));
  const int64_t expected = header.header_bytes + header.dims[0] * header.sample_bytes;
  if (error || size == expected) return;
  EMBER_CHECK(size > expected,
              "idx '{}': truncated: the header announces {} {} of shape {} ({} payload bytes) but the payload holds {} "
              "bytes",
              file.path(), header.dims[0], what, sample_shape_text(header),
              header.dims[0] * header.sample_bytes, size - header.header_bytes);
  fail("idx '{}': {} bytes follow the {} {} the header announces (a wrong header?)", file.path(), size - expected,
       header.dims[0], what);
}

void convert_idx(const std::string& images_path, const std::string& labels_path, const OutputOptions& output) {
  InputFile images(images_path);
  InputFile labels(labels_path);
  const IdxHeader image_header = read_idx_header(images, "images");
  const IdxHeader label_header = read_idx_header(labels, "labels");
  EMBER_CHECK(image_header.dims.size() >= 2, "idx '{}': images need at least 2 dimensions, the header has shape {}",
              images_path, to_string(image_header.dims));
  EMBER_CHECK(label_header.dims.size() == 1, "idx '{}': labels need 1 dimension, the header has shape {}", labels_path,
              to_string(label_header.dims));
  const int64_t count = image_header.dims[0];
  EMBER_CHECK(count == label_header.dims[0], "convert-idx: '{}' holds {} images but '{}' holds {} labels", images_path,
              count, labels_path, label_header.dims[0]);
  check_plain_size(images, image_header, "images");
  check_plain_size(labels, label_header, "labels");

  DimVector sample_shape(image_header.dims.begin() + 1, image_header.dims.end());
  if (sample_shape.size() == 2) sample_shape.insert(sample_shape.begin(), 1);  // one channel, as torchvision
  ShardWriter writer(output.prefix(), count,
                     {Field{"images", kUInt8, sample_shape}, Field{"labels", kInt64, DimVector{}}}, output.writer());
  // Blocks of about 8 MiB keep memory flat whatever the file's size.
  const int64_t block = std::max<int64_t>(1, (int64_t{8} << 20) / std::max<int64_t>(1, image_header.sample_bytes));
  std::vector<uint8_t> label_bytes;
  for (int64_t start = 0; start < count; start += block) {
    const int64_t rows = std::min(block, count - start);
    DimVector block_shape{rows};
    block_shape.insert(block_shape.end(), sample_shape.begin(), sample_shape.end());
    Tensor image_block = empty(block_shape, kUInt8);
    read_payload(images, image_header, image_block.data_ptr(), rows * image_header.sample_bytes,
                 start * image_header.sample_bytes, "images");
    label_bytes.resize(static_cast<size_t>(rows));
    read_payload(labels, label_header, label_bytes.data(), rows, start, "labels");
    Tensor label_block = empty({rows}, kInt64);
    std::copy(label_bytes.begin(), label_bytes.end(), label_block.data_ptr<int64_t>());
    writer.append({image_block, label_block});
  }
  check_no_trailing_bytes(images, image_header, "images");
  check_no_trailing_bytes(labels, label_header, "labels");
  report_written(writer.finish(), count);
}

std::string_view trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::vector<std::string_view> split_commas(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

std::optional<double> parse_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return {};
  return value;
}

void convert_csv(const std::string& input, const std::string& label_column, bool has_header,
                 const OutputOptions& output) {
  std::error_code error;
  EMBER_CHECK(fs::is_regular_file(input, error), "csv '{}' does not exist or is not a file", input);
  std::ifstream stream(input);
  EMBER_CHECK(stream, "csv: cannot open '{}'", input);
  std::vector<std::string> header;
  std::optional<size_t> columns, label;
  std::vector<float> features;
  std::vector<int64_t> labels;
  std::string line;
  for (int64_t line_number = 1; std::getline(stream, line); ++line_number) {
    if (trim(line).empty()) continue;
    const std::vector<std::string_view> cells = split_commas(line);
    if (!columns) {
      columns = cells.size();
      EMBER_CHECK(*columns >= 2, "csv '{}': line {} has {} column(s); a label and at least one feature are needed",
                  input, line_number, *columns);
      if (has_header) header.assign(cells.begin(), cells.end());
      const auto named = std::find(header.begin(), header.end(), label_column);
      size_t index = 0;
      if (named != header.end()) {
        label = static_cast<size_t>(named - header.begin());
      } else if (std::from_chars(label_column.data(), label_column.data() + label_column.size(), index).ptr ==
                     label_column.data() + label_column.size() &&
                 !label_column.empty()) {
        EMBER_CHECK(index < *columns, "csv '{}': label column {} is out of range ({} columns)", input, index, *columns);
        label = index;
      } else {
        fail("csv '{}': no column named '{}'{}", input, label_column,
             has_header ? fmt::format(" (columns: {})", fmt::join(header, ", ")) : " (names need --header)");
      }
      if (has_header) continue;
    }
    EMBER_CHECK(cells.size() == *columns, "csv '{}': line {} has {} columns but the first line has {}", input,
                line_number, cells.size(), *columns);
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::optional<double> value = parse_number(cells[c]);
      const std::string column_name = has_header ? fmt::format(" ('{}')", header[c]) : "";
      EMBER_CHECK(value.has_value(), "csv '{}': line {}, column {}{}: '{}' is not a finite number", input, line_number,
                  c + 1, column_name, cells[c]);
      if (c == *label) {
        EMBER_CHECK(*value == std::floor(*value) && std::abs(*value) < 9.0e18,
                    "csv '{}': line {}, column {}{}: the label '{}' is not an integer", input, line_number, c + 1,
                    column_name, cells[c]);
        labels.push_back(static_cast<int64_t>(*value));
      } else {
        features.push_back(static_cast<float>(*value));
      }
    }
  }
  EMBER_CHECK(!stream.bad(), "csv: reading '{}' failed", input);
  const auto count = static_cast<int64_t>(labels.size());
  EMBER_CHECK(count > 0, "csv '{}' holds no data rows", input);
  const auto feature_count = static_cast<int64_t>(*columns) - 1;
  const Tensor feature_tensor = from_blob(features.data(), {count, feature_count}, kFloat32);
  const Tensor label_tensor = from_blob(labels.data(), {count}, kInt64);
  report_written(write_shards(output.prefix(), {"features", "labels"}, {feature_tensor, label_tensor}, output.writer()),
                 count);
}

std::string describe_layout(const DatasetInfo& info) {
  const std::string chunks = info.chunk_shape.empty() ? "none" : to_string(info.chunk_shape);
  const std::string compression = info.deflate_level > 0 ? fmt::format("deflate-{}", info.deflate_level) : "none";
  return fmt::format("chunks {}  compression {}", chunks, compression);
}

// Continues a CRC-32 over every row of a dataset, reading a few MiB at a time.
uint32_t checksum(const Hdf5Dataset& dataset, uint32_t crc) {
  const int64_t row_bytes = std::max<int64_t>(1, dataset.row_bytes());
  const int64_t block = std::max<int64_t>(1, (int64_t{8} << 20) / row_bytes);
  std::vector<uint8_t> buffer(static_cast<size_t>(std::min(block, std::max<int64_t>(1, dataset.rows())) * row_bytes));
  for (int64_t start = 0; start < dataset.rows(); start += block) {
    const int64_t rows = std::min(block, dataset.rows() - start);
    dataset.read_rows(start, rows, buffer.data());
    crc = static_cast<uint32_t>(crc32(crc, buffer.data(), static_cast<uInt>(rows * dataset.row_bytes())));
  }
  return crc;
}

void inspect(const std::vector<std::string>& sources) {
  // Opening the dataset checks that every shard agrees, so a bad set fails before any output.
  const ShardedDataset dataset(sources);
  const std::vector<Field>& fields = dataset.fields();
  std::vector<uint32_t> totals(fields.size(), static_cast<uint32_t>(crc32(0, nullptr, 0)));
  for (int64_t s = 0; s < dataset.shard_count(); ++s) {
    const Hdf5File file(dataset.shard_path(s), FileMode::Read);
    std::string position;
    if (file.has_attribute("/", "shard_index") && file.has_attribute("/", "shard_count")) {
      position = fmt::format(" (shard {} of {})", file.attribute_int("/", "shard_index"),
                             file.attribute_int("/", "shard_count"));
    }
    fmt::print("{}: {} samples{}\n", dataset.shard_path(s), dataset.shard_size(s), position);
    for (size_t f = 0; f < fields.size(); ++f) {
      const Hdf5Dataset stored = file.dataset(fields[f].name);
      const DatasetInfo& info = stored.info();
      const uint32_t crc = checksum(stored, static_cast<uint32_t>(crc32(0, nullptr, 0)));
      const auto bytes = static_cast<z_off_t>(stored.rows() * stored.row_bytes());
      totals[f] = static_cast<uint32_t>(crc32_combine(totals[f], crc, bytes));
      fmt::print("  {}  {}  shape {}  {}  crc32 {:08x}\n", fields[f].name, name(info.dtype), to_string(info.shape),
                 describe_layout(info), crc);
    }
  }
  fmt::print("total: {} shards, {} samples\n", dataset.shard_count(), dataset.size());
  for (size_t f = 0; f < fields.size(); ++f) {
    fmt::print("  {}  {}  sample shape {}  crc32 {:08x}\n", fields[f].name, name(fields[f].dtype),
               to_string(fields[f].sample_shape), totals[f]);
  }
}

void add_output_options(CLI::App& command, OutputOptions& output) {
  command.add_option("--out", output.out, "output directory (existing, or ending in '/') or file prefix")->required();
  command.add_option("--shards", output.shards, "number of shard files")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  command.add_option("--chunk-rows", output.chunk_rows, "rows per HDF5 chunk (0: about 256 KiB per chunk)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--deflate", output.deflate, "deflate level, 0 (none) to 9")->check(CLI::Range(0, 9));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember-data: convert IDX and CSV files into HDF5 shards, and inspect shards"};
  app.require_subcommand(1);
  OutputOptions output;

  CLI::App* idx = app.add_subcommand("convert-idx", "MNIST-style IDX images and labels (gzipped or not) into shards");
  std::string images, labels;
  idx->add_option("--images", images, "IDX images file (type 0x08, [n, rows, columns])")->required();
  idx->add_option("--labels", labels, "IDX labels file (type 0x08, [n])")->required();
  add_output_options(*idx, output);

  CLI::App* csv = app.add_subcommand("convert-csv", "a numeric CSV with a label column into shards");
  std::string input, label_column;
  bool has_header = false;
  csv->add_option("--input", input, "CSV file")->required();
  csv->add_option("--label-column", label_column, "label column: a header name or a 0-based index")->required();
  csv->add_flag("--header", has_header, "the first line names the columns");
  add_output_options(*csv, output);

  CLI::App* inspect_command = app.add_subcommand("inspect", "shards, sample counts, dtypes, shapes, chunking, CRC-32");
  std::vector<std::string> sources;
  inspect_command->add_option("paths", sources, "shard files, glob patterns or directories")->required();
  inspect_command->footer(
      "crc32: zlib's CRC-32 (Python's zlib.crc32) of a dataset's elements in C order, little-endian at their dtype's "
      "width; each total continues the CRC across the shards in order.");

  CLI11_PARSE(app, argc, argv);
  try {
    if (idx->parsed()) convert_idx(images, labels, output);
    if (csv->parsed()) convert_csv(input, label_column, has_header, output);
    if (inspect_command->parsed()) inspect(sources);
  } catch (const std::exception& error) {
    std::fflush(stdout);
    fmt::print(stderr, "ember-data: error: {}\n", error.what());
    return 1;
  }
  return 0;
}

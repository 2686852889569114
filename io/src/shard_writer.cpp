#include "ember/io/shard_writer.h"

#include <algorithm>
#include <filesystem>

#include "ember/tensor/error.h"

namespace ember::io {
namespace {

constexpr int64_t kDefaultChunkBytes = 256 * 1024;

std::string partial_name(const std::string& path) { return path + ".partial"; }

int64_t sample_bytes(const Field& field) {
  int64_t bytes = element_size(field.dtype);
  for (int64_t size : field.sample_shape) bytes *= size;
  return bytes;
}

}  // namespace

std::string shard_file_name(const std::string& prefix, int64_t index, int64_t count) {
  return fmt::format("{}-{:05d}-of-{:05d}.h5", prefix, index, count);
}

ShardWriter::ShardWriter(std::string prefix, int64_t total_samples, std::vector<Field> fields, ShardWriterOptions options)
    : fields_(std::move(fields)), options_(options), total_(total_samples) {
  EMBER_CHECK(options_.shards >= 1, "shard writer: {} shards requested for '{}' (need at least 1)", options_.shards,
              prefix);
  EMBER_CHECK(total_ >= 0, "shard writer: negative sample count {} for '{}'", total_, prefix);
  EMBER_CHECK(options_.chunk_rows >= 0, "shard writer: negative chunk rows {} for '{}'", options_.chunk_rows, prefix);
  EMBER_CHECK(options_.deflate_level >= 0 && options_.deflate_level <= 9,
              "shard writer: deflate level {} for '{}' is not in 0..9", options_.deflate_level, prefix);
  EMBER_CHECK(!fields_.empty(), "shard writer: no fields to write for '{}'", prefix);
  for (const Field& field : fields_) {
    EMBER_CHECK(!field.name.empty(), "shard writer: a field of '{}' has an empty name", prefix);
    for (int64_t size : field.sample_shape) {
      EMBER_CHECK(size >= 0, "shard writer: field '{}' has a negative size in its sample shape {}", field.name,
                  to_string(field.sample_shape));
    }
  }
  const std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    EMBER_CHECK(!error, "shard writer: cannot create the directory '{}': {}", parent.string(), error.message());
  }
  for (int64_t shard = 0; shard < options_.shards; ++shard) {
    paths_.push_back(shard_file_name(prefix, shard, options_.shards));
    shard_sizes_.push_back(total_ / options_.shards + (shard < total_ % options_.shards ? 1 : 0));
  }
  open_shard(0);
}

ShardWriter::~ShardWriter() {
  if (finished_) return;
  datasets_.clear();
  file_.reset();
  for (const std::string& path : paths_) {
    std::error_code ignored;
    std::filesystem::remove(partial_name(path), ignored);
  }
}

int64_t ShardWriter::chunk_rows(size_t field) const {
  EMBER_CHECK(field < fields_.size(), "shard writer: field {} is out of range ({} fields)", field, fields_.size());
  if (options_.chunk_rows > 0) return options_.chunk_rows;
  return std::max<int64_t>(1, kDefaultChunkBytes / std::max<int64_t>(1, sample_bytes(fields_[field])));
}

void ShardWriter::open_shard(int64_t shard) {
  const std::string& path = paths_[static_cast<size_t>(shard)];
  const int64_t rows = shard_sizes_[static_cast<size_t>(shard)];
  file_.emplace(partial_name(path), FileMode::Create);
  for (size_t f = 0; f < fields_.size(); ++f) {
    const Field& field = fields_[f];
    DimVector shape{rows};
    shape.insert(shape.end(), field.sample_shape.begin(), field.sample_shape.end());
    datasets_.push_back(file_->create_dataset(field.name, field.dtype, shape,
                                              DatasetLayout{chunk_rows(f), options_.deflate_level}));
  }
  file_->set_attribute("/", "format", "ember-shard");
  file_->set_attribute("/", "version", int64_t{1});
  file_->set_attribute("/", "shard_index", shard);
  file_->set_attribute("/", "shard_count", options_.shards);
  file_->set_attribute("/", "sample_count", rows);
  file_->set_attribute("/", "total_samples", total_);
  current_shard_ = shard;
  current_row_ = 0;
}

void ShardWriter::close_shard() {
  if (!file_) return;
  datasets_.clear();
  file_->close();
  file_.reset();
}

void ShardWriter::advance() {
  while (current_row_ == shard_sizes_[static_cast<size_t>(current_shard_)] && current_shard_ + 1 < options_.shards) {
    close_shard();
    open_shard(current_shard_ + 1);
  }
}

void ShardWriter::append(const std::vector<Tensor>& samples) {
  EMBER_CHECK(!finished_, "shard writer: append after finish ('{}')", paths_.front());
  EMBER_CHECK(samples.size() == fields_.size(), "shard writer: {} tensors appended for {} fields", samples.size(),
              fields_.size());
  const int64_t count = samples[0].defined() && samples[0].dim() > 0 ? samples[0].size(0) : 0;
  for (size_t f = 0; f < fields_.size(); ++f) {
    const Field& field = fields_[f];
    const Tensor& tensor = samples[f];
    EMBER_CHECK(tensor.defined() && tensor.dtype() == field.dtype,
                "shard writer: field '{}' is {} but {} samples were appended", field.name, name(field.dtype),
                tensor.defined() ? name(tensor.dtype()) : "undefined");
    EMBER_CHECK(tensor.dim() == static_cast<int64_t>(field.sample_shape.size()) + 1 &&
                    std::equal(field.sample_shape.begin(), field.sample_shape.end(), tensor.sizes().begin() + 1),
                "shard writer: field '{}' has samples of shape {} but a tensor of shape {} was appended", field.name,
                to_string(field.sample_shape), to_string(tensor.sizes()));
    EMBER_CHECK(tensor.size(0) == count, "shard writer: field '{}' got {} samples but '{}' got {}", field.name,
                tensor.size(0), fields_[0].name, count);
  }
  EMBER_CHECK(written_ + count <= total_, "shard writer: {} samples appended to {} written, beyond the {} announced",
              count, written_, total_);
  int64_t done = 0;
  while (done < count) {
    advance();
    const int64_t take = std::min(count - done, shard_sizes_[static_cast<size_t>(current_shard_)] - current_row_);
    for (size_t f = 0; f < fields_.size(); ++f) datasets_[f].write_rows(current_row_, samples[f].slice(0, done, done + take));
    current_row_ += take;
    done += take;
    written_ += take;
  }
}

std::vector<std::string> ShardWriter::finish() {
  EMBER_CHECK(!finished_, "shard writer: finish called twice ('{}')", paths_.front());
  EMBER_CHECK(written_ == total_, "shard writer: {} of the {} announced samples were written to '{}'", written_, total_,
              paths_.front());
  advance();  // creates the empty shards that remain, if any
  close_shard();
  for (const std::string& path : paths_) {
    std::error_code error;
    std::filesystem::rename(partial_name(path), path, error);
    EMBER_CHECK(!error, "shard writer: cannot rename '{}' to '{}': {}", partial_name(path), path, error.message());
  }
  finished_ = true;
  return paths_;
}

std::vector<std::string> write_shards(const std::string& prefix, const std::vector<std::string>& names,
                                      const std::vector<Tensor>& tensors, ShardWriterOptions options) {
  EMBER_CHECK(names.size() == tensors.size() && !names.empty(),
              "write_shards: {} names for {} tensors (need one name per tensor, at least one)", names.size(),
              tensors.size());
  std::vector<Field> fields;
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor& tensor = tensors[i];
    EMBER_CHECK(tensor.defined() && tensor.dim() >= 1, "write_shards: field '{}' needs a tensor with a sample axis",
                names[i]);
    fields.push_back(Field{names[i], tensor.dtype(), DimVector(tensor.sizes().begin() + 1, tensor.sizes().end())});
  }
  ShardWriter writer(prefix, tensors[0].size(0), std::move(fields), options);
  writer.append(tensors);
  return writer.finish();
}

}  // namespace ember::io

#pragma once
// ShardWriter: writes a dataset of a known number of samples as N HDF5 shard files that
// ShardedDataset reads back. Samples are appended in order and split as evenly as possible (the
// first total % N shards get one sample more). Each field is a dataset at the shard's root,
// chunked along axis 0 and optionally deflate-compressed.
//
// Shards are named <prefix>-00000-of-00003.h5 so that a glob or a directory sorts them in order.
// Each is written as <name>.partial and renamed when finish() completes, so a failed or
// interrupted conversion never leaves a shard that a "*.h5" pattern would pick up.
//
// Root attributes of every shard: format = "ember-shard", version = 1, shard_index, shard_count,
// sample_count (this shard) and total_samples (all shards).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ember/io/dataset.h"
#include "ember/io/hdf5_file.h"

namespace ember::io {

struct ShardWriterOptions {
  int64_t shards = 1;
  // Rows per chunk; 0 picks about 256 KiB per chunk for each field (at least one row), small
  // enough that a random read decompresses little and a few chunks fit HDF5's 1 MiB chunk cache.
  int64_t chunk_rows = 0;
  int deflate_level = 0;  // 0: not compressed, 1-9: zlib level
};

class ShardWriter {
 public:
  // fields: the name (dataset path), dtype and per-sample shape of each field.
  ShardWriter(std::string prefix, int64_t total_samples, std::vector<Field> fields, ShardWriterOptions options = {});
  // An unfinished writer removes the partial files it wrote.
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends samples: one tensor per field, in field order, each [n, sample_shape...] with the
  // same n. Rows may cross shard boundaries.
  void append(const std::vector<Tensor>& samples);
  // Checks that every sample arrived, closes and renames every shard, and returns their paths.
  std::vector<std::string> finish();

  int64_t samples_written() const { return written_; }
  // The final path of each shard.
  const std::vector<std::string>& paths() const { return paths_; }
  // The chunk rows used for a field (after choosing a default).
  int64_t chunk_rows(size_t field) const;

 private:
  void open_shard(int64_t shard);
  void close_shard();
  // Moves on to the next shard with room left, creating empty shards on the way.
  void advance();

  std::vector<Field> fields_;
  ShardWriterOptions options_;
  int64_t total_ = 0;
  int64_t written_ = 0;
  std::vector<std::string> paths_;
  std::vector<int64_t> shard_sizes_;
  int64_t current_shard_ = -1;
  int64_t current_row_ = 0;  // rows written into the current shard
  std::optional<Hdf5File> file_;  // the current shard's
  std::vector<Hdf5Dataset> datasets_;  // the current shard's, one per field
  bool finished_ = false;
};

// The path of shard `index` of `count` for a prefix: "<prefix>-00002-of-00003.h5".
std::string shard_file_name(const std::string& prefix, int64_t index, int64_t count);

// Writes whole tensors (one per field, equal size(0)) as shards; returns the shard paths.
std::vector<std::string> write_shards(const std::string& prefix, const std::vector<std::string>& names,
                                      const std::vector<Tensor>& tensors, ShardWriterOptions options = {});

}  // namespace ember::io

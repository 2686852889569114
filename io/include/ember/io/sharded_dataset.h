#pragma once
// ShardedDataset: a Dataset stored as one or more HDF5 shard files. Every shard holds the same
// fields as datasets that are equally long along axis 0 ("images" uint8 [N, 1, 28, 28], "labels"
// int64 [N]); sample i of the whole dataset is row i - offset(shard) of the shard it falls in,
// shards taken in the order given (a glob or a directory: sorted by file name).
//
// Everything that can disagree is checked when the dataset opens (field names, dtypes, per-sample
// shapes, lengths within a shard), so a bad shard fails at start-up rather than mid-epoch. A
// dataset of 0 samples (every shard empty) is valid, as in PyTorch: a loader over it yields nothing.
//
// Samples come from the files, through HDF5 (one lock for the whole process), or, when the
// options give a memory budget that the whole dataset fits, from memory filled when the dataset
// opens. Both give the same samples; memory is ~20x faster for small samples (Fashion-MNIST:
// 6M samples/s from memory, 0.3M from files, warm page cache, HDF5 1.10) and lets loader workers
// read in parallel.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ember/io/dataset.h"
#include "ember/io/hdf5_file.h"

namespace ember::io {

// The values an integer field may hold: [low, high), e.g. labels in [0, num_classes).
struct ValueRange {
  int64_t low = 0;
  int64_t high = 0;
};

// One field to read. name is the dataset's path in every shard ("labels", "group/labels"); the
// optional expectations are checked against every shard when the dataset opens, and valid_range
// against every value read.
struct FieldSpec {
  std::string name;
  std::optional<DType> dtype;
  std::optional<DimVector> sample_shape;
  std::optional<ValueRange> valid_range;  // integer and bool fields only
};

struct ShardedDatasetOptions {
  // The fields, in the order read() returns them. Empty: every dataset at the root of the first
  // shard, sorted by name, and every other shard must hold exactly the same root datasets.
  std::vector<FieldSpec> fields;

  // In-memory mode: when every field of every shard takes at most this many bytes in all
  // (byte_size()), they are read into memory when the dataset opens, one read per field and
  // shard, and read() copies rows from there: no HDF5 call, no lock, no system call. The samples
  // are the same as from the files; valid_range is checked once, at load, for every sample.
  //
  // The default holds small datasets in memory, as torchvision holds MNIST: Fashion-MNIST takes
  // 47 MB and loads in well under a second, and its shuffled 784-byte rows gather about 1.5x
  // faster from memory than from the mapped files (a file's page-cache pages cost TLB misses,
  // and each read checks that the file was not cut short). Every rank of a job holds its own
  // copy, so the limit stays small; 0 never preloads.
  int64_t preload_bytes = int64_t{256} << 20;

  // HDF5's cache of inflated chunks, in bytes, for all the compressed fields of all shards,
  // shared out in proportion to their sizes, at least one chunk each. A shuffled epoch touches
  // every chunk many times, and every miss inflates a whole chunk again, so the best size holds
  // the whole compressed dataset; 64 MiB holds Fashion-MNIST. Uncompressed fields have no cache:
  // HDF5 then reads just the wanted rows from the file (see DatasetAccess).
  int64_t chunk_cache_bytes = int64_t{64} << 20;

  // When every field of every shard is stored uncompressed in the tensor's type, rows are copied
  // from a read-only mapping of each shard, at the file addresses HDF5 gives once at open
  // (Hdf5Dataset::stored_rows): no HDF5 call and no lock per read, and one fstat per shard per
  // read to turn a file cut short meanwhile into an error. Otherwise every read goes through
  // HDF5. The shards must not change while open.
  bool direct_reads = true;
};

class ShardedDataset : public Dataset {
 public:
  // sources: shard files, directories (every *.h5 file directly inside, sorted by name) and glob
  // patterns ("data/train-*.h5", sorted by name), expanded in the order given.
  explicit ShardedDataset(const std::vector<std::string>& sources, ShardedDatasetOptions options = {});
  explicit ShardedDataset(const std::string& source, ShardedDatasetOptions options = {})
      : ShardedDataset(std::vector<std::string>{source}, std::move(options)) {}
  ~ShardedDataset() override;
  ShardedDataset(ShardedDataset&&) noexcept;
  ShardedDataset& operator=(ShardedDataset&&) noexcept;

  int64_t size() const override { return offsets_.back(); }
  const std::vector<Field>& fields() const override { return fields_; }
  // Preloaded: rows copied from memory. Otherwise per shard that the indices touch, one
  // Hdf5Dataset::read_rows per field, straight into the result's rows. Thread-safe: nothing is
  // shared but immutable memory and HDF5's handles, and HDF5 serialises its own calls.
  // Preloaded, the indices may come in any order, with repeats (reads_any_order()); from the
  // files they must ascend without repeats.
  std::vector<Tensor> read(std::span<const int64_t> sorted_indices) const override;
  bool reads_any_order() const override { return preloaded() || all_direct_; }

  // The bytes of every field of every sample, as held in memory.
  int64_t byte_size() const { return byte_size_; }
  // Whether the samples were read into memory when the dataset opened (options.preload_bytes).
  bool preloaded() const { return !memory_.empty(); }

  int64_t shard_count() const;
  const std::string& shard_path(int64_t shard) const;
  int64_t shard_size(int64_t shard) const;
  // The shard holding a sample and the sample's row in it.
  std::pair<int64_t, int64_t> locate(int64_t index) const;

 private:
  struct Shard;
  void open_caches(int64_t chunk_cache_bytes, bool direct_reads);
  bool map_shards();
  void read_direct(std::span<const int64_t> indices, std::vector<Tensor>& outputs) const;
  bool all_direct_ = false;  // every field of every shard is read from the mapped files
  void preload();
  // sorted_indices names the samples of values' rows; empty means rows 0, 1, ... of the dataset.
  void check_values(size_t field, const Tensor& values, std::span<const int64_t> sorted_indices) const;
  void read_shard(const Shard& shard, std::span<const int64_t> global_indices, int64_t first_output_row,
                  std::vector<Tensor>& outputs) const;
  void read_memory(std::span<const int64_t> indices, std::vector<Tensor>& outputs) const;

  std::vector<Field> fields_;
  std::vector<std::optional<ValueRange>> valid_ranges_;  // per field
  std::vector<Shard> shards_;
  std::vector<int64_t> offsets_{0};  // offsets_[s] is the first sample of shard s; back() the size
  int64_t byte_size_ = 0;
  std::vector<Tensor> memory_;  // preloaded: per field, every sample of every shard in order
};

// Expands shard sources as ShardedDataset does. A missing file, a directory without *.h5 files or
// a pattern matching nothing is an error naming it.
std::vector<std::string> resolve_shard_paths(const std::vector<std::string>& sources);

}  // namespace ember::io

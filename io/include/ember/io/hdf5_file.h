#pragma once
// Hdf5File: tensors and attributes in an HDF5 file, addressed by path ("model/fc1.weight").
// Datasets, checkpoints, the ember-data tool and the test fixtures all go through this one
// wrapper, so every HDF5 failure becomes an ember::Error naming the file, the object and HDF5's
// own reason. Debian's libhdf5 is a thread-safe build: every call takes the library's global
// lock, so callers keep their work between calls (decoding, copying) outside it.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember::io {

enum class FileMode {
  Read,       // the file must exist
  ReadWrite,  // the file must exist
  Create,     // a new file; an existing one is truncated
  // A new file held in memory only (HDF5's core driver, no backing store): path only names it in
  // messages. write_image() then puts its bytes on disk with plain POSIX writes, so a full disk
  // is an ordinary error and never a failed write inside HDF5, which 1.10 cannot recover from
  // (it then fails to close the file and crashes in its exit-time cleanup). Checkpoints use it.
  CreateInMemory,
};

// How a new dataset is stored. chunk_rows > 0 chunks it along axis 0 (a chunk holds that many
// rows, whole along the other axes); deflate needs chunking.
struct DatasetLayout {
  int64_t chunk_rows = 0;
  int deflate_level = 0;  // 0: none, 1-9: zlib level
};

struct DatasetInfo {
  DType dtype = kFloat32;
  DimVector shape;        // empty for a scalar dataset
  DimVector chunk_shape;  // empty when stored contiguously
  int deflate_level = 0;  // 0 when not compressed
  bool filtered = false;  // any filter (deflate, shuffle, lzf, ...): HDF5 reads whole chunks
};

// How a dataset is opened for reading. HDF5 keeps a cache of whole chunks per open dataset (1 MiB
// by default). A compressed dataset needs it: every read of a chunk that is not cached inflates
// the whole chunk again. An uncompressed one reads fastest with no cache at all: HDF5 then copies
// just the selected bytes from the file instead of staging each touched chunk (measured with
// random rows of 784 B and 150 KB, HDF5 1.10: 2-4x faster, and 30% faster for a whole read).
//
// HDF5 shares one cache among the open handles of a dataset in a process: while one is open, a
// new handle gets its cache whatever the access asks.
struct DatasetAccess {
  // Bytes of HDF5's chunk cache for this dataset; -1 keeps HDF5's default, 0 disables it.
  int64_t chunk_cache_bytes = -1;
};

class Hdf5Dataset;

// Where a dataset's rows lie in its file, for a reader that copies them from the file itself
// (ShardedDataset, from a read-only mapping, with no HDF5 call or lock per row).
struct StoredRows {
  std::vector<uint64_t> chunk_addresses;  // file offset of each chunk's first row; one entry when contiguous
  int64_t rows_per_chunk = 0;
  int64_t row_bytes = 0;
  uint64_t end = 0;  // one past the last byte of any row

  uint64_t address(int64_t row) const {
    const int64_t chunk = row / rows_per_chunk;
    return chunk_addresses[static_cast<size_t>(chunk)] + static_cast<uint64_t>((row - chunk * rows_per_chunk) * row_bytes);
  }
};

class Hdf5File {
 public:
  Hdf5File(const std::string& path, FileMode mode);
  ~Hdf5File();
  Hdf5File(Hdf5File&&) noexcept;
  Hdf5File& operator=(Hdf5File&&) noexcept;
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  const std::string& path() const { return path_; }

  // True when a dataset or group exists at path (a missing intermediate group answers false).
  bool has(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  bool has_attribute(const std::string& object, const std::string& name) const;
  // The names of a group's members, sorted; "" or "/" is the root.
  std::vector<std::string> children(const std::string& group) const;

  Hdf5Dataset dataset(const std::string& path) const;
  Hdf5Dataset dataset(const std::string& path, const DatasetAccess& access) const;
  DatasetInfo info(const std::string& path) const;
  // The whole dataset as a new contiguous CPU tensor of the stored dtype.
  Tensor read(const std::string& path) const;
  // Writes tensor (any device, any strides) as a new dataset; intermediate groups are created.
  // An existing dataset at path is an error: checkpoints write fresh files.
  void write(const std::string& path, const Tensor& tensor, DatasetLayout layout = {});
  // A new dataset of the given shape, filled later with Hdf5Dataset::write_rows.
  Hdf5Dataset create_dataset(const std::string& path, DType dtype, IntArrayRef shape, DatasetLayout layout = {});
  void create_group(const std::string& path);

  // Attributes on a group or dataset ("/" is the root). Setting replaces an existing one.
  void set_attribute(const std::string& object, const std::string& name, int64_t value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, const char* value) {
    set_attribute(object, name, std::string(value));
  }
  int64_t attribute_int(const std::string& object, const std::string& name) const;
  double attribute_double(const std::string& object, const std::string& name) const;
  std::string attribute_string(const std::string& object, const std::string& name) const;

  // Pushes buffered data to the operating system (H5Fflush); close() also fsyncs nothing, see
  // io::sync_file for durability.
  void flush();
  // For a CreateInMemory file: flushes it, writes its bytes to `path` (created or truncated),
  // fsyncs them, and throws naming path and the system's reason on any failure (ENOSPC, EFBIG).
  void write_image(const std::string& path);

  // Closes the file and reports a failure to close (where HDF5 writes its last metadata).
  void close();

  struct Handle;

 private:
  std::string path_;
  std::shared_ptr<Handle> handle_;
};

// One open dataset: keeps its HDF5 handles so that repeated row reads do not reopen it.
class Hdf5Dataset {
 public:
  Hdf5Dataset();
  ~Hdf5Dataset();
  Hdf5Dataset(Hdf5Dataset&&) noexcept;
  Hdf5Dataset& operator=(Hdf5Dataset&&) noexcept;
  Hdf5Dataset(const Hdf5Dataset&) = delete;
  Hdf5Dataset& operator=(const Hdf5Dataset&) = delete;

  const DatasetInfo& info() const { return info_; }
  int64_t rows() const { return info_.shape.empty() ? 1 : info_.shape[0]; }
  // Bytes of one row (one sample): the element size times the sizes after axis 0.
  int64_t row_bytes() const;
  const std::string& path() const { return path_; }
  const std::string& file_path() const { return file_path_; }

  Tensor read() const;
  // Rows [start, start + count) into destination, which holds count * row_bytes() bytes.
  void read_rows(int64_t start, int64_t count, void* destination) const;
  // The given rows (ascending, no repeats) in that order into destination. Rows close together in
  // one chunk are read with one H5Dread of the stretch that spans them (into scratch memory, then
  // copied out), other rows with one H5Dread each, a run of consecutive rows straight into
  // destination. One read over a union of hyperslabs would be fewer calls but HDF5 1.10 maps an
  // irregular selection to memory element by element: 25x slower for 64 rows of 784 B, 400x for
  // 32 rows of 150 KB. Returns the number of runs of consecutive rows.
  int64_t read_rows(std::span<const int64_t> sorted_rows, void* destination) const;
  // Where the rows lie in the file, when the file holds exactly the bytes a read returns: no
  // filter, the stored type equal to the tensor's (bools excluded), every chunk allocated and
  // whole along the axes after 0. Empty otherwise, and for a dataset with no rows. Asks HDF5 for
  // every chunk's address: call once, at open.
  std::optional<StoredRows> stored_rows() const;
  // Writes tensor's rows at [start, start + tensor.size(0)); tensor has the dataset's row shape.
  void write_rows(int64_t start, const Tensor& tensor);

 private:
  friend class Hdf5File;
  struct Handle;
  std::string file_path_;
  std::string path_;
  DatasetInfo info_;
  std::unique_ptr<Handle> handle_;
};

// fsync()s a file (or a directory, so that a rename in it is durable). Throws naming the path.
void sync_file(const std::string& path);

}  // namespace ember::io

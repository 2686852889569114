#include "ember/io/sharded_dataset.h"

#include <glob.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"
#include "mapped_file.h"
#include "row_gather.h"

namespace ember::io {
namespace {

namespace fs = std::filesystem;

bool is_pattern(const std::string& source) { return source.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> expand_pattern(const std::string& pattern) {
  glob_t matches{};
  const int status = ::glob(pattern.c_str(), 0, nullptr, &matches);
  std::vector<std::string> paths;
  if (status == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  EMBER_CHECK(status == 0 || status == GLOB_NOMATCH, "sharded dataset: cannot expand the pattern '{}' (glob error {})",
              pattern, status);
  EMBER_CHECK(!paths.empty(), "sharded dataset: the pattern '{}' matches no file", pattern);
  // glob sorts by the locale's collation; byte order keeps shard order the same everywhere.
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<std::string> list_directory(const std::string& directory) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".h5" && entry.is_regular_file(error)) paths.push_back(entry.path().string());
  }
  EMBER_CHECK(!error, "sharded dataset: cannot list the directory '{}': {}", directory, error.message());
  EMBER_CHECK(!paths.empty(), "sharded dataset: the directory '{}' holds no *.h5 file", directory);
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string trim_slashes(const std::string& name) {
  const size_t first = name.find_first_not_of('/');
  if (first == std::string::npos) return "";
  return name.substr(first, name.find_last_not_of('/') - first + 1);
}

DimVector sample_shape_of(const DatasetInfo& info) { return DimVector(info.shape.begin() + 1, info.shape.end()); }

int64_t sample_bytes(const Field& field) {
  int64_t bytes = element_size(field.dtype);
  for (int64_t size : field.sample_shape) bytes *= size;
  return bytes;
}

struct Outside {
  int64_t position;  // of the element in the tensor
  int64_t value;
};

template <class T>
std::optional<Outside> first_outside(const Tensor& values, ValueRange range) {
  const T* data = static_cast<const T*>(values.data_ptr());
  const int64_t count = values.numel();
  for (int64_t i = 0; i < count; ++i) {
    const auto value = static_cast<int64_t>(data[i]);
    if (value < range.low || value >= range.high) return Outside{i, value};
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> resolve_shard_paths(const std::vector<std::string>& sources) {
  EMBER_CHECK(!sources.empty(), "sharded dataset: no shard files, directories or patterns given");
  std::vector<std::string> paths;
  for (const std::string& source : sources) {
    std::error_code error;
    if (fs::is_directory(source, error)) {
      for (std::string& path : list_directory(source)) paths.push_back(std::move(path));
    } else if (fs::exists(source, error)) {
      paths.push_back(source);
    } else if (is_pattern(source)) {
      for (std::string& path : expand_pattern(source)) paths.push_back(std::move(path));
    } else {
      fail("sharded dataset: shard file '{}' does not exist", source);
    }
  }
  // The same file twice would silently repeat its samples (a pattern overlapping a listed file).
  std::set<fs::path> seen;
  for (const std::string& path : paths) {
    std::error_code error;
    EMBER_CHECK(seen.insert(fs::weakly_canonical(path, error)).second, "sharded dataset: shard '{}' is given twice",
                path);
  }
  return paths;
}

struct ShardedDataset::Shard {
  std::string path;
  Hdf5File file;
  std::vector<Hdf5Dataset> datasets{};  // one per field, in field order
  int64_t rows = 0;
  // Mapped reads (all_direct_, and the shard has rows): the file, where each field's rows lie in
  // it, and how many bytes it must still hold for all of them.
  std::unique_ptr<detail::MappedFile> mapped{};
  std::vector<StoredRows> stored{};  // one per field
  uint64_t stored_end = 0;
};

ShardedDataset::ShardedDataset(const std::vector<std::string>& sources, ShardedDatasetOptions options) {
  EMBER_CHECK(options.preload_bytes >= 0 && options.chunk_cache_bytes >= 0,
              "sharded dataset: preload_bytes ({}) and chunk_cache_bytes ({}) cannot be negative",
              options.preload_bytes, options.chunk_cache_bytes);
  const std::vector<std::string> paths = resolve_shard_paths(sources);
  std::vector<FieldSpec>& specs = options.fields;
  const bool all_root_datasets = specs.empty();
  std::vector<std::string> root_datasets;  // of the first shard, when the fields are not named

  for (const std::string& path : paths) {
    Shard shard{.path = path, .file = Hdf5File(path, FileMode::Read)};
    if (all_root_datasets) {
      std::vector<std::string> names;
      for (const std::string& child : shard.file.children("/")) {
        if (shard.file.is_dataset(child)) names.push_back(child);
      }
      EMBER_CHECK(!names.empty(), "sharded dataset: shard '{}' has no datasets at its root", path);
      if (shards_.empty()) {
        root_datasets = names;
        for (const std::string& name : names) specs.push_back(FieldSpec{name, {}, {}, {}});
      }
      EMBER_CHECK(names == root_datasets,
                  "sharded dataset: shard '{}' holds the datasets [{}] but shard '{}' holds [{}]; name the fields to "
                  "read only some of them",
                  path, fmt::join(names, ", "), shards_.front().path, fmt::join(root_datasets, ", "));
    }
    for (size_t f = 0; f < specs.size(); ++f) {
      const FieldSpec& spec = specs[f];
      const std::string name = trim_slashes(spec.name);
      EMBER_CHECK(!name.empty(), "sharded dataset: field {} has an empty name", f);
      EMBER_CHECK(shard.file.is_dataset(name), "sharded dataset: shard '{}' has no dataset '{}'", path, name);
      Hdf5Dataset dataset = shard.file.dataset(name);
      const DatasetInfo& info = dataset.info();
      EMBER_CHECK(!info.shape.empty(), "sharded dataset: dataset '{}' in '{}' is a scalar; a field needs a sample axis",
                  name, path);
      const DimVector sample_shape = sample_shape_of(info);
      if (shards_.empty()) {
        EMBER_CHECK(!spec.dtype || *spec.dtype == info.dtype,
                    "sharded dataset: dataset '{}' in '{}' is {} but the field is expected to be {}", name, path,
                    ember::name(info.dtype), ember::name(*spec.dtype));
        EMBER_CHECK(!spec.sample_shape || *spec.sample_shape == sample_shape,
                    "sharded dataset: dataset '{}' in '{}' has samples of shape {} (shape {}) but the field expects {}",
                    name, path, to_string(sample_shape), to_string(info.shape), to_string(*spec.sample_shape));
        EMBER_CHECK(!spec.valid_range || is_integral(info.dtype, /*include_bool=*/true),
                    "sharded dataset: field '{}' is {}; a valid range applies to integer fields only", name,
                    ember::name(info.dtype));
        EMBER_CHECK(!spec.valid_range || spec.valid_range->low < spec.valid_range->high,
                    "sharded dataset: field '{}' has an empty valid range [{}, {})", name, spec.valid_range->low,
                    spec.valid_range->high);
        Field& field = fields_.emplace_back();
        field.name = name;
        field.dtype = info.dtype;
        field.sample_shape = sample_shape;
        valid_ranges_.push_back(spec.valid_range);
      } else {
        const Field& field = fields_[f];
        EMBER_CHECK(info.dtype == field.dtype && sample_shape == field.sample_shape,
                    "sharded dataset: dataset '{}' is {} with samples of shape {} in '{}' but {} with samples of shape "
                    "{} in '{}'",
                    name, ember::name(info.dtype), to_string(sample_shape), path, ember::name(field.dtype),
                    to_string(field.sample_shape), shards_.front().path);
      }
      if (f == 0) shard.rows = info.shape[0];
      EMBER_CHECK(info.shape[0] == shard.rows,
                  "sharded dataset: in '{}', dataset '{}' has {} samples (shape {}) but '{}' has {}; every field of a "
                  "shard needs the same length",
                  path, name, info.shape[0], to_string(info.shape), fields_[0].name, shard.rows);
      shard.datasets.push_back(std::move(dataset));
    }
    offsets_.push_back(offsets_.back() + shard.rows);
    shards_.push_back(std::move(shard));
  }
  for (const Shard& shard : shards_) {
    for (const Hdf5Dataset& dataset : shard.datasets) byte_size_ += dataset.rows() * dataset.row_bytes();
  }
  const bool preloading = options.preload_bytes > 0 && byte_size_ <= options.preload_bytes;
  open_caches(options.chunk_cache_bytes, options.direct_reads && !preloading);  // nothing to map when preloaded
  if (preloading) preload();
}

void ShardedDataset::open_caches(int64_t chunk_cache_bytes, bool direct_reads) {
  double filtered_bytes = 0;
  for (const Shard& shard : shards_) {
    for (const Hdf5Dataset& dataset : shard.datasets) {
      if (dataset.info().filtered) filtered_bytes += static_cast<double>(dataset.rows() * dataset.row_bytes());
    }
  }
  for (Shard& shard : shards_) {
    for (size_t f = 0; f < fields_.size(); ++f) {
      const DatasetInfo& info = shard.datasets[f].info();
      // Contiguous data has no chunk cache; uncompressed data is read straight from the file.
      DatasetAccess access{.chunk_cache_bytes = info.chunk_shape.empty() ? -1 : 0};
      if (info.filtered) {
        int64_t chunk_bytes = element_size(info.dtype);
        for (int64_t size : info.chunk_shape) chunk_bytes *= size;
        const double bytes = static_cast<double>(shard.datasets[f].rows() * shard.datasets[f].row_bytes());
        const auto share = static_cast<int64_t>(static_cast<double>(chunk_cache_bytes) * bytes / filtered_bytes);
        access.chunk_cache_bytes = std::max(share, chunk_bytes);
      }
      // HDF5 keeps the cache of a dataset's first open handle while any handle is open.
      shard.datasets[f] = Hdf5Dataset();
      shard.datasets[f] = shard.file.dataset(fields_[f].name, access);
    }
  }
  all_direct_ = direct_reads && !shards_.empty() && map_shards();
}

// Maps every shard that has rows, when every field of each is stored as read (see StoredRows).
// False, with nothing mapped, when one is not or a file cannot be mapped: then all reads go
// through HDF5.
bool ShardedDataset::map_shards() {
  const auto unmap_all = [&] {
    for (Shard& shard : shards_) {
      shard.mapped.reset();
      shard.stored.clear();
      shard.stored_end = 0;
    }
    return false;
  };
  for (Shard& shard : shards_) {
    if (shard.rows == 0) continue;  // nothing to read, directly or not
    for (const Hdf5Dataset& dataset : shard.datasets) {
      std::optional<StoredRows> stored = dataset.stored_rows();
      if (!stored) return unmap_all();
      shard.stored_end = std::max(shard.stored_end, stored->end);
      shard.stored.push_back(std::move(*stored));
    }
    try {
      shard.mapped = std::make_unique<detail::MappedFile>(shard.path);
    } catch (const Error&) {
      return unmap_all();
    }
    if (shard.stored_end > shard.mapped->size()) return unmap_all();
  }
  return true;
}

void ShardedDataset::preload() {
  std::vector<Tensor> memory;
  for (const Field& field : fields_) {
    DimVector shape{size()};
    shape.insert(shape.end(), field.sample_shape.begin(), field.sample_shape.end());
    memory.push_back(empty(shape, field.dtype));
  }
  for (size_t s = 0; s < shards_.size(); ++s) {
    const Shard& shard = shards_[s];
    for (size_t f = 0; f < fields_.size(); ++f) {
      const Hdf5Dataset& dataset = shard.datasets[f];
      const int64_t row_bytes = dataset.row_bytes();
      auto* destination = static_cast<uint8_t*>(memory[f].data_ptr()) + offsets_[s] * row_bytes;
      try {
        dataset.read_rows(0, shard.rows, destination);
      } catch (const Error& whole_failure) {
        // Only on this failure path: chunk by chunk, then row by row, to name the first sample lost.
        const int64_t step = dataset.info().chunk_shape.empty() ? 1 : dataset.info().chunk_shape[0];
        for (int64_t start = 0; start < shard.rows; start += step) {
          const int64_t count = std::min(step, shard.rows - start);
          try {
            dataset.read_rows(start, count, destination + start * row_bytes);
            continue;
          } catch (const Error&) {
          }
          for (int64_t row = start; row < start + count; ++row) {
            try {
              dataset.read_rows(row, 1, destination + row * row_bytes);
            } catch (const Error& failure) {
              fail("sharded dataset: cannot load sample {} (row {} of dataset '{}' in '{}') into memory: {}",
                   offsets_[s] + row, row, fields_[f].name, shard.path, failure.what());
            }
          }
        }
        fail("sharded dataset: cannot load dataset '{}' of '{}' into memory: {}", fields_[f].name, shard.path,
             whole_failure.what());
      }
    }
  }
  for (size_t f = 0; f < fields_.size(); ++f) {
    if (valid_ranges_[f]) check_values(f, memory[f], {});
  }
  memory_ = std::move(memory);
  // Reads never touch the files again.
  for (Shard& shard : shards_) {
    shard.datasets.clear();
    shard.file.close();
  }
}

ShardedDataset::~ShardedDataset() = default;
ShardedDataset::ShardedDataset(ShardedDataset&&) noexcept = default;
ShardedDataset& ShardedDataset::operator=(ShardedDataset&&) noexcept = default;

int64_t ShardedDataset::shard_count() const { return static_cast<int64_t>(shards_.size()); }

const std::string& ShardedDataset::shard_path(int64_t shard) const {
  EMBER_CHECK(shard >= 0 && shard < shard_count(), "sharded dataset: shard {} is out of range ({} shards)", shard,
              shard_count());
  return shards_[static_cast<size_t>(shard)].path;
}

int64_t ShardedDataset::shard_size(int64_t shard) const {
  EMBER_CHECK(shard >= 0 && shard < shard_count(), "sharded dataset: shard {} is out of range ({} shards)", shard,
              shard_count());
  return shards_[static_cast<size_t>(shard)].rows;
}

std::pair<int64_t, int64_t> ShardedDataset::locate(int64_t index) const {
  EMBER_CHECK(index >= 0 && index < size(), "sharded dataset: sample index {} is out of range (size {})", index,
              size());
  // The last shard whose first sample is <= index; empty shards share their offset with the next.
  const auto after = std::upper_bound(offsets_.begin(), offsets_.end(), index);
  const int64_t shard = (after - offsets_.begin()) - 1;
  return {shard, index - offsets_[static_cast<size_t>(shard)]};
}

std::vector<Tensor> ShardedDataset::read(std::span<const int64_t> sorted_indices) const {
  const bool any_order = reads_any_order();
  for (size_t i = 0; i < sorted_indices.size(); ++i) {
    const int64_t index = sorted_indices[i];
    EMBER_CHECK(index >= 0 && index < size(), "sharded dataset: sample index {} is out of range (size {})", index,
                size());
    EMBER_CHECK(any_order || i == 0 || index > sorted_indices[i - 1],
                "sharded dataset: sample indices must ascend without repeats ({} after {})", index,
                i == 0 ? 0 : sorted_indices[i - 1]);
  }
  const auto count = static_cast<int64_t>(sorted_indices.size());
  std::vector<Tensor> outputs;
  outputs.reserve(fields_.size());
  for (const Field& field : fields_) {
    DimVector shape{count};
    shape.insert(shape.end(), field.sample_shape.begin(), field.sample_shape.end());
    outputs.push_back(empty(shape, field.dtype));
  }
  if (preloaded()) {
    read_memory(sorted_indices, outputs);
    return outputs;  // valid ranges were checked at load
  }
  if (all_direct_) {
    read_direct(sorted_indices, outputs);
    for (size_t f = 0; f < fields_.size(); ++f) {
      if (valid_ranges_[f]) check_values(f, outputs[f], sorted_indices);
    }
    return outputs;
  }
  // Sorted indices fall into each shard as one contiguous stretch.
  size_t begin = 0;
  while (begin < sorted_indices.size()) {
    const int64_t shard = locate(sorted_indices[begin]).first;
    const int64_t shard_end = offsets_[static_cast<size_t>(shard) + 1];
    const size_t end = static_cast<size_t>(
        std::lower_bound(sorted_indices.begin() + static_cast<std::ptrdiff_t>(begin), sorted_indices.end(), shard_end) -
        sorted_indices.begin());
    read_shard(shards_[static_cast<size_t>(shard)], sorted_indices.subspan(begin, end - begin),
               static_cast<int64_t>(begin), outputs);
    begin = end;
  }
  for (size_t f = 0; f < fields_.size(); ++f) {
    if (valid_ranges_[f]) check_values(f, outputs[f], sorted_indices);
  }
  return outputs;
}

// Rows straight from the mapped shards, in the requested order: one check per shard that its file
// still holds every row, then for each field one gather from the mappings.
void ShardedDataset::read_direct(std::span<const int64_t> indices, std::vector<Tensor>& outputs) const {
  std::vector<std::pair<const Shard*, int64_t>> places(indices.size());
  std::vector<bool> checked(shards_.size(), false);
  for (size_t i = 0; i < indices.size(); ++i) {
    const auto [shard, row] = locate(indices[i]);
    const Shard& place = shards_[static_cast<size_t>(shard)];
    places[i] = {&place, row};
    if (!checked[static_cast<size_t>(shard)]) {
      checked[static_cast<size_t>(shard)] = true;
      const int64_t size = place.mapped->size_now();
      EMBER_CHECK(size >= 0 && static_cast<uint64_t>(size) >= place.stored_end,
                  "sharded dataset: reading sample {} (row {}) from '{}' (up to byte {}) failed: the file ends there "
                  "({} bytes now)",
                  indices[i], row, place.path, place.stored_end, size);
    }
  }
  for (size_t f = 0; f < fields_.size(); ++f) {
    const int64_t row_bytes = sample_bytes(fields_[f]);
    auto* output = static_cast<uint8_t*>(outputs[f].data_ptr());
    detail::gather_rows(
        indices.size(), row_bytes,
        [&](size_t i) { return places[i].first->mapped->data() + places[i].first->stored[f].address(places[i].second); },
        [&](size_t i) { return output + static_cast<int64_t>(i) * row_bytes; });
  }
}

void ShardedDataset::read_shard(const Shard& shard, std::span<const int64_t> global_indices, int64_t first_output_row,
                                std::vector<Tensor>& outputs) const {
  const int64_t offset = offsets_[static_cast<size_t>(&shard - shards_.data())];
  std::vector<int64_t> rows(global_indices.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = global_indices[i] - offset;
  for (size_t f = 0; f < fields_.size(); ++f) {
    const Hdf5Dataset& dataset = shard.datasets[f];
    const int64_t row_bytes = dataset.row_bytes();
    auto* destination = static_cast<uint8_t*>(outputs[f].data_ptr()) + first_output_row * row_bytes;
    try {
      dataset.read_rows(rows, destination);
    } catch (const Error& coalesced_failure) {
      // One read covers many samples; re-reading them one by one (only on this failure path)
      // finds the first sample that cannot be read, so the message can name it.
      std::vector<uint8_t> scratch(static_cast<size_t>(row_bytes));
      for (size_t i = 0; i < rows.size(); ++i) {
        try {
          dataset.read_rows(rows[i], 1, scratch.data());
        } catch (const Error& failure) {
          fail("sharded dataset: cannot read sample {} (row {} of dataset '{}' in '{}'): {}", global_indices[i],
               rows[i], fields_[f].name, shard.path, failure.what());
        }
      }
      fail("sharded dataset: cannot read samples {} to {} (dataset '{}' in '{}'): {}", global_indices.front(),
           global_indices.back(), fields_[f].name, shard.path, coalesced_failure.what());
    }
  }
}

// Indices in any order: each run of consecutive samples is one copy.
void ShardedDataset::read_memory(std::span<const int64_t> indices, std::vector<Tensor>& outputs) const {
  for (size_t f = 0; f < fields_.size(); ++f) {
    const int64_t row_bytes = sample_bytes(fields_[f]);
    const auto* source = static_cast<const uint8_t*>(memory_[f].data_ptr());
    auto* destination = static_cast<uint8_t*>(outputs[f].data_ptr());
    detail::gather_rows(
        indices.size(), row_bytes, [&](size_t i) { return source + indices[i] * row_bytes; },
        [&](size_t i) { return destination + static_cast<int64_t>(i) * row_bytes; });
  }
}

void ShardedDataset::check_values(size_t field, const Tensor& values, std::span<const int64_t> sorted_indices) const {
  const ValueRange range = *valid_ranges_[field];
  const int64_t per_sample = std::max<int64_t>(1, values.numel() / std::max<int64_t>(1, values.size(0)));
  std::optional<Outside> outside;
  switch (values.dtype()) {
    case kBool:
    case kUInt8: outside = first_outside<uint8_t>(values, range); break;
    case kInt32: outside = first_outside<int32_t>(values, range); break;
    case kInt64: outside = first_outside<int64_t>(values, range); break;
    default: fail("sharded dataset: field '{}' is {}; a valid range applies to integer fields only",
                  fields_[field].name, name(values.dtype()));
  }
  if (!outside) return;
  const int64_t row = outside->position / per_sample;
  const int64_t index = sorted_indices.empty() ? row : sorted_indices[static_cast<size_t>(row)];
  const auto [shard, shard_row] = locate(index);
  fail("sharded dataset: sample {} has {} = {}, outside the valid range [{}, {}) (row {} in '{}')", index,
       fields_[field].name, outside->value, range.low, range.high, shard_row, shard_path(shard));
}

}  // namespace ember::io

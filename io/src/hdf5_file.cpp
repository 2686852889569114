#include "ember/io/hdf5_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"

namespace ember::io {
namespace {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Id(Id&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and returns HDF5's status (destruction ignores it).
  herr_t close() {
    herr_t status = 0;
    if (id_ >= 0 && closer_ != nullptr) status = closer_(id_);
    id_ = H5I_INVALID_HID;
    return status;
  }

 private:
  void reset() { close(); }
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// HDF5 prints its error stack to stderr by default, per thread in a thread-safe build. Ember
// reports failures as exceptions instead, with the innermost HDF5 reason appended.
void silence_error_printing() {
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

herr_t collect_description(unsigned depth, const H5E_error2_t* error, void* reasons) {
  auto* list = static_cast<std::vector<std::string>*>(reasons);
  if (error->desc != nullptr && error->desc[0] != '\0') list->emplace_back(error->desc);
  return depth >= 1 ? 1 : 0;  // the two innermost entries say what went wrong
}

// The innermost reasons on this thread's HDF5 error stack, for an error message.
std::string hdf5_reason() {
  std::vector<std::string> reasons;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_description, &reasons);
  H5Eclear2(H5E_DEFAULT);
  if (reasons.empty()) return "";
  std::string joined = " (HDF5: ";
  for (size_t i = 0; i < reasons.size(); ++i) joined += (i ? "; " : "") + reasons[i];
  return joined + ")";
}

template <class... Args>
[[noreturn]] void fail_hdf5(fmt::format_string<Args...> format, Args&&... args) {
  const std::string reason = hdf5_reason();
  throw Error(fmt::format(format, std::forward<Args>(args)...) + reason);
}

// h5py stores numpy's float16 as an IEEE-style 16-bit float; bfloat16 is the same with an 8-bit
// exponent. Both are built from a copy of float32, so the bits round-trip exactly.
Id custom_float_type(DType dtype) {
  Id type(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  if (dtype == kFloat16) {
    H5Tset_fields(type.get(), 15, 10, 5, 0, 10);
    H5Tset_size(type.get(), 2);
    H5Tset_ebias(type.get(), 15);
  } else {
    H5Tset_fields(type.get(), 15, 7, 8, 0, 7);
    H5Tset_size(type.get(), 2);
    H5Tset_ebias(type.get(), 127);
  }
  return type;
}

// numpy's bool as h5py writes it: an enum over int8 with FALSE = 0 and TRUE = 1.
Id bool_type() {
  Id type(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  int8_t value = 0;
  H5Tenum_insert(type.get(), "FALSE", &value);
  value = 1;
  H5Tenum_insert(type.get(), "TRUE", &value);
  return type;
}

// The in-memory type HDF5 converts to/from for a tensor dtype (little-endian file types are
// the same on this platform; HDF5 converts big-endian files on read).
Id memory_type(DType dtype) {
  switch (dtype) {
    case kBool: return bool_type();
    case kUInt8: return Id(H5Tcopy(H5T_NATIVE_UINT8), H5Tclose);
    case kInt32: return Id(H5Tcopy(H5T_NATIVE_INT32), H5Tclose);
    case kInt64: return Id(H5Tcopy(H5T_NATIVE_INT64), H5Tclose);
    case kFloat32: return Id(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
    case kFloat64: return Id(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    case kFloat16:
    case kBFloat16: return custom_float_type(dtype);
  }
  fail("hdf5: dtype {} has no HDF5 type", name(dtype));
}

// The tensor dtype a stored element type reads as.
DType dtype_for(hid_t file_type, const std::string& file, const std::string& path) {
  const H5T_class_t type_class = H5Tget_class(file_type);
  const size_t size = H5Tget_size(file_type);
  if (type_class == H5T_FLOAT) {
    if (size == 8) return kFloat64;
    if (size == 4) return kFloat32;
    if (size == 2) {
      size_t sign = 0, exponent_position = 0, exponent_size = 0, mantissa_position = 0, mantissa_size = 0;
      H5Tget_fields(file_type, &sign, &exponent_position, &exponent_size, &mantissa_position, &mantissa_size);
      if (exponent_size == 5 && mantissa_size == 10) return kFloat16;
      if (exponent_size == 8 && mantissa_size == 7) return kBFloat16;
    }
  }
  if (type_class == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(file_type) == H5T_SGN_2;
    if (size == 1 && !is_signed) return kUInt8;
    if (size <= 4 && is_signed) return kInt32;
    if (size <= 2) return kInt32;  // uint16 fits
    return kInt64;                 // int64, uint32; uint64 beyond 2^63 does not fit and HDF5 clips it
  }
  if (type_class == H5T_ENUM && size == 1) return kBool;
  fail("hdf5 {}: dataset '{}' has an element type (HDF5 class {}, {} bytes) with no tensor dtype", file, path,
       static_cast<int>(type_class), size);
}

DimVector simple_extent(hid_t space, const std::string& file, const std::string& path) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail_hdf5("hdf5 {}: cannot read the shape of '{}'", file, path);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return DimVector(dims.begin(), dims.end());
}

std::vector<hsize_t> to_hsize(IntArrayRef sizes) { return std::vector<hsize_t>(sizes.begin(), sizes.end()); }

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* names) {
  static_cast<std::vector<std::string>*>(names)->emplace_back(name);
  return 0;
}

std::string object_name(const std::string& path) { return path.empty() ? "/" : path; }

// Hash slots for a chunk cache of `bytes`. HDF5 hashes a chunk by its linear index modulo the slot
// count, so as many slots as the dataset has chunks never collide; beyond that a prime spreads
// them, and far more slots than chunks that fit in the cache buys nothing.
size_t chunk_cache_slots(const DatasetInfo& info, int64_t bytes) {
  constexpr int64_t kMaxSlots = 65521;  // a prime
  if (bytes <= 0) return 0;
  int64_t chunk_bytes = element_size(info.dtype), chunks = 1;
  for (size_t d = 0; d < info.shape.size(); ++d) {
    chunk_bytes *= info.chunk_shape[d];
    chunks *= std::max<int64_t>(1, (info.shape[d] + info.chunk_shape[d] - 1) / info.chunk_shape[d]);
  }
  const int64_t fitting = std::max<int64_t>(1, bytes / std::max<int64_t>(1, chunk_bytes));
  return static_cast<size_t>(std::max<int64_t>(1, std::min({chunks, 100 * fitting, kMaxSlots})));
}

}  // namespace

struct Hdf5File::Handle {
  Id file;
};

struct Hdf5Dataset::Handle {
  std::shared_ptr<Hdf5File::Handle> file;  // keeps the file open while the dataset is
  Id dataset;
  Id file_space;
  Id memory_type;
  bool normalize_bools = false;
  int64_t chunk_rows = 0;  // rows per chunk along axis 0; 0 when stored contiguously

  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

namespace {

// The file addresses of a dataset's rows, when its bytes on disk are exactly what a read would
// return: no filters, the stored type equal to the memory type, every chunk allocated and whole
// along the axes after 0. Empty otherwise.
std::vector<uint64_t> row_addresses(hid_t dataset, hid_t file_type, hid_t memory_type, const DatasetInfo& info,
                                    int64_t row_bytes) {
  if (info.shape.empty() || info.shape[0] == 0 || row_bytes == 0 || info.filtered || info.dtype == kBool) return {};
  if (H5Tequal(file_type, memory_type) <= 0) return {};
  if (info.chunk_shape.empty()) {
    const haddr_t address = H5Dget_offset(dataset);
    if (address == HADDR_UNDEF) {
      H5Eclear2(H5E_DEFAULT);
      return {};
    }
    return {static_cast<uint64_t>(address)};
  }
  for (size_t d = 1; d < info.shape.size(); ++d) {
    if (info.chunk_shape[d] != info.shape[d]) return {};
  }
  const int64_t chunk_rows = info.chunk_shape[0];
  const int64_t chunks = (info.shape[0] + chunk_rows - 1) / chunk_rows;
  Id space(H5Dget_space(dataset), H5Sclose);
  hsize_t stored = 0;
  if (H5Dget_num_chunks(dataset, space.get(), &stored) < 0 || static_cast<int64_t>(stored) != chunks) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  std::vector<uint64_t> addresses(static_cast<size_t>(chunks), 0);
  std::vector<bool> seen(static_cast<size_t>(chunks), false);
  std::vector<hsize_t> offset(info.shape.size());
  for (hsize_t index = 0; index < stored; ++index) {
    unsigned filter_mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info(dataset, space.get(), index, offset.data(), &filter_mask, &address, &size) < 0 ||
        address == HADDR_UNDEF || static_cast<int64_t>(size) != chunk_rows * row_bytes ||
        offset[0] % static_cast<hsize_t>(chunk_rows) != 0) {
      H5Eclear2(H5E_DEFAULT);
      return {};
    }
    const size_t chunk = static_cast<size_t>(offset[0] / static_cast<hsize_t>(chunk_rows));
    if (chunk >= addresses.size() || seen[chunk]) return {};
    addresses[chunk] = static_cast<uint64_t>(address);
    seen[chunk] = true;
  }
  return addresses;
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path, FileMode mode) : path_(path) {
  silence_error_printing();
  if (mode == FileMode::CreateInMemory) {
    Id access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    // Grows in 4 MiB steps; nothing is written to path (no backing store).
    H5Pset_fapl_core(access.get(), size_t{4} << 20, 0);
    Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
    if (!file.valid()) fail_hdf5("hdf5: cannot create '{}' in memory", path);
    handle_ = std::make_shared<Handle>(Handle{std::move(file)});
    return;
  }
  if (mode == FileMode::Create) {
    Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.valid()) fail_hdf5("hdf5: cannot create '{}'", path);
    handle_ = std::make_shared<Handle>(Handle{std::move(file)});
    return;
  }
  std::error_code error;
  EMBER_CHECK(std::filesystem::exists(path, error), "hdf5: file '{}' does not exist", path);
  EMBER_CHECK(!std::filesystem::is_directory(path, error), "hdf5: '{}' is a directory, not an HDF5 file", path);
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    fail("hdf5: '{}' is not an HDF5 file (no HDF5 signature; {} bytes)", path, std::filesystem::file_size(path, error));
  }
  Id file(H5Fopen(path.c_str(), mode == FileMode::Read ? H5F_ACC_RDONLY : H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) fail_hdf5("hdf5: cannot open '{}' (truncated or damaged?)", path);
  handle_ = std::make_shared<Handle>(Handle{std::move(file)});
}

Hdf5File::~Hdf5File() = default;
Hdf5File::Hdf5File(Hdf5File&&) noexcept = default;
Hdf5File& Hdf5File::operator=(Hdf5File&&) noexcept = default;

bool Hdf5File::has(const std::string& path) const {
  EMBER_CHECK(handle_ && handle_->file.valid(), "hdf5 {}: the file is closed", path_);
  silence_error_printing();
  if (path.empty() || path == "/") return true;
  // H5Lexists fails rather than answering false when an intermediate group is missing, so each
  // prefix of the path is checked in turn.
  size_t position = path[0] == '/' ? 1 : 0;
  while (position < path.size()) {
    size_t slash = path.find('/', position);
    if (slash == std::string::npos) slash = path.size();
    if (slash > position) {
      const std::string prefix = path.substr(0, slash);
      const htri_t exists = H5Lexists(handle_->file.get(), prefix.c_str(), H5P_DEFAULT);
      if (exists <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    position = slash + 1;
  }
  return true;
}

bool Hdf5File::is_dataset(const std::string& path) const {
  if (path.empty() || path == "/" || !has(path)) return false;
  H5O_info_t object_info;
  if (H5Oget_info_by_name2(handle_->file.get(), path.c_str(), &object_info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return object_info.type == H5O_TYPE_DATASET;
}

bool Hdf5File::has_attribute(const std::string& object, const std::string& name) const {
  if (!has(object)) return false;
  const htri_t exists = H5Aexists_by_name(handle_->file.get(), object_name(object).c_str(), name.c_str(), H5P_DEFAULT);
  if (exists < 0) H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

std::vector<std::string> Hdf5File::children(const std::string& group) const {
  EMBER_CHECK(has(group), "hdf5 {}: no group '{}'", path_, group);
  Id opened(H5Gopen2(handle_->file.get(), object_name(group).c_str(), H5P_DEFAULT), H5Gclose);
  if (!opened.valid()) fail_hdf5("hdf5 {}: '{}' is not a group", path_, group);
  std::vector<std::string> names;
  if (H5Literate(opened.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names) < 0) {
    fail_hdf5("hdf5 {}: cannot list group '{}'", path_, group);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Hdf5Dataset Hdf5File::dataset(const std::string& path) const { return dataset(path, DatasetAccess{}); }

Hdf5Dataset Hdf5File::dataset(const std::string& path, const DatasetAccess& access) const {
  EMBER_CHECK(has(path), "hdf5 {}: no dataset '{}'", path_, path);
  Hdf5Dataset result;
  result.file_path_ = path_;
  result.path_ = path;
  auto handle = std::make_unique<Hdf5Dataset::Handle>();
  handle->file = handle_;
  handle->dataset = Id(H5Dopen2(handle_->file.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!handle->dataset.valid()) fail_hdf5("hdf5 {}: '{}' is not a dataset", path_, path);
  Id file_type(H5Dget_type(handle->dataset.get()), H5Tclose);
  if (!file_type.valid()) fail_hdf5("hdf5 {}: cannot read the element type of '{}'", path_, path);
  handle->file_space = Id(H5Dget_space(handle->dataset.get()), H5Sclose);
  if (!handle->file_space.valid()) fail_hdf5("hdf5 {}: cannot read the shape of '{}'", path_, path);
  const H5S_class_t space_class = H5Sget_simple_extent_type(handle->file_space.get());
  EMBER_CHECK(space_class != H5S_NULL, "hdf5 {}: dataset '{}' has no dataspace (an empty attribute-like object)",
              path_, path);
  result.info_.dtype = dtype_for(file_type.get(), path_, path);
  result.info_.shape = simple_extent(handle->file_space.get(), path_, path);

  Id create_properties(H5Dget_create_plist(handle->dataset.get()), H5Pclose);
  if (create_properties.valid() && H5Pget_layout(create_properties.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(result.info_.shape.size());
    H5Pget_chunk(create_properties.get(), static_cast<int>(chunk.size()), chunk.data());
    result.info_.chunk_shape = DimVector(chunk.begin(), chunk.end());
    const int filters = H5Pget_nfilters(create_properties.get());
    result.info_.filtered = filters > 0;
    for (int i = 0; i < filters; ++i) {
      unsigned flags = 0, level = 0;
      size_t values = 1;
      const H5Z_filter_t filter =
          H5Pget_filter2(create_properties.get(), static_cast<unsigned>(i), &flags, &values, &level, 0, nullptr, nullptr);
      if (filter == H5Z_FILTER_DEFLATE) result.info_.deflate_level = values > 0 ? static_cast<int>(level) : 1;
    }
  }
  if (!result.info_.chunk_shape.empty()) {
    handle->chunk_rows = result.info_.chunk_shape[0];
    if (access.chunk_cache_bytes >= 0) {
      // The cache is fixed when a dataset opens, and sizing it needs the chunk shape read above:
      // close and open again (the metadata is cached, so this costs microseconds). HDF5 shares
      // one cache among all open handles of a dataset, so the first handle had to go first.
      Id access_properties(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
      H5Pset_chunk_cache(access_properties.get(), chunk_cache_slots(result.info_, access.chunk_cache_bytes),
                         static_cast<size_t>(access.chunk_cache_bytes), H5D_CHUNK_CACHE_W0_DEFAULT);
      create_properties.close();
      handle->dataset.close();
      handle->dataset = Id(H5Dopen2(handle_->file.get(), path.c_str(), access_properties.get()), H5Dclose);
      if (!handle->dataset.valid()) fail_hdf5("hdf5 {}: cannot reopen '{}' with a chunk cache", path_, path);
    }
  }
  if (result.info_.dtype == kBool) {
    // Read with the file's own enum so that any 1-byte enum loads; values are normalised to 0/1.
    handle->memory_type = Id(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND), H5Tclose);
    handle->normalize_bools = true;
  } else {
    handle->memory_type = memory_type(result.info_.dtype);
  }
  result.handle_ = std::move(handle);
  return result;
}

DatasetInfo Hdf5File::info(const std::string& path) const { return dataset(path).info(); }

Tensor Hdf5File::read(const std::string& path) const { return dataset(path).read(); }

void Hdf5File::create_group(const std::string& path) {
  if (has(path)) return;
  Id link_properties(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_properties.get(), 1);
  Id group(H5Gcreate2(handle_->file.get(), path.c_str(), link_properties.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail_hdf5("hdf5 {}: cannot create group '{}'", path_, path);
}

Hdf5Dataset Hdf5File::create_dataset(const std::string& path, DType dtype, IntArrayRef shape, DatasetLayout layout) {
  EMBER_CHECK(handle_ && handle_->file.valid(), "hdf5 {}: the file is closed", path_);
  EMBER_CHECK(!has(path), "hdf5 {}: '{}' already exists", path_, path);
  EMBER_CHECK(layout.deflate_level >= 0 && layout.deflate_level <= 9, "hdf5 {}: deflate level {} for '{}' is not in 0..9",
              path_, layout.deflate_level, path);
  EMBER_CHECK(layout.deflate_level == 0 || layout.chunk_rows > 0,
              "hdf5 {}: compressing '{}' needs chunking (chunk_rows > 0)", path_, path);
  for (int64_t size : shape) EMBER_CHECK(size >= 0, "hdf5 {}: negative size in shape {} for '{}'", path_, to_string(shape), path);
  const std::vector<hsize_t> dims = to_hsize(shape);
  Id space(shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
           H5Sclose);
  Id create_properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (layout.chunk_rows > 0 && !shape.empty()) {
    std::vector<hsize_t> chunk = dims;
    // A chunk dimension may not be zero; an empty dataset still gets a valid chunk shape.
    for (hsize_t& size : chunk) size = std::max<hsize_t>(size, 1);
    chunk[0] = static_cast<hsize_t>(std::max<int64_t>(1, std::min<int64_t>(layout.chunk_rows, std::max<int64_t>(shape[0], 1))));
    H5Pset_chunk(create_properties.get(), static_cast<int>(chunk.size()), chunk.data());
    if (layout.deflate_level > 0) H5Pset_deflate(create_properties.get(), static_cast<unsigned>(layout.deflate_level));
  }
  Id link_properties(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_properties.get(), 1);
  // Files store little-endian types of the same width as memory (h5py's convention).
  Id stored_type = memory_type(dtype);
  if (dtype == kFloat32) stored_type = Id(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  if (dtype == kFloat64) stored_type = Id(H5Tcopy(H5T_IEEE_F64LE), H5Tclose);
  if (dtype == kInt32) stored_type = Id(H5Tcopy(H5T_STD_I32LE), H5Tclose);
  if (dtype == kInt64) stored_type = Id(H5Tcopy(H5T_STD_I64LE), H5Tclose);
  if (dtype == kUInt8) stored_type = Id(H5Tcopy(H5T_STD_U8LE), H5Tclose);
  Id dataset(H5Dcreate2(handle_->file.get(), path.c_str(), stored_type.get(), space.get(), link_properties.get(),
                        create_properties.get(), H5P_DEFAULT),
             H5Dclose);
  if (!dataset.valid()) fail_hdf5("hdf5 {}: cannot create dataset '{}' of shape {}", path_, path, to_string(shape));
  dataset.close();
  return this->dataset(path);
}

void Hdf5File::write(const std::string& path, const Tensor& tensor, DatasetLayout layout) {
  Hdf5Dataset created = create_dataset(path, tensor.dtype(), tensor.sizes(), layout);
  if (tensor.dim() == 0) {
    const Tensor host = tensor.to(kCPU).contiguous();
    if (H5Dwrite(created.handle_->dataset.get(), created.handle_->memory_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                 host.data_ptr()) < 0) {
      fail_hdf5("hdf5 {}: writing '{}' failed", path_, path);
    }
    return;
  }
  created.write_rows(0, tensor);
}

namespace {

// Opens (or creates, replacing any existing one) an attribute of the given type on object.
Id create_attribute(hid_t file, const std::string& file_path, const std::string& object, const std::string& name,
                    hid_t type) {
  const std::string owner = object_name(object);
  if (H5Aexists_by_name(file, owner.c_str(), name.c_str(), H5P_DEFAULT) > 0) {
    H5Adelete_by_name(file, owner.c_str(), name.c_str(), H5P_DEFAULT);
  }
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id attribute(H5Acreate_by_name(file, owner.c_str(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT),
               H5Aclose);
  if (!attribute.valid()) fail_hdf5("hdf5 {}: cannot create attribute '{}' on '{}'", file_path, name, owner);
  return attribute;
}

Id open_attribute(hid_t file, const std::string& file_path, const std::string& object, const std::string& name) {
  const std::string owner = object_name(object);
  Id attribute(H5Aopen_by_name(file, owner.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attribute.valid()) fail_hdf5("hdf5 {}: no attribute '{}' on '{}'", file_path, name, owner);
  return attribute;
}

}  // namespace

void Hdf5File::set_attribute(const std::string& object, const std::string& name, int64_t value) {
  EMBER_CHECK(has(object), "hdf5 {}: no object '{}' for attribute '{}'", path_, object, name);
  Id attribute = create_attribute(handle_->file.get(), path_, object, name, H5T_STD_I64LE);
  if (H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value) < 0) fail_hdf5("hdf5 {}: writing attribute '{}' failed", path_, name);
}

void Hdf5File::set_attribute(const std::string& object, const std::string& name, double value) {
  EMBER_CHECK(has(object), "hdf5 {}: no object '{}' for attribute '{}'", path_, object, name);
  Id attribute = create_attribute(handle_->file.get(), path_, object, name, H5T_IEEE_F64LE);
  if (H5Awrite(attribute.get(), H5T_NATIVE_DOUBLE, &value) < 0) fail_hdf5("hdf5 {}: writing attribute '{}' failed", path_, name);
}

void Hdf5File::set_attribute(const std::string& object, const std::string& name, const std::string& value) {
  EMBER_CHECK(has(object), "hdf5 {}: no object '{}' for attribute '{}'", path_, object, name);
  // A fixed-length UTF-8 string (h5py reads it as bytes or str). Not variable-length: HDF5 1.10
  // keeps those in a global heap that it reads without bounds checks, so a damaged file could
  // crash the reader.
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(value.size(), 1));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Id attribute = create_attribute(handle_->file.get(), path_, object, name, type.get());
  std::vector<char> text(std::max<size_t>(value.size(), 1), '\0');
  std::copy(value.begin(), value.end(), text.begin());
  if (H5Awrite(attribute.get(), type.get(), text.data()) < 0) fail_hdf5("hdf5 {}: writing attribute '{}' failed", path_, name);
}

int64_t Hdf5File::attribute_int(const std::string& object, const std::string& name) const {
  EMBER_CHECK(has_attribute(object, name), "hdf5 {}: no attribute '{}' on '{}'", path_, name, object_name(object));
  Id attribute = open_attribute(handle_->file.get(), path_, object, name);
  Id type(H5Aget_type(attribute.get()), H5Tclose);
  Id space(H5Aget_space(attribute.get()), H5Sclose);
  EMBER_CHECK(H5Tget_class(type.get()) == H5T_INTEGER && H5Sget_simple_extent_npoints(space.get()) == 1,
              "hdf5 {}: attribute '{}' on '{}' is not one integer", path_, name, object_name(object));
  int64_t value = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_INT64, &value) < 0) fail_hdf5("hdf5 {}: reading attribute '{}' failed", path_, name);
  return value;
}

double Hdf5File::attribute_double(const std::string& object, const std::string& name) const {
  EMBER_CHECK(has_attribute(object, name), "hdf5 {}: no attribute '{}' on '{}'", path_, name, object_name(object));
  Id attribute = open_attribute(handle_->file.get(), path_, object, name);
  Id type(H5Aget_type(attribute.get()), H5Tclose);
  Id space(H5Aget_space(attribute.get()), H5Sclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class == H5T_ENUM && H5Tget_size(type.get()) == 1) {  // h5py's bool
    Id native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
    uint8_t byte = 0;
    if (H5Aread(attribute.get(), native.get(), &byte) < 0) fail_hdf5("hdf5 {}: reading attribute '{}' failed", path_, name);
    return byte != 0 ? 1.0 : 0.0;
  }
  EMBER_CHECK((type_class == H5T_INTEGER || type_class == H5T_FLOAT) && H5Sget_simple_extent_npoints(space.get()) == 1,
              "hdf5 {}: attribute '{}' on '{}' is not one number", path_, name, object_name(object));
  double value = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value) < 0) fail_hdf5("hdf5 {}: reading attribute '{}' failed", path_, name);
  return value;
}

std::string Hdf5File::attribute_string(const std::string& object, const std::string& name) const {
  EMBER_CHECK(has_attribute(object, name), "hdf5 {}: no attribute '{}' on '{}'", path_, name, object_name(object));
  Id attribute = open_attribute(handle_->file.get(), path_, object, name);
  Id type(H5Aget_type(attribute.get()), H5Tclose);
  EMBER_CHECK(H5Tget_class(type.get()) == H5T_STRING, "hdf5 {}: attribute '{}' on '{}' is not a string", path_, name,
              object_name(object));
  Id memory(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(memory.get(), H5Tget_cset(type.get()));
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(memory.get(), H5T_VARIABLE);
    char* text = nullptr;
    if (H5Aread(attribute.get(), memory.get(), &text) < 0) fail_hdf5("hdf5 {}: reading attribute '{}' failed", path_, name);
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
  }
  // Fixed-length strings may be null- or space-padded; reading into one byte more, null-terminated,
  // gives a C string either way.
  const size_t size = H5Tget_size(type.get());
  H5Tset_size(memory.get(), size + 1);
  H5Tset_strpad(memory.get(), H5T_STR_NULLTERM);
  std::vector<char> buffer(size + 1, '\0');
  if (H5Aread(attribute.get(), memory.get(), buffer.data()) < 0) fail_hdf5("hdf5 {}: reading attribute '{}' failed", path_, name);
  return std::string(buffer.data());
}

void Hdf5File::flush() {
  EMBER_CHECK(handle_ && handle_->file.valid(), "hdf5 {}: the file is closed", path_);
  if (H5Fflush(handle_->file.get(), H5F_SCOPE_GLOBAL) < 0) fail_hdf5("hdf5 {}: flush failed", path_);
}

void Hdf5File::write_image(const std::string& path) {
  flush();
  const ssize_t size = H5Fget_file_image(handle_->file.get(), nullptr, 0);
  if (size < 0) fail_hdf5("hdf5 {}: cannot get the file's image (is it a CreateInMemory file?)", path_);
  std::vector<char> image(static_cast<size_t>(size));
  if (H5Fget_file_image(handle_->file.get(), image.data(), image.size()) != size) {
    fail_hdf5("hdf5 {}: copying the file's image failed", path_);
  }
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EMBER_CHECK(descriptor >= 0, "hdf5: cannot create '{}': {}", path, std::strerror(errno));
  size_t written = 0;
  int failure = 0;
  while (written < image.size()) {
    const ssize_t count = ::write(descriptor, image.data() + written, image.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      failure = count < 0 ? errno : ENOSPC;
      break;
    }
    written += static_cast<size_t>(count);
  }
  if (failure == 0 && ::fsync(descriptor) != 0) failure = errno;
  if (::close(descriptor) != 0 && failure == 0) failure = errno;
  EMBER_CHECK(failure == 0, "hdf5: writing '{}' failed after {} of {} bytes: {}", path, written, image.size(),
              std::strerror(failure));
}

void Hdf5File::close() {
  if (!handle_) return;
  EMBER_CHECK(handle_.use_count() == 1, "hdf5 {}: close() while {} dataset handle(s) are still open", path_,
              handle_.use_count() - 1);
  const herr_t status = handle_->file.close();
  handle_.reset();
  if (status < 0) fail_hdf5("hdf5 {}: closing the file failed", path_);
}

Hdf5Dataset::Hdf5Dataset() = default;
Hdf5Dataset::~Hdf5Dataset() = default;
Hdf5Dataset::Hdf5Dataset(Hdf5Dataset&&) noexcept = default;
Hdf5Dataset& Hdf5Dataset::operator=(Hdf5Dataset&&) noexcept = default;

int64_t Hdf5Dataset::row_bytes() const {
  int64_t bytes = element_size(info_.dtype);
  for (size_t d = 1; d < info_.shape.size(); ++d) bytes *= info_.shape[d];
  return bytes;
}

Tensor Hdf5Dataset::read() const {
  EMBER_CHECK(handle_ != nullptr, "hdf5: reading a dataset handle that is not open");
  Tensor result = empty(info_.shape, info_.dtype);
  if (result.numel() == 0) return result;
  if (H5Dread(handle_->dataset.get(), handle_->memory_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, result.data_ptr()) < 0) {
    fail_hdf5("hdf5 {}: reading dataset '{}' of shape {} failed", file_path_, path_, to_string(info_.shape));
  }
  if (handle_->normalize_bools) {
    auto* bytes = static_cast<uint8_t*>(result.data_ptr());
    for (int64_t i = 0; i < result.numel(); ++i) bytes[i] = bytes[i] != 0;
  }
  return result;
}

namespace {

// A selection of `count` rows from `start` along axis 0 of a dataset of the given shape.
void select_rows(hid_t space, IntArrayRef shape, int64_t start, int64_t count, H5S_seloper_t operation) {
  std::vector<hsize_t> offset(shape.size(), 0), extent = to_hsize(shape);
  offset[0] = static_cast<hsize_t>(start);
  extent[0] = static_cast<hsize_t>(count);
  H5Sselect_hyperslab(space, operation, offset.data(), nullptr, extent.data(), nullptr);
}

}  // namespace

void Hdf5Dataset::read_rows(int64_t start, int64_t count, void* destination) const {
  EMBER_CHECK(handle_ != nullptr, "hdf5: reading a dataset handle that is not open");
  EMBER_CHECK(!info_.shape.empty(), "hdf5 {}: '{}' is a scalar, it has no rows", file_path_, path_);
  EMBER_CHECK(start >= 0 && count >= 0 && start + count <= info_.shape[0],
              "hdf5 {}: rows [{}, {}) of '{}' are out of range (shape {})", file_path_, start, start + count, path_,
              to_string(info_.shape));
  if (count == 0) return;
  Id file_space(H5Scopy(handle_->file_space.get()), H5Sclose);
  select_rows(file_space.get(), info_.shape, start, count, H5S_SELECT_SET);
  DimVector memory_shape = info_.shape;
  memory_shape[0] = count;
  const std::vector<hsize_t> memory_dims = to_hsize(memory_shape);
  Id memory_space(H5Screate_simple(static_cast<int>(memory_dims.size()), memory_dims.data(), nullptr), H5Sclose);
  if (H5Dread(handle_->dataset.get(), handle_->memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
              destination) < 0) {
    fail_hdf5("hdf5 {}: reading rows [{}, {}) of '{}' failed", file_path_, start, start + count, path_);
  }
  if (handle_->normalize_bools) {
    auto* bytes = static_cast<uint8_t*>(destination);
    for (int64_t i = 0; i < count * row_bytes(); ++i) bytes[i] = bytes[i] != 0;
  }
}

namespace {

// Rows closer than this are read as one stretch and the rows between thrown away: an H5Dread
// costs 2-3 us, about as much as copying this many bytes. Measured on HDF5 1.10 with shuffled
// batches of 64 Fashion-MNIST rows and their int64 labels: flat from 16 to 64 KiB, 1.5x slower
// with no merging (every label its own read), 1.1x slower at 128 KiB.
constexpr int64_t kGapBytes = 32 * 1024;

}  // namespace

std::optional<StoredRows> Hdf5Dataset::stored_rows() const {
  EMBER_CHECK(handle_ != nullptr, "hdf5: asking where the rows of a dataset handle that is not open are stored");
  Id file_type(H5Dget_type(handle_->dataset.get()), H5Tclose);
  if (!file_type.valid()) fail_hdf5("hdf5 {}: cannot read the element type of '{}'", file_path_, path_);
  StoredRows stored;
  stored.row_bytes = row_bytes();
  stored.chunk_addresses =
      row_addresses(handle_->dataset.get(), file_type.get(), handle_->memory_type.get(), info_, stored.row_bytes);
  if (stored.chunk_addresses.empty()) return std::nullopt;
  stored.rows_per_chunk = info_.chunk_shape.empty() ? info_.shape[0] : info_.chunk_shape[0];
  // Whole chunks are allocated, so the last chunk's rows all lie in the file.
  stored.end = *std::max_element(stored.chunk_addresses.begin(), stored.chunk_addresses.end()) +
               static_cast<uint64_t>(stored.rows_per_chunk * stored.row_bytes);
  return stored;
}

int64_t Hdf5Dataset::read_rows(std::span<const int64_t> sorted_rows, void* destination) const {
  EMBER_CHECK(handle_ != nullptr, "hdf5: reading a dataset handle that is not open");
  EMBER_CHECK(!info_.shape.empty(), "hdf5 {}: '{}' is a scalar, it has no rows", file_path_, path_);
  int64_t runs = 0;
  for (size_t i = 0; i < sorted_rows.size(); ++i) {
    const int64_t row = sorted_rows[i];
    EMBER_CHECK(row >= 0 && row < info_.shape[0], "hdf5 {}: row {} of '{}' is out of range (shape {})", file_path_, row,
                path_, to_string(info_.shape));
    EMBER_CHECK(i == 0 || row > sorted_rows[i - 1], "hdf5 {}: rows of '{}' must ascend without repeats ({} after {})",
                file_path_, path_, row, i == 0 ? 0 : sorted_rows[i - 1]);
    if (i == 0 || row != sorted_rows[i - 1] + 1) ++runs;
  }
  const int64_t row_bytes = this->row_bytes();
  if (sorted_rows.empty() || row_bytes == 0) return runs;
  auto* output = static_cast<uint8_t*>(destination);


  // A stretch never crosses into another chunk for a gap: that chunk may be compressed (a whole
  // inflate for nothing) or damaged (a failure for rows nobody asked for).
  const int64_t gap_rows = kGapBytes / row_bytes;
  const int64_t chunk_rows = handle_->chunk_rows;
  auto joins = [&](int64_t previous, int64_t next) {
    return next == previous + 1 ||
           (next - previous - 1 <= gap_rows && (chunk_rows == 0 || previous / chunk_rows == next / chunk_rows));
  };
  Id file_space(H5Scopy(handle_->file_space.get()), H5Sclose);
  std::unique_ptr<uint8_t[]> scratch;
  int64_t scratch_rows = 0;
  size_t first = 0;
  for (size_t last = 0; last < sorted_rows.size(); ++last) {
    if (last + 1 < sorted_rows.size() && joins(sorted_rows[last], sorted_rows[last + 1])) continue;
    const int64_t start = sorted_rows[first];
    const int64_t span = sorted_rows[last] - start + 1;
    const bool consecutive = span == static_cast<int64_t>(last - first + 1);
    if (!consecutive && span > scratch_rows) {
      scratch.reset(new uint8_t[static_cast<size_t>(span * row_bytes)]);
      scratch_rows = span;
    }
    select_rows(file_space.get(), info_.shape, start, span, H5S_SELECT_SET);
    DimVector memory_shape = info_.shape;
    memory_shape[0] = span;
    const std::vector<hsize_t> memory_dims = to_hsize(memory_shape);
    Id memory_space(H5Screate_simple(static_cast<int>(memory_dims.size()), memory_dims.data(), nullptr), H5Sclose);
    uint8_t* target = consecutive ? output + static_cast<int64_t>(first) * row_bytes : scratch.get();
    if (H5Dread(handle_->dataset.get(), handle_->memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                target) < 0) {
      fail_hdf5("hdf5 {}: reading rows [{}, {}] ({} of them wanted) of '{}' failed", file_path_, start,
                sorted_rows[last], last - first + 1, path_);
    }
    if (!consecutive) {
      for (size_t i = first; i <= last; ++i) {
        std::memcpy(output + static_cast<int64_t>(i) * row_bytes, scratch.get() + (sorted_rows[i] - start) * row_bytes,
                    static_cast<size_t>(row_bytes));
      }
    }
    first = last + 1;
  }
  if (handle_->normalize_bools) {
    const int64_t bytes = static_cast<int64_t>(sorted_rows.size()) * row_bytes;
    for (int64_t i = 0; i < bytes; ++i) output[i] = output[i] != 0;
  }
  return runs;
}

void Hdf5Dataset::write_rows(int64_t start, const Tensor& tensor) {
  EMBER_CHECK(handle_ != nullptr, "hdf5: writing a dataset handle that is not open");
  EMBER_CHECK(!info_.shape.empty(), "hdf5 {}: '{}' is a scalar, it has no rows", file_path_, path_);
  EMBER_CHECK(tensor.dtype() == info_.dtype, "hdf5 {}: writing {} rows into '{}' of dtype {}", file_path_,
              name(tensor.dtype()), path_, name(info_.dtype));
  EMBER_CHECK(tensor.dim() == static_cast<int64_t>(info_.shape.size()) &&
                  std::equal(info_.shape.begin() + 1, info_.shape.end(), tensor.sizes().begin() + 1),
              "hdf5 {}: rows of shape {} do not fit '{}' of shape {}", file_path_, to_string(tensor.sizes()), path_,
              to_string(info_.shape));
  const int64_t count = tensor.size(0);
  EMBER_CHECK(start >= 0 && start + count <= info_.shape[0], "hdf5 {}: rows [{}, {}) of '{}' are out of range (shape {})",
              file_path_, start, start + count, path_, to_string(info_.shape));
  if (count == 0 || tensor.numel() == 0) return;
  const Tensor host = tensor.to(kCPU).contiguous();
  Id file_space(H5Scopy(handle_->file_space.get()), H5Sclose);
  select_rows(file_space.get(), info_.shape, start, count, H5S_SELECT_SET);
  const std::vector<hsize_t> memory_dims = to_hsize(host.sizes());
  Id memory_space(H5Screate_simple(static_cast<int>(memory_dims.size()), memory_dims.data(), nullptr), H5Sclose);
  if (H5Dwrite(handle_->dataset.get(), handle_->memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
               host.data_ptr()) < 0) {
    fail_hdf5("hdf5 {}: writing rows [{}, {}) of '{}' failed", file_path_, start, start + count, path_);
  }
}

void sync_file(const std::string& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EMBER_CHECK(descriptor >= 0, "sync: cannot open '{}': {}", path, std::strerror(errno));
  const int status = ::fsync(descriptor);
  const int saved_errno = errno;
  ::close(descriptor);
  EMBER_CHECK(status == 0, "sync: fsync of '{}' failed: {}", path, std::strerror(saved_errno));
}

}  // namespace ember::io

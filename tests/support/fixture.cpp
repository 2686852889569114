#include "support/fixture.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <utility>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"

namespace ember::testing {
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

 private:
  void reset() {
    if (id_ >= 0 && closer_ != nullptr) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Splits "object@attribute"; the attribute part is empty when there is no '@'.
std::pair<std::string, std::string> split_attribute(const std::string& path) {
  const size_t at = path.rfind('@');
  if (at == std::string::npos) return {path, ""};
  std::string object = path.substr(0, at);
  return {object.empty() ? "/" : object, path.substr(at + 1)};
}

DimVector extent(hid_t space, const std::string& file, const std::string& path) {
  const int rank = H5Sget_simple_extent_ndims(space);
  EMBER_CHECK(rank >= 0, "fixture {}: cannot read the shape of '{}'", file, path);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  DimVector sizes;
  for (hsize_t dim : dims) sizes.push_back(static_cast<int64_t>(dim));
  return sizes;
}

// How a stored element type is read: the dtype of the tensor and the memory type HDF5 converts to.
struct MemoryLayout {
  DType dtype;
  hid_t memory_type;   // a predefined native type, or the file's own type for enums
  bool raw_bytes;      // read with the file's type, then reinterpret (h5py's bool enum)
};

MemoryLayout layout_for(hid_t file_type, const std::string& file, const std::string& path) {
  const H5T_class_t type_class = H5Tget_class(file_type);
  const size_t size = H5Tget_size(file_type);
  if (type_class == H5T_FLOAT) {
    if (size == 8) return {kFloat64, H5T_NATIVE_DOUBLE, false};
    return {kFloat32, H5T_NATIVE_FLOAT, false};  // float32, and float16 widened
  }
  if (type_class == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(file_type) == H5T_SGN_2;
    if (size == 1 && !is_signed) return {kUInt8, H5T_NATIVE_UINT8, false};
    if (size <= 4 && is_signed) return {kInt32, H5T_NATIVE_INT32, false};
    return {kInt64, H5T_NATIVE_INT64, false};
  }
  if (type_class == H5T_ENUM && size == 1) return {kBool, H5T_NATIVE_UINT8, true};  // numpy bool
  fail("fixture {}: dataset '{}' has an element type (HDF5 class {}, {} bytes) that has no tensor dtype", file,
       path, static_cast<int>(type_class), size);
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* names) {
  static_cast<std::vector<std::string>*>(names)->emplace_back(name);
  return 0;
}

}  // namespace

struct Fixture::Handle {
  Id file;
};

Fixture::Fixture(const std::string& file_name) {
  std::filesystem::path path(file_name);
#ifdef EMBER_FIXTURE_DIR
  if (path.is_relative()) path = std::filesystem::path(EMBER_FIXTURE_DIR) / path;
#endif
  path_ = path.string();
  EMBER_CHECK(std::filesystem::exists(path), "fixture: file '{}' does not exist (regenerate it with "
              "tests/nn/fixtures/generate.py)", path_);
  // Errors are reported through ember::Error; HDF5's own stack dump to stderr would only add noise.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  EMBER_CHECK(H5Fis_hdf5(path_.c_str()) > 0, "fixture: file '{}' is not an HDF5 file", path_);
  Id file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  EMBER_CHECK(file.valid(), "fixture: cannot open '{}'", path_);
  file_ = std::make_unique<Handle>(Handle{std::move(file)});
}

Fixture::~Fixture() = default;
Fixture::Fixture(Fixture&&) noexcept = default;
Fixture& Fixture::operator=(Fixture&&) noexcept = default;

bool Fixture::has(const std::string& path) const {
  const auto [object, attribute_name] = split_attribute(path);
  // H5Lexists fails rather than answering false when an intermediate group is missing, so each
  // prefix of the path is checked in turn.
  size_t position = 0;
  while (position < object.size()) {
    size_t slash = object.find('/', position);
    if (slash == std::string::npos) slash = object.size();
    if (slash > position) {
      const std::string prefix = object.substr(0, slash);
      if (H5Lexists(file_->file.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    position = slash + 1;
  }
  if (attribute_name.empty()) return true;
  return H5Aexists_by_name(file_->file.get(), object.c_str(), attribute_name.c_str(), H5P_DEFAULT) > 0;
}

Tensor Fixture::tensor(const std::string& path) const {
  EMBER_CHECK(has(path), "fixture {}: no dataset '{}'", path_, path);
  Id dataset(H5Dopen2(file_->file.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
  EMBER_CHECK(dataset.valid(), "fixture {}: '{}' is not a dataset", path_, path);
  Id file_type(H5Dget_type(dataset.get()), H5Tclose);
  Id space(H5Dget_space(dataset.get()), H5Sclose);
  const DimVector sizes = extent(space.get(), path_, path);
  const MemoryLayout layout = layout_for(file_type.get(), path_, path);
  Tensor result = empty(sizes, layout.dtype);
  if (result.numel() == 0) return result;
  Id native_type;
  hid_t memory_type = layout.memory_type;
  if (layout.raw_bytes) {
    native_type = Id(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND), H5Tclose);
    memory_type = native_type.get();
  }
  const herr_t status = H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, result.data_ptr());
  EMBER_CHECK(status >= 0, "fixture {}: reading dataset '{}' failed", path_, path);
  if (layout.raw_bytes) {
    // Bool storage must hold exactly 0 or 1.
    uint8_t* bytes = static_cast<uint8_t*>(result.data_ptr());
    for (int64_t i = 0; i < result.numel(); ++i) bytes[i] = bytes[i] != 0;
  }
  return result;
}

double Fixture::attribute(const std::string& object_path, const std::string& name) const {
  const std::string full = object_path + "@" + name;
  EMBER_CHECK(has(full), "fixture {}: no attribute '{}' on '{}'", path_, name, object_path);
  Id attribute(H5Aopen_by_name(file_->file.get(), object_path.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
               H5Aclose);
  EMBER_CHECK(attribute.valid(), "fixture {}: cannot open attribute '{}'", path_, full);
  Id space(H5Aget_space(attribute.get()), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  EMBER_CHECK(count == 1, "fixture {}: attribute '{}' holds {} values, expected one", path_, full, count);
  Id file_type(H5Aget_type(attribute.get()), H5Tclose);
  if (H5Tget_class(file_type.get()) == H5T_ENUM) {
    Id native(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND), H5Tclose);
    std::vector<unsigned char> bytes(H5Tget_size(native.get()), 0);
    EMBER_CHECK(H5Aread(attribute.get(), native.get(), bytes.data()) >= 0, "fixture {}: reading '{}' failed", path_,
                full);
    return std::any_of(bytes.begin(), bytes.end(), [](unsigned char byte) { return byte != 0; }) ? 1.0 : 0.0;
  }
  const H5T_class_t type_class = H5Tget_class(file_type.get());
  EMBER_CHECK(type_class == H5T_FLOAT || type_class == H5T_INTEGER, "fixture {}: attribute '{}' is not a number",
              path_, full);
  double value = 0.0;
  EMBER_CHECK(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value) >= 0, "fixture {}: reading '{}' failed", path_,
              full);
  return value;
}

double Fixture::number(const std::string& path) const {
  const auto [object, attribute_name] = split_attribute(path);
  if (!attribute_name.empty()) return attribute(object, attribute_name);
  const Tensor value = tensor(path);
  EMBER_CHECK(value.numel() == 1, "fixture {}: dataset '{}' has shape {}, expected one value", path_, path,
              to_string(value.sizes()));
  return value.to(kFloat64).item<double>();
}

std::string Fixture::text(const std::string& path) const {
  const auto [object, attribute_name] = split_attribute(path);
  EMBER_CHECK(has(path), "fixture {}: no {} '{}'", path_, attribute_name.empty() ? "dataset" : "attribute", path);
  Id holder;
  Id file_type;
  if (attribute_name.empty()) {
    holder = Id(H5Dopen2(file_->file.get(), object.c_str(), H5P_DEFAULT), H5Dclose);
    EMBER_CHECK(holder.valid(), "fixture {}: '{}' is not a dataset", path_, path);
    file_type = Id(H5Dget_type(holder.get()), H5Tclose);
  } else {
    holder = Id(H5Aopen_by_name(file_->file.get(), object.c_str(), attribute_name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
    EMBER_CHECK(holder.valid(), "fixture {}: cannot open attribute '{}'", path_, path);
    file_type = Id(H5Aget_type(holder.get()), H5Tclose);
  }
  EMBER_CHECK(H5Tget_class(file_type.get()) == H5T_STRING, "fixture {}: '{}' is not a string", path_, path);
  const auto read = [&](hid_t memory_type, void* buffer) {
    return attribute_name.empty() ? H5Dread(holder.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer)
                                  : H5Aread(holder.get(), memory_type, buffer);
  };
  Id memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(memory_type.get(), H5Tget_cset(file_type.get()));
  if (H5Tis_variable_str(file_type.get()) > 0) {
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    char* value = nullptr;
    EMBER_CHECK(read(memory_type.get(), &value) >= 0, "fixture {}: reading string '{}' failed", path_, path);
    std::string result = value == nullptr ? "" : value;
    H5free_memory(value);
    return result;
  }
  const size_t size = H5Tget_size(file_type.get());
  H5Tset_size(memory_type.get(), size + 1);
  H5Tset_strpad(memory_type.get(), H5T_STR_NULLTERM);
  std::vector<char> buffer(size + 1, '\0');
  EMBER_CHECK(read(memory_type.get(), buffer.data()) >= 0, "fixture {}: reading string '{}' failed", path_, path);
  return std::string(buffer.data());
}

std::vector<std::string> Fixture::children(const std::string& group) const {
  const std::string name = group.empty() ? "/" : group;
  EMBER_CHECK(has(name), "fixture {}: no group '{}'", path_, name);
  Id handle(H5Gopen2(file_->file.get(), name.c_str(), H5P_DEFAULT), H5Gclose);
  EMBER_CHECK(handle.valid(), "fixture {}: '{}' is not a group", path_, name);
  std::vector<std::string> names;
  hsize_t index = 0;
  EMBER_CHECK(H5Literate(handle.get(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_name, &names) >= 0,
              "fixture {}: listing group '{}' failed", path_, name);
  std::sort(names.begin(), names.end());
  return names;
}

Comparison compare(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  Comparison result;
  if (!actual.defined() || !expected.defined() || actual.sizes() != expected.sizes()) {
    result.passed = false;
    result.message = fmt::format("shape {} vs expected {}", actual.defined() ? to_string(actual.sizes()) : "undefined",
                                 expected.defined() ? to_string(expected.sizes()) : "undefined");
    return result;
  }
  const std::vector<double> got = actual.to(kCPU).to_vector<double>();
  const std::vector<double> want = expected.to(kCPU).to_vector<double>();
  double worst_excess = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double error = std::abs(got[i] - want[i]);
    const bool same_special = (std::isnan(got[i]) && std::isnan(want[i])) || got[i] == want[i];
    if (same_special) continue;
    result.max_abs_error = std::max(result.max_abs_error, error);
    if (want[i] != 0.0) result.max_rel_error = std::max(result.max_rel_error, error / std::abs(want[i]));
    // A NaN or an infinity that the other side does not have is always a failure.
    const bool finite_pair = std::isfinite(got[i]) && std::isfinite(want[i]);
    const double excess = finite_pair ? error - (atol + rtol * std::abs(want[i])) : INFINITY;
    if (excess > 0 && excess > worst_excess) {
      worst_excess = excess;
      worst = i;
      result.passed = false;
    }
  }
  if (!result.passed) {
    result.message = fmt::format("element {} (flat) is {} but expected {} (rtol {}, atol {}); max abs error {}",
                                 worst, got[worst], want[worst], rtol, atol, result.max_abs_error);
  }
  return result;
}

Tolerance parity_tolerance(const Tensor& expected) {
  const double rtol = expected.dtype() == kFloat64 ? 1e-10 : 1e-5;
  double scale = 0.0;
  if (expected.is_floating_point()) {
    for (double value : expected.to(kCPU).to_vector<double>()) {
      if (std::isfinite(value)) scale = std::max(scale, std::abs(value));
    }
  }
  return {rtol, rtol * scale};
}

}  // namespace ember::testing

#pragma once
// Fixture: read-only access to an HDF5 file of reference tensors written by a generator script
// (tests/nn/fixtures/generate.py), so that C++ tests compare against PyTorch without needing it.
#include <memory>
#include <string>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember::testing {

class Fixture {
 public:
  // A relative file_name is looked up in EMBER_FIXTURE_DIR (set by the test target); an absolute
  // one is used as is. Throws ember::Error naming the path when the file is missing or unreadable.
  explicit Fixture(const std::string& file_name);
  ~Fixture();
  Fixture(Fixture&&) noexcept;
  Fixture& operator=(Fixture&&) noexcept;
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  // The dataset at path ("group/sub/name") as a new CPU tensor of the matching dtype: float32,
  // float64, int64, int32, uint8, and bool (h5py's enum of int8, or a 1-byte integer via the
  // caller's .to(kBool)). A scalar dataspace gives a 0-dim tensor.
  Tensor tensor(const std::string& path) const;
  // True when a dataset or group exists at path; "path@name" asks for an attribute instead.
  bool has(const std::string& path) const;
  // A number from a one-element dataset, or from an attribute when path is "object@name".
  double number(const std::string& path) const;
  double attribute(const std::string& object_path, const std::string& name) const;
  // A string attribute ("object@name").
  std::string text(const std::string& path) const;
  // The names of a group's members, sorted; "" or "/" is the root.
  std::vector<std::string> children(const std::string& group) const;

  const std::string& file_path() const { return path_; }

 private:
  struct Handle;
  std::string path_;
  std::unique_ptr<Handle> file_;
};

// How far `actual` is from `expected` (same shape; compared in float64): an element passes when
// |actual - expected| <= atol + rtol * |expected|.
struct Comparison {
  bool passed = true;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |actual - expected| / |expected| over elements with expected != 0
  std::string message;         // the shapes, or the worst element, when it did not pass
};
Comparison compare(const Tensor& actual, const Tensor& expected, double rtol, double atol);

// The parity tolerance for a dtype: rtol 1e-5 for float32 and 1e-10 for float64, and an atol of
// rtol times the largest |expected| in the tensor, so that elements near zero, where the
// different summation orders of two libraries cancel to different roundoff, are judged on the
// tensor's scale instead of their own.
struct Tolerance {
  double rtol;
  double atol;
};
Tolerance parity_tolerance(const Tensor& expected);

}  // namespace ember::testing

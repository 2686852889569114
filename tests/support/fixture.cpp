#include "support/fixture.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <utility>

#include "ember/io/hdf5_file.h"
#include "ember/tensor/error.h"

namespace ember::testing {
namespace {

// Splits "object@attribute"; the attribute part is empty when there is no '@'.
std::pair<std::string, std::string> split_attribute(const std::string& path) {
  const size_t at = path.rfind('@');
  if (at == std::string::npos) return {path, ""};
  std::string object = path.substr(0, at);
  return {object.empty() ? "/" : object, path.substr(at + 1)};
}

}  // namespace

struct Fixture::Handle {
  io::Hdf5File file;
};

Fixture::Fixture(const std::string& file_name) {
  std::filesystem::path path(file_name);
#ifdef EMBER_FIXTURE_DIR
  if (path.is_relative()) path = std::filesystem::path(EMBER_FIXTURE_DIR) / path;
#endif
  path_ = path.string();
  EMBER_CHECK(std::filesystem::exists(path), "fixture: file '{}' does not exist (regenerate it with the "
              "generator script beside it)", path_);
  file_ = std::make_unique<Handle>(Handle{io::Hdf5File(path_, io::FileMode::Read)});
}

Fixture::~Fixture() = default;
Fixture::Fixture(Fixture&&) noexcept = default;
Fixture& Fixture::operator=(Fixture&&) noexcept = default;

bool Fixture::has(const std::string& path) const {
  const auto [object, attribute_name] = split_attribute(path);
  if (attribute_name.empty()) return file_->file.has(object);
  return file_->file.has_attribute(object, attribute_name);
}

Tensor Fixture::tensor(const std::string& path) const {
  EMBER_CHECK(has(path), "fixture {}: no dataset '{}'", path_, path);
  return file_->file.read(path);
}

double Fixture::attribute(const std::string& object_path, const std::string& name) const {
  return file_->file.attribute_double(object_path, name);
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
  EMBER_CHECK(!attribute_name.empty(), "fixture {}: text '{}' must name an attribute (object@name)", path_, path);
  return file_->file.attribute_string(object, attribute_name);
}

std::vector<std::string> Fixture::children(const std::string& group) const { return file_->file.children(group); }

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

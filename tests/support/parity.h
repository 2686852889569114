#pragma once
// GoogleTest side of the PyTorch parity suites: one expectation per compared tensor, and a
// summary of the largest errors seen, printed once after all tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "support/fixture.h"

namespace ember::testing {

// The largest errors per dtype, for the summary line.
struct ParityRecord {
  double max_abs_error = 0.0;
  double max_scaled_error = 0.0;  // abs error / max |expected| of its tensor
  std::string where;
  int compared = 0;
  int failed = 0;
};

inline std::map<std::string, ParityRecord>& parity_records() {
  static std::map<std::string, ParityRecord> records;
  return records;
}

class ParitySummary : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [dtype, record] : parity_records()) {
      std::printf("[parity] %s: %d tensors compared, %d failed; max abs error %.3g, max error / tensor scale %.3g (%s)\n",
                  dtype.c_str(), record.compared, record.failed, record.max_abs_error, record.max_scaled_error,
                  record.where.c_str());
    }
  }
};

inline const bool parity_summary_registered = (::testing::AddGlobalTestEnvironment(new ParitySummary), true);

// Expects actual to match PyTorch's expected within parity_tolerance, naming the case on failure.
inline void expect_parity(const Tensor& actual, const Tensor& expected, const std::string& case_name,
                          const std::string& dtype, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << case_name << "/" << dtype << ": " << what << " is undefined";
  EXPECT_EQ(actual.dtype(), expected.dtype()) << case_name << "/" << dtype << ": " << what;
  const Tolerance tolerance = parity_tolerance(expected);
  const Comparison comparison = compare(actual, expected, tolerance.rtol, tolerance.atol);
  ParityRecord& record = parity_records()[dtype];
  ++record.compared;
  if (!comparison.passed) ++record.failed;
  const double scale = tolerance.atol / tolerance.rtol;
  const double scaled = scale > 0 ? comparison.max_abs_error / scale : comparison.max_abs_error;
  record.max_abs_error = std::max(record.max_abs_error, comparison.max_abs_error);
  if (scaled > record.max_scaled_error) {
    record.max_scaled_error = scaled;
    record.where = case_name + " " + what;
  }
  EXPECT_TRUE(comparison.passed) << case_name << "/" << dtype << ": " << what << ": " << comparison.message;
}

// A GoogleTest parameter name from a case name ("smooth_l1_beta0.5_none" -> "smooth_l1_beta0p5_none").
inline std::string test_name_for(std::string name) {
  std::replace(name.begin(), name.end(), '.', 'p');
  std::replace(name.begin(), name.end(), '-', 'm');
  return name;
}

}  // namespace ember::testing

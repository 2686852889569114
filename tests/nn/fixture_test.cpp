// The HDF5 fixture reader: a file written here with the C API reads back with the same shapes,
// dtypes, values, attributes and member names.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"
#include "support/fixture.h"

namespace ember::testing {
namespace {

class FixtureFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("ember_fixture_test_" + std::to_string(::getpid()) + ".h5")).string();
    const hid_t file = H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hid_t group = H5Gcreate2(file, "layer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t sub = H5Gcreate2(group, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

    const std::vector<float> weights{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
    write(sub, "weight", H5T_NATIVE_FLOAT, {2, 3}, weights.data());
    const std::vector<double> bias{0.125, -1e-12};
    write(sub, "bias", H5T_NATIVE_DOUBLE, {2}, bias.data());
    const std::vector<int64_t> targets{3, -100, 0};
    write(group, "target", H5T_NATIVE_INT64, {3}, targets.data());
    const std::vector<int32_t> indices{7, 8};
    write(group, "indices", H5T_NATIVE_INT32, {2, 1}, indices.data());
    const std::vector<uint8_t> mask{1, 0, 1, 1};
    write(group, "mask", H5T_NATIVE_UINT8, {4}, mask.data());
    const double loss = 0.693;
    write(group, "loss", H5T_NATIVE_DOUBLE, {}, &loss);

    // A bool as h5py writes numpy's bool: an int8 enum with FALSE = 0 and TRUE = 1.
    const hid_t bool_type = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t value = 0;
    H5Tenum_insert(bool_type, "FALSE", &value);
    value = 1;
    H5Tenum_insert(bool_type, "TRUE", &value);
    const std::vector<int8_t> flags{1, 0, 0, 1, 1, 0};
    write(group, "flags", bool_type, {3, 2}, flags.data());

    const hid_t scalar_space = H5Screate(H5S_SCALAR);
    const hid_t momentum = H5Acreate2(group, "momentum", H5T_NATIVE_DOUBLE, scalar_space, H5P_DEFAULT, H5P_DEFAULT);
    const double momentum_value = 0.1;
    H5Awrite(momentum, H5T_NATIVE_DOUBLE, &momentum_value);
    H5Aclose(momentum);
    const hid_t groups = H5Acreate2(group, "groups", H5T_NATIVE_INT64, scalar_space, H5P_DEFAULT, H5P_DEFAULT);
    const int64_t groups_value = 4;
    H5Awrite(groups, H5T_NATIVE_INT64, &groups_value);
    H5Aclose(groups);
    const hid_t string_type = H5Tcopy(H5T_C_S1);
    H5Tset_size(string_type, H5T_VARIABLE);
    H5Tset_cset(string_type, H5T_CSET_UTF8);
    const hid_t reduction = H5Acreate2(group, "reduction", string_type, scalar_space, H5P_DEFAULT, H5P_DEFAULT);
    const char* reduction_value = "mean";
    H5Awrite(reduction, string_type, &reduction_value);
    H5Aclose(reduction);
    H5Tclose(string_type);
    H5Sclose(scalar_space);

    H5Tclose(bool_type);
    H5Gclose(sub);
    H5Gclose(group);
    H5Fclose(file);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  static void write(hid_t parent, const char* name, hid_t type, std::vector<hsize_t> dims, const void* data) {
    const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                                     : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t dataset = H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(dataset);
    H5Sclose(space);
  }

  std::string path_;
};

TEST_F(FixtureFile, ReadsEachDtypeWithItsShapeAndValues) {
  const Fixture fixture(path_);
  const Tensor weight = fixture.tensor("layer/params/weight");
  EXPECT_EQ(weight.dtype(), kFloat32);
  EXPECT_EQ(weight.shape(), DimVector({2, 3}));
  EXPECT_EQ(weight.to_vector<float>(), std::vector<float>({1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f}));

  const Tensor bias = fixture.tensor("/layer/params/bias");
  EXPECT_EQ(bias.dtype(), kFloat64);
  EXPECT_EQ(bias.to_vector<double>(), std::vector<double>({0.125, -1e-12}));

  const Tensor target = fixture.tensor("layer/target");
  EXPECT_EQ(target.dtype(), kInt64);
  EXPECT_EQ(target.to_vector<int64_t>(), std::vector<int64_t>({3, -100, 0}));

  const Tensor indices = fixture.tensor("layer/indices");
  EXPECT_EQ(indices.dtype(), kInt32);
  EXPECT_EQ(indices.shape(), DimVector({2, 1}));
  EXPECT_EQ(indices.to_vector<int32_t>(), std::vector<int32_t>({7, 8}));

  const Tensor mask = fixture.tensor("layer/mask");
  EXPECT_EQ(mask.dtype(), kUInt8);
  EXPECT_EQ(mask.to_vector<uint8_t>(), std::vector<uint8_t>({1, 0, 1, 1}));

  const Tensor flags = fixture.tensor("layer/flags");
  EXPECT_EQ(flags.dtype(), kBool);
  EXPECT_EQ(flags.shape(), DimVector({3, 2}));
  EXPECT_EQ(flags.to_vector<bool>(), std::vector<bool>({true, false, false, true, true, false}));

  const Tensor loss = fixture.tensor("layer/loss");
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_DOUBLE_EQ(loss.item<double>(), 0.693);
}

TEST_F(FixtureFile, NumbersComeFromScalarDatasetsAndAttributes) {
  const Fixture fixture(path_);
  EXPECT_DOUBLE_EQ(fixture.number("layer/loss"), 0.693);
  EXPECT_DOUBLE_EQ(fixture.number("layer@momentum"), 0.1);
  EXPECT_DOUBLE_EQ(fixture.attribute("layer", "groups"), 4.0);
  EXPECT_EQ(fixture.text("layer@reduction"), "mean");
  // A dataset of several values is not a number.
  EXPECT_THROW(fixture.number("layer/target"), Error);
  EXPECT_THROW(fixture.number("layer@missing"), Error);
}

TEST_F(FixtureFile, HasAnswersForDatasetsGroupsAndAttributesWithoutThrowing) {
  const Fixture fixture(path_);
  EXPECT_TRUE(fixture.has("layer"));
  EXPECT_TRUE(fixture.has("layer/params/weight"));
  EXPECT_TRUE(fixture.has("layer@momentum"));
  EXPECT_FALSE(fixture.has("layer@nothing"));
  EXPECT_FALSE(fixture.has("layer/params/running_mean"));
  EXPECT_FALSE(fixture.has("missing/group/weight"));
}

TEST_F(FixtureFile, ChildrenAreSortedNames) {
  const Fixture fixture(path_);
  EXPECT_EQ(fixture.children("layer"),
            std::vector<std::string>({"flags", "indices", "loss", "mask", "params", "target"}));
  EXPECT_EQ(fixture.children("/"), std::vector<std::string>({"layer"}));
  EXPECT_EQ(fixture.children("layer/params"), std::vector<std::string>({"bias", "weight"}));
}

TEST_F(FixtureFile, MissingPathsAreErrorsNamingThem) {
  const Fixture fixture(path_);
  try {
    fixture.tensor("layer/params/running_var");
    FAIL() << "expected ember::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("layer/params/running_var"), std::string::npos) << error.what();
  }
  EXPECT_THROW(fixture.children("layer/params/weight"), Error);  // a dataset, not a group
}

TEST(Fixture, MissingFileIsAnErrorNamingThePath) {
  try {
    Fixture fixture("no_such_fixture_file.h5");
    FAIL() << "expected ember::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("no_such_fixture_file.h5"), std::string::npos) << message;
    // Relative names resolve inside the fixture directory.
    EXPECT_NE(message.find(EMBER_FIXTURE_DIR), std::string::npos) << message;
  }
}

TEST(Compare, PassesWithinToleranceAndNamesTheWorstElementOtherwise) {
  const Tensor expected = tensor(std::vector<double>{1.0, -2.0, 100.0});
  EXPECT_TRUE(compare(tensor(std::vector<double>{1.0 + 1e-6, -2.0, 100.0}), expected, 1e-5, 0.0).passed);
  const Comparison off = compare(tensor(std::vector<double>{1.0, -2.001, 100.0}), expected, 1e-5, 0.0);
  EXPECT_FALSE(off.passed);
  EXPECT_NE(off.message.find("element 1"), std::string::npos) << off.message;
  EXPECT_NEAR(off.max_abs_error, 1e-3, 1e-12);
  // atol forgives small absolute errors however large they are relative to the element.
  EXPECT_TRUE(compare(tensor(std::vector<double>{1e-9, -2.0, 100.0}), tensor(std::vector<double>{0.0, -2.0, 100.0}),
                      1e-5, 1e-8)
                  .passed);
}

TEST(Compare, NonFiniteValuesMustMatchExactlyAndShapesMustAgree) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(compare(tensor(std::vector<double>{inf, nan}), tensor(std::vector<double>{inf, nan}), 1e-5, 0).passed);
  EXPECT_FALSE(compare(tensor(std::vector<double>{75.0}), tensor(std::vector<double>{inf}), 1e-5, 1.0).passed);
  EXPECT_FALSE(compare(tensor(std::vector<double>{nan}), tensor(std::vector<double>{1.0}), 1e-5, 1.0).passed);
  EXPECT_FALSE(compare(tensor(std::vector<double>{1.0, 2.0}), tensor(std::vector<double>{1.0, 2.0}, {2, 1}), 1e-5, 0)
                   .passed);
}

TEST(ParityTolerance, ScalesAtolByTheLargestExpectedMagnitude) {
  const Tolerance single = parity_tolerance(tensor(std::vector<float>{0.5f, -4.0f}));
  EXPECT_DOUBLE_EQ(single.rtol, 1e-5);
  EXPECT_DOUBLE_EQ(single.atol, 4e-5);
  const Tolerance dbl = parity_tolerance(tensor(std::vector<double>{2.0, 0.0}));
  EXPECT_DOUBLE_EQ(dbl.rtol, 1e-10);
  EXPECT_DOUBLE_EQ(dbl.atol, 2e-10);
}

}  // namespace
}  // namespace ember::testing

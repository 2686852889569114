// Guards against a compiler bug that silently corrupts constants: GCC 12 with AVX-512 enabled
// (-march=native on this project's CI machines) built std::vector<double>{1, 1, 0, 0} as
// {1, 1, 1, 1}. CMakeLists.txt turns AVX-512 code generation off for GCC < 13; this test fails if
// that protection is lost on a compiler that still has the bug.
#include <gtest/gtest.h>

#include <vector>

namespace {

__attribute__((noinline)) void escape(double* data) { asm volatile("" : : "r"(data) : "memory"); }

TEST(Toolchain, SmallConstantVectorsKeepTheirValues) {
  std::vector<double> half_zero{1, 1, 0, 0};
  escape(half_zero.data());
  EXPECT_EQ(half_zero[0], 1.0);
  EXPECT_EQ(half_zero[2], 0.0);
  EXPECT_EQ(half_zero[3], 0.0);
  std::vector<double> one_zero{2, 2, 2, 0};
  escape(one_zero.data());
  EXPECT_EQ(one_zero[3], 0.0);
}

}  // namespace

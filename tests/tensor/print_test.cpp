// Printing against PyTorch 1.13. Every expected string below is the repr() that
// /usr/bin/python3 with torch 1.13 printed for the same tensor (the Python expression is in the
// comment above each one), pasted in verbatim.
#include <algorithm>
#include <sstream>

#include "tensor/test_util.h"

namespace ember {
namespace {

Tensor floats(const std::vector<float>& values) { return tensor(values); }
Tensor doubles(const std::vector<double>& values) { return tensor(values); }

TEST(Print, MatrixAndIntegers) {
  // torch.tensor([[1., 2.], [3., 4.]])
  EXPECT_EQ(tensor(std::vector<float>{1, 2, 3, 4}, {2, 2}).to_string(),
            "tensor([[1., 2.],\n"
            "        [3., 4.]])");
  // torch.tensor([1, 2, 3])
  EXPECT_EQ(tensor(std::vector<int64_t>{1, 2, 3}).to_string(), "tensor([1, 2, 3])");
  // torch.tensor([[0, 1], [-10, 5]], dtype=torch.int32)
  EXPECT_EQ(tensor(std::vector<int32_t>{0, 1, -10, 5}, {2, 2}).to_string(),
            "tensor([[  0,   1],\n"
            "        [-10,   5]], dtype=torch.int32)");
  // torch.arange(12).view(2, 2, 3)
  EXPECT_EQ(arange(12).view({2, 2, 3}).to_string(),
            "tensor([[[ 0,  1,  2],\n"
            "         [ 3,  4,  5]],\n"
            "\n"
            "        [[ 6,  7,  8],\n"
            "         [ 9, 10, 11]]])");
}

TEST(Print, DtypeSuffixes) {
  // torch.tensor([1.5, -2.25, 3.0], dtype=torch.float64)
  EXPECT_EQ(doubles({1.5, -2.25, 3.0}).to_string(), "tensor([ 1.5000, -2.2500,  3.0000], dtype=torch.float64)");
  // torch.tensor([-5, 10, 300], dtype=torch.int32)
  EXPECT_EQ(tensor(std::vector<int32_t>{-5, 10, 300}).to_string(), "tensor([ -5,  10, 300], dtype=torch.int32)");
  // torch.tensor([0, 7, 255], dtype=torch.uint8)
  EXPECT_EQ(tensor(std::vector<uint8_t>{0, 7, 255}).to_string(), "tensor([  0,   7, 255], dtype=torch.uint8)");
  // torch.tensor([0.1, 0.2, 1.0], dtype=torch.float16)
  EXPECT_EQ(floats({0.1f, 0.2f, 1.0f}).to(kFloat16).to_string(),
            "tensor([0.1000, 0.2000, 1.0000], dtype=torch.float16)");
  // torch.tensor([0.1, -2.0], dtype=torch.bfloat16)
  EXPECT_EQ(floats({0.1f, -2.0f}).to(kBFloat16).to_string(), "tensor([ 0.1001, -2.0000], dtype=torch.bfloat16)");
  // torch.tensor([True, False, True])
  EXPECT_EQ(tensor(std::vector<bool>{true, false, true}).to_string(), "tensor([ True, False,  True])");
}

TEST(Print, ZeroDim) {
  // torch.tensor(3.5)
  EXPECT_EQ(scalar_tensor(3.5).to_string(), "tensor(3.5000)");
  // torch.tensor(-7)
  EXPECT_EQ(scalar_tensor(int64_t{-7}).to_string(), "tensor(-7)");
  // torch.tensor(2.5, dtype=torch.float16)
  EXPECT_EQ(scalar_tensor(2.5, kFloat16).to_string(), "tensor(2.5000, dtype=torch.float16)");
  // torch.tensor(True)
  EXPECT_EQ(scalar_tensor(true).to_string(), "tensor(True)");
  // torch.tensor(123456789.0, dtype=torch.float64)
  EXPECT_EQ(scalar_tensor(123456789.0, kFloat64).to_string(), "tensor(1.2346e+08, dtype=torch.float64)");
}

TEST(Print, Empty) {
  // torch.zeros(0, 3)
  EXPECT_EQ(zeros({0, 3}).to_string(), "tensor([], size=(0, 3))");
  // torch.zeros(0)
  EXPECT_EQ(zeros({0}).to_string(), "tensor([])");
  // torch.zeros(0, dtype=torch.int64)
  EXPECT_EQ(zeros({0}, kInt64).to_string(), "tensor([], dtype=torch.int64)");
  // torch.zeros(2, 0, 1, dtype=torch.bool)
  EXPECT_EQ(zeros({2, 0, 1}, kBool).to_string(), "tensor([], size=(2, 0, 1), dtype=torch.bool)");
}

TEST(Print, FixedOrScientificNotation) {
  // torch.tensor([1.5, -2.25, 3.125, 0.03125]): 0.03125 is a tie that rounds to even
  EXPECT_EQ(floats({1.5f, -2.25f, 3.125f, 0.03125f}).to_string(), "tensor([ 1.5000, -2.2500,  3.1250,  0.0312])");
  // torch.tensor([0.03125, 0.09375, 1.0], dtype=torch.float64)
  EXPECT_EQ(doubles({0.03125, 0.09375, 1.0}).to_string(), "tensor([0.0312, 0.0938, 1.0000], dtype=torch.float64)");
  // torch.tensor([1e-5, 1.0]): the smallest is below 1e-4
  EXPECT_EQ(floats({1e-5f, 1.0f}).to_string(), "tensor([1.0000e-05, 1.0000e+00])");
  // torch.tensor([0.001, 10.5]): the range exceeds 1000
  EXPECT_EQ(floats({0.001f, 10.5f}).to_string(), "tensor([1.0000e-03, 1.0500e+01])");
  // torch.tensor([1e9, 1.0]): integral values, range too wide
  EXPECT_EQ(floats({1e9f, 1.0f}).to_string(), "tensor([1.0000e+09, 1.0000e+00])");
  // torch.tensor([1e8, -3.0])
  EXPECT_EQ(floats({1e8f, -3.0f}).to_string(), "tensor([ 1.0000e+08, -3.0000e+00])");
}

TEST(Print, NonFiniteAndZeros) {
  const float nan = std::nanf(""), inf = INFINITY;
  // torch.tensor([float('nan'), float('inf'), float('-inf'), 1.5])
  EXPECT_EQ(floats({nan, inf, -inf, 1.5f}).to_string(), "tensor([   nan,    inf,   -inf, 1.5000])");
  // torch.tensor([float('nan'), 1.0, float('-inf')])
  EXPECT_EQ(floats({nan, 1.0f, -inf}).to_string(), "tensor([nan, 1., -inf])");
  // torch.tensor([float('nan')]), and a nan with its sign bit set prints the same in Python
  EXPECT_EQ(floats({nan}).to_string(), "tensor([nan])");
  EXPECT_EQ(floats({-nan}).to_string(), "tensor([nan])");
  // torch.zeros(2)
  EXPECT_EQ(zeros({2}).to_string(), "tensor([0., 0.])");
  // torch.tensor([-0.0, 2.0])
  EXPECT_EQ(floats({-0.0f, 2.0f}).to_string(), "tensor([-0., 2.])");
}

TEST(Print, LineWrapping) {
  // torch.arange(30, dtype=torch.float32) / 3
  EXPECT_EQ((arange(30, kFloat32) / 3).to_string(),
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
            "        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,\n"
            "        9.0000, 9.3333, 9.6667])");
  // torch.arange(40) * 1000 - 7
  EXPECT_EQ((arange(40) * 1000 - 7).to_string(),
            "tensor([   -7,   993,  1993,  2993,  3993,  4993,  5993,  6993,  7993,  8993,\n"
            "         9993, 10993, 11993, 12993, 13993, 14993, 15993, 16993, 17993, 18993,\n"
            "        19993, 20993, 21993, 22993, 23993, 24993, 25993, 26993, 27993, 28993,\n"
            "        29993, 30993, 31993, 32993, 33993, 34993, 35993, 36993, 37993, 38993])");
  // torch.arange(60, dtype=torch.float32).view(2, 30) / 7
  EXPECT_EQ((arange(60, kFloat32).view({2, 30}) / 7).to_string(),
            "tensor([[0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
            "         1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
            "         2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
            "         3.8571, 4.0000, 4.1429],\n"
            "        [4.2857, 4.4286, 4.5714, 4.7143, 4.8571, 5.0000, 5.1429, 5.2857, 5.4286,\n"
            "         5.5714, 5.7143, 5.8571, 6.0000, 6.1429, 6.2857, 6.4286, 6.5714, 6.7143,\n"
            "         6.8571, 7.0000, 7.1429, 7.2857, 7.4286, 7.5714, 7.7143, 7.8571, 8.0000,\n"
            "         8.1429, 8.2857, 8.4286]])");
}

TEST(Print, SuffixStaysOnLineOrWraps) {
  // torch.arange(24, dtype=torch.float64) / 7
  EXPECT_EQ((arange(24, kFloat64) / 7).to_string(),
            "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
            "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
            "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857], dtype=torch.float64)");
  // torch.arange(27, dtype=torch.float64) / 7
  EXPECT_EQ((arange(27, kFloat64) / 7).to_string(),
            "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
            "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
            "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143],\n"
            "       dtype=torch.float64)");
}

TEST(Print, NonContiguousInputs) {
  // torch.arange(6, dtype=torch.float32).view(2, 3).t() * 0.5, printed from the transposed view
  EXPECT_EQ((arange(6, kFloat32) * 0.5).view({2, 3}).t().to_string(),
            "tensor([[0.0000, 1.5000],\n"
            "        [0.5000, 2.0000],\n"
            "        [1.0000, 2.5000]])");
  // torch.tensor([1.5, 2.0]).expand(3, 2)
  EXPECT_EQ(floats({1.5f, 2.0f}).expand({3, 2}).to_string(),
            "tensor([[1.5000, 2.0000],\n"
            "        [1.5000, 2.0000],\n"
            "        [1.5000, 2.0000]])");
  // torch.arange(10)[1::3]
  EXPECT_EQ(arange(10).slice(0, 1, std::nullopt, 3).to_string(), "tensor([1, 4, 7])");
}

TEST(Print, SummarisesPastAThousandElements) {
  // torch.arange(1000) is printed whole; only the edge items are compared here
  const std::string whole = arange(1000).to_string();
  EXPECT_EQ(whole.find("..."), std::string::npos);
  EXPECT_NE(whole.find("998, 999])"), std::string::npos);
  // torch.arange(1001)
  EXPECT_EQ(arange(1001).to_string(), "tensor([   0,    1,    2,  ...,  998,  999, 1000])");
  // torch.arange(2000, dtype=torch.float32) * 0.25
  EXPECT_EQ((arange(2000, kFloat32) * 0.25).to_string(),
            "tensor([0.0000e+00, 2.5000e-01, 5.0000e-01,  ..., 4.9925e+02, 4.9950e+02,\n"
            "        4.9975e+02])");
  // torch.arange(2000).view(40, 50)
  EXPECT_EQ(arange(2000).view({40, 50}).to_string(),
            "tensor([[   0,    1,    2,  ...,   47,   48,   49],\n"
            "        [  50,   51,   52,  ...,   97,   98,   99],\n"
            "        [ 100,  101,  102,  ...,  147,  148,  149],\n"
            "        ...,\n"
            "        [1850, 1851, 1852,  ..., 1897, 1898, 1899],\n"
            "        [1900, 1901, 1902,  ..., 1947, 1948, 1949],\n"
            "        [1950, 1951, 1952,  ..., 1997, 1998, 1999]])");
  // torch.arange(1004).view(1004, 1)
  EXPECT_EQ(arange(1004).view({1004, 1}).to_string(),
            "tensor([[   0],\n"
            "        [   1],\n"
            "        [   2],\n"
            "        ...,\n"
            "        [1001],\n"
            "        [1002],\n"
            "        [1003]])");
}

TEST(Print, SummarisesEveryDimOfA3dTensor) {
  // (torch.arange(1331, dtype=torch.float32) / 100).view(11, 11, 11); the first and last
  // blocks and the separator between them, as torch printed them
  const std::string text = (arange(1331, kFloat32) / 100).view({11, 11, 11}).to_string();
  const std::string head =
      "tensor([[[0.0000e+00, 1.0000e-02, 2.0000e-02,  ..., 8.0000e-02,\n"
      "          9.0000e-02, 1.0000e-01],\n"
      "         [1.1000e-01, 1.2000e-01, 1.3000e-01,  ..., 1.9000e-01,\n"
      "          2.0000e-01, 2.1000e-01],\n"
      "         [2.2000e-01, 2.3000e-01, 2.4000e-01,  ..., 3.0000e-01,\n"
      "          3.1000e-01, 3.2000e-01],\n"
      "         ...,\n"
      "         [8.8000e-01, 8.9000e-01, 9.0000e-01,  ..., 9.6000e-01,\n"
      "          9.7000e-01, 9.8000e-01],\n"
      "         [9.9000e-01, 1.0000e+00, 1.0100e+00,  ..., 1.0700e+00,\n"
      "          1.0800e+00, 1.0900e+00],\n"
      "         [1.1000e+00, 1.1100e+00, 1.1200e+00,  ..., 1.1800e+00,\n"
      "          1.1900e+00, 1.2000e+00]],\n"
      "\n"
      "        [[1.2100e+00, 1.2200e+00, 1.2300e+00,  ..., 1.2900e+00,\n";
  const std::string middle =
      "          3.6100e+00, 3.6200e+00]],\n"
      "\n"
      "        ...,\n"
      "\n"
      "        [[9.6800e+00, 9.6900e+00, 9.7000e+00,  ..., 9.7600e+00,\n";
  const std::string tail =
      "        [[1.2100e+01, 1.2110e+01, 1.2120e+01,  ..., 1.2180e+01,\n"
      "          1.2190e+01, 1.2200e+01],\n"
      "         [1.2210e+01, 1.2220e+01, 1.2230e+01,  ..., 1.2290e+01,\n"
      "          1.2300e+01, 1.2310e+01],\n"
      "         [1.2320e+01, 1.2330e+01, 1.2340e+01,  ..., 1.2400e+01,\n"
      "          1.2410e+01, 1.2420e+01],\n"
      "         ...,\n"
      "         [1.2980e+01, 1.2990e+01, 1.3000e+01,  ..., 1.3060e+01,\n"
      "          1.3070e+01, 1.3080e+01],\n"
      "         [1.3090e+01, 1.3100e+01, 1.3110e+01,  ..., 1.3170e+01,\n"
      "          1.3180e+01, 1.3190e+01],\n"
      "         [1.3200e+01, 1.3210e+01, 1.3220e+01,  ..., 1.3280e+01,\n"
      "          1.3290e+01, 1.3300e+01]]])";
  EXPECT_EQ(text.substr(0, head.size()), head);
  EXPECT_NE(text.find(middle), std::string::npos);
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
  // repr(...).count('\n') was 84 in torch.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 84);
}

TEST(Print, StreamAndPrintUseTheSameText) {
  const Tensor values = tensor(std::vector<float>{1, 2, 3, 4}, {2, 2});
  std::ostringstream stream;
  stream << values;
  EXPECT_EQ(stream.str(), values.to_string());
  ::testing::internal::CaptureStdout();
  print(values);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), values.to_string() + "\n");
  EXPECT_EQ(Tensor().to_string(), "tensor(undefined)");
}

}  // namespace
}  // namespace ember

// Layer forward values against PyTorch 1.13 (float64, fixed weights). The inputs and weights are
// wave(shape, phase) = sin(0.37 * i + phase) over the flat index i, reshaped; the expected numbers
// come from the same modules in PyTorch, e.g.
//   conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2); conv.weight.copy_(wave([4,1,3,3], 0.4)) ...
// The full layer-by-layer parity suite (with gradients) is the HDF5 fixture tests.
#include <gtest/gtest.h>

#include <ember/ember.h>

#include <cmath>
#include <vector>

#include "tensor/test_util.h"

namespace ember::nn {
namespace {

using ember::testing::expect_error;
using ember::testing::expect_values_near;

Tensor wave(IntArrayRef shape, double phase) {
  return sin(arange(product(shape), kFloat64) * 0.37 + phase).reshape(shape);
}

void assign(const Tensor& target, const Tensor& source) {
  autograd::NoGradGuard no_grad;
  Tensor destination = target;
  destination.copy_(source);
}

constexpr double kTolerance = 1e-10;

const std::vector<double> kLinear2d = {
    2.0751381837497407, 2.4742597753535374, -0.7180790751369843, 1.3418931336709767, 2.83027344929302,
    0.07972665123697953};
const std::vector<double> kLinear3d = {
    2.0751381837497407, 2.4742597753535374, -0.7180790751369843, 1.3418931336709767, 2.83027344929302,
    0.07972665123697953, -1.4704836034935682, -0.9796033241778176, 2.201207956282638, -1.2472440881434927,
    -2.0265124302361874, 1.788118542306981};
const std::vector<double> kConv2d = {
    1.6527784422236014, 3.3766422437064705, 0.750941791199254, -1.8800704316461805, 0.01924178105371721,
    -1.7657674735151576, -0.09169507868578253, 2.5336284082265865, 0.699445356403144, 2.4197254164538693,
    3.223067572879452, 1.3450953713431109, 1.6775221521123702, 0.16652888708230806, -1.7255142616357917,
    -0.2076132114946565};
const std::vector<double> kConv1d = {
    1.355574043519174, 1.3859551428070624, 0.5682766692827912, 0.18806400760180175, 1.4024118492463757,
    2.0499106891480183, 2.7638025686982277, 2.35642540321836};
const std::vector<double> kConvTranspose2d = {
    0.2500463949670034, 0.5449295165435644, 0.7047719924983058, 0.7088360292720828, 1.0158681221598824,
    1.8952042683576615, 1.356464117451078, 1.4998659504283745, 1.1289980046430452, 2.068967873376832,
    1.4653074307916198, 1.2812627005113986, 0.638067764266705, 0.9028308557248843, 0.6271964718419603,
    0.24569976913976596};
const std::vector<double> kMaxPool = {
    0.9207505977361357, 0.9995258306054791, 0.42305539714299684, 0.9233879612755189};
const std::vector<double> kAvgPool = {
    0.24793672055068564, 0.23988787918320842, 0.03189015510634401, -0.09799900073336085, -0.12343019831605459,
    -0.04598112395701908, 0.24277512629181983, 0.3781659797189372, 0.1983518074442182};
const std::vector<double> kAvgPoolNoPad = {
    0.5578576212390427, 0.35983181877481263, 0.07175284898927403, -0.14699850110004128, -0.12343019831605459,
    -0.06897168593552862, 0.5462440341565946, 0.5672489695784058, 0.44629156674949094};
const std::vector<double> kAdaptive = {
    0.5578576212390427, 0.35983181877481263, 0.07175284898927403, -0.14699850110004128, -0.1234301983160546,
    -0.06897168593552862, 0.5462440341565946, 0.5672489695784058, 0.44629156674949094};
const std::vector<double> kBatchNorm1dTrain = {
    0.2562754590322714, 0.976165109320084, 1.7219373795020099, 0.3059785966175026, 0.9419159124366708,
    1.3162281070671298, 0.19182355604329104, 0.361283761190138, 0.3311881726135144, 0.04059971148717987,
    -0.12083658801101546, -0.13912125756219743};
const std::vector<double> kBatchNorm1dRunningMean = {
    0.15297299640983955, 0.12989196021011104, 0.10276518742546854};
const std::vector<double> kBatchNorm1dRunningVar = {
    1.1305138805450627, 1.2040144408375926, 1.2380584594720347};
const std::vector<double> kBatchNorm1dEval = {
    0.25785553898007924, 0.8802248140291343, 1.4064132934076148, 0.269288368706375, 0.7708393055419505,
    0.9942037332247934};
const std::vector<double> kBatchNorm2dCumulativeMean = {
    0.33199618691602617, 0.13094001527871002};
const std::vector<double> kBatchNorm2dCumulativeVar = {
    2.9438835420860605, 3.0367769422801376};
const std::vector<double> kLayerNorm = {
    0.06842301931926105, 0.6209920293534744, 1.6452732103886096, 0.30024570466304534, 0.6944603467047179,
    -0.20465673518927074};
const std::vector<double> kGroupNorm = {
    0.04245224115601993, 0.18251329627628018, 0.8710124992710911, 0.9902084471263628, 1.7085771939727605,
    1.2387761947387788, 0.6417301361582602, -0.3832660240904817, 0.34903707536473666, 0.22459808386563104,
    0.24337406142132428, 0.03613511807079002, -0.04827090646478189, 0.340932108577221, 1.2397903803965158,
    2.354194362115097};
const std::vector<double> kLeakyRelu = {
    1.7954164323118693, 0.8047981527888537, -0.058949156247065204, -0.2708794512968539, -0.4461474833665648,
    -0.5610315465350695};
const std::vector<double> kGeluTanh = {
    1.7301848922250829, 0.6353283252664638, -0.1132124364513803, -0.11915621600523262, -0.028373774517921103,
    -0.0065891629628556155};
const std::vector<double> kGelu = {
    1.7302541482172584, 0.635413827643156, -0.11321009899651349, -0.1189226292748688, -0.02866333353755076,
    -0.007053844327452101};
const std::vector<double> kSilu = {
    1.539731293028946, 0.5561154558583211, -0.12581000262612252, -0.27785785304456667, -0.2164351037902263,
    -0.16002330089058445};
const std::vector<double> kLogSoftmax = {
    -0.40213563655402973, -1.3927539160770452, -2.492297850101225, -0.5011968370458856, -1.37753699739444,
    -1.9519573132369636};

TEST(Layers, LinearMatchesPyTorch) {
  Linear linear(4, 3);
  linear->to(kFloat64);
  assign(linear->weight, wave({3, 4}, 0.1));
  assign(linear->bias, wave({3}, 0.2));
  expect_values_near(linear(wave({2, 4}, 0.3)), kLinear2d, kTolerance);
  const Tensor batched = linear(wave({2, 2, 4}, 0.3));
  EXPECT_EQ(batched.sizes(), IntArrayRef({2, 2, 3}));
  expect_values_near(batched, kLinear3d, kTolerance);
  expect_error([&] { linear(ones({2, 5}, kFloat64)); }, {"linear", "[2, 5]", "[3, 4]"});
}

TEST(Layers, Conv2dWithStridePaddingAndGroupsMatchesPyTorch) {
  Conv2d conv(Conv2dOptions(2, 4, 3).stride(2).padding(1).groups(2));
  EXPECT_EQ(conv->weight.sizes(), IntArrayRef({4, 1, 3, 3}));
  conv->to(kFloat64);
  assign(conv->weight, wave({4, 1, 3, 3}, 0.4));
  assign(conv->bias, wave({4}, 0.5));
  const Tensor output = conv(wave({1, 2, 4, 4}, 0.6));
  EXPECT_EQ(output.sizes(), IntArrayRef({1, 4, 2, 2}));
  expect_values_near(output, kConv2d, kTolerance);
  expect_error([] { Conv2d(Conv2dOptions(3, 4, 3).groups(2)); }, {"in_channels (3)", "groups (2)"});
}

TEST(Layers, Conv1dWithDilationMatchesPyTorch) {
  Conv1d conv(Conv1dOptions(2, 2, 3).padding(1).dilation(2));
  conv->to(kFloat64);
  assign(conv->weight, wave({2, 2, 3}, 0.4));
  assign(conv->bias, wave({2}, 0.5));
  expect_values_near(conv(wave({1, 2, 6}, 0.6)), kConv1d, kTolerance);
}

TEST(Layers, ConvTranspose2dMatchesPyTorch) {
  ConvTranspose2d conv(ConvTranspose2dOptions(2, 1, 3).stride(2).padding(1).output_padding(1));
  EXPECT_EQ(conv->weight.sizes(), IntArrayRef({2, 1, 3, 3}));
  conv->to(kFloat64);
  assign(conv->weight, wave({2, 1, 3, 3}, 0.4));
  assign(conv->bias, wave({1}, 0.5));
  const Tensor output = conv(wave({1, 2, 2, 2}, 0.6));
  EXPECT_EQ(output.sizes(), IntArrayRef({1, 1, 4, 4}));
  expect_values_near(output, kConvTranspose2d, kTolerance);
}

TEST(Layers, PoolingMatchesPyTorch) {
  const Tensor input = wave({1, 1, 5, 5}, 0.8);
  expect_values_near(MaxPool2d(2)(input), kMaxPool, kTolerance);
  expect_values_near(AvgPool2d(AvgPool2dOptions(3).stride(2).padding(1))(input), kAvgPool, kTolerance);
  expect_values_near(AvgPool2d(AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false))(input),
                     kAvgPoolNoPad, kTolerance);
  expect_values_near(AdaptiveAvgPool2d(3)(input), kAdaptive, kTolerance);
  EXPECT_EQ(AdaptiveAvgPool2d(1)(wave({2, 3, 4, 4}, 0.0)).sizes(), IntArrayRef({2, 3, 1, 1}));
  EXPECT_EQ(MaxPool2dOptions(3).stride()[1], 3);  // the stride defaults to the kernel size
}

TEST(Layers, BatchNorm1dTrainingEvalAndRunningStatisticsMatchPyTorch) {
  BatchNorm1d bn(3);
  bn->to(kFloat64);
  assign(bn->weight, wave({3}, 0.1));
  assign(bn->bias, wave({3}, 0.2));
  expect_values_near(bn(wave({4, 3}, 0.7) * 2 + 1), kBatchNorm1dTrain, kTolerance);
  // The running variance takes the unbiased batch variance.
  expect_values_near(bn->running_mean, kBatchNorm1dRunningMean, kTolerance);
  expect_values_near(bn->running_var, kBatchNorm1dRunningVar, kTolerance);
  bn->eval();
  expect_values_near(bn(wave({2, 3}, 0.9)), kBatchNorm1dEval, kTolerance);
  expect_error([&] { bn(ones({2, 3, 4, 5}, kFloat64)); }, {"expected 2D or 3D input (got 4D input"});
  bn->train();
  expect_error([&] { bn(ones({1, 3}, kFloat64)); }, {"more than 1 value per channel"});
}

TEST(Layers, BatchNormWithoutMomentumKeepsACumulativeAverage) {
  BatchNorm2d bn(BatchNormOptions(2).momentum(std::nullopt));
  bn->to(kFloat64);
  bn(wave({2, 2, 2, 2}, 0.3) * 3);
  bn(wave({2, 2, 2, 2}, 1.3) + 0.5);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
  expect_values_near(bn->running_mean, kBatchNorm2dCumulativeMean, kTolerance);
  expect_values_near(bn->running_var, kBatchNorm2dCumulativeVar, kTolerance);
  expect_error([&] { bn(ones({2, 2, 3}, kFloat64)); }, {"expected 4D input (got 3D input"});
}

TEST(Layers, BatchNormWithoutRunningStatisticsUsesTheBatchInEvalToo) {
  BatchNorm1d bn(BatchNormOptions(2).affine(false).track_running_stats(false));
  EXPECT_TRUE(bn->parameters().empty());
  EXPECT_TRUE(bn->state_dict().empty());
  bn->eval();
  const Tensor output = bn(tensor(std::vector<float>{1, 2, 3, 6}, {2, 2}));
  expect_values_near(output, {-1, -1, 1, 1}, 1e-4);
}

TEST(Layers, LayerNormAndGroupNormMatchPyTorch) {
  LayerNorm layer_norm(3);
  layer_norm->to(kFloat64);
  assign(layer_norm->weight, wave({3}, 0.1));
  assign(layer_norm->bias, wave({3}, 0.2));
  expect_values_near(layer_norm(wave({2, 3}, 0.5) * 4), kLayerNorm, kTolerance);
  expect_error([&] { layer_norm(ones({2, 4}, kFloat64)); }, {"normalized_shape=[3]", "[*, 3]", "[2, 4]"});

  GroupNorm group_norm(2, 4);
  group_norm->to(kFloat64);
  assign(group_norm->weight, wave({4}, 0.1));
  assign(group_norm->bias, wave({4}, 0.2));
  expect_values_near(group_norm(wave({2, 4, 2}, 0.5) * 4), kGroupNorm, kTolerance);
  expect_error([] { GroupNorm(3, 4); }, {"num_channels (4)", "num_groups (3)"});
}

TEST(Layers, ActivationsMatchPyTorch) {
  const Tensor input = wave({6}, 2.5) * 3;
  expect_values_near(LeakyReLU(0.2)(input), kLeakyRelu, kTolerance);
  expect_values_near(GELU("tanh")(input), kGeluTanh, kTolerance);
  expect_values_near(GELU()(input), kGelu, kTolerance);
  expect_values_near(SiLU()(input), kSilu, kTolerance);
  expect_values_near(LogSoftmax(1)(input.reshape({2, 3})), kLogSoftmax, kTolerance);
  const Tensor probabilities = Softmax(-1)(input.reshape({2, 3}));
  expect_values_near(probabilities.sum({1}), {1.0, 1.0}, kTolerance);
  const std::vector<double> raw = input.to_vector<double>();
  expect_values_near(ReLU()(input), {raw[0], raw[1], 0, 0, 0, 0}, kTolerance);
  expect_values_near(Sigmoid()(zeros({1}, kFloat64)), {0.5}, kTolerance);
  expect_values_near(Tanh()(zeros({1}, kFloat64)), {0.0}, kTolerance);
  expect_error([] { GELU("fast"); }, {"approximate", "fast"});
}

TEST(Layers, EmbeddingLooksUpRowsAndZeroesThePaddingRow) {
  Embedding embedding(EmbeddingOptions(5, 3).padding_idx(-1));
  EXPECT_EQ(*embedding->options.padding_idx(), 4);
  EXPECT_EQ(embedding->weight[4].to_vector<float>(), std::vector<float>(3, 0.0f));
  const Tensor indices = tensor(std::vector<int64_t>{0, 2, 4, 2}, {2, 2});
  const Tensor output = embedding(indices);
  EXPECT_EQ(output.sizes(), IntArrayRef({2, 2, 3}));
  EXPECT_EQ(output[0][1].to_vector<float>(), embedding->weight[2].to_vector<float>());
  EXPECT_EQ(output[1][0].to_vector<float>(), std::vector<float>(3, 0.0f));
  expect_error([] { Embedding(EmbeddingOptions(3, 2).padding_idx(5)); }, {"padding_idx 5", "num_embeddings (3)"});
}

TEST(Layers, FlattenAndIdentity) {
  const Tensor input = zeros({2, 3, 4, 5});
  EXPECT_EQ(Flatten()(input).sizes(), IntArrayRef({2, 60}));
  EXPECT_EQ(Flatten(FlattenOptions().start_dim(2))(input).sizes(), IntArrayRef({2, 3, 20}));
  EXPECT_TRUE(Identity()(input).is_same(input));
}

TEST(Layers, ASmallCnnRunsEndToEnd) {
  Sequential model(Conv2d(Conv2dOptions(1, 4, 5).padding(2)), ReLU(), MaxPool2d(2),
                   Conv2d(Conv2dOptions(4, 8, 3).padding(1)), BatchNorm2d(8), ReLU(), AdaptiveAvgPool2d(1), Flatten(),
                   Linear(8, 10), LogSoftmax(1));
  const Tensor output = model(randn({3, 1, 12, 12}));
  EXPECT_EQ(output.sizes(), IntArrayRef({3, 10}));
  output.sum().backward();
  for (const auto& [name, parameter] : model->named_parameters()) {
    EXPECT_TRUE(parameter.grad().defined()) << name;
  }
}

}  // namespace
}  // namespace ember::nn

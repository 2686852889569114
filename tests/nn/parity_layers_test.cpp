// Parity with PyTorch 1.13 for every layer case in tests/nn/fixtures/layers.h5 (written by
// generate.py there). Each case builds the Ember module, loads PyTorch's state_dict through
// load_state_dict (strict, so the key names must be PyTorch's), runs forward and backward with
// PyTorch's upstream gradient, and compares the output, the input and parameter gradients, and
// the state_dict afterwards (running statistics). Tolerance: parity_tolerance (rtol 1e-5 in
// float32, 1e-10 in float64, atol rtol * max |expected| of each tensor).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ember/autograd/autograd.h"
#include "ember/nn/nn.h"
#include "support/fixture.h"
#include "support/parity.h"

namespace ember::nn {
namespace {

using testing::Fixture;
using Factory = std::function<std::shared_ptr<Module>()>;

// Erases a holder into the Module it holds.
template <class Holder> Factory make(std::function<Holder()> build) {
  return [build] { return std::static_pointer_cast<Module>(build().ptr()); };
}

// The Ember module for each case, with the options generate.py gave PyTorch's.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"linear", make<Linear>([] { return Linear(5, 4); })},
      {"linear_no_bias_3d", make<Linear>([] { return Linear(LinearOptions(6, 3).bias(false)); })},

      {"conv1d", make<Conv1d>([] { return Conv1d(3, 4, 3); })},
      {"conv1d_stride2_pad1_dilation2",
       make<Conv1d>([] { return Conv1d(Conv1dOptions(4, 6, 3).stride(2).padding(1).dilation(2)); })},
      {"conv1d_groups2_no_bias", make<Conv1d>([] { return Conv1d(Conv1dOptions(4, 6, 2).groups(2).bias(false)); })},
      {"conv2d", make<Conv2d>([] { return Conv2d(3, 4, 3); })},
      {"conv2d_stride2_pad1", make<Conv2d>([] { return Conv2d(Conv2dOptions(3, 5, 3).stride(2).padding(1)); })},
      {"conv2d_dilation2_pad2", make<Conv2d>([] { return Conv2d(Conv2dOptions(2, 3, 3).padding(2).dilation(2)); })},
      {"conv2d_groups2", make<Conv2d>([] { return Conv2d(Conv2dOptions(4, 6, 3).groups(2).padding(1)); })},
      {"conv2d_depthwise", make<Conv2d>([] { return Conv2d(Conv2dOptions(3, 6, 3).groups(3)); })},
      {"conv2d_rect_no_bias", make<Conv2d>([] {
         return Conv2d(Conv2dOptions(3, 4, {3, 2}).stride({2, 1}).padding({1, 0}).bias(false));
       })},
      {"conv2d_1x1", make<Conv2d>([] { return Conv2d(5, 3, 1); })},
      {"conv_transpose2d", make<ConvTranspose2d>([] { return ConvTranspose2d(4, 3, 3); })},
      {"conv_transpose2d_stride2_pad1_outpad1", make<ConvTranspose2d>([] {
         return ConvTranspose2d(ConvTranspose2dOptions(4, 3, 3).stride(2).padding(1).output_padding(1));
       })},
      {"conv_transpose2d_groups2_dilation2", make<ConvTranspose2d>([] {
         return ConvTranspose2d(ConvTranspose2dOptions(4, 6, 2).groups(2).dilation(2).bias(false));
       })},

      {"max_pool2d", make<MaxPool2d>([] { return MaxPool2d(2); })},
      {"max_pool2d_k3_s2_p1", make<MaxPool2d>([] { return MaxPool2d(MaxPool2dOptions(3).stride(2).padding(1)); })},
      {"max_pool2d_ceil_mode",
       make<MaxPool2d>([] { return MaxPool2d(MaxPool2dOptions(3).stride(2).ceil_mode(true)); })},
      {"avg_pool2d", make<AvgPool2d>([] { return AvgPool2d(2); })},
      {"avg_pool2d_k3_s2_p1", make<AvgPool2d>([] { return AvgPool2d(AvgPool2dOptions(3).stride(2).padding(1)); })},
      {"avg_pool2d_exclude_pad", make<AvgPool2d>([] {
         return AvgPool2d(AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false));
       })},
      {"avg_pool2d_ceil_mode",
       make<AvgPool2d>([] { return AvgPool2d(AvgPool2dOptions(3).stride(2).padding(1).ceil_mode(true)); })},
      {"adaptive_avg_pool2d", make<AdaptiveAvgPool2d>([] { return AdaptiveAvgPool2d(ExpandingArray<2>({3, 2})); })},
      {"adaptive_avg_pool2d_global", make<AdaptiveAvgPool2d>([] { return AdaptiveAvgPool2d(1); })},

      {"batch_norm1d_train", make<BatchNorm1d>([] { return BatchNorm1d(4); })},
      {"batch_norm1d_train_3d_momentum", make<BatchNorm1d>([] { return BatchNorm1d(BatchNormOptions(3).momentum(0.3)); })},
      {"batch_norm1d_train_cumulative",
       make<BatchNorm1d>([] { return BatchNorm1d(BatchNormOptions(3).momentum(std::nullopt)); })},
      {"batch_norm1d_eval", make<BatchNorm1d>([] { return BatchNorm1d(4); })},
      {"batch_norm2d_train", make<BatchNorm2d>([] { return BatchNorm2d(3); })},
      {"batch_norm2d_train_no_affine",
       make<BatchNorm2d>([] { return BatchNorm2d(BatchNormOptions(3).affine(false).eps(1e-3)); })},
      {"batch_norm2d_eval", make<BatchNorm2d>([] { return BatchNorm2d(3); })},
      {"layer_norm", make<LayerNorm>([] { return LayerNorm(LayerNormOptions(6)); })},
      {"layer_norm_2d_no_affine", make<LayerNorm>([] {
         return LayerNorm(LayerNormOptions(std::vector<int64_t>{3, 5}).elementwise_affine(false).eps(1e-4));
       })},
      {"group_norm", make<GroupNorm>([] { return GroupNorm(2, 6); })},
      {"group_norm_3_groups_no_affine",
       make<GroupNorm>([] { return GroupNorm(GroupNormOptions(3, 6).affine(false)); })},

      {"embedding", make<Embedding>([] { return Embedding(10, 4); })},
      {"embedding_padding_idx", make<Embedding>([] { return Embedding(EmbeddingOptions(7, 3).padding_idx(2)); })},
      {"flatten", make<Flatten>([] { return Flatten(); })},
      {"flatten_1_2", make<Flatten>([] { return Flatten(FlattenOptions().start_dim(1).end_dim(2)); })},

      {"relu", make<ReLU>([] { return ReLU(); })},
      {"leaky_relu", make<LeakyReLU>([] { return LeakyReLU(LeakyReLUOptions(0.2)); })},
      {"gelu", make<GELU>([] { return GELU(); })},
      {"gelu_tanh", make<GELU>([] { return GELU(GELUOptions("tanh")); })},
      {"silu", make<SiLU>([] { return SiLU(); })},
      {"sigmoid", make<Sigmoid>([] { return Sigmoid(); })},
      {"tanh", make<Tanh>([] { return Tanh(); })},
      {"softmax", make<Softmax>([] { return Softmax(SoftmaxOptions(1)); })},
      {"softmax_last_dim_3d", make<Softmax>([] { return Softmax(SoftmaxOptions(-1)); })},
      {"log_softmax", make<LogSoftmax>([] { return LogSoftmax(LogSoftmaxOptions(1)); })},
      {"log_softmax_dim0_3d", make<LogSoftmax>([] { return LogSoftmax(LogSoftmaxOptions(0)); })},
  };
  return table;
}

const Fixture& layers() {
  static const Fixture fixture("layers.h5");
  return fixture;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

StateDict read_state(const Fixture& fixture, const std::string& group) {
  StateDict state;
  for (const std::string& key : fixture.children(group)) state.insert(key, fixture.tensor(group + "/" + key));
  return state;
}

TEST(LayerParityFixture, EveryCaseHasAnEmberModuleAndEveryModuleACase) {
  std::set<std::string> in_file;
  for (const std::string& name : layers().children("/")) in_file.insert(name);
  std::set<std::string> in_table;
  for (const auto& [name, factory] : factories()) in_table.insert(name);
  EXPECT_EQ(in_file, in_table);
}

class LayerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerParity, MatchesPyTorch) {
  const Fixture& fixture = layers();
  const std::string name = GetParam();
  ASSERT_TRUE(fixture.has(name)) << "layers.h5 has no case " << name << "; rerun generate.py";
  const bool training = fixture.text(name + "@mode") == "train";
  for (const char* dtype_name : {"float32", "float64"}) {
    SCOPED_TRACE(name + "/" + dtype_name);
    const std::string data = name + "/" + dtype_name;
    const std::shared_ptr<Module> module = factories().at(name)();
    module->to(std::string(dtype_name) == "float64" ? kFloat64 : kFloat32);
    module->load_state_dict(read_state(fixture, data + "/state"));
    module->train(training);

    Tensor input = fixture.tensor(data + "/input");
    if (input.is_floating_point()) input.requires_grad_();
    const Tensor output = module->forward(input);
    testing::expect_parity(output, fixture.tensor(data + "/output"), name, dtype_name, "output");
    output.backward(fixture.tensor(data + "/grad_output"));

    if (fixture.has(data + "/grad_input")) {
      testing::expect_parity(input.grad(), fixture.tensor(data + "/grad_input"), name, dtype_name, "grad_input");
    }
    std::set<std::string> expected_grads;
    for (const std::string& parameter : fixture.children(data + "/grad")) expected_grads.insert(parameter);
    std::set<std::string> actual_grads;
    for (const auto& [parameter, value] : module->named_parameters()) {
      actual_grads.insert(parameter);
      if (!expected_grads.count(parameter)) continue;
      testing::expect_parity(value.grad(), fixture.tensor(data + "/grad/" + parameter), name, dtype_name,
                             "grad of " + parameter);
    }
    EXPECT_EQ(actual_grads, expected_grads) << "parameter names";

    const StateDict after = module->state_dict();
    const StateDict expected_after = read_state(fixture, data + "/state_after");
    // The fixture lists keys sorted; the order itself is load_state_dict's concern, not this test's.
    const std::vector<std::string> actual_keys = after.keys();
    const std::vector<std::string> expected_keys = expected_after.keys();
    EXPECT_EQ(std::set<std::string>(actual_keys.begin(), actual_keys.end()),
              std::set<std::string>(expected_keys.begin(), expected_keys.end()));
    for (const auto& [key, value] : expected_after) {
      if (const Tensor* actual = after.find(key)) {
        testing::expect_parity(*actual, value, name, dtype_name, "state_after " + key);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LayerParity, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return testing::test_name_for(info.param);
                         });

}  // namespace
}  // namespace ember::nn

// Parity with PyTorch 1.13 for every loss and option combination in tests/nn/fixtures/losses.h5
// (written by generate.py there): each case builds the Ember loss module with the case's
// options, runs forward and backward with PyTorch's upstream gradient, and compares the loss and
// the input (and floating target) gradients. Tolerance: parity_tolerance (rtol 1e-5 in float32,
// 1e-10 in float64, atol rtol * max |expected| of each tensor).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "ember/autograd/autograd.h"
#include "ember/nn/loss.h"
#include "support/fixture.h"
#include "support/parity.h"

namespace ember::nn {
namespace {

using testing::Fixture;

const Fixture& losses() {
  static const Fixture fixture("losses.h5");
  return fixture;
}

using LossFunction = std::function<Tensor(const Tensor&, const Tensor&)>;

// The Ember module for a case, configured from its attributes and optional weight tensors.
LossFunction make_loss(const Fixture& fixture, const std::string& name, const std::string& data) {
  const std::string loss = fixture.text(name + "@loss");
  const Reduction reduction = parse_reduction(fixture.text(name + "@reduction"));
  const auto option = [&](const char* key, double fallback) {
    return fixture.has(name + "@" + key) ? fixture.number(name + "@" + key) : fallback;
  };
  const auto tensor_option = [&](const char* key) {
    return fixture.has(data + "/" + key) ? fixture.tensor(data + "/" + key) : Tensor();
  };
  const auto ignore_index = static_cast<int64_t>(option("ignore_index", -100));
  if (loss == "MSELoss") {
    MSELoss module(MSELossOptions().reduction(reduction));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "L1Loss") {
    L1Loss module(L1LossOptions().reduction(reduction));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "SmoothL1Loss") {
    SmoothL1Loss module(SmoothL1LossOptions().reduction(reduction).beta(option("beta", 1.0)));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "HuberLoss") {
    HuberLoss module(HuberLossOptions().reduction(reduction).delta(option("delta", 1.0)));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "CrossEntropyLoss") {
    CrossEntropyLoss module(CrossEntropyLossOptions()
                                .weight(tensor_option("weight"))
                                .ignore_index(ignore_index)
                                .reduction(reduction)
                                .label_smoothing(option("label_smoothing", 0.0)));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "NLLLoss") {
    NLLLoss module(NLLLossOptions().weight(tensor_option("weight")).ignore_index(ignore_index).reduction(reduction));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "BCELoss") {
    BCELoss module(BCELossOptions().weight(tensor_option("weight")).reduction(reduction));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  if (loss == "BCEWithLogitsLoss") {
    BCEWithLogitsLoss module(BCEWithLogitsLossOptions()
                                 .weight(tensor_option("weight"))
                                 .pos_weight(tensor_option("pos_weight"))
                                 .reduction(reduction));
    return [module](const Tensor& input, const Tensor& target) { return module(input, target); };
  }
  ADD_FAILURE() << "case " << name << ": no Ember loss for '" << loss << "'";
  return {};
}

std::vector<std::string> case_names() {
  try {
    return losses().children("/");
  } catch (const Error& error) {
    return {"unreadable_fixture"};  // the test below then fails with the reader's message
  }
}

class LossParity : public ::testing::TestWithParam<std::string> {};

TEST_P(LossParity, MatchesPyTorch) {
  const Fixture& fixture = losses();
  const std::string name = GetParam();
  for (const char* dtype : {"float32", "float64"}) {
    SCOPED_TRACE(name + "/" + dtype);
    const std::string data = name + "/" + dtype;
    const LossFunction loss = make_loss(fixture, name, data);
    ASSERT_TRUE(loss);
    Tensor input = fixture.tensor(data + "/input");
    input.requires_grad_();
    Tensor target = fixture.tensor(data + "/target");
    const bool floating_target = target.is_floating_point();
    if (floating_target) target.requires_grad_();
    const Tensor output = loss(input, target);
    testing::expect_parity(output, fixture.tensor(data + "/output"), name, dtype, "output");
    output.backward(fixture.tensor(data + "/grad_output"));
    testing::expect_parity(input.grad(), fixture.tensor(data + "/grad_input"), name, dtype, "grad_input");
    if (floating_target) {
      testing::expect_parity(target.grad(), fixture.tensor(data + "/grad_target"), name, dtype, "grad_target");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LossParity, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return testing::test_name_for(info.param);
                         });

}  // namespace
}  // namespace ember::nn

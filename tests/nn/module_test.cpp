// Module: registration, names, traversal, state_dict, modes, conversion and containers.
#include <gtest/gtest.h>

#include <ember/ember.h>

#include <sstream>
#include <string>
#include <vector>

#include "tensor/test_util.h"

namespace ember::nn {
namespace {

namespace F = ember::nn::functional;
using ember::testing::expect_error;

// The PyTorch seeds' shape of model: two Linear layers around a BatchNorm.
struct NetImpl : Module {
  NetImpl() {
    fc1 = register_module("fc1", Linear(6, 4));
    bn = register_module("bn", BatchNorm1d(4));
    fc2 = register_module("fc2", Linear(4, 2));
  }
  Tensor forward(const Tensor& x) override { return fc2(F::relu(bn(fc1(x)))); }

  Linear fc1{nullptr};
  BatchNorm1d bn{nullptr};
  Linear fc2{nullptr};
};
EMBER_MODULE(Net);

std::vector<std::string> names_of(const Module::NamedTensors& items) {
  std::vector<std::string> names;
  for (const auto& item : items) names.push_back(item.first);
  return names;
}

std::vector<std::string> keys_of(const StateDict& dict) { return dict.keys(); }

// Registering a handle gives the handle back, so `auto fc = register_module(...)` can be called.
static_assert(std::is_same_v<decltype(std::declval<Module&>().register_module("fc", std::declval<Linear>())), Linear>);
static_assert(std::is_same_v<decltype(std::declval<Module&>().register_module(
                                 "fc", std::declval<std::shared_ptr<LinearImpl>>())),
                             std::shared_ptr<LinearImpl>>);

TEST(Module, NamedParametersFollowRegistrationOrderWithDottedNames) {
  Net net;
  EXPECT_EQ(names_of(net->named_parameters()),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(names_of(net->named_buffers()),
            (std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  EXPECT_EQ(names_of(net->fc1->named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_TRUE(net->named_parameters(/*recurse=*/false).empty());
  EXPECT_TRUE(net->parameters()[0].is_same(net->fc1->weight));
}

TEST(Module, StateDictKeysAreExactlyPyTorchs) {
  Net net;
  const StateDict state = net->state_dict();
  // torch: list(Net().state_dict().keys()) for the same model.
  EXPECT_EQ(keys_of(state), (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                                                      "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                                                      "fc2.weight", "fc2.bias"}));
  const Tensor& tracked = state.at("bn.num_batches_tracked");
  EXPECT_EQ(tracked.dtype(), kInt64);
  EXPECT_EQ(tracked.dim(), 0);
  EXPECT_EQ(tracked.item<int64_t>(), 0);
  // Values share storage with the module and do not require grad.
  EXPECT_TRUE(state.at("fc1.weight").shares_storage_with(net->fc1->weight));
  EXPECT_FALSE(state.at("fc1.weight").requires_grad());
}

TEST(Module, SequentialNamesChildrenByPosition) {
  Sequential model(Linear(3, 4), ReLU(), Linear(4, 2), Sequential(Linear(2, 2), Tanh()));
  EXPECT_EQ(keys_of(model->state_dict()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias",
                                                                     "3.0.weight", "3.0.bias"}));
  EXPECT_EQ(model->size(), 4u);
  EXPECT_EQ(model[1]->name(), "ReLU");
  EXPECT_EQ(model->at<LinearImpl>(2).options.in_features(), 4);
  EXPECT_EQ(model->at<Linear>(0).weight.sizes(), IntArrayRef({4, 3}));
  expect_error([&] { model->at<Conv2dImpl>(0); }, {"index 0", "Linear"});
  expect_error([&] { model->ptr(7); }, {"index 7", "4 modules"});

  model->push_back(Sigmoid());
  model->push_back("head", Linear(2, 1));
  EXPECT_EQ(keys_of(model->state_dict()).back(), "head.bias");
  EXPECT_EQ(model->forward(ones({5, 3})).sizes(), IntArrayRef({5, 1}));
  EXPECT_EQ(model(ones({5, 3})).sizes(), IntArrayRef({5, 1}));
}

TEST(Module, ParameterCountMatchesTheLayers) {
  Sequential mlp(Linear(784, 64), ReLU(), Linear(64, 10));
  int64_t count = 0;
  for (const Tensor& parameter : mlp->parameters()) count += parameter.numel();
  EXPECT_EQ(count, 784 * 64 + 64 + 64 * 10 + 10);
  EXPECT_EQ(mlp->parameters().size(), 4u);
  Linear no_bias(LinearOptions(5, 3).bias(false));
  EXPECT_EQ(no_bias->parameters().size(), 1u);
  EXPECT_FALSE(no_bias->bias.defined());
  EXPECT_EQ(keys_of(no_bias->state_dict()), std::vector<std::string>{"weight"});
}

TEST(Module, SharedModulesAndParametersAreListedOnce) {
  Linear shared(3, 3);
  Sequential model(shared, ReLU(), shared);
  EXPECT_EQ(model->parameters().size(), 2u);
  EXPECT_EQ(model->children().size(), 2u);  // the repeated child once, as PyTorch
  // state_dict keeps every path, as PyTorch does.
  EXPECT_EQ(keys_of(model->state_dict()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
}

TEST(Module, ChildrenAndModulesWalkDepthFirst) {
  Net net;
  Module::NamedModules children = net->named_children();
  ASSERT_EQ(children.size(), 3u);
  EXPECT_EQ(children[1].first, "bn");
  EXPECT_EQ(children[1].second->name(), "BatchNorm1d");
  Sequential outer(Linear(1, 1), Sequential(ReLU()));
  std::vector<std::string> names;
  for (const auto& [name, module] : outer->named_modules()) names.push_back(name + ":" + module->name());
  EXPECT_EQ(names, (std::vector<std::string>{":Sequential", "0:Linear", "1:Sequential", "1.0:ReLU"}));
  EXPECT_EQ(outer->modules(/*include_self=*/false).size(), 3u);
  EXPECT_EQ(outer->modules().front().get(), outer.get());

  std::vector<std::string> visited;
  outer->apply([&](Module& module) { visited.push_back(module.name()); });
  EXPECT_EQ(visited, (std::vector<std::string>{"Linear", "ReLU", "Sequential", "Sequential"}));
}

TEST(Module, RegistrationRejectsBadNames) {
  struct Holder : Module {
    void add() { register_parameter("w", zeros({2})); }
    void add_buffer_named_w() { register_buffer("w", zeros({2})); }
    void add_dotted() { register_parameter("a.b", zeros({2})); }
    void add_null_module() { register_module("child", Linear(nullptr)); }
  } holder;
  holder.add();
  expect_error([&] { holder.add(); }, {"'w'", "already registered"});
  expect_error([&] { holder.add_buffer_named_w(); }, {"'w'", "already registered"});
  expect_error([&] { holder.add_dotted(); }, {"a.b", "\".\""});
  expect_error([&] { holder.add_null_module(); }, {"child", "null"});
  EXPECT_TRUE(holder.parameters()[0].requires_grad());
  EXPECT_TRUE(holder.parameters()[0].is_leaf());
}

TEST(Module, StateDictRoundTripCopiesValuesIntoTheSameTensors) {
  Net source;
  Net target;
  {
    autograd::NoGradGuard no_grad;
    source->bn->running_mean.fill_(0.25);
    source->bn->num_batches_tracked.fill_(7);
  }
  const Tensor weight_before = target->fc1->weight;
  const LoadStateDictResult result = target->load_state_dict(source->state_dict());
  EXPECT_TRUE(result.missing_keys.empty());
  EXPECT_TRUE(result.unexpected_keys.empty());
  EXPECT_TRUE(target->fc1->weight.is_same(weight_before));
  EXPECT_TRUE(target->parameters()[0].is_same(weight_before));
  EXPECT_EQ(target->fc1->weight.to_vector<float>(), source->fc1->weight.to_vector<float>());
  EXPECT_FALSE(target->fc1->weight.shares_storage_with(source->fc1->weight));
  EXPECT_EQ(target->fc2->bias.to_vector<float>(), source->fc2->bias.to_vector<float>());
  EXPECT_EQ(target->bn->running_mean.to_vector<double>(), std::vector<double>(4, 0.25));
  EXPECT_EQ(target->bn->num_batches_tracked.item<int64_t>(), 7);
  EXPECT_TRUE(target->fc1->weight.requires_grad());
  // Loading a module's own state_dict leaves it unchanged.
  const std::vector<float> values = target->fc1->weight.to_vector<float>();
  target->load_state_dict(target->state_dict());
  EXPECT_EQ(target->fc1->weight.to_vector<float>(), values);
}

TEST(Module, LoadStateDictListsEveryMissingAndUnexpectedKey) {
  Net net;
  StateDict partial;
  for (const auto& [key, value] : net->state_dict()) {
    if (key != "fc1.bias" && key != "bn.running_var") partial.insert(key, value);
  }
  partial.insert("fc3.weight", zeros({1}));
  partial.insert("extra", zeros({1}));
  expect_error([&] { net->load_state_dict(partial); },
               {"state_dict for Net", "missing key(s)", "\"fc1.bias\", \"bn.running_var\"", "unexpected key(s)",
                "\"fc3.weight\", \"extra\""});
  // Not strict: loads what matches and reports the rest.
  const LoadStateDictResult result = net->load_state_dict(partial, /*strict=*/false);
  EXPECT_EQ(result.missing_keys, (std::vector<std::string>{"fc1.bias", "bn.running_var"}));
  EXPECT_EQ(result.unexpected_keys, (std::vector<std::string>{"fc3.weight", "extra"}));
}

TEST(Module, LoadStateDictRejectsShapeMismatchEvenWhenNotStrictAndCopiesNothing) {
  Net net;
  StateDict wrong;
  for (const auto& [key, value] : net->state_dict()) {
    wrong.insert(key, key == "fc2.weight" ? zeros({3, 4}) : full_like(value, 5));
  }
  const std::vector<float> bias_before = net->fc1->bias.to_vector<float>();
  for (bool strict : {true, false}) {
    expect_error([&] { net->load_state_dict(wrong, strict); },
                 {"size mismatch for fc2.weight", "[3, 4]", "[2, 4]"});
  }
  EXPECT_EQ(net->fc1->bias.to_vector<float>(), bias_before);
}

TEST(Module, TrainAndEvalReachEveryDescendant) {
  Sequential model(Linear(2, 2), Sequential(Dropout(0.5), BatchNorm1d(2)));
  EXPECT_TRUE(model->is_training());
  model->eval();
  for (const auto& module : model->modules()) EXPECT_FALSE(module->is_training()) << module->name();
  model->train();
  for (const auto& module : model->modules()) EXPECT_TRUE(module->is_training()) << module->name();
  model->train(false);
  EXPECT_FALSE(model[1]->is_training());
}

TEST(Module, DropoutIsActiveOnlyInTraining) {
  Dropout dropout(0.5);
  const Tensor input = ones({10000});
  const Tensor trained = dropout(input);
  const std::vector<float> values = trained.to_vector<float>();
  int64_t zeros_seen = 0;
  for (float value : values) {
    EXPECT_TRUE(value == 0.0f || value == 2.0f) << value;
    zeros_seen += value == 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(zeros_seen) / 10000.0, 0.5, 0.03);
  dropout->eval();
  EXPECT_TRUE(dropout(input).is_same(input));
}

TEST(Module, BatchNormEvalUsesRunningStatistics) {
  BatchNorm1d bn(2);
  const Tensor batch = tensor(std::vector<float>{1, 10, 3, 20, 5, 30}, {3, 2});
  const Tensor trained = bn(batch);
  // Training normalises by the batch: each column has mean 0.
  for (double mean : trained.mean({0}).to_vector<double>()) EXPECT_NEAR(mean, 0.0, 1e-6);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  bn->eval();
  const Tensor evaluated = bn(batch);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  // (x - running_mean) / sqrt(running_var + eps) with running_mean = 0.1 * [3, 20],
  // running_var = 0.9 + 0.1 * [4, 100] (unbiased).
  const double mean0 = 0.3, var0 = 0.9 + 0.4;
  EXPECT_NEAR(evaluated.to_vector<double>()[0], (1 - mean0) / std::sqrt(var0 + 1e-5), 1e-5);
}

TEST(Module, ToDtypeKeepsTheSameTensorsAndConvertsGradients) {
  Net net;
  const std::vector<Tensor> before = net->parameters();
  const Tensor output = net(ones({3, 6})).sum();
  output.backward();
  ASSERT_TRUE(net->fc1->weight.grad().defined());
  net->to(kFloat64);
  const std::vector<Tensor> after = net->parameters();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(before[i].is_same(after[i]));
    EXPECT_EQ(after[i].dtype(), kFloat64);
    EXPECT_TRUE(after[i].requires_grad());
    EXPECT_EQ(after[i].grad().dtype(), kFloat64);
  }
  EXPECT_EQ(net->bn->running_mean.dtype(), kFloat64);
  EXPECT_EQ(net->bn->num_batches_tracked.dtype(), kInt64);  // integer buffers keep their dtype
  EXPECT_EQ(net(ones({3, 6}, kFloat64)).dtype(), kFloat64);
  net->to(kCPU);
  EXPECT_EQ(net->fc1->weight.device(), kCPU);
}

TEST(Module, ZeroGradDropsOrZeroesGradients) {
  Linear layer(3, 2);
  layer(ones({4, 3})).sum().backward();
  ASSERT_TRUE(layer->weight.grad().defined());
  const Tensor grad = layer->weight.grad();
  layer->zero_grad(/*set_to_none=*/false);
  EXPECT_TRUE(layer->weight.grad().is_same(grad));
  EXPECT_EQ(layer->weight.grad().to_vector<float>(), std::vector<float>(6, 0.0f));
  layer->zero_grad();
  EXPECT_FALSE(layer->weight.grad().defined());
  EXPECT_FALSE(layer->bias.grad().defined());
}

TEST(Module, HoldersShareTheirModuleAndEmptyOnesFailClearly) {
  Linear first(2, 3);
  Linear copy = first;
  EXPECT_EQ(copy.get(), first.get());
  Linear empty_handle{nullptr};
  EXPECT_TRUE(empty_handle.is_empty());
  expect_error([&] { empty_handle->forward(ones({1, 2})); }, {"empty"});
  empty_handle = first;
  EXPECT_FALSE(empty_handle.is_empty());
  // A module that does not take one tensor says so instead of crashing.
  ModuleList list(Linear(1, 1));
  expect_error([&] { list->forward(ones({1})); }, {"ModuleList", "forward"});
}

TEST(Module, ModuleListAndModuleDict) {
  ModuleList list(Linear(2, 2), ReLU());
  list->push_back(Linear(2, 1));
  EXPECT_EQ(list->size(), 3u);
  EXPECT_EQ(keys_of(list->state_dict()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  int count = 0;
  for (const auto& module : *list) count += module->name() == "Linear";
  EXPECT_EQ(count, 2);
  ModuleList more{Tanh()};
  list->extend(*more);
  EXPECT_EQ(list[3]->name(), "Tanh");

  ModuleDict dict;
  dict->update({{"encoder", Linear(4, 2).ptr()}, {"activation", ReLU().ptr()}});
  dict->insert("decoder", Linear(2, 4));
  EXPECT_EQ(dict->keys(), (std::vector<std::string>{"encoder", "activation", "decoder"}));
  EXPECT_TRUE(dict->contains("decoder"));
  EXPECT_EQ(dict->at<LinearImpl>("decoder").options.out_features(), 4);
  EXPECT_EQ(keys_of(dict->state_dict()),
            (std::vector<std::string>{"encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"}));
  dict->insert("activation", Tanh());  // replaces, keeping the position
  EXPECT_EQ(dict["activation"]->name(), "Tanh");
  EXPECT_EQ(dict->size(), 3u);
  expect_error([&] { dict["missing"]; }, {"'missing'", "encoder, activation, decoder"});
}

TEST(Module, AsCastsToTheConcreteType) {
  std::shared_ptr<Module> module = Linear(2, 3).ptr();
  ASSERT_NE(module->as<LinearImpl>(), nullptr);
  EXPECT_EQ(module->as<Linear>()->options.out_features(), 3);
  EXPECT_EQ(module->as<Conv2d>(), nullptr);
}

TEST(Module, PrintsLikePyTorch) {
  Sequential model(Linear(784, 10), ReLU(), Dropout(0.25), BatchNorm2d(3), Conv2d(Conv2dOptions(1, 32, 5).padding(2)),
                   MaxPool2d(2), Flatten(), Softmax(1));
  std::ostringstream stream;
  stream << model;
  EXPECT_EQ(stream.str(),
            "Sequential(\n"
            "  (0): Linear(in_features=784, out_features=10, bias=true)\n"
            "  (1): ReLU()\n"
            "  (2): Dropout(p=0.25)\n"
            "  (3): BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)\n"
            "  (4): Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))\n"
            "  (5): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=false)\n"
            "  (6): Flatten(start_dim=1, end_dim=-1)\n"
            "  (7): Softmax(dim=1)\n"
            ")");
  std::ostringstream net_stream;
  net_stream << Net();
  EXPECT_EQ(net_stream.str().substr(0, 12), "Net(\n  (fc1)");
  std::ostringstream empty_stream;
  empty_stream << Sequential();
  EXPECT_EQ(empty_stream.str(), "Sequential()");
}

TEST(Module, UserModuleOnTheStackWorksWithoutAHolder) {
  NetImpl net;
  EXPECT_EQ(net.parameters().size(), 6u);
  EXPECT_EQ(net.modules().front().get(), &net);
  EXPECT_EQ(net.name(), "Net");
  EXPECT_EQ(net.forward(ones({2, 6})).sizes(), IntArrayRef({2, 2}));
}

}  // namespace
}  // namespace ember::nn

// The PyTorch seeds' own examples, written the way their C++ users would write them.
#include <gtest/gtest.h>

#include "ember/ember.h"

namespace ember {
namespace {

// y = 2x with Linear(1, 1), MSELoss and SGD(lr=0.01) for 100 epochs, from the same initial
// weights as the PyTorch 1.13 run that produced the expected numbers:
//   model.weight.fill_(-0.3); model.bias.fill_(0.7); 100 x (forward, MSELoss, zero_grad, backward, step)
template <class T>
void train_linear_regression(DType dtype, double expected_first_loss, double expected_last_loss,
                             double expected_weight, double expected_bias, double tolerance) {
  Tensor x = arange(1, 6, 1, dtype).view({5, 1});
  Tensor y = x * 2;
  nn::Linear model(1, 1);
  model->to(dtype);
  {
    autograd::NoGradGuard no_grad;
    model->weight.fill_(-0.3);
    model->bias.fill_(0.7);
  }
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(0.01));
  nn::MSELoss criterion;
  double first_loss = 0, last_loss = 0;
  for (int epoch = 0; epoch < 100; ++epoch) {
    Tensor prediction = model->forward(x);
    Tensor loss = criterion(prediction, y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (epoch == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
  }
  EXPECT_NEAR(first_loss, expected_first_loss, tolerance * expected_first_loss);
  EXPECT_NEAR(last_loss, expected_last_loss, tolerance * expected_last_loss);
  EXPECT_NEAR(model->weight.item<double>(), expected_weight, tolerance * std::abs(expected_weight));
  EXPECT_NEAR(model->bias.item<double>(), expected_bias, tolerance * std::abs(expected_bias));
}

TEST(SeedExamples, LinearRegressionReachesPyTorchsLossFloat64) {
  train_linear_regression<double>(kFloat64, 49.02, 0.14354522309594286, 1.7548558059794566, 0.8850483242314152,
                                  1e-10);
}

TEST(SeedExamples, LinearRegressionReachesPyTorchsLossFloat32) {
  train_linear_regression<float>(kFloat32, 49.02000045776367, 0.1435452550649643, 1.754855751991272,
                                 0.8850485682487488, 1e-5);
}

// An MLP 100-50-10 learns a fixed random teacher's labels.
TEST(SeedExamples, MlpLearnsATeacher) {
  manual_seed(7);
  const Tensor teacher = randn({100, 10});
  const Tensor inputs = randn({512, 100});
  const Tensor labels = argmax(matmul(inputs, teacher), 1);

  nn::Sequential model(nn::Linear(100, 50), nn::ReLU(), nn::Linear(50, 10));
  optim::Adam optimizer(model->parameters(), optim::AdamOptions(1e-2));
  double first_loss = 0, last_loss = 0;
  for (int epoch = 0; epoch < 60; ++epoch) {
    optimizer.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model->forward(inputs), labels);
    loss.backward();
    optimizer.step();
    if (epoch == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
  }
  autograd::NoGradGuard no_grad;
  const double accuracy = eq(argmax(model->forward(inputs), 1), labels).to(kFloat64).mean().item<double>();
  EXPECT_LT(last_loss, first_loss * 0.2) << "first " << first_loss << " last " << last_loss;
  EXPECT_GT(accuracy, 0.9);
}

}  // namespace
}  // namespace ember

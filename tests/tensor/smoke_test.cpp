#include <gtest/gtest.h>

#include <ember/ember.h>

TEST(Smoke, AddTwoTensors) {
  ember::Tensor a = ember::tensor({1.0f, 2.0f, 3.0f});
  ember::Tensor b = ember::tensor({10.0f, 20.0f, 30.0f});
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{11, 22, 33}));
}

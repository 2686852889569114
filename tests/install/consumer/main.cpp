// Prints a value computed through the installed library; the install test checks it.
#include <ember/ember.h>

#include <iostream>

int main() {
  ember::Tensor x = ember::arange(6, ember::kFloat32).view({2, 3});
  ember::Tensor y = (x * 2 + 1).t().contiguous();
  std::cout << "consumer: " << y.to_vector<float>()[1] << " " << y.sizes()[0] << "x" << y.sizes()[1] << "\n";
  return 0;
}

#pragma once
// What the optimizer and LR scheduler tests share: PyTorch's reference values and error checks.
#include "support/fixture.h"
#include "tensor/test_util.h"

namespace ember::testing {

// fixtures/optim.h5 (written by fixtures/generate_optim.py), opened once per test binary.
inline const Fixture& optim_fixture() {
  static const Fixture file("optim.h5");
  return file;
}

}  // namespace ember::testing

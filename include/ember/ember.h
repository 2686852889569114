#pragma once
// The umbrella header: #include <ember/ember.h> and link ember::ember.
#include "ember/autograd/autograd.h"
#include "ember/io/io.h"
#include "ember/nn/nn.h"
#include "ember/tensor/ops.h"

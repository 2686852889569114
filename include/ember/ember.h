#pragma once
// The umbrella header: #include <ember/ember.h> and link ember::ember.
#include "ember/tensor/ops.h"

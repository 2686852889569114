#pragma once
// Everything the tensor library offers.
#include "ember/tensor/convolution.h"
#include "ember/tensor/cuda.h"
#include "ember/tensor/elementwise.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/indexing.h"
#include "ember/tensor/linalg.h"
#include "ember/tensor/parallel.h"
#include "ember/tensor/random.h"
#include "ember/tensor/reduction.h"
#include "ember/tensor/tensor.h"

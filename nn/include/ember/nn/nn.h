#pragma once
// Everything in the nn library: modules, containers, layers, losses, initialisation, functional
// forms, gradient clipping, and the optimizers and LR schedulers of ember::optim.
#include "ember/nn/activation.h"
#include "ember/nn/containers.h"
#include "ember/nn/convolution.h"
#include "ember/nn/dropout.h"
#include "ember/nn/embedding.h"
#include "ember/nn/functional.h"
#include "ember/nn/init.h"
#include "ember/nn/linear.h"
#include "ember/nn/module.h"
#include "ember/nn/normalization.h"
#include "ember/nn/options.h"
#include "ember/nn/pooling.h"
#include "ember/nn/state_dict.h"
#include "ember/nn/clip_grad.h"
#include "ember/nn/loss.h"
#include "ember/optim/optim.h"

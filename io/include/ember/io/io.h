#pragma once
// ember::io: HDF5 files, sharded datasets, samplers, the DataLoader and checkpoints.
#include "ember/io/checkpoint.h"
#include "ember/io/data_loader.h"
#include "ember/io/dataset.h"
#include "ember/io/hdf5_file.h"
#include "ember/io/sampler.h"
#include "ember/io/shard_writer.h"
#include "ember/io/sharded_dataset.h"
#include "ember/io/transforms.h"

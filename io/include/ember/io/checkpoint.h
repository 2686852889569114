#pragma once
// Checkpoints: everything a training run needs to resume exactly, in one HDF5 file.
//
//   /model/<key>        one dataset per state_dict entry, PyTorch's key names and shapes
//                       ("0.weight" [out, in, kh, kw], "1.num_batches_tracked" int64 [])
//   /optimizer/<key>    Optimizer::state_dict()'s flat keys (state.<i>.<name>, param_groups.<g>.<option>)
//   /scheduler/<key>    LRScheduler::state_dict()'s flat keys
//   /loader/epoch, /loader/batches_consumed   the DataLoader's position (int64 scalars)
//   /rng/<name>/seed, /rng/<name>/offset      Generator::State (uint64 bits in int64 scalars)
//   /metadata/<name>    free-form text, UTF-8 bytes as a uint8 [n] dataset
//   /manifest           every dataset above, one path per line ("model/0.weight"), in the
//                       order written: sections load in that order (PyTorch's state_dict order)
//   root attributes     format = "ember-checkpoint", version, step, epoch, world_size,
//                       created (ISO 8601 UTC)
//
// Keys contain dots, not slashes: "/model/layer1.0.conv1.weight" is one dataset directly under
// /model, so h5py reads it as f["model"]["layer1.0.conv1.weight"]. Every dataset has an int64
// attribute "crc32" (zlib's CRC-32 of its bytes). HDF5 1.10 checksums neither data nor most of
// its own structure, so loading checks each CRC and compares the file's members with
// /manifest: damage that HDF5 would pass over (wrong bytes, a renamed or vanished member) is an
// error instead of silently wrong weights. tools/torch2ember.py and tools/ember2torch.py read
// and write this layout from Python.
//
// Saving, in the PyTorch idiom:
//
//   io::Checkpoint checkpoint;
//   checkpoint.model = model->state_dict();
//   checkpoint.optimizer = optimizer.state_dict();
//   checkpoint.scheduler = scheduler.state_dict();
//   checkpoint.loader = loader.position();
//   checkpoint.generators["default"] = default_generator().state();
//   checkpoint.step = step;
//   manager.save(checkpoint);              // or io::save_checkpoint(path, checkpoint)
//
// and resuming:
//
//   if (auto path = manager.latest()) {
//     io::Checkpoint checkpoint = io::load_checkpoint(*path);
//     io::restore(checkpoint, *model, &optimizer, &scheduler);
//     default_generator().set_state(checkpoint.generator("default"));
//     loader.restore(*checkpoint.loader);
//   }
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ember/io/sampler.h"
#include "ember/nn/module.h"
#include "ember/nn/state_dict.h"
#include "ember/optim/lr_scheduler.h"
#include "ember/optim/optimizer.h"
#include "ember/tensor/random.h"

namespace ember::io {

inline constexpr const char* kCheckpointFormat = "ember-checkpoint";
// The layout version this build writes, and the newest it reads.
inline constexpr int64_t kCheckpointVersion = 1;

struct Checkpoint {
  nn::StateDict model;
  nn::StateDict optimizer;
  nn::StateDict scheduler;
  std::optional<LoaderPosition> loader;
  // Named generator states; "default" is ember::default_generator() by convention.
  std::map<std::string, Generator::State> generators;
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t world_size = 1;
  std::map<std::string, std::string> metadata;

  // Filled by load_checkpoint: the file, its layout version and its creation time. save
  // writes the current time whatever `created` holds.
  std::string path;
  int64_t version = kCheckpointVersion;
  std::string created;

  // The state saved under name; throws naming the file and the names it has.
  Generator::State generator(const std::string& name) const;
};

// Writes the checkpoint to path atomically: into a temporary file beside it, flushed and
// fsync'ed, then renamed over path and the directory fsync'ed. If anything fails the temporary
// file is removed and whatever was at path is untouched. Throws ember::Error naming the file.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a whole checkpoint. Throws ember::Error naming the file when it is missing, truncated,
// corrupt, not an ember checkpoint, or written by a newer layout version.
Checkpoint load_checkpoint(const std::string& path);

// Loads the checkpoint's sections into live objects, as model.load_state_dict(ckpt["model"])
// and friends would: the model strictly (missing and unexpected keys and shape mismatches are
// reported by name), then the optimizer and scheduler when given; a given object whose section
// is absent is an error. Errors name the checkpoint's file. Generators and the loader position
// are restored by the caller (see the example above).
void restore(const Checkpoint& checkpoint, nn::Module& model, optim::Optimizer* optimizer = nullptr,
             optim::LRScheduler* scheduler = nullptr);

struct CheckpointManagerOptions {
  // How many of the newest checkpoints to keep; 0 keeps every one.
  int64_t keep_last = 3;
  std::string prefix = "checkpoint";
  // Only rank 0 writes; other ranks of a data-parallel job call save() too and get nullopt.
  int64_t rank = 0;
};

// Checkpoints of one run in one directory, named <prefix>-<step, 8 digits>.h5.
class CheckpointManager {
 public:
  explicit CheckpointManager(std::string directory, CheckpointManagerOptions options = {});

  // On rank 0: creates the directory if needed, saves atomically, deletes the oldest checkpoints
  // beyond keep_last (never the one just written) and the temporary files of this prefix whose
  // writer is no longer running on this host (a crash mid-save), and returns the new file's path.
  // On any other rank: writes nothing and returns nullopt.
  std::optional<std::string> save(const Checkpoint& checkpoint) const;
  // The checkpoint with the highest step, if any. Temporary files left by a crash are ignored.
  std::optional<std::string> latest() const;
  // Every checkpoint of this prefix, by ascending step.
  std::vector<std::string> list() const;
  std::string path_for(int64_t step) const;

  const std::string& directory() const { return directory_; }
  const CheckpointManagerOptions& options() const { return options_; }

 private:
  void remove_abandoned_temporaries() const;

  std::string directory_;
  CheckpointManagerOptions options_;
};

}  // namespace ember::io

// tools/torch2ember.py and tools/ember2torch.py, run with /usr/bin/python3: weights move between
// PyTorch and Ember and give the same outputs. Needs torch and h5py; skips, saying which is
// missing, where they are not installed (CI has h5py but not torch).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "ember/io/checkpoint.h"
#include "ember/io/hdf5_file.h"
#include "ember/nn/nn.h"
#include "ember/tensor/autograd_graph.h"
#include "ember/tensor/ops.h"
#include "io/temp_dir.h"

namespace ember::io {
namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kTools = std::string(EMBER_SOURCE_DIR) + "/tools/";
const std::string kHelper = std::string(EMBER_SOURCE_DIR) + "/tests/io/torch_tools_helper.py";

struct Process {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Process run(const std::string& command) {
  Process result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, count);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

Process python(const std::string& script, const std::string& arguments) {
  return run(kPython + " " + quoted(script) + " " + arguments);
}

// Why the round trip cannot run here, or nullopt when it can. Probed once: importing torch
// takes a second or two.
std::optional<std::string> missing_python_modules() {
  static const std::optional<std::string> missing = []() -> std::optional<std::string> {
    if (!std::filesystem::exists(kPython)) return kPython + " is not installed";
    for (const char* module : {"h5py", "torch"}) {
      const Process probe = run(kPython + " -c 'import " + module + "'");
      if (probe.exit_code != 0) return fmt::format("python module {} is not importable: {}", module, probe.output);
    }
    return std::nullopt;
  }();
  return missing;
}

#define SKIP_WITHOUT_TORCH()                                               \
  if (const std::optional<std::string> missing = missing_python_modules()) \
  GTEST_SKIP() << "torch round trip not run: " << *missing

// The model of torch_tools_helper.py, built in Ember.
nn::Sequential build() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Flatten(), nn::Linear(36, 5));
}

TEST(TorchTools, PyTorchWeightsLoadIntoEmberAndGiveTheSameOutput) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  const Process made = python(kHelper, "make " + quoted(dir.path()));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const Process converted =
      python(kTools + "torch2ember.py", quoted(dir.file("torch.pt")) + " " + quoted(dir.file("ember.h5")));
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  EXPECT_NE(converted.output.find("wrote 9 tensors"), std::string::npos) << converted.output;

  const Checkpoint checkpoint = load_checkpoint(dir.file("ember.h5"));
  nn::Sequential model = build();
  EXPECT_EQ(checkpoint.model.keys(), model->state_dict().keys());  // PyTorch's order, kept
  const Tensor& tracked = checkpoint.model.at("1.num_batches_tracked");
  EXPECT_EQ(tracked.dtype(), kInt64);
  EXPECT_EQ(tracked.dim(), 0);
  EXPECT_EQ(tracked.item<int64_t>(), 2);
  restore(checkpoint, *model);
  model->eval();

  Hdf5File io(dir.file("io.h5"), FileMode::Read);
  const Tensor output = model->forward(io.read("input"));
  const Tensor expected = io.read("output");
  ASSERT_EQ(output.sizes(), expected.sizes());
  EXPECT_TRUE(allclose(output, expected, 1e-4, 1e-5)) << output << "\n" << expected;
  EXPECT_EQ(model->state_dict().at("1.num_batches_tracked").item<int64_t>(), 2);
}

TEST(TorchTools, EmberWeightsLoadIntoPyTorchAndGiveTheSameOutput) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  manual_seed(11);
  nn::Sequential model = build();
  {
    autograd::NoGradGuard no_grad;
    for (int batch = 0; batch < 3; ++batch) model->forward(randn({8, 3, 6, 6}) * 2 - 1);
  }
  model->eval();
  const Tensor input = randn({2, 3, 6, 6});
  const Tensor output = model->forward(input).detach();
  Checkpoint checkpoint;
  checkpoint.model = model->state_dict();
  checkpoint.step = 3;
  save_checkpoint(dir.file("ember.h5"), checkpoint);
  {
    Hdf5File io(dir.file("io.h5"), FileMode::Create);
    io.write("input", input);
    io.write("output", output);
    io.close();
  }
  const Process converted =
      python(kTools + "ember2torch.py", quoted(dir.file("ember.h5")) + " " + quoted(dir.file("ember.pt")));
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  const Process checked = python(kHelper, "check " + quoted(dir.path()));
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("ok"), std::string::npos) << checked.output;
}

TEST(TorchTools, ScriptsDocumentThemselvesAndRefuseBadInput) {
  if (!std::filesystem::exists(kPython)) GTEST_SKIP() << kPython << " is not installed";
  for (const char* script : {"torch2ember.py", "ember2torch.py"}) {
    const Process help = python(kTools + script, "--help");
    EXPECT_EQ(help.exit_code, 0) << help.output;
    EXPECT_NE(help.output.find(std::string("usage: ") + script), std::string::npos) << help.output;
    EXPECT_NE(help.output.find("Usage:"), std::string::npos) << help.output;  // the docstring's examples
  }
  TempDir dir;
  std::ofstream(dir.file("junk.bin")) << "not a checkpoint";
  const Process torch_side =
      python(kTools + "torch2ember.py", quoted(dir.file("junk.bin")) + " " + quoted(dir.file("x.h5")));
  const Process ember_side =
      python(kTools + "ember2torch.py", quoted(dir.file("junk.bin")) + " " + quoted(dir.file("x.pt")));
  EXPECT_EQ(torch_side.exit_code, 1) << torch_side.output;
  EXPECT_EQ(ember_side.exit_code, 1) << ember_side.output;
  if (missing_python_modules()) {
    // Without torch or h5py, the scripts say what to install instead of failing with a traceback.
    EXPECT_NE(torch_side.output.find("torch2ember: error: needs "), std::string::npos) << torch_side.output;
    EXPECT_NE(ember_side.output.find("ember2torch: error: needs "), std::string::npos) << ember_side.output;
    return;
  }
  EXPECT_NE(torch_side.output.find("is not a file torch.load can read"), std::string::npos) << torch_side.output;
  EXPECT_NE(ember_side.output.find("is not an HDF5 file"), std::string::npos) << ember_side.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));

  // A checkpoint whose weights were damaged after writing is refused by its CRC-32.
  Checkpoint checkpoint;
  checkpoint.model.insert("weight", full({64}, 0.25, kFloat32));
  save_checkpoint(dir.file("damaged.h5"), checkpoint);
  std::string bytes;
  {
    std::ifstream in(dir.file("damaged.h5"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const float quarter = 0.25f;
  const size_t data = bytes.find(std::string(reinterpret_cast<const char*>(&quarter), sizeof(quarter)) +
                                 std::string(reinterpret_cast<const char*>(&quarter), sizeof(quarter)));
  ASSERT_NE(data, std::string::npos);
  bytes[data + 3] ^= 0x01;
  std::ofstream(dir.file("damaged.h5"), std::ios::binary) << bytes;
  const Process refused =
      python(kTools + "ember2torch.py", quoted(dir.file("damaged.h5")) + " " + quoted(dir.file("d.pt")));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("'/model/weight' is corrupt"), std::string::npos) << refused.output;
  EXPECT_THROW(load_checkpoint(dir.file("damaged.h5")), Error);
}

}  // namespace
}  // namespace ember::io

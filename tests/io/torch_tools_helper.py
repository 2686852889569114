"""PyTorch's side of tests/io/torch_tools_test.cpp.

    torch_tools_helper.py make DIR    writes DIR/torch.pt (a state_dict) and DIR/io.h5 (/input,
                                      /output: the model's eval-mode output on /input)
    torch_tools_helper.py check DIR   loads DIR/ember.pt into the same architecture and compares
                                      its output on DIR/io.h5's /input with /output (Ember's)

The model must match the one torch_tools_test.cpp builds in Ember.
"""
import sys

import h5py
import torch


def build():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(36, 5))


def make(directory):
    torch.manual_seed(0)
    model = build()
    with torch.no_grad():
        for _ in range(2):  # moves the running statistics; num_batches_tracked becomes 2
            model(torch.randn(8, 3, 6, 6) * 2 + 1)
    model.eval()
    inputs = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        outputs = model(inputs)
    torch.save(model.state_dict(), f"{directory}/torch.pt")
    with h5py.File(f"{directory}/io.h5", "w") as file:
        file["input"] = inputs.numpy()
        file["output"] = outputs.numpy()


def check(directory):
    state = torch.load(f"{directory}/ember.pt")
    model = build()
    model.load_state_dict(state, strict=True)
    tracked = state["1.num_batches_tracked"]
    if tracked.dtype != torch.int64 or tracked.dim() != 0 or int(tracked) != 3:
        print(f"num_batches_tracked is {tracked!r}, expected tensor(3) int64")
        return 1
    if list(state) != list(model.state_dict()):
        print(f"keys in order {list(state)}, PyTorch's order is {list(model.state_dict())}")
        return 1
    model.eval()
    with h5py.File(f"{directory}/io.h5", "r") as file:
        inputs = torch.from_numpy(file["input"][()])
        expected = torch.from_numpy(file["output"][()])
    with torch.no_grad():
        outputs = model(inputs)
    if not torch.allclose(outputs, expected, rtol=1e-4, atol=1e-5):
        print(f"outputs differ by up to {(outputs - expected).abs().max().item()}:\n{outputs}\n{expected}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    command, directory = sys.argv[1], sys.argv[2]
    if command == "make":
        make(directory)
        sys.exit(0)
    sys.exit(check(directory))

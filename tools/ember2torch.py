#!/usr/bin/env python3
"""Convert an Ember checkpoint's model weights into a PyTorch state_dict file.

Usage:
    python3 tools/ember2torch.py checkpoint.h5 model.pt
    python3 tools/ember2torch.py checkpoint.h5 model.pt --entry model

checkpoint.h5 is a file Ember's save_checkpoint or CheckpointManager wrote (or
tools/torch2ember.py): its /model datasets become a state_dict (an OrderedDict, keys in the
order /manifest lists them, which is the order they were saved in) saved with torch.save.
Every tensor keeps its shape and dtype, so buffers such as num_batches_tracked stay int64 and
masks stay bool. With --entry NAME the file holds {NAME: state_dict} instead. Load it with:

    model.load_state_dict(torch.load("model.pt"))

The root attributes are checked first: format must be "ember-checkpoint" and version at most
1 (a newer file needs a newer tool). Each dataset's "crc32" attribute is verified and /model
must match /manifest, so a damaged file is refused rather than converted. Optimizer,
scheduler, loader and generator state stay behind: they are Ember's, not PyTorch's.

Needs python3 with torch and h5py (Debian: python3-torch, python3-h5py). tools/torch2ember.py
converts the other way.
"""
import collections
import os
import sys
import zlib

from ember_checkpoint_tool import FORMAT, VERSION, ToolError, import_dependencies, run


def is_bfloat16(stored, h5py):
    if not isinstance(stored, h5py.h5t.TypeFloatID) or stored.get_size() != 2:
        return False
    _, _, exponent_size, _, mantissa_size = stored.get_fields()
    return exponent_size == 8 and mantissa_size == 7


def read_tensor(dataset, numpy, h5py, torch, source):
    stored = dataset.id.get_type()
    if is_bfloat16(stored, h5py):
        array = numpy.empty(dataset.shape, dtype=numpy.uint16)
        if array.size:
            dataset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, array, mtype=stored)
    else:
        array = numpy.asarray(dataset[()])  # a fresh C-ordered array; 0-d for a scalar
        if array.dtype.kind not in "fiub":
            raise ToolError(f"{source}: '{dataset.name}' has element type {array.dtype}, which is not a tensor dtype")
    if "crc32" not in dataset.attrs:
        raise ToolError(f"{source}: dataset '{dataset.name}' has no 'crc32' attribute")
    actual = zlib.crc32(array.reshape(-1).view(numpy.uint8))
    expected = int(dataset.attrs["crc32"])
    if actual != expected:
        raise ToolError(f"{source}: dataset '{dataset.name}' is corrupt (its bytes have CRC-32 {actual:08x}, the "
                        f"file recorded {expected:08x})")
    if is_bfloat16(stored, h5py):
        return torch.from_numpy(array.view(numpy.int16)).view(torch.bfloat16)
    if array.dtype.kind == "u" and array.dtype != numpy.uint8:
        array = array.astype(numpy.int64)  # torch has no wider unsigned types
    return torch.from_numpy(array)


def convert(source, target, entry):
    numpy, h5py, torch = import_dependencies()
    if not os.path.isfile(source):
        raise ToolError(f"{source}: no such file")
    if not h5py.is_hdf5(source):
        raise ToolError(f"{source} is not an HDF5 file (no HDF5 signature)")
    try:
        file = h5py.File(source, "r")
    except OSError as error:
        raise ToolError(f"{source} cannot be opened (truncated or damaged?): {error}")
    with file:
        format_name = file.attrs.get("format")
        if isinstance(format_name, bytes):
            format_name = format_name.decode()
        if format_name != FORMAT:
            found = "no 'format' attribute" if format_name is None else f"format '{format_name}'"
            raise ToolError(f"{source} is not an ember checkpoint ({found}, expected '{FORMAT}')")
        version = int(file.attrs.get("version", -1))
        if version > VERSION:
            raise ToolError(f"{source}: checkpoint version {version} is newer than this tool reads (up to {VERSION})")
        if version < 1:
            raise ToolError(f"{source}: invalid or missing checkpoint version ({version})")
        if not isinstance(file.get("manifest"), h5py.Dataset):
            raise ToolError(f"{source} has no /manifest dataset (damaged file?)")
        manifest = bytes(read_tensor(file["manifest"], numpy, h5py, torch, source).numpy()).decode()
        listed = [name[len("model/"):] for name in manifest.splitlines() if name.startswith("model/")]
        present = set(file["model"]) if isinstance(file.get("model"), h5py.Group) else set()
        unlisted = sorted(present - set(listed))
        if unlisted:
            raise ToolError(f"{source}: dataset(s) under /model missing from /manifest (damaged file?): "
                            f"{', '.join(unlisted)}")
        state = collections.OrderedDict()
        for key in listed:  # the order they were saved in: PyTorch's state_dict order
            dataset = file["model"].get(key) if key in present else None
            if not isinstance(dataset, h5py.Dataset):
                raise ToolError(f"{source}: dataset '/model/{key}', listed in /manifest, is missing (damaged file?)")
            state[key] = read_tensor(dataset, numpy, h5py, torch, source)
    if not state:
        raise ToolError(f"{source}: /model is empty")
    # Written beside the target and renamed into place, so a failure never leaves half a file.
    temporary = os.path.join(os.path.dirname(os.path.abspath(target)), f".{os.path.basename(target)}.tmp-{os.getpid()}")
    try:
        torch.save({entry: state} if entry else state, temporary)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return len(state)


def add_arguments(parser):
    parser.add_argument("source", help="an Ember checkpoint (.h5)")
    parser.add_argument("target", help="the file torch.save writes (.pt)")
    parser.add_argument("--entry", help="save {ENTRY: state_dict} instead of the bare state_dict")


def main():
    return run("ember2torch", __doc__, add_arguments, lambda arguments: convert(arguments.source, arguments.target, arguments.entry))


if __name__ == "__main__":
    sys.exit(main())

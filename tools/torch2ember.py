#!/usr/bin/env python3
"""Convert PyTorch weights (a torch.save'd state_dict) into an Ember checkpoint.

Usage:
    python3 tools/torch2ember.py model.pt model.h5
    python3 tools/torch2ember.py training.pt model.h5 --entry ema_model --strip-prefix module.

model.pt is a file torch.save wrote: a state_dict (torch.save(model.state_dict(), ...)), a dict
that holds one under "model" or "state_dict" (or under --entry NAME), or a whole nn.Module.
model.h5 is written with one dataset per state_dict entry under /model, named by its key
("features.0.weight", "bn1.num_batches_tracked") with PyTorch's shape and dtype (float32,
float64, float16, bfloat16, int64, int32, uint8 and bool are kept), each with a "crc32"
attribute (zlib.crc32 of its bytes), /manifest listing every dataset one per line, and the
root attributes Ember's load_checkpoint checks: format = "ember-checkpoint", version = 1,
step = 0, epoch = 0, world_size = 1, created. The file is
written beside the target under a temporary name and renamed into place, so a failed
conversion never leaves half a file.

Load it into the same architecture built in Ember:

    ember::io::Checkpoint checkpoint = ember::io::load_checkpoint("model.h5");
    model->load_state_dict(checkpoint.model);   // names missing/unexpected keys, shape mismatches

--strip-prefix removes a prefix from every key that has it ("module." from DataParallel).
Needs python3 with torch and h5py (Debian: python3-torch, python3-h5py). The input is
unpickled by torch.load: convert only files you trust. tools/ember2torch.py converts back.
"""
import datetime
import os
import sys
import tempfile
import zlib

from ember_checkpoint_tool import FORMAT, VERSION, ToolError, import_dependencies, run


def find_state_dict(loaded, entry, torch, source):
    if isinstance(loaded, torch.nn.Module):
        return loaded.state_dict()
    if not isinstance(loaded, dict):
        raise ToolError(f"{source} holds a {type(loaded).__name__}, not a state_dict or a dict holding one")
    if entry is not None:
        if entry not in loaded:
            raise ToolError(f"{source} has no entry '{entry}' (it has: {', '.join(map(str, loaded)) or 'nothing'})")
        state = loaded[entry]
        if isinstance(state, torch.nn.Module):
            state = state.state_dict()
        if not isinstance(state, dict):
            raise ToolError(f"{source}: entry '{entry}' is a {type(state).__name__}, not a state_dict")
        return state
    if loaded and all(isinstance(value, torch.Tensor) for value in loaded.values()):
        return loaded
    for name in ("model", "state_dict", "model_state_dict"):
        if isinstance(loaded.get(name), dict):
            return loaded[name]
    raise ToolError(f"{source} is a dict without a state_dict in it (keys: {', '.join(map(str, loaded)) or 'none'}); "
                    "name the entry holding the weights with --entry")


def bfloat16_type(h5py):
    # Ember's (and ml_dtypes') bfloat16: float32's sign and exponent with a 7-bit mantissa.
    stored = h5py.h5t.IEEE_F32LE.copy()
    stored.set_fields(15, 7, 8, 0, 7)
    stored.set_size(2)
    stored.set_ebias(127)
    return stored


def write_tensor(group, key, tensor, numpy, h5py, torch):
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        array = tensor.view(torch.int16).numpy().view(numpy.uint16)
        stored = bfloat16_type(h5py)
        space = h5py.h5s.create_simple(array.shape) if array.ndim else h5py.h5s.create(h5py.h5s.SCALAR)
        dataset_id = h5py.h5d.create(group.id, key.encode(), stored, space)
        if array.size:
            dataset_id.write(h5py.h5s.ALL, h5py.h5s.ALL, array, mtype=stored)
        dataset = group[key]
    else:
        if tensor.dtype not in (torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.uint8,
                                torch.bool):
            raise ToolError(f"'{key}' has dtype {tensor.dtype}, which Ember checkpoints do not store")
        array = tensor.numpy()
        dataset = group.create_dataset(key, data=array)
    dataset.attrs.create("crc32", zlib.crc32(array.reshape(-1).view(numpy.uint8)), dtype="<i8")


def write_text(file, name, text, numpy):
    data = numpy.frombuffer(text.encode(), dtype=numpy.uint8)
    file.create_dataset(name, data=data).attrs.create("crc32", zlib.crc32(data), dtype="<i8")


def convert(source, target, entry, strip_prefix):
    numpy, h5py, torch = import_dependencies()
    if not os.path.isfile(source):
        raise ToolError(f"{source}: no such file")
    try:
        loaded = torch.load(source, map_location="cpu")
    except Exception as error:  # torch.load raises many types for a file that is not a checkpoint
        raise ToolError(f"{source} is not a file torch.load can read: {error}")
    state = find_state_dict(loaded, entry, torch, source)
    if not state:
        raise ToolError(f"{source}: the state_dict is empty")
    items = []
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ToolError(f"{source}: state_dict entry '{key}' is a {type(value).__name__}, not a tensor")
        if strip_prefix and key.startswith(strip_prefix):
            key = key[len(strip_prefix):]
        if not key or key == "." or "/" in key:
            raise ToolError(f"{source}: key '{key}' cannot be a dataset name in /model (empty, '.' or contains '/')")
        items.append((key, value))

    directory = os.path.dirname(os.path.abspath(target))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.tmp-", dir=directory)
    os.close(descriptor)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would outlive the rename
    try:
        with h5py.File(temporary, "w") as file:
            # Fixed-length strings: HDF5 keeps variable-length ones in a heap whose damage it does not detect.
            file.attrs["format"] = numpy.bytes_(FORMAT)
            file.attrs.create("version", VERSION, dtype="<i8")
            for name in ("step", "epoch"):
                file.attrs.create(name, 0, dtype="<i8")
            file.attrs.create("world_size", 1, dtype="<i8")
            file.attrs["created"] = numpy.bytes_(
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            model = file.create_group("model")
            manifest = []
            for key, value in items:
                if key in model:
                    raise ToolError(f"{source}: two entries become '{key}' after --strip-prefix")
                write_tensor(model, key, value, numpy, h5py, torch)
                manifest.append(f"model/{key}")
            write_text(file, "metadata/source", f"torch2ember.py {os.path.basename(source)}", numpy)
            manifest.append("metadata/source")
            write_text(file, "manifest", "".join(name + "\n" for name in manifest), numpy)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return len(items)


def add_arguments(parser):
    parser.add_argument("source", help="a file torch.save wrote (state_dict, dict holding one, or nn.Module)")
    parser.add_argument("target", help="the Ember checkpoint to write (.h5)")
    parser.add_argument("--entry", help="the key of the state_dict in a dict checkpoint (default: model, state_dict)")
    parser.add_argument("--strip-prefix", default="", help="remove this prefix from keys, e.g. 'module.'")


def main():
    return run("torch2ember", __doc__, add_arguments,
               lambda arguments: convert(arguments.source, arguments.target, arguments.entry, arguments.strip_prefix))


if __name__ == "__main__":
    sys.exit(main())

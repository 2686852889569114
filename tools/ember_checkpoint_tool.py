"""What tools/torch2ember.py and tools/ember2torch.py share: the checkpoint format's name and
version, their error type, their imports, and their command-line frame."""
import argparse
import sys

FORMAT = "ember-checkpoint"
VERSION = 1


class ToolError(Exception):
    pass


def import_dependencies():
    try:
        import numpy
        import h5py
    except ImportError as error:
        raise ToolError(f"needs h5py and numpy ({error}); install python3-h5py or `pip install h5py`")
    try:
        import torch
    except ImportError as error:
        raise ToolError(f"needs torch ({error}); install python3-torch or `pip install torch`")
    return numpy, h5py, torch


def run(name, doc, add_arguments, convert):
    """Parses the command line (add_arguments fills the parser), calls convert(arguments) for the
    number of tensors written, and turns ToolError and OSError into a message and exit code 1."""
    parser = argparse.ArgumentParser(
        prog=f"{name}.py", description=doc.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc.split("\n\n", 1)[1])
    add_arguments(parser)
    arguments = parser.parse_args()
    try:
        count = convert(arguments)
    except (ToolError, OSError) as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 1
    print(f"{name}: wrote {count} tensors to {arguments.target}")
    return 0

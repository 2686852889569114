#!/usr/bin/env python3
"""PyTorch's (python3-torch) side of the training-step rows: the same MLP and CNN steps and the
4-op autograd graph as bench/ember_bench.cpp and bench/libtorch_bench.cpp.

Debian's PyTorch runs its own OpenMP pool and multiplies matrices with OpenBLAS, whose pool is
separate; with two threads each they oversubscribe two cores. So every thread setting runs in a
child process (OpenBLAS reads its thread count at load time), and the report takes the fastest
setting for each row. Writes Google Benchmark-style JSON so bench/report.py reads it like the rest.
"""
import argparse
import json
import os
import subprocess
import sys
import time

# Kept in step with bench/sizes.h.
MLP_BATCH, MLP_SIZES = 128, (784, 1024, 1024, 10)
CNN_BATCH = 64
SMALL_SIDE = 4


def child(torch_threads, repetitions):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(torch_threads)
    torch.manual_seed(0)

    def best_seconds(step, per_round):
        for _ in range(3):
            step()
        best = float("inf")
        for _ in range(repetitions):
            start = time.perf_counter()
            for _ in range(per_round):
                step()
            best = min(best, (time.perf_counter() - start) / per_round)
        return best

    def training_step(model, inputs, labels):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), labels)
            loss.backward()
            optimizer.step()
        return step

    mlp = nn.Sequential(nn.Linear(MLP_SIZES[0], MLP_SIZES[1]), nn.ReLU(), nn.Linear(MLP_SIZES[1], MLP_SIZES[2]),
                        nn.ReLU(), nn.Linear(MLP_SIZES[2], MLP_SIZES[3]))
    mlp_step = training_step(mlp, torch.rand(MLP_BATCH, MLP_SIZES[0]), torch.randint(0, 10, (MLP_BATCH,)))
    cnn = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(),
                        nn.Linear(1024, 10))
    cnn_step = training_step(cnn, torch.rand(CNN_BATCH, 1, 28, 28), torch.randint(0, 10, (CNN_BATCH,)))
    x = torch.rand(SMALL_SIDE, SMALL_SIDE, requires_grad=True)

    def four_op_graph():
        ((x * 2 + 1).relu()).sum().backward()

    return {"mlp_step": best_seconds(mlp_step, 5), "cnn_step": best_seconds(cnn_step, 2),
            "autograd_4op": best_seconds(four_op_graph, 2000)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--child", nargs=2, type=int, metavar=("TORCH_THREADS", "BLAS_THREADS"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.repetitions)))
        return

    benchmarks = []
    # (row thread count, PyTorch's OpenMP threads, OpenBLAS threads)
    settings = [(1, 1, 1), (2, 2, 2), (2, 2, 1), (2, 1, 2)]
    for threads, torch_threads, blas_threads in settings:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads), OMP_NUM_THREADS=str(torch_threads))
        output = subprocess.run([sys.executable, __file__, "--child", str(torch_threads), str(blas_threads),
                                 "--repetitions", str(args.repetitions)],
                                env=env, capture_output=True, text=True, check=True).stdout
        for name, seconds in json.loads(output.strip().splitlines()[-1]).items():
            benchmarks.append({"name": f"pytorch/{name}/threads:{threads}/torch:{torch_threads}/blas:{blas_threads}",
                               "run_type": "iteration", "real_time": seconds * 1e9, "time_unit": "ns"})
            print(f"{benchmarks[-1]['name']}: {seconds * 1e3:.3f} ms", file=sys.stderr)
    result = {"context": {}, "benchmarks": benchmarks}
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=1)
    else:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

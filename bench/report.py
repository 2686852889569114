#!/usr/bin/env python3
"""Turns the JSON of bench/ember_bench and bench/libtorch_bench into the benchmark table.

Each benchmark ran several repetitions; the fastest one counts, because on a shared machine
the slower ones measure the neighbours rather than the code. Writes one JSON object per row
(name, unit, ember, reference, reference_name, ratio = ember / reference in that unit), a
Markdown table, and refreshes the table between the markers in docs/performance.md.
"""
import argparse
import datetime
import json
import pathlib
import re
import subprocess

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
SCALE = {"ns": 1e9, "us": 1e6, "ms": 1e3}

# (row, unit, Ember benchmark, reference benchmark, reference name, goal as text, goal test on the ratio)
ROWS = [
    ("sgemm 1024^3 float32, 2 threads", "GFLOP/s", "ember/matmul/threads:2", "cblas/sgemm/threads:2",
     "cblas_sgemm (OpenBLAS, direct)", ">= 0.95", lambda ratio: ratio >= 0.95),
    ("sgemm 1024^3 float32, 2 threads", "GFLOP/s", "ember/matmul/threads:2", "libtorch/matmul/threads:2",
     "libtorch at::matmul", None, None),
    ("sgemm 1024^3 float32, 1 thread", "GFLOP/s", "ember/matmul/threads:1", "cblas/sgemm/threads:1",
     "cblas_sgemm (OpenBLAS, direct)", ">= 0.95", lambda ratio: ratio >= 0.95),
    ("sgemm 1024^3 float32, 1 thread", "GFLOP/s", "ember/matmul/threads:1", "libtorch/matmul/threads:1",
     "libtorch at::matmul", None, None),
    ("add 32M float32, a + b (allocating)", "GB/s", "ember/add", "openmp/copy_loop",
     "OpenMP copy loop (bandwidth)", ">= 0.80", lambda ratio: ratio >= 0.80),
    ("add 32M float32, a + b (allocating)", "GB/s", "ember/add", "libtorch/add",
     "libtorch a + b", ">= 1.00", lambda ratio: ratio >= 1.0),
    ("add_out 32M float32 (existing output)", "GB/s", "ember/add_out", "openmp/copy_loop",
     "OpenMP copy loop (bandwidth)", ">= 0.80", lambda ratio: ratio >= 0.80),
    ("add_out 32M float32 (existing output)", "GB/s", "ember/add_out", "libtorch/add_out",
     "libtorch at::add_out", ">= 1.00", lambda ratio: ratio >= 1.0),
    ("add_out 32M float32 (existing output)", "GB/s", "ember/add_out", "openmp/add_loop",
     "OpenMP add loop", None, None),
    ("softmax [4096, 1024] float32, dim 1", "GB/s", "ember/softmax", "libtorch/softmax",
     "libtorch at::softmax", None, None),
    ("small op: 4x4 float32 add (allocating)", "ns", "ember/small_add", "libtorch/small_add",
     "libtorch a + b", "<= 0.50", lambda ratio: ratio <= 0.5),
]

# The training-step rows (issue 3). A reference "best:A|B" is the fastest run whose name starts
# with A or B (PyTorch in each of its thread settings); "limit:STEP:SGEMM" is STEP's flops at
# the sgemm rate measured in the same run.
for model, title in (("mlp", "MLP 784-1024-1024-10 step, batch 128"), ("cnn", "CNN step, batch 64")):
    for threads in (1, 2):
        name = f"{title}, {threads} thread{'s' if threads > 1 else ''}"
        step = f"ember/{model}_step/threads:{threads}"
        ROWS.append((name, "ms", step, f"limit:{step}:cblas/sgemm/threads:{threads}",
                     "compute limit: flops / sgemm rate", "<= 1.10" if threads == 1 else None,
                     (lambda ratio: ratio <= 1.10) if threads == 1 else None))
        ROWS.append((name, "ms", step, f"best:libtorch/{model}_step/threads:{threads}/",
                     "libtorch 1.13 (fastest thread setting)", "<= 1.00", lambda ratio: ratio <= 1.0))
        ROWS.append((name, "ms", step, f"best:pytorch/{model}_step/threads:{threads}/",
                     "PyTorch 1.13 from Python (fastest thread setting)", "<= 1.00", lambda ratio: ratio <= 1.0))
        if threads == 2:
            ROWS.append((name, "ms", step,
                         f"best:libtorch/{model}_step/threads:2/|pytorch/{model}_step/threads:2/",
                         "PyTorch's best (libtorch or Python)", "<= 0.80", lambda ratio: ratio <= 0.8))
ROWS += [
    ("autograd: ((x*2+1).relu()).sum().backward(), 4x4", "us", "ember/autograd_4op", "libtorch/autograd_4op",
     "libtorch", "<= 5 us", None),
    ("autograd: ((x*2+1).relu()).sum().backward(), 4x4", "us", "ember/autograd_4op",
     "best:pytorch/autograd_4op/threads:1/", "PyTorch from Python", "<= 5 us", None),
]
# The data pipeline (issue 4, bench/io_bench.cpp): the loader's shuffled epoch against one big
# H5Dread of the same bytes per shard and field.
for data, title, batch in (("mnist", "Fashion-MNIST-shaped [1,28,28] uint8", 64),
                           ("large", "large [3,224,224] uint8", 32)):
    for source, row in (("loader", "default options (preloaded)"), ("loader_streamed", "preload off (mapped files)")):
        for workers in (0, 1, 2):
            ROWS.append((f"DataLoader {title}, {row}, shuffled, batch {batch}, {workers} worker"
                         f"{'' if workers == 1 else 's'}", "samples/s", f"io/{source}/{data}/workers:{workers}",
                         f"io/raw_read/{data}", "raw: one H5Dread per shard and field", ">= 0.70",
                         lambda ratio: ratio >= 0.70))
ABSOLUTE_GOALS = {"ember/autograd_4op": lambda microseconds: microseconds <= 5.0}
# Rows that are a counter of one benchmark rather than a ratio: (row, counter, benchmark, goal).
COUNTER_ROWS = [
    ("training loop (MLP step, batch 128, 1 worker): waiting for the next batch", "wait_percent", "io/train_wait/iterations:3",
     "<= 2 % of step time", lambda percent: percent <= 2.0),
]


def resolve(results, key):
    """The result a reference key names, and the name of the run chosen for it."""
    if key.startswith("best:"):
        prefixes = key[len("best:"):].split("|")
        candidates = [(name, result) for name, result in results.items()
                      if any(name.startswith(prefix) for prefix in prefixes) and "error" not in result]
        if not candidates:
            return None, None
        name, result = min(candidates, key=lambda item: item[1]["seconds"])
        return result, name
    if key.startswith("limit:"):
        step_key, sgemm_key = key[len("limit:"):].split(":cblas")
        step, sgemm = results.get(step_key), results.get("cblas" + sgemm_key)
        if not step or not sgemm or "error" in step or "error" in sgemm or not step.get("work"):
            return None, None
        rate = sgemm["work"] / sgemm["seconds"]
        return {"seconds": step["work"] / rate, "work": step["work"]}, f"{rate / 1e9:.0f} GFLOP/s sgemm"
    return results.get(key), key


def load(path):
    """Best time per benchmark, its work counter, errors, and the run's context."""
    data = json.loads(pathlib.Path(path).read_text())
    results = {}
    for entry in data.get("benchmarks", []):
        if entry.get("run_type") == "aggregate":
            continue
        name = entry.get("run_name", entry["name"]).removesuffix("/real_time")
        if entry.get("error_occurred"):
            results[name] = {"error": entry.get("error_message", "failed")}
            continue
        seconds = entry["real_time"] * TIME_UNITS[entry["time_unit"]]
        best = results.get(name)
        if best is None or "error" in best or seconds < best["seconds"]:
            results[name] = {"seconds": seconds, "work": entry.get("work"), "wait_percent": entry.get("wait_percent")}
    return results, data.get("context", {})


def value(result, unit):
    if unit in SCALE:
        return result["seconds"] * SCALE[unit]
    if unit == "samples/s":
        return result["work"] / result["seconds"]
    return result["work"] / result["seconds"] / 1e9  # GFLOP/s or GB/s


def machine():
    fields = {}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            key, _, rest = line.partition(":")
            fields[key.strip()] = rest.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    cores = int(fields.get("Core(s) per socket", "0") or 0) * int(fields.get("Socket(s)", "1") or 1)
    return fields.get("Model name", "unknown CPU"), cores, fields.get("CPU(s)", "?")


def package_version(package):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def format_number(number):
    if number is None:
        return "-"
    return f"{number:.0f}" if number >= 100 else f"{number:.3g}" if number < 10 else f"{number:.1f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ember", required=True)
    parser.add_argument("--libtorch")
    parser.add_argument("--libtorch-skipped", default="libtorch_bench was not run")
    parser.add_argument("--pytorch", help="JSON from bench/pytorch_bench.py")
    parser.add_argument("--io", help="JSON from bench/io_bench")
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--doc")
    args = parser.parse_args()

    results, context = load(args.ember)
    if args.libtorch:
        torch_results, _ = load(args.libtorch)
        results.update(torch_results)
    if args.pytorch:
        python_results, _ = load(args.pytorch)
        results.update(python_results)
    if args.io:
        io_results, _ = load(args.io)
        results.update(io_results)

    table, skipped, json_rows = [], [], []
    for name, unit, ember_key, reference_key, reference_name, goal, meets in ROWS:
        ember = results.get(ember_key)
        reference, chosen = resolve(results, reference_key)
        if chosen and chosen != reference_key and not reference_key.startswith("limit:"):
            reference_name = f"{reference_name}: {chosen.split('/', 1)[1]}"
        elif chosen and reference_key.startswith("limit:"):
            reference_name = f"{reference_name} ({chosen})"
        if reference is None and "pytorch/" in reference_key and "libtorch/" not in reference_key:
            skipped.append(f"{name} vs {reference_name}: bench/pytorch_bench.py did not run (python3-torch missing?)")
            continue
        if reference is None and "libtorch/" in reference_key:
            skipped.append(f"{name} vs {reference_name}: {args.libtorch_skipped}")
            continue
        missing = [(key, result) for key, result in ((ember_key, ember), (reference_key, reference))
                   if result is None or "error" in result]
        if missing:
            key, result = missing[0]
            skipped.append(f"{name} vs {reference_name}: {key} " +
                           (f"failed: {result['error']}" if result else "did not run"))
            continue
        ember_value, reference_value = value(ember, unit), value(reference, unit)
        ratio = ember_value / reference_value
        status = "" if meets is None else ("met" if meets(ratio) else "MISSED")
        if ember_key in ABSOLUTE_GOALS:
            status = "met" if ABSOLUTE_GOALS[ember_key](ember_value) else "MISSED"
        table.append([name, unit, format_number(ember_value), reference_name, format_number(reference_value),
                      f"{ratio:.2f}", goal or "", status])
        json_rows.append({"name": name, "unit": unit, "ember": round(ember_value, 4),
                          "reference": round(reference_value, 4), "reference_name": reference_name,
                          "ratio": round(ratio, 4)})

    for name, counter, key, goal, meets in COUNTER_ROWS:
        result = results.get(key)
        if result is None or "error" in result or result.get(counter) is None:
            skipped.append(f"{name}: {key} " + (f"failed: {result['error']}" if result else "did not run"))
            continue
        table.append([name, "%", format_number(result[counter]), "", "", "", goal, "met" if meets(result[counter])
                      else "MISSED"])
        json_rows.append({"name": name, "unit": "%", "ember": round(result[counter], 4)})

    header = ["benchmark", "unit", "Ember", "reference", "ref. value", "ratio", "goal", ""]
    widths = [max(len(str(row[i])) for row in [header] + table) for i in range(len(header))]
    print()
    for row in [header] + table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    for line in skipped:
        print(f"skipped: {line}")

    pathlib.Path(args.jsonl).write_text("".join(json.dumps(row) + "\n" for row in json_rows))

    model, cores, cpus = machine()
    load_average = context.get("load_avg") or []
    versions = ", ".join(f"{package} {version}" for package in ("libopenblas0-pthread", "libtorch1.13",
                                                               "libbenchmark1debian")
                         if (version := package_version(package)))
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {model}, {cores} cores ({cpus} CPUs), "
        f"load average at start {' / '.join(f'{x:.2f}' for x in load_average) or 'unknown'}.",
        f"Packages: {versions or 'unknown'}. Best of the repetitions of each benchmark.",
        "",
        "| " + " | ".join(header[:-1] + ["status"]) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    if skipped:
        lines += [""] + [f"- skipped: {line}" for line in skipped]
    markdown = "\n".join(lines) + "\n"
    pathlib.Path(args.markdown).write_text(markdown)

    if args.doc and pathlib.Path(args.doc).exists():
        doc = pathlib.Path(args.doc)
        text = doc.read_text()
        pattern = re.compile(r"(<!-- bench:begin -->\n).*?(<!-- bench:end -->)", re.S)
        if pattern.search(text):
            doc.write_text(pattern.sub(lambda match: match.group(1) + markdown + match.group(2), text))
            print(f"updated the table in {doc}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Ember's benchmarks, run by `./ember bench`: configures a Release build with benchmarks in
# build/bench, builds it, runs Ember's benchmarks and libtorch's beside them, prints the table,
# writes bench/results/latest.jsonl (one JSON object per row) and refreshes the table in
# docs/performance.md. Takes a few minutes after the build.
#   EMBER_BENCH_BUILD_DIR   build directory (default build/bench)
#   EMBER_BENCH_REPETITIONS repetitions per benchmark, the fastest counts (default 6)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

build=${EMBER_BENCH_BUILD_DIR:-build/bench}
repetitions=${EMBER_BENCH_REPETITIONS:-6}
results=bench/results
mkdir -p "$results"

echo "bench: configuring and building $build (Release, CPU only)"
if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_BENCHMARKS=ON \
    -DEMBER_BUILD_TESTS=OFF -DEMBER_WITH_CUDA=OFF >"$results/configure.log" 2>&1; then
  cat "$results/configure.log" >&2
  exit 1
fi
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"

# Repetitions run in random order, so a burst of load from elsewhere on the machine does not
# land on one benchmark's repetitions only.
flags=(--benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true
  --benchmark_min_time=0.2 --benchmark_out_format=json)

echo "bench: running ember_bench (console output in $results/ember.log)"
if ! "$build/bench/ember_bench" "${flags[@]}" --benchmark_out="$results/ember.json" >"$results/ember.log" 2>&1; then
  tail -n 20 "$results/ember.log" >&2
  echo "bench: ember_bench failed" >&2
  exit 1
fi

report=(--ember "$results/ember.json")
echo "bench: running io_bench (console output in $results/io.log)"
if "$build/bench/io_bench" "${flags[@]}" --benchmark_out="$results/io.json" >"$results/io.log" 2>&1; then
  report+=(--io "$results/io.json")
else
  tail -n 20 "$results/io.log" >&2
  echo "bench: io_bench failed" >&2
  exit 1
fi
if [ -x "$build/bench/libtorch_bench" ]; then
  echo "bench: running libtorch_bench (console output in $results/libtorch.log)"
  if "$build/bench/libtorch_bench" "${flags[@]}" --benchmark_out="$results/libtorch.json" \
      >"$results/libtorch.log" 2>&1; then
    report+=(--libtorch "$results/libtorch.json")
  else
    echo "bench: libtorch_bench failed; its rows are skipped (see $results/libtorch.log)"
    report+=(--libtorch-skipped "libtorch_bench failed, see $results/libtorch.log")
  fi
else
  reason="libtorch-dev is not installed (no TorchConfig.cmake found), so libtorch_bench was not built"
  echo "bench: skipping the libtorch rows: $reason"
  report+=(--libtorch-skipped "$reason")
fi

if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench: running bench/pytorch_bench.py (PyTorch from Python, each thread setting in its own process)"
  if /usr/bin/python3 bench/pytorch_bench.py --out "$results/pytorch.json" 2>"$results/pytorch.log"; then
    report+=(--pytorch "$results/pytorch.json")
  else
    echo "bench: pytorch_bench.py failed; its rows are skipped (see $results/pytorch.log)"
  fi
else
  echo "bench: python3-torch is not installed; the PyTorch-from-Python rows are skipped"
fi

python3 bench/report.py "${report[@]}" --jsonl "$results/latest.jsonl" --markdown "$results/latest.md" \
  --doc docs/performance.md
echo "bench: wrote $results/latest.jsonl and $results/latest.md"

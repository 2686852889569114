#!/usr/bin/env bash
# Installs the build into a scratch prefix, builds an outside project against it with
# find_package(Ember), and checks what it prints.
set -euo pipefail
build_dir=$1
work_dir=$2
source_dir=$(dirname "$(readlink -f "$0")")
rm -rf "$work_dir"
cmake --install "$build_dir" --prefix "$work_dir/prefix" >/dev/null
cmake -S "$source_dir/consumer" -B "$work_dir/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work_dir/prefix" >/dev/null
cmake --build "$work_dir/consumer" >/dev/null
output=$(LD_LIBRARY_PATH="$work_dir/prefix/lib:${LD_LIBRARY_PATH:-}" "$work_dir/consumer/consumer")
echo "$output"
# x = [[0,1,2],[3,4,5]]; y = (2x+1)^T = [[1,7],[3,9],[5,11]]; element 1 is 7.
[ "$output" = "consumer: 7 3x2" ]

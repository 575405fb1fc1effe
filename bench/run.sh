#!/usr/bin/env bash
# Runs every micro-benchmark (Google Benchmark) from one entry point. Build first
# (scripts/build.sh). Extra arguments go to each benchmark, e.g. --benchmark_repetitions=5.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in build/bench/*_bench; do
  echo "== ${b##*/}"
  "$b" "$@"
done

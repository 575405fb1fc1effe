#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, and runs the whole test suite.
# Run as root on Debian 12 (network-namespace, BPF and nftables tests need it).
# Fails on a failed test, on a skipped test not in .ci/skips-allowed, and on unformatted code.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
results="$PWD/build/test-results"
rm -rf "$results" && mkdir -p "$results"
status=0
# Every GoogleTest binary writes its cases' results there (a skip counts as a pass in ctest).
GTEST_OUTPUT="json:$results/" ctest --test-dir build --output-on-failure --timeout 900 "$@" || status=$?
./scripts/check-skips.py "$results" .ci/skips-allowed || status=1
./scripts/check-format.sh || status=1
exit "$status"

#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, and runs the whole test suite.
# Run as root on Debian 12 (network-namespace, BPF and nftables tests need it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900 "$@"

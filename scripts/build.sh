#!/usr/bin/env bash
# Configures and builds everything into build/ (Ninja, both cores).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keeps CI's rebuilds on the same machine short; base_dir lets worktrees share hits.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  export CCACHE_NOHASHDIR=1  # -g would otherwise put the build directory in every hash
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build build --parallel "$(nproc)"

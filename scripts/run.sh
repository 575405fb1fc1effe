#!/usr/bin/env bash
# The README's main job: installs what is needed, builds, and runs Switchyard on the embedded
# default (SQLite) store: the API server, with its CA, serving certificate, admin token and
# kubeconfig made at first start in DATA_DIR. Until `switchyard up` lands (issue #8) the API
# server is the main job; `kubectl --kubeconfig $DATA_DIR/kubeconfig ...` works against it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
DATA_DIR="${DATA_DIR:-/var/lib/switchyard}"
exec ./build/switchyard apiserver --data-dir "$DATA_DIR" --listen "${LISTEN:-127.0.0.1:6443}"

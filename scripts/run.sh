#!/usr/bin/env bash
# The README's main job: installs what is needed, builds, and runs Switchyard all-in-one on the
# embedded default (SQLite) store: `switchyard up` (API server, store, controllers, the node
# agent with the nftables dataplane, cluster DNS), with its CA, serving certificate, admin token
# and kubeconfig made at first start in DATA_DIR. It prints how to use it; Ctrl-C stops it and
# leaves the rules in place (`switchyard agent --cleanup` removes them, as the printed text says).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
DATA_DIR="${DATA_DIR:-/var/lib/switchyard}"
# The images the build made (busybox and the sandbox's pause) are imported, so Pods run at once.
# The API server listens on every address (pods and other nodes reach it through the `kubernetes`
# Service at the node's address); LISTEN=127.0.0.1:6443 keeps it on loopback.
exec ./build/switchyard up --data-dir "$DATA_DIR" --listen "${LISTEN:-0.0.0.0:6443}" --images-dir build/images "$@"

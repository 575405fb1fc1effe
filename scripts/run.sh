#!/usr/bin/env bash
# The README's main job: installs what is needed, builds, and runs Switchyard on the embedded
# default. Until `switchyard up` lands (issue #8) the main job is the object model: the example
# manifests decoded, defaulted and validated as the API server will store them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./build/switchyard validate -f examples/web.yaml

#!/usr/bin/env bash
# Set everything up and run the main job on the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
bin=.build/release/qkprobe
$bin --help

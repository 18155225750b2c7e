#!/usr/bin/env bash
# Set everything up and run the main job: probe the default model on the bundled calibration set,
# print the top heads against the model's own answer, and write out/run.h5 and out/heads.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
qkprobe=.build/release/qkprobe
mkdir -p out
# --resume: a second run of this script continues (or just reports) the first one's file.
"$qkprobe" probe --dataset datasets/logic-calibration.jsonl --output out/run.h5 --resume
"$qkprobe" heads out/run.h5 --by steps --top 5
"$qkprobe" plot out/run.h5 --output out/heads.svg

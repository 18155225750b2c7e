#!/usr/bin/env bash
# Set everything up and run the main job: probe the default model on both bundled sets
# (out/calibration.h5 with activations, out/test.h5), print the top heads against the model's own
# answer (exploratory: the best of every head, with its family-wise p), choose heads on the
# calibration set and test them on the held-out test set (the claim that counts, in one sentence),
# draw out/heads.svg, and scan for previous-token and induction heads. `make notebooks` then plots
# these runs and scans (its defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
qkprobe=.build/release/qkprobe
mkdir -p out
# --resume: a second run of this script continues (or just reports) the first one's files.
"$qkprobe" probe --dataset datasets/logic-calibration.jsonl --output out/calibration.h5 --save-activations --resume
"$qkprobe" probe --dataset datasets/logic-test.jsonl --output out/test.h5 --resume
"$qkprobe" heads out/calibration.h5 --by steps --top 5
"$qkprobe" select --calibration out/calibration.h5 --test out/test.h5 --top-k 5
"$qkprobe" plot out/calibration.h5 --output out/heads.svg --force
# Previous-token and induction heads (for the head_roles notebook: do the logic heads coincide?).
"$qkprobe" scan --kind previous-token --count 20 --length 40 --output out/scan-previous-token.h5 --force
"$qkprobe" scan --kind induction --count 20 --length 40 --output out/scan-induction.h5 --force

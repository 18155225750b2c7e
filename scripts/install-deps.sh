#!/usr/bin/env bash
# Install what qkprobe needs on Debian 12 (run as root): system libraries, the Python packages
# the run-file checks and notebooks use, and the default model. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_packages=(libhdf5-dev libopenblas-dev pkg-config make)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -c 'import h5py, numpy, matplotlib, jupytext' 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check h5py numpy matplotlib jupytext
bash scripts/fetch-model.sh

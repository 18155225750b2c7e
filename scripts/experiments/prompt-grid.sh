#!/usr/bin/env bash
# The prompt-settings grid of the prompts issue, held out: for each setting (anchor x chat x
# shots), heads are chosen on one set of rows and tested on others, and `qkprobe select` says in
# one sentence whether the best calibration head beats chance there (with n, interval and p).
#
#   bash scripts/experiments/prompt-grid.sh OUT_DIR [MODEL] [SAMPLES]
#
# Bundled sets: calibrate on a stratified --sample of datasets/logic-calibration.jsonl, test on
# one of datasets/logic-test.jsonl (other problems, other seeds). Public sets (where
# $QKPROBE_PUBLIC_DATA or ../shared/datasets-public has them), default setting only: one stratified
# sample, split in half per label by `select --split 0.5`. Demonstrations come from the bundled
# calibration set. Not part of the test suite: a measurement, about 30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: prompt-grid.sh OUT_DIR [MODEL] [SAMPLES]}
model=${2:-}
samples=${3:-400}
q=${QKPROBE:-.build/release/qkprobe}
public=${QKPROBE_PUBLIC_DATA:-../shared/datasets-public}
mkdir -p "$out"
model_args=()
[[ -n "$model" ]] && model_args=(--model "$model")

probe() {  # probe NAME DATASET ARGS...: one run, resumed if it is there
    local name=$1 dataset=$2
    shift 2
    "$q" probe "${model_args[@]}" --dataset "$dataset" --output "$out/$name.h5" --resume --top 0 "$@" >/dev/null
}

for anchor in before-cue question-end; do
    for chat in plain chat; do
        for shots in 0 3; do
            setting="$anchor-$chat-$shots"
            args=(--anchor "$anchor" --sample "$samples" --seed 1)
            [[ $chat == chat ]] && args+=(--chat)
            [[ $shots -gt 0 ]] && args+=(--shots "$shots" --shots-from datasets/logic-calibration.jsonl)
            if ! probe "$setting-calibration" datasets/logic-calibration.jsonl "${args[@]}" 2>"$out/$setting.err" ||
               ! probe "$setting-test" datasets/logic-test.jsonl "${args[@]}" 2>>"$out/$setting.err"; then
                echo "$setting: not run: $(tail -1 "$out/$setting.err")"
                continue
            fi
            echo "$setting: $("$q" select --calibration "$out/$setting-calibration.h5" --test "$out/$setting-test.h5" --top-k 5 | grep '^Held out on' | head -1)"
        done
    done
done

for set in pararule-plus/depth3_test.jsonl multi-logieval/data prontoqa-logic-llm/dev.json; do
    [[ -e "$public/$set" ]] || { echo "$set: absent from $public"; continue; }
    name=$(echo "$set" | tr '/.' '--')
    probe "public-$name" "$public/$set" --sample "$samples" --seed 1
    echo "$set: $("$q" select --calibration "$out/public-$name.h5" --split 0.5 --seed 1 --top-k 5 | grep '^Held out on' | head -1)"
done

#!/usr/bin/env bash
# Submits a sharded qkprobe run: a job array of N shards and a merge job that runs after it.
#
#   bash scripts/slurm/submit.sh [-n SHARDS] [-c CPUS] [-t MINUTES] [--wait] MODEL DATASET OUTDIR [-- probe options...]
#
#   -n  shards, one array task each (default 4)
#   -c  CPUs per task; each shard probes with that many threads (default 4)
#   -t  time limit of each job in minutes (default 600)
#   --wait  return when the merge job ends, with its exit status (for scripts and tests)
#
# Writes OUTDIR/shard-I-of-N.h5, OUTDIR/run.h5 and the jobs' logs in OUTDIR/logs/. Prints the
# two job ids. Paths must be on a file system every node sees. Extra sbatch options (partition,
# account, memory) go in SBATCH_* environment variables, e.g. SBATCH_PARTITION=cpu.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=4 cpus=4 minutes=600 wait=()
while [ $# -gt 0 ]; do
    case "$1" in
    -n) shards=$2; shift 2 ;;
    -c) cpus=$2; shift 2 ;;
    -t) minutes=$2; shift 2 ;;
    --wait) wait=(--wait); shift ;;
    -*) echo "submit.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 3 ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
model=$1 dataset=$2 outdir=$3
shift 3
[ "${1:-}" = "--" ] && shift
mkdir -p "$outdir/logs"
array=$(sbatch --parsable --array="1-$shards" --cpus-per-task="$cpus" --time="$minutes" \
    --output="$outdir/logs/shard-%a.out" "$here/probe-shard.sbatch" "$shards" "$model" "$dataset" "$outdir" "$@")
array=${array%%;*}
echo "array job $array: $shards shards of $dataset, $cpus CPUs each"
merge_args=(--parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --time="$minutes"
    --output="$outdir/logs/merge.out" "${wait[@]}" "$here/merge.sbatch" "$shards" "$outdir")
if [ ${#wait[@]} -eq 0 ]; then
    merge=$(sbatch "${merge_args[@]}")
    echo "merge job ${merge%%;*}: $outdir/run.h5 after the array succeeds"
else
    echo "merge job after $array: waiting for it"
    sbatch "${merge_args[@]}"
fi

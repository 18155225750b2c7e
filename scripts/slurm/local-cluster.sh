#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing the job-array scripts (CI does this).
#
#   bash scripts/slurm/local-cluster.sh install   # Debian's slurm-wlm and munge (root, apt)
#   bash scripts/slurm/local-cluster.sh start     # munged, slurmctld and slurmd on localhost
#   bash scripts/slurm/local-cluster.sh status    # sinfo through the cluster's configuration
#   bash scripts/slurm/local-cluster.sh stop      # stops the daemons this script started
#
# Everything lives under $QKPROBE_SLURM_STATE (default /tmp/qkprobe-slurm): a minimal slurm.conf
# naming this host and its CPUs, the daemons' spool, state, logs and pid files. Clients find the
# cluster through SLURM_CONF=$QKPROBE_SLURM_STATE/slurm.conf (start prints it); /etc/slurm is
# not touched, and the ports (16817, 16818) stay clear of a real cluster's defaults.
# Needs root: slurmd starts jobs as their users, munged runs as the munge user.
set -euo pipefail
state=${QKPROBE_SLURM_STATE:-/tmp/qkprobe-slurm}
conf=$state/slurm.conf
wait_seconds=${QKPROBE_SLURM_START_TIMEOUT:-60}

fail() { echo "local-cluster: $*" >&2; exit 1; }

# Polls "$@" every half second until it succeeds or the start timeout passes.
wait_for() {
    local deadline=$((SECONDS + wait_seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}

start_munge() {
    if timeout 10 munge -n </dev/null 2>/dev/null | timeout 10 unmunge >/dev/null 2>&1; then return 0; fi
    [ -s /etc/munge/munge.key ] || {
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    }
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    wait_for sh -c 'munge -n </dev/null | unmunge' || fail "munged did not start (see /var/log/munge/munged.log)"
}

write_config() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    # Below the real memory, so slurmd never reports less than configured (that drains the node).
    memory=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
    mkdir -p "$state/spool" "$state/ctld" "$state/log"
    cat >"$conf" <<CONF
ClusterName=qkprobe-local
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=60 State=UP
CONF
}

case "${1:-}" in
install)
    missing=()
    for p in slurm-wlm munge; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    ;;
start)
    [ "$(id -u)" = 0 ] || fail "needs root (slurmd and munged)"
    for program in munged slurmctld slurmd sinfo; do
        command -v "$program" >/dev/null || fail "$program is not installed (run: $0 install)"
    done
    start_munge
    write_config
    export SLURM_CONF=$conf
    if ! timeout 10 sinfo >/dev/null 2>&1; then
        slurmctld -f "$conf" || fail "slurmctld did not start (see $state/log/slurmctld.log)"
        slurmd -f "$conf" || fail "slurmd did not start (see $state/log/slurmd.log)"
    fi
    # Up when the node takes jobs.
    wait_for sh -c "timeout 10 sinfo --noheader --states=idle,mixed,allocated -o %N | grep -q ." ||
        fail "the node did not come up within ${wait_seconds}s (see $state/log/)"
    echo "local-cluster: up ($(hostname -s), $(nproc) CPUs); use SLURM_CONF=$conf"
    ;;
stop)
    for daemon in slurmd slurmctld; do
        if [ -s "$state/$daemon.pid" ]; then
            pid=$(cat "$state/$daemon.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$state/$daemon.pid"
        fi
    done
    echo "local-cluster: stopped (munged left running; state in $state)"
    ;;
status)
    SLURM_CONF=$conf timeout 10 sinfo
    ;;
*)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac

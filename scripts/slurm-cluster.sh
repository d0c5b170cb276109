#!/usr/bin/env bash
# A real single-node Slurm for tests (issue 15; see ../shared/docs/slurm-notes.md
# for the facts it rests on): Debian's slurm-wlm and munge, no systemd, no
# cgroups, every file under one directory, bounded start-up, stopped by pid.
#
#   scripts/slurm-cluster.sh start DIR   # installs what is missing, starts
#                                        # munged, slurmctld, slurmd; prints
#                                        # `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-cluster.sh stop DIR    # cancels every job, stops the daemons
#                                        # by the pids in DIR, waits for them
#
# Ports come from SLURM_TEST_PORT (default 16817; slurmd uses the next one),
# so two clusters on one host do not collide. Output goes to stderr.
set -euo pipefail
exec 3>&1 1>&2

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
  echo "usage: $0 start|stop DIR"
  exit 2
}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
port=${SLURM_TEST_PORT:-16817}
node=$(hostname -s)
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

# Waits up to $1 tenths of a second for the command that follows to succeed.
wait_for() {
  local tenths=$1
  shift
  for _ in $(seq "$tenths"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# Stops the process whose pid is in file $1: TERM, then KILL after 10 s.
stop_pid() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  if [ -f "$conf" ] && scontrol ping >/dev/null 2>&1; then
    scancel --full --quiet "--partition=debug" 2>/dev/null || true
    wait_for 50 bash -c '[ -z "$(squeue -h -o %i 2>/dev/null)" ]' || true
  fi
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"
}

start() {
  local missing=()
  for p in slurm-wlm munge; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] \
      || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "slurm-cluster: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
      "${missing[@]}" || {
      $sudo apt-get update -q
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        "${missing[@]}"
    }
  fi
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
  chmod 755 "$dir" "$dir/munge"
  [ -f "$dir/munge.key" ] || mungekey -c -k "$dir/munge.key"
  munged --key-file="$dir/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge.seed"
  # 16 CPUs advertised (config_overrides) so that small machines run more
  # than two test jobs at once; the memory is the node's own.
  local mem
  mem=$(slurmd -C | head -1 | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  cat >"$conf" <<EOF
ClusterName=jobdtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=300
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SelectType=select/cons_tres
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  slurmctld -f "$conf"
  wait_for 100 bash -c 'scontrol ping | grep -q UP' || {
    echo "slurm-cluster: slurmctld did not come up (see $dir/log/slurmctld.log)"
    stop
    exit 1
  }
  slurmd -f "$conf" -N "$node"
  wait_for 150 bash -c "[ \"\$(sinfo -h -n $node -o %T)\" = idle ]" || {
    echo "slurm-cluster: slurmd did not come up (see $dir/log/slurmd.log)"
    stop
    exit 1
  }
  echo "export SLURM_CONF=$conf" >&3
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop DIR"
    exit 2
    ;;
esac
